//! Chats and members: getChat, getChatMember, getChatAdministrators, bans, pins.

mod common;

use common::{mid, Env, BOT};
use serde_json::json;

#[tokio::test]
async fn get_chat_private_and_forum() {
    let env = Env::new().await;
    let c = env.ok("getChat", json!({"chat_id": env.alice})).await;
    assert_eq!(c["id"], json!(env.alice));
    assert_eq!(c["type"], json!("private"));
    assert_eq!(c["first_name"], json!("Alice"));
    assert_eq!(c["username"], json!("alice"));
    assert!(
        c["accent_color_id"].is_i64()
            && c["max_reaction_count"].is_i64()
            && c["accepted_gift_types"].is_object()
    );
    let g = env.ok("getChat", json!({"chat_id": env.group})).await;
    assert_eq!(g["type"], json!("supergroup"));
    assert_eq!(g["title"], json!("Support team"));
    assert_eq!(g["is_forum"], json!(true));
    assert!(g.get("pinned_message").is_none());
    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err("getChat", json!({"chat_id": -5})).await,
        bad("chat not found")
    );
    assert_eq!(env.err("getChat", json!({})).await, bad("chat_id is empty"));
    assert_eq!(
        env.err("getChat", json!({"chat_id": env.bob})).await,
        (
            403,
            "Forbidden: bot can't initiate conversation with a user".into()
        )
    );
    // A group the bot is not in.
    let other = env.ctl.add_group("Elsewhere", false, Some(env.owner));
    assert_eq!(
        env.err("getChat", json!({"chat_id": other})).await,
        (
            403,
            "Forbidden: bot is not a member of the supergroup chat".into()
        )
    );
    env.done();
}

#[tokio::test]
async fn get_chat_member_and_administrators() {
    let env = Env::new().await;
    let g = env.group;
    let me = env
        .ok("getChatMember", json!({"chat_id": g, "user_id": BOT}))
        .await;
    assert_eq!(me["status"], json!("administrator"));
    assert_eq!(me["can_manage_topics"], json!(true));
    assert_eq!(me["can_delete_messages"], json!(true));
    assert_eq!(me["user"]["is_bot"], json!(true));
    let owner = env
        .ok("getChatMember", json!({"chat_id": g, "user_id": env.owner}))
        .await;
    assert_eq!(owner["status"], json!("creator"));
    let olga = env
        .ok("getChatMember", json!({"chat_id": g, "user_id": env.olga}))
        .await;
    assert_eq!(olga["status"], json!("member"));
    assert_eq!(olga["user"]["first_name"], json!("Olga"));
    let alice = env
        .ok("getChatMember", json!({"chat_id": g, "user_id": env.alice}))
        .await;
    assert_eq!(alice["status"], json!("left"));
    let private = env
        .ok(
            "getChatMember",
            json!({"chat_id": env.alice, "user_id": env.alice}),
        )
        .await;
    assert_eq!(private["status"], json!("member"));
    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err("getChatMember", json!({"chat_id": g, "user_id": 1}))
            .await,
        bad("user not found")
    );
    assert_eq!(
        env.err("getChatMember", json!({"chat_id": g})).await,
        bad("user_id is empty")
    );
    assert_eq!(
        env.err("getChatMember", json!({"chat_id": g, "user_id": "abc"}))
            .await,
        bad("invalid user_id specified")
    );
    assert_eq!(
        env.err("getChatMember", json!({"chat_id": -3, "user_id": env.olga}))
            .await,
        bad("chat not found")
    );

    let admins = env.ok("getChatAdministrators", json!({"chat_id": g})).await;
    let admins = admins.as_array().unwrap();
    assert_eq!(admins.len(), 2);
    assert_eq!(admins[0]["status"], json!("creator"));
    assert_eq!(admins[1]["user"]["id"], json!(BOT));
    assert_eq!(
        env.err("getChatAdministrators", json!({"chat_id": env.alice}))
            .await,
        bad("there are no administrators in the private chat")
    );
    assert_eq!(
        env.err("getChatAdministrators", json!({"chat_id": -3}))
            .await,
        bad("chat not found")
    );
    env.done();
}

