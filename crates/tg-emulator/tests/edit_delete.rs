//! editMessage* and deleteMessage(s), and people's edits arriving as edited_message.

mod common;

use common::{mid, Env, BOT};
use serde_json::json;
use tg_emulator::control::Place;

const NOT_MODIFIED: &str = "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";

#[tokio::test]
async fn edit_message_text_and_reply_markup() {
    let env = Env::new().await;
    let a = env.alice;
    let kb = json!({"inline_keyboard": [[{"text": "Done", "callback_data": "done"}]]});
    let m = env
        .ok(
            "sendMessage",
            json!({"chat_id": a, "text": "Working on it", "reply_markup": kb}),
        )
        .await;
    let e = env.ok("editMessageText", json!({"chat_id": a, "message_id": mid(&m), "text": "<b>Fixed</b>", "parse_mode": "HTML", "reply_markup": kb})).await;
    assert_eq!(e["text"], json!("Fixed"));
    assert_eq!(e["entities"][0]["type"], json!("bold"));
    assert_eq!(e["reply_markup"], kb);
    assert!(e["edit_date"].as_i64().unwrap() >= m["date"].as_i64().unwrap());
    assert_eq!(e["message_id"], m["message_id"]);
    // The bot's own edits are no updates.
    assert!(env.updates().await.is_empty());
    assert_eq!(
        env.err("editMessageText", json!({"chat_id": a, "message_id": mid(&m), "text": "<b>Fixed</b>", "parse_mode": "HTML", "reply_markup": kb})).await,
        (400, NOT_MODIFIED.into())
    );
    // Without reply_markup the keyboard goes away (as in Telegram).
    let e = env
        .ok(
            "editMessageText",
            json!({"chat_id": a, "message_id": mid(&m), "text": "Fixed"}),
        )
        .await;
    assert!(e.get("reply_markup").is_none() && e.get("entities").is_none());

    let e = env
        .ok(
            "editMessageReplyMarkup",
            json!({"chat_id": a, "message_id": mid(&m), "reply_markup": kb}),
        )
        .await;
    assert_eq!(e["reply_markup"], kb);
    assert_eq!(
        env.err(
            "editMessageReplyMarkup",
            json!({"chat_id": a, "message_id": mid(&m), "reply_markup": kb})
        )
        .await,
        (400, NOT_MODIFIED.into())
    );
    let e = env
        .ok(
            "editMessageReplyMarkup",
            json!({"chat_id": a, "message_id": mid(&m)}),
        )
        .await;
    assert!(e.get("reply_markup").is_none());

    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err(
            "editMessageText",
            json!({"chat_id": a, "message_id": 9999, "text": "x"})
        )
        .await,
        bad("message to edit not found")
    );
    assert_eq!(
        env.err(
            "editMessageReplyMarkup",
            json!({"chat_id": a, "message_id": 9999})
        )
        .await,
        bad("message to edit not found")
    );
    assert_eq!(
        env.err(
            "editMessageText",
            json!({"chat_id": a, "message_id": mid(&m), "text": "x".repeat(4097)})
        )
        .await,
        bad("MESSAGE_TOO_LONG"),
        "an edit over 4096 characters (a new message says \"message is too long\")"
    );
    env.ok(
        "editMessageText",
        json!({"chat_id": a, "message_id": mid(&m), "text": "x".repeat(4096)}),
    )
    .await;
    assert_eq!(
        env.err(
            "editMessageText",
            json!({"chat_id": a, "message_id": mid(&m)})
        )
        .await,
        bad("message text is empty")
    );
    assert_eq!(
        env.err("editMessageText", json!({"chat_id": a, "text": "x"}))
            .await,
        bad("message_id is empty")
    );
    assert_eq!(
        env.err(
            "editMessageText",
            json!({"inline_message_id": "abc", "text": "x"})
        )
        .await,
        bad("MESSAGE_ID_INVALID")
    );
    let theirs = env.person_to_bot(a, json!({"text": "mine"}));
    assert_eq!(
        env.err(
            "editMessageText",
            json!({"chat_id": a, "message_id": mid(&theirs), "text": "x"})
        )
        .await,
        bad("message can't be edited")
    );
    assert_eq!(
        env.err(
            "editMessageReplyMarkup",
            json!({"chat_id": a, "message_id": mid(&theirs), "reply_markup": kb})
        )
        .await,
        bad("message can't be edited")
    );
    let photo = env.upload_photo().await;
    assert_eq!(
        env.err(
            "editMessageText",
            json!({"chat_id": a, "message_id": mid(&photo), "text": "x"})
        )
        .await,
        bad("there is no text in the message to edit")
    );
    env.done();
}

