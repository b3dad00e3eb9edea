//! Forum topics: the topic methods, messages in topics and General, closed and
//! deleted topics, rights.

mod common;

use common::{mid, Env, BOT};
use serde_json::json;
use tg_emulator::control::Place;

#[tokio::test]
async fn create_forum_topic_and_messages_in_it() {
    let env = Env::new().await;
    let t = env
        .ok(
            "createForumTopic",
            json!({"chat_id": env.group, "name": "Alice Smith", "icon_color": 16766590}),
        )
        .await;
    let id = t["message_thread_id"].as_i64().unwrap();
    assert!(id > 1);
    assert_eq!(t["name"], json!("Alice Smith"));
    assert_eq!(t["icon_color"], json!(16766590));
    // The bot receives the service message of the topic it created.
    let got = env.updates_of("message").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["message_id"], json!(id));
    assert_eq!(got[0]["forum_topic_created"]["name"], json!("Alice Smith"));
    assert_eq!(got[0]["message_thread_id"], json!(id));
    assert_eq!(got[0]["is_topic_message"], json!(true));
    assert!(got[0].get("reply_to_message").is_none());

    // A message in the topic: thread id, is_topic_message, and reply_to_message = creation.
    let m = env
        .ok(
            "sendMessage",
            json!({"chat_id": env.group, "message_thread_id": id, "text": "New ticket"}),
        )
        .await;
    assert_eq!(m["message_thread_id"], json!(id));
    assert_eq!(m["is_topic_message"], json!(true));
    assert_eq!(m["reply_to_message"]["message_id"], json!(id));
    assert_eq!(
        m["reply_to_message"]["forum_topic_created"]["name"],
        json!("Alice Smith")
    );
    // An explicit reply inside the topic points to the replied message; the thread follows the reply.
    let r = env.ok("sendMessage", json!({"chat_id": env.group, "text": "details", "reply_parameters": {"message_id": mid(&m)}})).await;
    assert_eq!(r["reply_to_message"]["message_id"], m["message_id"]);
    assert_eq!(r["message_thread_id"], json!(id));
    // General: neither field.
    let g = env.say(env.group, "General chat").await;
    assert!(
        g.get("message_thread_id").is_none()
            && g.get("is_topic_message").is_none()
            && g.get("reply_to_message").is_none()
    );

    // A person's message in the topic reaches the bot (an administrator) the same way.
    env.person_to_group(env.olga, Some(id), json!({"text": "I'll take it"}));
    env.person_to_group(env.olga, None, json!({"text": "in general"}));
    let got = env.updates_of("message").await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["message_thread_id"], json!(id));
    assert_eq!(got[0]["is_topic_message"], json!(true));
    assert_eq!(got[0]["reply_to_message"]["message_id"], json!(id));
    assert_eq!(got[0]["from"]["id"], json!(env.olga));
    assert!(got[1].get("message_thread_id").is_none() && got[1].get("is_topic_message").is_none());
    assert_eq!(env.ctl.topics(env.group)[0]["name"], json!("Alice Smith"));
    assert_eq!(env.ctl.topic_transcript(env.group, Some(id)).len(), 4);

    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": env.group, "message_thread_id": 1, "text": "x"})
        )
        .await,
        bad("message thread not found")
    );
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": env.group, "message_thread_id": 9999, "text": "x"})
        )
        .await,
        bad("message thread not found")
    );
    assert_eq!(
        env.err("createForumTopic", json!({"chat_id": env.group}))
            .await,
        bad("name must be non-empty")
    );
    assert_eq!(
        env.err(
            "createForumTopic",
            json!({"chat_id": env.group, "name": "x", "icon_color": 1})
        )
        .await,
        bad("TOPIC_ICON_COLOR_INVALID")
    );
    assert_eq!(
        env.err(
            "createForumTopic",
            json!({"chat_id": env.group, "name": "x", "icon_custom_emoji_id": "123"})
        )
        .await,
        bad("invalid custom emoji identifier specified")
    );
    assert_eq!(
        env.err(
            "createForumTopic",
            json!({"chat_id": env.alice, "name": "x"})
        )
        .await,
        bad("the chat is not a forum")
    );
    assert_eq!(
        env.err("createForumTopic", json!({"chat_id": -1000, "name": "x"}))
            .await,
        bad("chat not found")
    );
    env.done();
}