#[tokio::test]
async fn ban_and_unban() {
    let env = Env::new().await;
    let g = env.group;
    assert_eq!(
        env.ok("banChatMember", json!({"chat_id": g, "user_id": env.olga}))
            .await,
        json!(true)
    );
    let m = env
        .ok("getChatMember", json!({"chat_id": g, "user_id": env.olga}))
        .await;
    assert_eq!(m["status"], json!("kicked"));
    assert_eq!(m["until_date"], json!(0));
    // A banned member can't post.
    assert!(env
        .ctl
        .send(
            env.olga,
            tg_emulator::control::Place::Group(g, None),
            &json!({"text": "x"})
        )
        .is_err());
    assert_eq!(
        env.ok(
            "unbanChatMember",
            json!({"chat_id": g, "user_id": env.olga, "only_if_banned": true})
        )
        .await,
        json!(true)
    );
    assert_eq!(
        env.ok("getChatMember", json!({"chat_id": g, "user_id": env.olga}))
            .await["status"],
        json!("left")
    );
    // until_date is kept.
    env.ok(
        "banChatMember",
        json!({"chat_id": g, "user_id": env.alice, "until_date": 4_000_000_000i64}),
    )
    .await;
    assert_eq!(
        env.ok("getChatMember", json!({"chat_id": g, "user_id": env.alice}))
            .await["until_date"],
        json!(4_000_000_000i64)
    );

    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err("banChatMember", json!({"chat_id": g, "user_id": env.owner}))
            .await,
        bad("can't remove chat owner")
    );
    assert_eq!(
        env.err("banChatMember", json!({"chat_id": g, "user_id": 5}))
            .await,
        bad("user not found")
    );
    assert_eq!(
        env.err("banChatMember", json!({"chat_id": g})).await,
        bad("user_id is empty")
    );
    assert_eq!(
        env.err(
            "unbanChatMember",
            json!({"chat_id": env.alice, "user_id": env.alice})
        )
        .await,
        bad("method is available for supergroup and channel chats only")
    );
    env.ctl
        .set_member(g, BOT, "administrator", json!({"can_manage_topics": true}))
        .unwrap();
    assert_eq!(
        env.err("banChatMember", json!({"chat_id": g, "user_id": env.olga}))
            .await,
        bad("not enough rights to restrict/unrestrict chat member")
    );
    assert_eq!(
        env.err(
            "unbanChatMember",
            json!({"chat_id": g, "user_id": env.alice})
        )
        .await,
        bad("not enough rights to restrict/unrestrict chat member")
    );
    // A bot kicked from the group.
    env.ctl.set_member(g, BOT, "kicked", json!({})).unwrap();
    assert_eq!(
        env.err("getChat", json!({"chat_id": g})).await,
        (
            403,
            "Forbidden: bot was kicked from the supergroup chat".into()
        )
    );
    env.done();
}