#[tokio::test]
async fn edit_message_caption_and_media() {
    let env = Env::new().await;
    let a = env.alice;
    let photo = env.upload_photo().await;
    let e = env.ok("editMessageCaption", json!({"chat_id": a, "message_id": mid(&photo), "caption": "_new_", "parse_mode": "MarkdownV2"})).await;
    assert_eq!(e["caption"], json!("new"));
    assert_eq!(e["caption_entities"][0]["type"], json!("italic"));
    assert_eq!(e["photo"], photo["photo"]);
    let e = env
        .ok(
            "editMessageCaption",
            json!({"chat_id": a, "message_id": mid(&photo)}),
        )
        .await;
    assert!(e.get("caption").is_none());
    assert_eq!(
        env.err(
            "editMessageCaption",
            json!({"chat_id": a, "message_id": mid(&photo)})
        )
        .await,
        (400, NOT_MODIFIED.into())
    );
    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err(
            "editMessageCaption",
            json!({"chat_id": a, "message_id": mid(&photo), "caption": "c".repeat(1025)})
        )
        .await,
        bad("message caption is too long")
    );
    let text = env.say(a, "plain").await;
    assert_eq!(
        env.err(
            "editMessageCaption",
            json!({"chat_id": a, "message_id": mid(&text), "caption": "x"})
        )
        .await,
        bad("there is no caption in the message to edit")
    );
    assert_eq!(
        env.err(
            "editMessageCaption",
            json!({"chat_id": a, "message_id": 9999, "caption": "x"})
        )
        .await,
        bad("message to edit not found")
    );

    // Media: a photo becomes a document, then an animation; captions come from the InputMedia.
    let e = env
        .ok("editMessageMedia", json!({"chat_id": a, "message_id": mid(&photo), "media": {"type": "document", "media": "https://example.com/r.pdf", "caption": "report"}}))
        .await;
    assert!(e.get("photo").is_none());
    assert!(e["document"]["file_id"].is_string());
    assert_eq!(e["caption"], json!("report"));
    let e = env.ok("editMessageMedia", json!({"chat_id": a, "message_id": mid(&photo), "media": {"type": "animation", "media": "https://example.com/a.mp4"}})).await;
    assert!(
        e["animation"].is_object() && e.get("document").is_none() && e.get("caption").is_none()
    );
    // Back to the original photo by file id.
    let fid = photo["photo"].as_array().unwrap().last().unwrap()["file_id"].clone();
    let e = env.ok("editMessageMedia", json!({"chat_id": a, "message_id": mid(&photo), "media": {"type": "photo", "media": fid}})).await;
    assert_eq!(e["photo"], photo["photo"]);
    assert_eq!(
        env.err("editMessageMedia", json!({"chat_id": a, "message_id": mid(&photo), "media": {"type": "photo", "media": "AgACnope"}})).await,
        bad("wrong file identifier/HTTP URL specified")
    );
    assert_eq!(
        env.err(
            "editMessageMedia",
            json!({"chat_id": a, "message_id": mid(&photo)})
        )
        .await,
        bad("media is empty")
    );
    assert_eq!(
        env.err("editMessageMedia", json!({"chat_id": a, "message_id": mid(&text), "media": {"type": "photo", "media": fid}})).await,
        bad("there is no media in the message to edit")
    );
    let theirs = env.person_to_bot(a, json!({"photo": true}));
    assert_eq!(
        env.err("editMessageMedia", json!({"chat_id": a, "message_id": mid(&theirs), "media": {"type": "photo", "media": fid}})).await,
        bad("message can't be edited")
    );
    env.done();
}