#[tokio::test]
async fn edit_close_reopen_delete_topics() {
    let env = Env::new().await;
    let icons = env.ok("getForumTopicIconStickers", json!({})).await;
    let icons = icons.as_array().unwrap();
    assert!(!icons.is_empty());
    assert!(icons
        .iter()
        .all(|s| s["type"] == json!("custom_emoji") && s["custom_emoji_id"].is_string()));
    let icon = icons[0]["custom_emoji_id"].clone();

    let id = env.topic("Bob").await;
    assert_eq!(env.ok("editForumTopic", json!({"chat_id": env.group, "message_thread_id": id, "name": "Bob (VIP)", "icon_custom_emoji_id": icon})).await, json!(true));
    let got = env.updates_of("message").await;
    assert_eq!(
        got[0]["forum_topic_edited"],
        json!({"name": "Bob (VIP)", "icon_custom_emoji_id": icon})
    );
    assert_eq!(got[0]["message_thread_id"], json!(id));
    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err(
            "editForumTopic",
            json!({"chat_id": env.group, "message_thread_id": id, "name": "Bob (VIP)"})
        )
        .await,
        bad("TOPIC_NOT_MODIFIED")
    );
    assert_eq!(
        env.err(
            "editForumTopic",
            json!({"chat_id": env.group, "message_thread_id": 9999, "name": "x"})
        )
        .await,
        bad("message thread not found")
    );
    assert_eq!(
        env.err("editForumTopic", json!({"chat_id": env.group, "name": "x"}))
            .await,
        bad("message_thread_id is empty")
    );

    assert_eq!(
        env.ok(
            "closeForumTopic",
            json!({"chat_id": env.group, "message_thread_id": id})
        )
        .await,
        json!(true)
    );
    assert!(env.updates_of("message").await[0]
        .get("forum_topic_closed")
        .is_some());
    assert_eq!(
        env.err(
            "closeForumTopic",
            json!({"chat_id": env.group, "message_thread_id": id})
        )
        .await,
        bad("TOPIC_NOT_MODIFIED")
    );
    assert_eq!(env.ctl.topics(env.group)[0]["is_closed"], json!(true));
    // A member can't write in a closed topic; the bot (it may manage topics) can.
    let e = env
        .ctl
        .send(
            env.olga,
            Place::Group(env.group, Some(id)),
            &json!({"text": "x"}),
        )
        .unwrap_err();
    assert_eq!(e.description, "Bad Request: TOPIC_CLOSED");
    env.ok(
        "sendMessage",
        json!({"chat_id": env.group, "message_thread_id": id, "text": "closing note"}),
    )
    .await;
    // Without the right, the bot can't either (though it may reopen the topic it
    // created: see topic_rights_names_and_creators).
    env.ctl
        .set_member(
            env.group,
            BOT,
            "administrator",
            json!({"can_delete_messages": true}),
        )
        .unwrap();
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": env.group, "message_thread_id": id, "text": "x"})
        )
        .await,
        bad("TOPIC_CLOSED")
    );
    env.ctl.add_admin_bot(env.group, BOT).unwrap();

    assert_eq!(
        env.ok(
            "reopenForumTopic",
            json!({"chat_id": env.group, "message_thread_id": id})
        )
        .await,
        json!(true)
    );
    assert!(env.updates_of("message").await[0]
        .get("forum_topic_reopened")
        .is_some());
    assert_eq!(
        env.err(
            "reopenForumTopic",
            json!({"chat_id": env.group, "message_thread_id": id})
        )
        .await,
        bad("TOPIC_NOT_MODIFIED")
    );
    env.person_to_group(env.olga, Some(id), json!({"text": "open again"}));

    assert_eq!(
        env.ok(
            "deleteForumTopic",
            json!({"chat_id": env.group, "message_thread_id": id})
        )
        .await,
        json!(true)
    );
    assert!(env.ctl.topic_transcript(env.group, Some(id)).is_empty());
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": env.group, "message_thread_id": id, "text": "x"})
        )
        .await,
        bad("message thread not found")
    );
    assert_eq!(
        env.err(
            "deleteForumTopic",
            json!({"chat_id": env.group, "message_thread_id": id})
        )
        .await,
        bad("message thread not found")
    );
    assert_eq!(
        env.err(
            "closeForumTopic",
            json!({"chat_id": env.group, "message_thread_id": 1})
        )
        .await,
        bad("TOPIC_ID_INVALID")
    );

    // A topic deleted by a person (control) is gone for the bot too.
    let id2 = env.topic("Carol").await;
    env.ctl.delete_topic(env.group, id2).unwrap();
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": env.group, "message_thread_id": id2, "text": "x"})
        )
        .await,
        bad("message thread not found")
    );

    // Rights: without can_manage_topics every topic method is refused (deleting needs
    // can_delete_messages) for a topic someone else created.
    let theirs = env
        .ctl
        .create_topic(env.owner, env.group, "Owner's")
        .unwrap();
    let theirs = theirs["message_thread_id"].as_i64().unwrap();
    env.ctl
        .set_member(env.group, BOT, "administrator", json!({}))
        .unwrap();
    for (m, extra, error) in [
        (
            "createForumTopic",
            json!({"name": "x"}),
            "not enough rights to create a topic",
        ),
        (
            "editForumTopic",
            json!({"message_thread_id": theirs, "name": "x"}),
            "not enough rights to manage topics",
        ),
        (
            "closeForumTopic",
            json!({"message_thread_id": theirs}),
            "not enough rights to manage topics",
        ),
        (
            "reopenForumTopic",
            json!({"message_thread_id": theirs}),
            "not enough rights to manage topics",
        ),
        (
            "deleteForumTopic",
            json!({"message_thread_id": theirs}),
            "not enough rights to delete a topic",
        ),
    ] {
        let mut p = extra;
        p["chat_id"] = json!(env.group);
        assert_eq!(env.err(m, p).await, bad(error), "{m}");
    }
    env.done();
}

