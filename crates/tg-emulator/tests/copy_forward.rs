//! copyMessage(s) and forwardMessage(s): content and file ids kept, keyboards dropped
//! unless given, albums kept together under a new id, uncopyable messages skipped.

mod common;

use common::{mid, Env, BOT};
use serde_json::{json, Value};
use tg_emulator::control::Place;

#[tokio::test]
async fn copy_message_keeps_content_and_file_ids_and_drops_the_keyboard() {
    let env = Env::new().await;
    let topic = env.topic("Alice").await;
    // A person's photo with a caption reaches the forum topic as a copy.
    let photo = env.person_to_bot(
        env.alice,
        json!({"photo": true, "caption": "broken screen"}),
    );
    let copy = env
        .ok("copyMessage", json!({"chat_id": env.group, "message_thread_id": topic, "from_chat_id": env.alice, "message_id": mid(&photo)}))
        .await;
    assert_eq!(
        copy.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["message_id"]
    );
    let copied = env
        .ctl
        .topic_transcript(env.group, Some(topic))
        .into_iter()
        .find(|m| m["message_id"] == copy["message_id"])
        .unwrap();
    assert_eq!(copied["photo"], photo["photo"]);
    assert_eq!(copied["caption"], json!("broken screen"));
    assert_eq!(copied["from"]["id"], json!(BOT));
    assert!(copied.get("forward_origin").is_none());
    assert_eq!(copied["message_thread_id"], json!(topic));

    // A keyboard on the source is dropped; one given is used; a new caption replaces.
    let kb = json!({"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]});
    let src = env
        .ok(
            "sendMessage",
            json!({"chat_id": env.alice, "text": "menu", "reply_markup": kb}),
        )
        .await;
    let c1 = env
        .ok(
            "copyMessage",
            json!({"chat_id": env.group, "from_chat_id": env.alice, "message_id": mid(&src)}),
        )
        .await;
    let general = env.ctl.topic_transcript(env.group, None);
    let c1m = general
        .iter()
        .find(|m| m["message_id"] == c1["message_id"])
        .unwrap();
    assert_eq!(c1m["text"], json!("menu"));
    assert!(c1m.get("reply_markup").is_none());
    let kb2 = json!({"inline_keyboard": [[{"text": "B", "callback_data": "b"}]]});
    let c2 = env
        .ok("copyMessage", json!({"chat_id": env.alice, "from_chat_id": env.alice, "message_id": mid(&photo), "caption": "new", "reply_markup": kb2}))
        .await;
    let t = env.ctl.private_transcript(BOT, env.alice);
    let c2m = t
        .iter()
        .find(|m| m["message_id"] == c2["message_id"])
        .unwrap();
    assert_eq!(c2m["caption"], json!("new"));
    assert_eq!(c2m["reply_markup"], kb2);
    assert_eq!(c2m["photo"], photo["photo"]);

    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err(
            "copyMessage",
            json!({"chat_id": env.group, "from_chat_id": env.alice, "message_id": 9999})
        )
        .await,
        bad("message to copy not found")
    );
    assert_eq!(
        env.err(
            "copyMessage",
            json!({"chat_id": env.group, "message_id": 1})
        )
        .await,
        bad("from_chat_id is empty")
    );
    assert_eq!(
        env.err(
            "copyMessage",
            json!({"chat_id": env.group, "from_chat_id": env.alice})
        )
        .await,
        bad("message_id is empty")
    );
    assert_eq!(
        env.err(
            "copyMessage",
            json!({"chat_id": 5, "from_chat_id": env.alice, "message_id": mid(&photo)})
        )
        .await,
        bad("chat not found")
    );
    // The topic's creation message is a service message: it can't be copied.
    assert_eq!(
        env.err(
            "copyMessage",
            json!({"chat_id": env.alice, "from_chat_id": env.group, "message_id": topic})
        )
        .await,
        bad("message can't be copied")
    );
    env.done();
}

#[tokio::test]
async fn forward_message_returns_the_message_with_its_origin() {
    let env = Env::new().await;
    let msg = env.person_to_bot(env.alice, json!({"text": "please help"}));
    let fwd = env
        .ok(
            "forwardMessage",
            json!({"chat_id": env.group, "from_chat_id": env.alice, "message_id": mid(&msg)}),
        )
        .await;
    assert_eq!(fwd["text"], json!("please help"));
    assert_eq!(fwd["forward_origin"]["type"], json!("user"));
    assert_eq!(fwd["forward_origin"]["sender_user"]["id"], json!(env.alice));
    assert_eq!(fwd["forward_origin"]["date"], msg["date"]);
    // Protected content can't be forwarded.
    let prot = env
        .ok(
            "sendMessage",
            json!({"chat_id": env.alice, "text": "secret", "protect_content": true}),
        )
        .await;
    assert_eq!(prot["has_protected_content"], json!(true));
    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err(
            "forwardMessage",
            json!({"chat_id": env.group, "from_chat_id": env.alice, "message_id": mid(&prot)})
        )
        .await,
        bad("message can't be forwarded")
    );
    assert_eq!(
        env.err(
            "forwardMessage",
            json!({"chat_id": env.group, "from_chat_id": env.alice, "message_id": 4242})
        )
        .await,
        bad("message to forward not found")
    );
    assert_eq!(
        env.err(
            "forwardMessage",
            json!({"chat_id": env.group, "from_chat_id": -77, "message_id": 1})
        )
        .await,
        bad("chat not found")
    );
    env.done();
}