#[tokio::test]
async fn people_edits_arrive_as_edited_message() {
    let env = Env::new().await;
    let m = env.person_to_bot(env.alice, json!({"text": "my order is 12"}));
    env.updates().await;
    let edited = env
        .ctl
        .edit(
            env.alice,
            Place::Bot(BOT),
            mid(&m),
            &json!({"text": "my order is 13"}),
        )
        .unwrap();
    assert_eq!(edited["text"], json!("my order is 13"));
    let got = env.updates_of("edited_message").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["message_id"], m["message_id"]);
    assert_eq!(got[0]["text"], json!("my order is 13"));
    assert!(got[0]["edit_date"].as_i64().unwrap() >= m["date"].as_i64().unwrap());
    // Caption edits too; a person can't edit the bot's messages.
    let p = env.person_to_bot(env.alice, json!({"photo": true, "caption": "a"}));
    env.updates().await;
    env.ctl
        .edit(
            env.alice,
            Place::Bot(BOT),
            mid(&p),
            &json!({"caption": "b"}),
        )
        .unwrap();
    assert_eq!(
        env.updates_of("edited_message").await[0]["caption"],
        json!("b")
    );
    let bots = env.say(env.alice, "hi").await;
    assert!(env
        .ctl
        .edit(
            env.alice,
            Place::Bot(BOT),
            mid(&bots),
            &json!({"text": "x"})
        )
        .is_err());
    env.done();
}

#[tokio::test]
async fn delete_message_and_messages() {
    let env = Env::new().await;
    let a = env.alice;
    let mine = env.say(a, "oops").await;
    let theirs = env.person_to_bot(a, json!({"text": "delete me"}));
    assert_eq!(
        env.ok(
            "deleteMessage",
            json!({"chat_id": a, "message_id": mid(&mine)})
        )
        .await,
        json!(true)
    );
    assert_eq!(
        env.ok(
            "deleteMessage",
            json!({"chat_id": a, "message_id": mid(&theirs)})
        )
        .await,
        json!(true)
    );
    let t = env.ctl.private_transcript(BOT, a);
    assert!(t
        .iter()
        .all(|m| m["message_id"] != mine["message_id"] && m["message_id"] != theirs["message_id"]));
    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err(
            "deleteMessage",
            json!({"chat_id": a, "message_id": mid(&mine)})
        )
        .await,
        bad("message to delete not found")
    );
    assert_eq!(
        env.err("deleteMessage", json!({"chat_id": a})).await,
        bad("message_id is empty")
    );
    assert_eq!(
        env.err("deleteMessage", json!({"chat_id": 3, "message_id": 1}))
            .await,
        bad("chat not found")
    );
    // Editing a deleted message.
    assert_eq!(
        env.err(
            "editMessageText",
            json!({"chat_id": a, "message_id": mid(&mine), "text": "x"})
        )
        .await,
        bad("message to edit not found")
    );

    // In the forum: a topic's creation message can't be deleted; others can (the bot is an admin).
    let topic = env.topic("T").await;
    assert_eq!(
        env.err(
            "deleteMessage",
            json!({"chat_id": env.group, "message_id": topic})
        )
        .await,
        bad("message can't be deleted")
    );
    let olga = env
        .person_to_group(env.olga, Some(topic), json!({"text": "hello"}))
        .remove(0);
    assert_eq!(
        env.ok(
            "deleteMessage",
            json!({"chat_id": env.group, "message_id": mid(&olga)})
        )
        .await,
        json!(true)
    );

    let x = env.say(a, "1").await;
    let y = env.say(a, "2").await;
    assert_eq!(
        env.ok(
            "deleteMessages",
            json!({"chat_id": a, "message_ids": [mid(&x), mid(&y), 9999]})
        )
        .await,
        json!(true)
    );
    assert_eq!(
        env.err(
            "deleteMessages",
            json!({"chat_id": a, "message_ids": [mid(&x)]})
        )
        .await,
        bad("message to delete not found")
    );
    assert_eq!(
        env.err("deleteMessages", json!({"chat_id": a, "message_ids": []}))
            .await,
        bad("too many messages to delete")
    );
    assert_eq!(
        env.err("deleteMessages", json!({"chat_id": a})).await,
        bad("message_ids is empty")
    );
    env.done();
}