/// Who may create and manage topics, and what happens to names.
#[tokio::test]
async fn topic_rights_names_and_creators() {
    let env = Env::new().await;
    let g = env.group;
    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    // Names: cut to 128 characters, never empty.
    let long = "ж".repeat(200);
    let t = env
        .ok("createForumTopic", json!({"chat_id": g, "name": long}))
        .await;
    assert_eq!(t["name"], json!("ж".repeat(128)));
    let created = env.updates_of("message").await;
    assert_eq!(
        created[0]["forum_topic_created"]["name"],
        json!("ж".repeat(128))
    );
    for name in [json!(""), json!("   ")] {
        assert_eq!(
            env.err("createForumTopic", json!({"chat_id": g, "name": name}))
                .await,
            bad("name must be non-empty")
        );
    }
    assert_eq!(
        env.err("createForumTopic", json!({"chat_id": g})).await,
        bad("name must be non-empty")
    );
    let id = t["message_thread_id"].as_i64().unwrap();
    env.ok(
        "editForumTopic",
        json!({"chat_id": g, "message_thread_id": id, "name": "n".repeat(129)}),
    )
    .await;
    let edited = env.updates_of("message").await;
    assert_eq!(
        edited[0]["forum_topic_edited"]["name"],
        json!("n".repeat(128))
    );
    assert_eq!(env.ctl.topics(g)[0]["name"], json!("n".repeat(128)));
    // An empty name keeps the current one.
    let icon = topics_icon(&env).await;
    env.ok(
        "editForumTopic",
        json!({"chat_id": g, "message_thread_id": id, "name": "", "icon_custom_emoji_id": icon}),
    )
    .await;
    assert_eq!(env.ctl.topics(g)[0]["name"], json!("n".repeat(128)));

    // Members create topics only where the group allows it.
    let e = env.ctl.create_topic(env.olga, g, "Olga's").unwrap_err();
    assert_eq!(
        e.description,
        "Bad Request: not enough rights to create a topic"
    );
    env.ctl
        .set_permissions(
            g,
            &json!({"can_send_messages": true, "can_manage_topics": true}),
        )
        .unwrap();
    let chat = env.ok("getChat", json!({"chat_id": g})).await;
    assert_eq!(chat["permissions"]["can_manage_topics"], json!(true));
    assert_eq!(chat["permissions"]["can_send_photos"], json!(false));
    let olgas = env.ctl.create_topic(env.olga, g, "Olga's").unwrap();
    let olgas = olgas["message_thread_id"].as_i64().unwrap();
    // So does a bot that is an ordinary member, and it manages the topics it created.
    env.ctl.demote(g, BOT).unwrap();
    let own = env
        .ok("createForumTopic", json!({"chat_id": g, "name": "Bot's"}))
        .await;
    let own = own["message_thread_id"].as_i64().unwrap();
    for (m, extra) in [
        ("editForumTopic", json!({"name": "Bot's (edited)"})),
        ("closeForumTopic", json!({})),
        ("reopenForumTopic", json!({})),
    ] {
        let mut p = extra.clone();
        p["chat_id"] = json!(g);
        p["message_thread_id"] = json!(own);
        assert_eq!(env.ok(m, p.clone()).await, json!(true), "{m}");
        p["message_thread_id"] = json!(olgas);
        assert_eq!(
            env.err(m, p).await,
            bad("not enough rights to manage topics"),
            "{m}"
        );
    }
    env.ctl.set_permissions(g, &json!({})).unwrap();
    assert_eq!(
        env.err("createForumTopic", json!({"chat_id": g, "name": "x"}))
            .await,
        bad("not enough rights to create a topic")
    );
    env.done();
}

