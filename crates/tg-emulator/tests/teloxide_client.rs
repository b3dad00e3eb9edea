//! A real client against the emulator: teloxide-core (Bot API 9.1, strict types) must
//! parse every answer it gets.

mod common;

use std::time::Duration;

use common::{wait_until, Env, BOT, TOKEN};
use serde_json::json;
use teloxide_core::prelude::*;
use teloxide_core::types::{
    ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, InputMedia, InputMediaPhoto,
    InputMediaVideo, UpdateKind,
};
use tg_emulator::control::Place;

fn bot(env: &Env) -> Bot {
    Bot::new(TOKEN).set_api_url(reqwest::Url::parse(&env.emu.url()).unwrap())
}

#[tokio::test]
async fn teloxide_talks_to_the_emulator() {
    let env = Env::new().await;
    let bot = bot(&env);
    let alice = ChatId(env.alice);
    let group = ChatId(env.group);

    let me = bot.get_me().await.expect("getMe");
    assert_eq!(me.id.0 as i64, BOT);
    assert_eq!(me.username(), "support_bot");

    // Long polling: the poll is woken by a person's message.
    let poll = {
        let bot = bot.clone();
        tokio::spawn(async move { bot.get_updates().timeout(20).await })
    };
    assert!(wait_until(Duration::from_secs(5), || env.ctl.is_polling(BOT)).await);
    env.person_to_bot(env.alice, json!({"text": "hello from Alice"}));
    let updates = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap()
        .expect("getUpdates");
    assert_eq!(updates.len(), 1);
    let mut offset = updates[0].id.0 + 1;
    match &updates[0].kind {
        UpdateKind::Message(m) => assert_eq!(m.text(), Some("hello from Alice")),
        other => panic!("unexpected {other:?}"),
    }

    // sendMessage with an inline keyboard, then the callback round trip.
    let kb = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("Solved", "solved")]]);
    let sent = bot
        .send_message(alice, "<b>Is it solved?</b>")
        .parse_mode(teloxide_core::types::ParseMode::Html)
        .reply_markup(kb)
        .await
        .expect("sendMessage");
    assert_eq!(sent.text(), Some("Is it solved?"));
    assert!(sent.reply_markup().is_some());
    let qid = env
        .ctl
        .press(env.alice, Place::Bot(BOT), sent.id.0 as i64, "solved")
        .unwrap();
    let updates = bot
        .get_updates()
        .offset(offset as i32)
        .await
        .expect("getUpdates");
    offset = updates.last().unwrap().id.0 + 1;
    let UpdateKind::CallbackQuery(q) = &updates[0].kind else {
        panic!("{:?}", updates[0].kind)
    };
    assert_eq!(q.data.as_deref(), Some("solved"));
    assert_eq!(q.id.0, qid);
    bot.answer_callback_query(q.id.clone())
        .text("Great!")
        .await
        .expect("answerCallbackQuery");
    assert_eq!(
        env.ctl.callback_answer(&qid).unwrap()["text"],
        json!("Great!")
    );

    // sendPhoto with an uploaded file.
    let photo = bot
        .send_photo(
            alice,
            InputFile::memory(b"\xff\xd8\xff\xe0 jpeg".to_vec()).file_name("shot.jpg"),
        )
        .caption("screenshot")
        .await
        .expect("sendPhoto");
    assert!(photo.photo().is_some_and(|p| !p.is_empty()));
    assert_eq!(photo.caption(), Some("screenshot"));

    // sendMediaGroup with uploads.
    let album = bot
        .send_media_group(
            alice,
            [
                InputMedia::Photo(
                    InputMediaPhoto::new(InputFile::memory(b"one".to_vec()).file_name("1.jpg"))
                        .caption("album"),
                ),
                InputMedia::Video(InputMediaVideo::new(
                    InputFile::memory(b"two".to_vec()).file_name("2.mp4"),
                )),
            ],
        )
        .await
        .expect("sendMediaGroup");
    assert_eq!(album.len(), 2);
    assert!(
        album[0].media_group_id().is_some()
            && album[0].media_group_id() == album[1].media_group_id()
    );

    // createForumTopic, then copyMessage into it.
    let topic = bot
        .create_forum_topic(group, "Alice Smith")
        .await
        .expect("createForumTopic");
    assert_eq!(topic.name, "Alice Smith");
    let updates = bot
        .get_updates()
        .offset(offset as i32)
        .await
        .expect("getUpdates with the topic service message");
    assert!(
        matches!(&updates[0].kind, UpdateKind::Message(m) if m.forum_topic_created().is_some())
    );
    let copied = bot
        .copy_message(group, alice, photo.id)
        .message_thread_id(topic.thread_id)
        .await
        .expect("copyMessage");
    let in_topic = env
        .ctl
        .topic_transcript(env.group, Some(topic.thread_id.0 .0 as i64));
    let copy = in_topic
        .iter()
        .find(|m| m["message_id"] == json!(copied.0))
        .unwrap();
    let biggest = photo.photo().unwrap().last().unwrap();
    assert_eq!(
        copy["photo"].as_array().unwrap().last().unwrap()["file_id"],
        json!(biggest.file.id.to_string()),
        "same file id"
    );
    assert_eq!(copy["caption"], json!("screenshot"));
    let in_thread = bot
        .send_message(group, "Ticket opened")
        .message_thread_id(topic.thread_id)
        .await
        .expect("sendMessage in a topic");
    assert_eq!(in_thread.thread_id, Some(topic.thread_id));
    assert!(in_thread.is_topic_message);

    // Errors come back as teloxide's ApiError.
    let err = bot.send_message(ChatId(42), "x").await.unwrap_err();
    assert!(err.to_string().contains("chat not found"), "{err}");
    env.done();
}

