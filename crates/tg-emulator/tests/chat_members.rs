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
