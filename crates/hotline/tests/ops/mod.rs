//! Helpers for the operator-module tests (tests/operators_*.rs): acting in General,
//! as a non-admin member, and waiting for Hotline's answers there.

#![allow(dead_code)]

use serde_json::{json, Value};
use tg_emulator::control::Place;

use crate::common::{text_of, TestApp};

/// A group member who is not an administrator.
pub fn member(t: &TestApp, first: &str) -> i64 {
    let id = t
        .ctl
        .add_user(first, None, Some(&first.to_lowercase()), Some("en"))["id"]
        .as_i64()
        .unwrap();
    t.ctl.set_member(t.group, id, "member", json!({})).unwrap();
    id
}

/// `who` posts `content` in General.
pub fn in_general(t: &TestApp, who: i64, content: Value) -> Value {
    t.ctl
        .send(who, Place::Group(t.group, None), &content)
        .expect("posted in General")
        .remove(0)
}

/// `who` posts `content` in a topic.
pub fn in_topic(t: &TestApp, who: i64, thread: i64, content: Value) -> Value {
    t.ctl
        .send(who, Place::Group(t.group, Some(thread)), &content)
        .expect("posted in the topic")
        .remove(0)
}

/// Bot messages in General containing `needle`.
pub fn general_answers(t: &TestApp, needle: &str) -> Vec<Value> {
    t.topic(None)
        .into_iter()
        .filter(|m| m["from"]["id"] == t.bot && text_of(m).contains(needle))
        .collect()
}

/// The operator types `command` in General and waits for an answer containing `needle`
/// that replies to it; returns the answer's text.
pub async fn general(t: &TestApp, command: &str, needle: &str) -> String {
    let sent = in_general(t, t.operator, json!({ "text": command }));
    answer_to(t, None, sent["message_id"].as_i64().unwrap(), needle).await
}

/// `who` types `command` in General; waits for the answer (containing `needle`).
pub async fn general_as(t: &TestApp, who: i64, command: &str, needle: &str) -> String {
    let sent = in_general(t, who, json!({ "text": command }));
    answer_to(t, None, sent["message_id"].as_i64().unwrap(), needle).await
}

/// The operator types `command` in a topic and waits for the answer containing `needle`.
pub async fn topic_cmd(t: &TestApp, thread: i64, command: &str, needle: &str) -> String {
    let sent = t.operator_says(thread, command);
    answer_to(
        t,
        Some(thread),
        sent["message_id"].as_i64().unwrap(),
        needle,
    )
    .await
}

/// Waits for the bot's answer to message `id` (in `thread` or General) containing `needle`.
pub async fn answer_to(t: &TestApp, thread: Option<i64>, id: i64, needle: &str) -> String {
    let find = || {
        t.topic(thread)
            .into_iter()
            .find(|m| {
                m["from"]["id"] == t.bot
                    && m["reply_to_message"]["message_id"] == id
                    && text_of(m).contains(needle)
            })
            .map(|m| text_of(&m))
    };
    let what = format!("an answer to {id} containing \"{needle}\"");
    t.wait_until(&what, || find().is_some()).await;
    find().unwrap()
}

/// The current name of a topic.
pub fn title(t: &TestApp, thread: i64) -> String {
    t.topic_info(thread)["name"]
        .as_str()
        .unwrap_or("")
        .to_string()
}
