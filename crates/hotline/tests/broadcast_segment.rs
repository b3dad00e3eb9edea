//! `/send SEGMENT` with a scheduled start: only the segment receives it, not before the
//! start, users who blocked the bot are skipped (known) or found and marked (new), nothing
//! is copied into topics, and the CSV report lists every recipient. Also `/send test`,
//! `/send list` with an album, segment errors with their position, and the list.

mod broadcast_common;
mod common;

use std::time::Duration;

use broadcast_common::*;
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_broadcast_scheduled_skips_blocked_and_reports() {
    let t = spawn_app_with(GATED).await;
    let ids = contacts(&t, &["Anna", "Boris", "Clara", "Dmitri", "Eva", "Fedor"]).await;
    let [anna, boris, clara, dmitri, eva, fedor] = ids[..] else {
        unreachable!()
    };
    for u in [anna, boris, clara, eva, fedor] {
        tag(&t, u, "vip").await;
    }
    tag(&t, clara, "churned").await;
    // Fedor blocked the bot earlier: Hotline knows (my_chat_member) and skips him.
    t.ctl.block(fedor, t.bot, true).unwrap();
    let (s, c) = (store(&t), connection(&t).await);
    loop {
        if s.contact_by_user(c, fedor).await.unwrap().unwrap().blocked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let news = post_general(&t, json!({"text": "Big news for VIPs"}));
    // The operator never wrote to the bot: a test copy could not reach them, and they are told.
    command(&t, "/send test", Some(news));
    wait_general(&t, "You have not written to the bot", |_| true).await;
    command(&t, "/send VIP & !churned in 3s", Some(news));
    let prompt = wait_general(&t, "Broadcast #1", |_| true).await;
    let text = text_of(&prompt);
    assert!(
        text.contains("To 3 recipients (1 skipped: blocked or banned)"),
        "{text}"
    );
    // The draft shows exactly what will be sent: a copy from the bot, before the prompt.
    let preview = t
        .topic(None)
        .into_iter()
        .find(|m| m["from"]["is_bot"] == true && text_of(m) == "Big news for VIPs")
        .expect("a preview copy in General");
    assert!(preview["message_id"].as_i64() < prompt["message_id"].as_i64());
    assert!(text.contains("1 message (the copy above"), "{text}");
    assert!(text.contains("starts"), "{text}");
    // Eva blocks the bot after the prompt: found while sending.
    t.ctl.block(eva, t.bot, true).unwrap();
    let answer = press(&t, 1, "confirm").await;
    assert!(answer.to_string().contains("scheduled"), "{answer}");
    let b = s.broadcast(c, 1).await.unwrap().unwrap();
    assert_eq!(b.state, "scheduled");

    let rows = wait_csv(&t, "broadcast-1.csv", Duration::from_secs(30)).await;
    assert_eq!(
        rows[0],
        ["user_id", "name", "username", "status", "error", "sent_at"]
    );
    let summary: Vec<(String, String, String, String)> = rows[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[3].clone(), r[4].clone()))
        .collect();
    let row = |u: i64, name: &str, status: &str, error: &str| {
        (u.to_string(), name.into(), status.into(), error.into())
    };
    assert_eq!(
        summary,
        vec![
            row(anna, "Anna", "sent", ""),
            row(boris, "Boris", "sent", ""),
            row(eva, "Eva", "blocked", "blocked the bot"),
            row(fedor, "Fedor", "skipped", "blocked the bot"),
        ]
    );
    assert_eq!(rows[1][2], "anna");
    assert!(!rows[1][5].is_empty() && rows[3][5].is_empty());
    // Not before the scheduled start.
    for r in s.report_rows(1).await.unwrap() {
        if let Some(at) = r.sent_at {
            assert!(at >= b.start_at, "sent {} ms early", b.start_at - at);
        }
    }
    assert_eq!(received(&t, anna, "Big news"), 1);
    assert_eq!(received(&t, boris, "Big news"), 1);
    for u in [clara, dmitri, eva, fedor] {
        assert_eq!(received(&t, u, "Big news"), 0, "user {u}");
    }
    assert!(s.contact_by_user(c, eva).await.unwrap().unwrap().blocked);
    // Broadcasts are not copied into topics (and did not open any).
    assert!(t.topics().is_empty());
    let done = wait_general(&t, "Broadcast #1", |m| text_of(m).contains("done")).await;
    let text = text_of(&done);
    assert!(
        text.contains("Sent 2 · failed 0 · blocked 1 · left 0"),
        "{text}"
    );
    assert!(done["reply_markup"].is_null(), "no buttons once done");
    command(&t, "/send", None);
    wait_general(&t, "#1 ✅ done", |_| true).await;
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_list_album_and_errors() {
    let t = spawn_app_with(GATED).await;
    let ids = contacts(&t, &["Gleb", "Hanna"]).await;
    // The operator has talked to the bot, so `/send test` can reach them.
    t.user_says(t.operator, "hello bot");
    wait_known(&t, &[t.operator]).await;

    command(&t, "/send", None);
    wait_general(&t, "No broadcasts yet", |_| true).await;
    let news = post_general(&t, json!({"text": "Try this"}));
    command(&t, "/send vip & (", Some(news));
    let err = wait_general(&t, "Segment error", |_| true).await;
    assert!(
        text_of(&err).contains("position 8: expected a tag or condition"),
        "{}",
        text_of(&err)
    );
    command(&t, "/send nosuchtag", Some(news));
    let err = wait_general(&t, "no tag “nosuchtag”", |_| true).await;
    assert!(text_of(&err).contains("position 1"));

    // A /send that replies to a command (here the failed one above) is refused.
    let failed = command(&t, "/send nosuchtag2", Some(news));
    wait_general(&t, "no tag “nosuchtag2”", |_| true).await;
    command(&t, "/send all", Some(failed));
    wait_general(&t, "That message is a command", |_| true).await;

    command(&t, "/send test", Some(news));
    let prompt = wait_general(&t, "Broadcast #1", |_| true).await;
    assert!(
        text_of(&prompt).contains("To 1 recipient\n"),
        "{}",
        text_of(&prompt)
    );
    press(&t, 1, "confirm").await;
    wait_until("the test copy", || {
        received(&t, t.operator, "Try this") == 1
    })
    .await;

    // An album is sent as an album.
    let album = t
        .ctl
        .send(
            t.operator,
            tg_emulator::control::Place::Group(t.group, None),
            &json!({"media": [{"type": "photo", "caption": "Album one"}, {"type": "photo"}]}),
        )
        .unwrap();
    let first = album[0]["message_id"].as_i64().unwrap();
    command(
        &t,
        &format!("/send list {},{}", ids[0], ids[1]),
        Some(first),
    );
    let prompt = wait_general(&t, "Broadcast #2", |_| true).await;
    assert!(
        text_of(&prompt).contains("2 messages"),
        "{}",
        text_of(&prompt)
    );
    press(&t, 2, "confirm").await;
    for u in &ids {
        wait_until("the album", || {
            let chat = t.user_chat(*u);
            let photos: Vec<_> = chat.iter().filter(|m| m.get("photo").is_some()).collect();
            photos.len() == 2
                && photos[0]["media_group_id"].is_string()
                && photos[0]["media_group_id"] == photos[1]["media_group_id"]
        })
        .await;
    }
    let rows = wait_csv(&t, "broadcast-2.csv", Duration::from_secs(15)).await;
    assert_eq!(rows.len(), 3);
    assert!(rows[1..].iter().all(|r| r[3] == "sent"));
}
