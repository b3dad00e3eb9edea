//! Closing well, end to end: `/close` sends CLOSE_MESSAGE and (RATING on) buttons 1–5; the
//! user's score is told in the topic and shown in `/stats`, the API and `/export`; the
//! user who writes again hears REOPEN_MESSAGE, not WELCOME; AUTOCLOSE-free API close too.

mod api_support;
mod broadcast_common;
mod common;
mod ops;

use std::time::Duration;

use api_support::Api;
use common::{spawn_app_with, text_of};
use tg_emulator::control::Place;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_message_rating_and_reopen_message() {
    let t = spawn_app_with(
        "CLOSE_MESSAGE = \"Glad we could help, {name}!\"\nREOPEN_MESSAGE = \"Hi again, {name}!\"\nRATING = true",
    )
    .await;
    let ann = t.person("Ann");
    t.user_says(ann, "Where is my parcel?");
    let thread = t.wait_topic("Ann").await;
    t.wait_in_user_chat(ann, "Thanks for your message").await;
    t.operator_says(thread, "It ships today.");
    t.wait_in_user_chat(ann, "It ships today").await;

    // /close: the closing message, then the question with five buttons.
    t.operator_says(thread, "/close");
    t.wait_title(thread, "⬛").await;
    t.wait_in_user_chat(ann, "Glad we could help, Ann!").await;
    let question = t.wait_in_user_chat(ann, "How did we do?").await;
    let buttons = question["reply_markup"]["inline_keyboard"][0]
        .as_array()
        .expect("rating buttons")
        .clone();
    assert_eq!(buttons.len(), 5);
    assert_eq!(buttons[0]["text"], "1");
    let four = buttons[3]["callback_data"].as_str().unwrap().to_string();

    let qid = question["message_id"].as_i64().unwrap();

    // Ann presses 4: thanked, the buttons go, the topic is told.
    let cb = t
        .ctl
        .press(ann, Place::Bot(t.bot), qid, &four)
        .expect("press");
    t.wait_until("the press answered", || {
        t.ctl.callback_answer(&cb).is_some()
    })
    .await;
    let answer = t.ctl.callback_answer(&cb).unwrap();
    assert!(
        answer.to_string().contains("Thank you"),
        "toast thanks: {answer}"
    );
    t.wait_in_user_chat(ann, "Thank you for your rating: ★★★★☆")
        .await;
    let edited = t
        .user_chat(ann)
        .into_iter()
        .find(|m| m["message_id"] == qid)
        .unwrap();
    assert!(
        edited.get("reply_markup").is_none()
            || edited["reply_markup"]["inline_keyboard"]
                .as_array()
                .is_none_or(|a| a.is_empty()),
        "buttons removed: {edited}"
    );
    t.wait_in_topic(thread, "rated the help ★★★★☆ (4/5)").await;
    // /stats: overall and per operator (who closed).
    let stats = ops::general(&t, "/stats", "Team stats").await;
    assert!(
        stats.contains("Satisfaction: 4.0/5 from 1 rating"),
        "{stats}"
    );
    assert!(stats.contains("rated 4.0/5 from 1 rating"), "{stats}");

    // The API: the dialog carries the rating with the closing operator; /stats too.
    let api = Api::new(&t).await;
    let (s, list) = api.get("/api/v1/dialogs?status=closed").await;
    assert_eq!(s, 200, "{list}");
    let id = list["items"][0]["id"].as_i64().expect("a closed dialog");
    let (_, d) = api.get(&format!("/api/v1/dialogs/{id}")).await;
    assert_eq!(d["rating"]["score"], 4, "{d}");
    assert_eq!(d["rating"]["operator_id"], t.operator, "{d}");
    let (_, st) = api.get("/api/v1/stats").await;
    assert_eq!(st["rating"]["count"], 1, "{st}");
    assert_eq!(st["rating"]["average"], 4.0, "{st}");

    // /export: the rating column.
    broadcast_common::command(&t, "/export", None);
    let doc = || {
        t.topic(None).into_iter().find(|m| {
            m["document"]["file_name"]
                .as_str()
                .is_some_and(|f| f.starts_with("contacts-"))
        })
    };
    common::wait_until_for("the export", Duration::from_secs(15), || doc().is_some()).await;
    let bytes = broadcast_common::download(&t, &doc().unwrap()["document"]).await;
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes.as_slice())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    let rating = rows[0].iter().position(|h| h == "rating").unwrap();
    let row = rows.iter().find(|r| r[0] == ann.to_string()).unwrap();
    assert_eq!(row[rating], "4");

    // Ann writes again: REOPEN_MESSAGE, not WELCOME.
    t.user_says(ann, "One more question");
    t.wait_title(thread, "🟪").await;
    t.wait_in_user_chat(ann, "Hi again, Ann!").await;
    let welcomes = t
        .user_chat(ann)
        .iter()
        .filter(|m| text_of(m).contains("Thanks for your message"))
        .count();
    assert_eq!(welcomes, 1, "WELCOME only on first contact");

    // A close through the API sends the closing message too (no operator on the rating).
    let (s, _) = api
        .post(
            &format!("/api/v1/dialogs/{id}/close"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200);
    t.wait_until("a second closing message", || {
        t.user_chat(ann)
            .iter()
            .filter(|m| text_of(m).contains("Glad we could help"))
            .count()
            == 2
    })
    .await;
    t.assert_conformant();
}

/// A plain member operator cannot post in a closed topic (Telegram answers TOPIC_CLOSED):
/// `/new` in General reopens the dialog and answers with a link to its topic, where the
/// member can write again and the user gets the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_operator_reopens_a_closed_dialog_with_new_and_a_link() {
    let t = spawn_app_with("").await;
    let max = t.person("Max");
    t.ctl.add_member(t.group, max).expect("Max joins the team");
    let ann = t.person("Ann");
    t.user_says(ann, "Where is my parcel?");
    let thread = t.wait_topic("Ann").await;
    t.operator_says(thread, "/close");
    t.wait_until("the topic is closed", || {
        t.topic_info(thread)["is_closed"] == true
    })
    .await;

    let refused = t.ctl.send(
        max,
        Place::Group(t.group, Some(thread)),
        &serde_json::json!({"text": "One more thing"}),
    );
    let why = format!(
        "{:?}",
        refused.expect_err("a member cannot post in a closed topic")
    );
    assert!(why.contains("TOPIC_CLOSED"), "{why}");

    t.ctl
        .send(
            max,
            Place::Group(t.group, None),
            &serde_json::json!({"text": "/new @ann"}),
        )
        .expect("Max writes in General");
    let internal = (-t.group).to_string();
    let link = format!(
        "https://t.me/c/{}/{thread}",
        internal.strip_prefix("100").unwrap_or(&internal)
    );
    t.wait_until("/new answers with the topic's link", || {
        t.topic(None).iter().any(|m| {
            text_of(m).contains("Dialog with Ann is open")
                && m["entities"]
                    .as_array()
                    .is_some_and(|es| es.iter().any(|e| e["url"] == link.as_str()))
        })
    })
    .await;
    t.wait_until("the topic is open again", || {
        t.topic_info(thread)["is_closed"] == false
    })
    .await;
    t.ctl
        .send(
            max,
            Place::Group(t.group, Some(thread)),
            &serde_json::json!({"text": "Your parcel left today."}),
        )
        .expect("Max posts in the reopened topic");
    t.wait_in_user_chat(ann, "Your parcel left today.").await;
}