#[tokio::test]
async fn pin_and_unpin() {
    let env = Env::new().await;
    let g = env.group;
    let a = env.say(g, "rules").await;
    let b = env.say(g, "faq").await;
    assert_eq!(
        env.ok(
            "pinChatMessage",
            json!({"chat_id": g, "message_id": mid(&a)})
        )
        .await,
        json!(true)
    );
    assert_eq!(
        env.ok(
            "pinChatMessage",
            json!({"chat_id": g, "message_id": mid(&b), "disable_notification": true})
        )
        .await,
        json!(true)
    );
    assert_eq!(
        env.ok("getChat", json!({"chat_id": g})).await["pinned_message"]["text"],
        json!("faq")
    );
    assert_eq!(
        env.ok(
            "unpinChatMessage",
            json!({"chat_id": g, "message_id": mid(&b)})
        )
        .await,
        json!(true)
    );
    assert_eq!(
        env.ok("getChat", json!({"chat_id": g})).await["pinned_message"]["text"],
        json!("rules")
    );
    assert_eq!(
        env.ok("unpinChatMessage", json!({"chat_id": g})).await,
        json!(true)
    );
    assert!(env
        .ok("getChat", json!({"chat_id": g}))
        .await
        .get("pinned_message")
        .is_none());
    // In a private chat anyone may pin.
    let p = env.say(env.alice, "ticket #1").await;
    assert_eq!(
        env.ok(
            "pinChatMessage",
            json!({"chat_id": env.alice, "message_id": mid(&p)})
        )
        .await,
        json!(true)
    );

    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err("pinChatMessage", json!({"chat_id": g, "message_id": 9999}))
            .await,
        bad("message to pin not found")
    );
    assert_eq!(
        env.err("pinChatMessage", json!({"chat_id": g})).await,
        bad("message_id is empty")
    );
    assert_eq!(
        env.err("unpinChatMessage", json!({"chat_id": -9})).await,
        bad("chat not found")
    );
    env.ctl
        .set_member(g, BOT, "administrator", json!({}))
        .unwrap();
    assert_eq!(
        env.err(
            "pinChatMessage",
            json!({"chat_id": g, "message_id": mid(&a)})
        )
        .await,
        bad("not enough rights to manage pinned messages in the chat")
    );
    assert_eq!(
        env.err("unpinChatMessage", json!({"chat_id": g})).await,
        bad("not enough rights to manage pinned messages in the chat")
    );
    env.done();
}