#[tokio::test]
async fn teloxide_parses_the_other_answers() {
    use teloxide_core::types::{BotCommand, InputPollOption, ReactionType, UserId};
    let env = Env::new().await;
    let bot = bot(&env);
    let alice = ChatId(env.alice);
    let group = ChatId(env.group);
    let file = |name: &str| {
        InputFile::memory(format!("{name} bytes").into_bytes()).file_name(name.to_string())
    };

    bot.get_chat(alice).await.expect("getChat private");
    bot.get_chat(group).await.expect("getChat forum");
    bot.get_chat_member(group, UserId(BOT as u64))
        .await
        .expect("getChatMember admin");
    bot.get_chat_member(group, UserId(env.owner as u64))
        .await
        .expect("getChatMember owner");
    bot.get_chat_member(group, UserId(env.olga as u64))
        .await
        .expect("getChatMember member");
    bot.get_chat_administrators(group)
        .await
        .expect("getChatAdministrators");
    bot.get_webhook_info().await.expect("getWebhookInfo");
    bot.get_forum_topic_icon_stickers()
        .await
        .expect("getForumTopicIconStickers");
    bot.set_my_commands([BotCommand::new("start", "Start")])
        .await
        .expect("setMyCommands");
    assert_eq!(bot.get_my_commands().await.expect("getMyCommands").len(), 1);
    bot.delete_my_commands().await.expect("deleteMyCommands");

    let doc = bot
        .send_document(alice, file("a.pdf"))
        .await
        .expect("sendDocument");
    bot.send_video(alice, file("v.mp4"))
        .await
        .expect("sendVideo");
    bot.send_animation(alice, file("a.mp4"))
        .await
        .expect("sendAnimation");
    bot.send_audio(alice, file("s.mp3"))
        .await
        .expect("sendAudio");
    bot.send_voice(alice, file("v.ogg"))
        .await
        .expect("sendVoice");
    bot.send_video_note(alice, file("n.mp4"))
        .await
        .expect("sendVideoNote");
    bot.send_sticker(alice, file("s.webp"))
        .await
        .expect("sendSticker");
    bot.send_location(alice, 1.0, 2.0)
        .await
        .expect("sendLocation");
    bot.send_venue(alice, 1.0, 2.0, "Office", "Main st")
        .await
        .expect("sendVenue");
    bot.send_contact(alice, "+100", "Desk")
        .await
        .expect("sendContact");
    bot.send_poll(
        alice,
        "Happy?",
        [InputPollOption::new("Yes"), InputPollOption::new("No")],
    )
    .await
    .expect("sendPoll");
    bot.send_dice(alice).await.expect("sendDice");
    bot.send_chat_action(alice, teloxide_core::types::ChatAction::Typing)
        .await
        .expect("sendChatAction");

    let f = bot
        .get_file(doc.document().unwrap().file.id.clone())
        .await
        .expect("getFile");
    assert!(!f.path.is_empty());
    let m = bot.send_message(alice, "v1").await.expect("sendMessage");
    bot.edit_message_text(alice, m.id, "v2")
        .await
        .expect("editMessageText");
    let kb = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback("x", "x")]]);
    bot.edit_message_reply_markup(alice, m.id)
        .reply_markup(kb)
        .await
        .expect("editMessageReplyMarkup");
    bot.edit_message_caption(alice, doc.id)
        .caption("new")
        .await
        .expect("editMessageCaption");
    bot.forward_message(group, alice, m.id)
        .await
        .expect("forwardMessage");
    bot.copy_messages(group, alice, [doc.id, m.id])
        .await
        .expect("copyMessages");
    bot.forward_messages(group, alice, [m.id])
        .await
        .expect("forwardMessages");
    let incoming = env.person_to_bot(env.alice, json!({"text": "thanks"}));
    let incoming_id =
        teloxide_core::types::MessageId(incoming["message_id"].as_i64().unwrap() as i32);
    bot.set_message_reaction(alice, incoming_id)
        .reaction([ReactionType::Emoji {
            emoji: "👍".into()
        }])
        .await
        .expect("setMessageReaction");
    bot.pin_chat_message(alice, m.id)
        .await
        .expect("pinChatMessage");
    bot.unpin_chat_message(alice)
        .await
        .expect("unpinChatMessage");
    let topic = bot
        .create_forum_topic(group, "T")
        .await
        .expect("createForumTopic");
    bot.edit_forum_topic(group, topic.thread_id)
        .name("T2")
        .await
        .expect("editForumTopic");
    bot.close_forum_topic(group, topic.thread_id)
        .await
        .expect("closeForumTopic");
    bot.reopen_forum_topic(group, topic.thread_id)
        .await
        .expect("reopenForumTopic");
    bot.delete_forum_topic(group, topic.thread_id)
        .await
        .expect("deleteForumTopic");
    bot.ban_chat_member(group, UserId(env.olga as u64))
        .await
        .expect("banChatMember");
    bot.get_chat_member(group, UserId(env.olga as u64))
        .await
        .expect("getChatMember banned");
    bot.unban_chat_member(group, UserId(env.olga as u64))
        .await
        .expect("unbanChatMember");
    bot.get_chat_member(group, UserId(env.olga as u64))
        .await
        .expect("getChatMember left");
    bot.delete_message(alice, m.id)
        .await
        .expect("deleteMessage");
    bot.delete_messages(alice, [doc.id])
        .await
        .expect("deleteMessages");
    // Updates of every kind the emulator produces parse too.
    env.ctl
        .edit(
            env.alice,
            Place::Bot(BOT),
            incoming_id.0 as i64,
            &json!({"text": "edited"}),
        )
        .unwrap();
    env.ctl.block(env.alice, BOT, true).unwrap();
    let updates = bot.get_updates().await.expect("getUpdates of every kind");
    assert!(
        updates
            .iter()
            .all(|u| !matches!(u.kind, UpdateKind::Error(_))),
        "{updates:?}"
    );
    env.ctl
        .route_webhook("hook.test:443", "127.0.0.1:9".parse().unwrap());
    bot.set_webhook(reqwest::Url::parse("https://hook.test/hook").unwrap())
        .await
        .expect("setWebhook");
    bot.delete_webhook().await.expect("deleteWebhook");
    env.done();
}
