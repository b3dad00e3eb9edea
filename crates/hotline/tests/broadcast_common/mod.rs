//! Helpers for the broadcast, export and stats tests: contacts without topics (a
//! PRIVATE_KEYWORDS gate keeps them from opening dialogs), tags set through the store,
//! posting in General, pressing the control message's buttons, and reading documents.

#![allow(dead_code)]

use std::time::Duration;

use hotline::store::{ConnectionId, Store};
use hotline::telegram::Client;
use serde_json::{json, Value};
use tg_emulator::control::Place;

use crate::common::{text_of, wait_until, wait_until_for, TestApp};

/// Parameters that let users write without opening dialogs ("operator" opens one).
pub const GATED: &str = r#"PRIVATE_KEYWORDS = '"operator"'"#;

/// The running Hotline's store.
pub fn store(t: &TestApp) -> Store {
    t.app().store.clone()
}

/// The connection's id.
pub async fn connection(t: &TestApp) -> ConnectionId {
    store(t).ensure_connection("support").await.unwrap()
}

/// Creates people who each write once to the bot; waits until Hotline knows them all.
pub async fn contacts(t: &TestApp, names: &[&str]) -> Vec<i64> {
    let ids: Vec<i64> = names.iter().map(|n| t.person(n)).collect();
    for u in &ids {
        t.user_says(*u, "hi");
    }
    wait_known(t, &ids).await;
    ids
}

/// Waits until every user id is a contact.
pub async fn wait_known(t: &TestApp, ids: &[i64]) {
    let s = store(t);
    let c = connection(t).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for u in ids {
        while s.contact_by_user(c, *u).await.unwrap().is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "contact {u} never known"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Puts tag `name` (created if missing) on the user's contact.
pub async fn tag(t: &TestApp, user: i64, name: &str) {
    let s = store(t);
    let c = connection(t).await;
    let tag = match s.tag_by_name(c, name).await.unwrap() {
        Some(tag) => tag,
        None => s.create_tag(c, name, 0).await.unwrap().unwrap(),
    };
    let contact = s.contact_by_user(c, user).await.unwrap().unwrap();
    s.add_contact_tag(contact.id, tag.id, 0).await.unwrap();
}

/// The operator posts content in General; returns the message id.
pub fn post_general(t: &TestApp, content: Value) -> i64 {
    t.ctl
        .send(t.operator, Place::Group(t.group, None), &content)
        .unwrap()[0]["message_id"]
        .as_i64()
        .unwrap()
}

/// The operator types a command in General replying to `reply_to`; returns its id.
pub fn command(t: &TestApp, text: &str, reply_to: Option<i64>) -> i64 {
    let mut content = json!({ "text": text });
    if let Some(r) = reply_to {
        content["reply_to"] = json!(r);
    }
    post_general(t, content)
}

/// The bot's latest General text message containing `needle` (documents left out).
pub fn general_message(t: &TestApp, needle: &str) -> Option<Value> {
    t.topic(None).into_iter().rev().find(|m| {
        m["from"]["is_bot"] == true && m.get("document").is_none() && text_of(m).contains(needle)
    })
}

/// Waits for a bot message in General containing `needle` (and satisfying `ok`).
pub async fn wait_general(t: &TestApp, needle: &str, ok: impl Fn(&Value) -> bool) -> Value {
    wait_until(&format!("“{needle}” in General"), || {
        general_message(t, needle).is_some_and(|m| ok(&m))
    })
    .await;
    general_message(t, needle).unwrap()
}

/// Presses a button of the control message of broadcast `id`; waits for the answer.
pub async fn press(t: &TestApp, id: i64, action: &str) -> Value {
    let m = wait_general(t, &format!("Broadcast #{id}"), |m| {
        m["reply_markup"]["inline_keyboard"]
            .to_string()
            .contains(&format!("hlbc:{action}:{id}"))
    })
    .await;
    let q = t
        .ctl
        .press(
            t.operator,
            Place::Group(t.group, None),
            m["message_id"].as_i64().unwrap(),
            &format!("hlbc:{action}:{id}"),
        )
        .unwrap();
    wait_until("the button press answered", || {
        t.ctl.callback_answer(&q).is_some()
    })
    .await;
    t.ctl.callback_answer(&q).unwrap()
}

/// Downloads a document the bot posted.
pub async fn download(t: &TestApp, doc: &Value) -> Vec<u8> {
    let tg = Client::new(&t.emu.url(), t.config.connections[0].token.clone());
    let f = tg.get_file(doc["file_id"].as_str().unwrap()).await.unwrap();
    tg.download_file(&f.file_path.unwrap())
        .await
        .unwrap()
        .to_vec()
}

/// Waits for a document named `name` in General and returns its CSV records (header first).
pub async fn wait_csv(t: &TestApp, name: &str, limit: Duration) -> Vec<Vec<String>> {
    let find = || {
        t.topic(None)
            .into_iter()
            .find(|m| m["document"]["file_name"].as_str() == Some(name))
    };
    wait_until_for(&format!("document {name}"), limit, || find().is_some()).await;
    let bytes = download(t, &find().unwrap()["document"]).await;
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes.as_slice());
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// How many messages of the user's chat contain `needle`.
pub fn received(t: &TestApp, user: i64, needle: &str) -> usize {
    t.user_chat(user)
        .iter()
        .filter(|m| m["from"]["is_bot"] == true && text_of(m).contains(needle))
        .count()
}