/// Membership changes send what Telegram sends: `my_chat_member` to a bot whose own
/// status or rights changed, always; `chat_member` to administrator bots that asked for
/// it in allowed_updates (the default list leaves it out), with old and new ChatMember.
#[tokio::test]
async fn membership_changes_send_my_chat_member_and_chat_member() {
    let env = Env::new().await;
    let g = env.group;
    // By default no chat_member.
    env.ctl
        .promote(g, env.olga, json!({"can_manage_topics": true}))
        .unwrap();
    assert_eq!(env.updates().await, Vec::<serde_json::Value>::new());
    env.ctl.demote(g, env.olga).unwrap();
    assert!(env.updates().await.is_empty());

    env.ok(
        "getUpdates",
        json!({"allowed_updates": ["message", "my_chat_member", "chat_member"]}),
    )
    .await;
    let change = |u: &serde_json::Value| {
        (
            u["old_chat_member"]["status"].as_str().unwrap().to_string(),
            u["new_chat_member"]["status"].as_str().unwrap().to_string(),
            u["new_chat_member"]["user"]["id"].as_i64().unwrap(),
            u["from"]["id"].as_i64().unwrap(),
        )
    };
    let s = |x: &str| x.to_string();
    // A promotion, by the group's creator.
    env.ctl
        .promote(
            g,
            env.olga,
            json!({"can_manage_topics": true, "can_pin_messages": true}),
        )
        .unwrap();
    let got = env.updates_of("chat_member").await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        change(&got[0]),
        (s("member"), s("administrator"), env.olga, env.owner)
    );
    assert_eq!(got[0]["chat"]["id"], json!(g));
    assert_eq!(got[0]["new_chat_member"]["can_manage_topics"], json!(true));
    assert_eq!(
        got[0]["new_chat_member"]["can_delete_messages"],
        json!(false)
    );
    assert!(got[0]["date"].as_i64().unwrap() > 0);
    // Rights changed: another update; nothing changed: none.
    env.ctl
        .promote(g, env.olga, json!({"can_manage_topics": true}))
        .unwrap();
    env.ctl
        .promote(g, env.olga, json!({"can_manage_topics": true}))
        .unwrap();
    let got = env.updates_of("chat_member").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["old_chat_member"]["can_pin_messages"], json!(true));
    assert_eq!(got[0]["new_chat_member"]["can_pin_messages"], json!(false));
    // A demotion, a join and a leave (people join and leave by themselves).
    env.ctl.demote(g, env.olga).unwrap();
    env.ctl.add_member(g, env.bob).unwrap();
    env.ctl.remove_member(g, env.bob).unwrap();
    let got: Vec<_> = env
        .updates_of("chat_member")
        .await
        .iter()
        .map(change)
        .collect();
    assert_eq!(
        got,
        [
            (s("administrator"), s("member"), env.olga, env.owner),
            (s("left"), s("member"), env.bob, env.bob),
            (s("member"), s("left"), env.bob, env.bob),
        ]
    );
    // The bot's own bans show up too, from the bot.
    env.ok("banChatMember", json!({"chat_id": g, "user_id": env.olga}))
        .await;
    let got = env.updates_of("chat_member").await;
    assert_eq!(change(&got[0]), (s("member"), s("kicked"), env.olga, BOT));
    assert_eq!(got[0]["new_chat_member"]["until_date"], json!(0));

    // The bot's own rights: my_chat_member, always.
    env.ctl
        .promote(g, BOT, json!({"can_manage_topics": true}))
        .unwrap();
    let got = env.updates().await;
    assert_eq!(got.len(), 1, "{got:?}");
    let mine = &got[0]["my_chat_member"];
    assert_eq!(mine["old_chat_member"]["can_delete_messages"], json!(true));
    assert_eq!(mine["new_chat_member"]["can_delete_messages"], json!(false));
    assert_eq!(mine["new_chat_member"]["user"]["id"], json!(BOT));
    assert_eq!(mine["from"]["id"], json!(env.owner));
    env.ctl.demote(g, BOT).unwrap();
    // No longer an administrator: other people's changes are not its business.
    env.ctl.add_member(g, env.bob).unwrap();
    env.ctl.remove_member(g, BOT).unwrap();
    let got: Vec<_> = env
        .updates()
        .await
        .iter()
        .map(|u| {
            let (kind, m) = if u.get("my_chat_member").is_some() {
                ("my", &u["my_chat_member"])
            } else {
                ("other", &u["chat_member"])
            };
            (kind, change(m))
        })
        .collect();
    assert_eq!(
        got,
        [
            ("my", (s("administrator"), s("member"), BOT, env.owner)),
            ("my", (s("member"), s("left"), BOT, env.owner)),
        ]
    );
    assert_eq!(
        env.err("getChat", json!({"chat_id": g})).await,
        (
            403,
            "Forbidden: bot is not a member of the supergroup chat".into()
        )
    );

    // Over HTTP, with who did it; unknown statuses are refused.
    let path = format!("groups/{g}/members");
    let status = env
        .control("POST", &path, json!({"user_id": BOT, "status": "administrator", "rights": {"can_manage_topics": true}, "by": env.owner}))
        .await;
    assert_eq!(status, 200);
    let got = env.updates_of("my_chat_member").await;
    assert_eq!(
        change(&got[0]),
        (s("left"), s("administrator"), BOT, env.owner)
    );
    let status = env
        .control(
            "POST",
            &path,
            json!({"user_id": env.bob, "status": "admin"}),
        )
        .await;
    assert_eq!(status, 400);
    env.done();
}

/// A person blocking the bot in private: my_chat_member from that person.
#[tokio::test]
async fn blocking_the_bot_sends_my_chat_member() {
    let env = Env::new().await;
    env.ctl.block(env.alice, BOT, true).unwrap();
    env.ctl.block(env.alice, BOT, true).unwrap();
    let got = env.updates_of("my_chat_member").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["chat"]["type"], json!("private"));
    assert_eq!(got[0]["from"]["id"], json!(env.alice));
    assert_eq!(got[0]["old_chat_member"]["status"], json!("member"));
    assert_eq!(got[0]["new_chat_member"]["status"], json!("kicked"));
    assert_eq!(got[0]["new_chat_member"]["user"]["id"], json!(BOT));
    env.ctl.block(env.alice, BOT, false).unwrap();
    let got = env.updates_of("my_chat_member").await;
    assert_eq!(got[0]["new_chat_member"]["status"], json!("member"));
    env.done();
}