fn albums(list: &[Value]) -> Vec<Option<String>> {
    list.iter()
        .map(|m| m["media_group_id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn copy_and_forward_messages_keep_albums_and_skip_what_cannot_go() {
    let env = Env::new().await;
    let topic = env.topic("Albums").await;
    let first = env.person_to_bot(env.alice, json!({"text": "look"}));
    let album = env
        .ctl
        .send(
            env.alice,
            Place::Bot(BOT),
            &json!({"media": [{"type": "photo"}, {"type": "photo"}, {"type": "video"}]}),
        )
        .unwrap();
    let after = env.person_to_bot(env.alice, json!({"text": "see?"}));
    let mut ids: Vec<i64> = vec![mid(&first)];
    ids.extend(album.iter().map(mid));
    ids.push(mid(&after));
    ids.push(9999); // missing: skipped

    let res = env
        .ok("copyMessages", json!({"chat_id": env.group, "message_thread_id": topic, "from_chat_id": env.alice, "message_ids": ids}))
        .await;
    assert_eq!(res.as_array().unwrap().len(), 5);
    let t = env.ctl.topic_transcript(env.group, Some(topic));
    let copied: Vec<Value> = t
        .into_iter()
        .filter(|m| m["from"]["id"] == json!(BOT) && m.get("forum_topic_created").is_none())
        .collect();
    assert_eq!(copied.len(), 5);
    let groups = albums(&copied);
    assert_eq!(groups[0], None);
    assert!(groups[1].is_some() && groups[1] == groups[2] && groups[2] == groups[3]);
    assert_ne!(
        groups[1].as_deref(),
        album[0]["media_group_id"].as_str(),
        "a new media_group_id"
    );
    assert_eq!(groups[4], None);
    assert_eq!(copied[1]["photo"], album[0]["photo"]);
    assert!(copied.iter().all(|m| m.get("forward_origin").is_none()));

    let res = env.ok("forwardMessages", json!({"chat_id": env.alice, "from_chat_id": env.group, "message_ids": [topic, mid(&copied[1]), mid(&copied[2])]})).await;
    assert_eq!(
        res.as_array().unwrap().len(),
        2,
        "the topic's service message is skipped"
    );
    let t = env.ctl.private_transcript(BOT, env.alice);
    let fwd = &t[t.len() - 2..];
    assert!(fwd
        .iter()
        .all(|m| m["forward_origin"]["sender_user"]["id"] == json!(BOT)));
    assert!(
        fwd[0]["media_group_id"].is_string()
            && fwd[0]["media_group_id"] == fwd[1]["media_group_id"]
    );
    assert_ne!(fwd[0]["media_group_id"], copied[1]["media_group_id"]);

    // remove_caption.
    let cap = env.person_to_bot(env.alice, json!({"photo": true, "caption": "drop me"}));
    env.ok("copyMessages", json!({"chat_id": env.alice, "from_chat_id": env.alice, "message_ids": [mid(&cap)], "remove_caption": true})).await;
    assert!(env
        .ctl
        .private_transcript(BOT, env.alice)
        .last()
        .unwrap()
        .get("caption")
        .is_none());

    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err(
            "copyMessages",
            json!({"chat_id": env.group, "from_chat_id": env.alice, "message_ids": [9998, 9999]})
        )
        .await,
        bad("there are no messages to copy")
    );
    assert_eq!(
        env.err(
            "forwardMessages",
            json!({"chat_id": env.group, "from_chat_id": env.group, "message_ids": [topic]})
        )
        .await,
        bad("there are no messages to forward")
    );
    assert_eq!(
        env.err(
            "copyMessages",
            json!({"chat_id": env.group, "from_chat_id": env.alice, "message_ids": [3, 2]})
        )
        .await,
        bad("message identifiers must be in strictly increasing order")
    );
    assert_eq!(
        env.err(
            "forwardMessages",
            json!({"chat_id": env.group, "from_chat_id": env.alice})
        )
        .await,
        bad("message_ids is empty")
    );
    assert_eq!(
        env.err(
            "copyMessages",
            json!({"chat_id": 8, "from_chat_id": env.alice, "message_ids": [1]})
        )
        .await,
        bad("chat not found")
    );
    env.done();
}
