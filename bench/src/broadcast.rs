//! `hotline-bench broadcast`: a broadcast to many recipients with the emulator's rate
//! limits on; reports the delivery rate against the allowed rate and the 429s seen.

use std::time::{Duration, Instant};

use serde_json::json;
use tg_emulator::control::Place;
use tg_emulator::Limits;

/// Runs the benchmark: `recipients` contacts, the bot limited to `rate` messages/s in
/// both the emulator and Hotline's configuration.
pub async fn broadcast(recipients: usize, rate: u32) {
    let limits = format!("bot_per_second = {rate}\nprivate_per_second = 1\ngroup_per_minute = 20");
    // Users write without opening dialogs (PRIVATE_KEYWORDS): contacts, no topics.
    let params = "WELCOME = \"OFF\"\nPRIVATE_KEYWORDS = '\"operator\"'";
    let w = crate::world::start("9000002:bench-broadcast", &limits, params, |emu| {
        emu.set_limits(Limits {
            bot_per_second: Some(rate),
            ..Limits::telegram()
        });
    })
    .await;
    let (ctl, bot, running, op, group) = (&w.ctl, w.bot, &w.hotline, w.operator, w.group);
    let store = running.store.clone();
    let conn = store.ensure_connection("bench").await.unwrap();
    let all = hotline::segments::Compiled {
        sql: "1 = 1".into(),
        binds: Vec::new(),
    };
    let t = Instant::now();
    for i in 0..recipients {
        let u = ctl.add_user(&format!("U{i}"), None, None, None)["id"]
            .as_i64()
            .unwrap();
        ctl.send(u, Place::Bot(bot), &json!({"text": "hi"}))
            .unwrap();
    }
    while (store.count_segment(conn, &all).await.unwrap() as usize) < recipients {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{recipients} contacts known after {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let calls_before = ctl.calls().len();
    let news = ctl
        .send(
            op,
            Place::Group(group, None),
            &json!({"text": "Bench broadcast"}),
        )
        .unwrap()[0]["message_id"]
        .as_i64()
        .unwrap();
    ctl.send(
        op,
        Place::Group(group, None),
        &json!({"text": "/send all", "reply_to": news}),
    )
    .unwrap();
    let prompt = loop {
        let found = ctl.topic_transcript(group, None).into_iter().find(|m| {
            m["reply_markup"]["inline_keyboard"]
                .to_string()
                .contains("hlbc:confirm:1")
        });
        if let Some(m) = found {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    ctl.press(
        op,
        Place::Group(group, None),
        prompt["message_id"].as_i64().unwrap(),
        "hlbc:confirm:1",
    )
    .unwrap();
    let started = Instant::now();
    loop {
        let c = store.recipient_counts(1).await.unwrap();
        if c.left() == 0 && c.sent + c.failed + c.blocked > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let rows = store.report_rows(1).await.unwrap();
    let sent: Vec<i64> = rows.iter().filter_map(|r| r.sent_at).collect();
    let (first, last) = (*sent.iter().min().unwrap(), *sent.iter().max().unwrap());
    let span = (last - first) as f64 / 1000.0;
    let measured = (sent.len() - 1) as f64 / span;
    let calls = ctl.calls();
    let new_calls = &calls[calls_before..];
    let too_many = new_calls.iter().filter(|c| c.error_code == 429).count();
    let copies = new_calls
        .iter()
        .filter(|c| c.method == "copyMessages" && c.error_code == 0)
        .count();
    println!(
        "broadcast to {recipients}: {} sent, {} not sent; {copies} copyMessages accepted, {too_many} answered 429",
        sent.len(),
        rows.len() - sent.len()
    );
    println!(
        "first to last delivery {span:.1} s: {measured:.2} messages/s of {rate} allowed = {:.1} % (confirm to done {wall:.1} s)",
        measured / f64::from(rate) * 100.0
    );
    w.hotline.stop().await;
}