async fn topics_icon(env: &Env) -> serde_json::Value {
    let icons = env.ok("getForumTopicIconStickers", json!({})).await;
    icons[0]["custom_emoji_id"].clone()
}

/// The "topic breaks while it exists" fault: people keep using the topic, the bot's sends
/// into it answer "message thread not found"; repaired, it works again.
#[tokio::test]
async fn a_broken_topic_refuses_the_bots_sends_only() {
    let env = Env::new().await;
    let g = env.group;
    let id = env.topic("Alice").await;
    let other = env.topic("Bob").await;
    let theirs = env.person_to_group(env.olga, Some(id), json!({"text": "before"}));
    env.ctl.break_topic(g, id, true).unwrap();
    assert_eq!(env.ctl.topics(g)[0]["is_broken"], json!(true));
    let gone = (400u16, "Bad Request: message thread not found".to_string());
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": g, "message_thread_id": id, "text": "x"})
        )
        .await,
        gone
    );
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": g, "text": "x", "reply_parameters": {"message_id": mid(&theirs[0])}})
        )
        .await,
        gone,
        "a reply to a message of the topic"
    );
    let src = env.person_to_bot(env.alice, json!({"text": "to copy"}));
    assert_eq!(
        env.err(
            "copyMessage",
            json!({"chat_id": g, "message_thread_id": id, "from_chat_id": env.alice, "message_id": mid(&src)})
        )
        .await,
        gone
    );
    // Managing the topic still works (it exists): that is how a bot tells a broken topic
    // from a deleted one.
    assert_eq!(
        env.err(
            "editForumTopic",
            json!({"chat_id": g, "message_thread_id": id, "name": "Alice"})
        )
        .await,
        (400u16, "Bad Request: TOPIC_NOT_MODIFIED".to_string())
    );
    // People still write there and the bot still sees it; other topics are fine.
    env.updates().await;
    env.person_to_group(env.olga, Some(id), json!({"text": "still here"}));
    let got = env.updates_of("message").await;
    assert_eq!(got[0]["message_thread_id"], json!(id));
    assert_eq!(got[0]["text"], json!("still here"));
    env.ok(
        "sendMessage",
        json!({"chat_id": g, "message_thread_id": other, "text": "fine"}),
    )
    .await;
    assert_eq!(env.ctl.topics(g)[0]["is_deleted"], json!(false));

    // Repaired over HTTP.
    let status = env
        .control(
            "POST",
            "topics/break",
            json!({"chat_id": g, "message_thread_id": id, "broken": false}),
        )
        .await;
    assert_eq!(status, 200);
    env.ok(
        "sendMessage",
        json!({"chat_id": g, "message_thread_id": id, "text": "back"}),
    )
    .await;
    assert!(env.ctl.break_topic(g, 9999, true).is_err());
    env.done();
}

#[tokio::test]
async fn people_create_topics_and_bots_see_them() {
    let env = Env::new().await;
    env.ctl
        .set_permissions(env.group, &json!({"can_manage_topics": true}))
        .unwrap();
    let t = env.ctl.create_topic(env.olga, env.group, "Olga's").unwrap();
    let id = t["message_thread_id"].as_i64().unwrap();
    let got = env.updates_of("message").await;
    assert_eq!(got[0]["forum_topic_created"]["name"], json!("Olga's"));
    assert_eq!(got[0]["from"]["id"], json!(env.olga));
    let m = env
        .ok(
            "sendMessage",
            json!({"chat_id": env.group, "message_thread_id": id, "text": "hi"}),
        )
        .await;
    assert_eq!(m["reply_to_message"]["message_id"], json!(id));
    assert!(env.ctl.create_topic(env.olga, env.alice, "x").is_err());
    env.done();
}
