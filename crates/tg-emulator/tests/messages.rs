//! sendMessage and the non-file send methods, formatting, replies, keyboards and the
//! callback query round trip, reactions, chat actions and command menus.

mod common;

use common::{mid, Env, BOT};
use serde_json::json;
use tg_emulator::control::Place;

#[tokio::test]
async fn send_message_to_a_person_and_the_person_gets_it() {
    let env = Env::new().await;
    let m = env.say(env.alice, "Hello Alice").await;
    assert_eq!(m["text"], json!("Hello Alice"));
    assert_eq!(m["chat"]["id"], json!(env.alice));
    assert_eq!(m["chat"]["type"], json!("private"));
    assert_eq!(m["from"]["id"], json!(BOT));
    assert!(m["date"].as_i64().unwrap() > 0);
    assert!(m.get("message_thread_id").is_none());
    let transcript = env.ctl.private_transcript(BOT, env.alice);
    assert_eq!(transcript.last().unwrap()["text"], json!("Hello Alice"));
    // The bot does not get its own message as an update.
    assert!(env.updates().await.is_empty());
    // By @username of a person is not a chat the bot can address; numbers as strings work.
    let m = env
        .ok(
            "sendMessage",
            json!({"chat_id": env.alice.to_string(), "text": "again"}),
        )
        .await;
    assert_eq!(m["chat"]["id"], json!(env.alice));
    env.done();
}

#[tokio::test]
async fn send_message_errors() {
    let env = Env::new().await;
    let a = env.alice;
    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": 42, "text": "x"}))
            .await,
        bad("chat not found")
    );
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": -100999, "text": "x"}))
            .await,
        bad("chat not found")
    );
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": "@nobody", "text": "x"}))
            .await,
        bad("chat not found")
    );
    assert_eq!(
        env.err("sendMessage", json!({"text": "x"})).await,
        bad("chat_id is empty")
    );
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": a})).await,
        bad("message text is empty")
    );
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": a, "text": "   "}))
            .await,
        bad("message text is empty")
    );
    let long = "x".repeat(4097);
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": a, "text": long}))
            .await,
        bad("message is too long")
    );
    assert_eq!(
        env.ok(
            "sendMessage",
            json!({"chat_id": a, "text": "y".repeat(4096)})
        )
        .await["text"]
            .as_str()
            .unwrap()
            .len(),
        4096
    );
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": env.bob, "text": "hi"}))
            .await,
        (
            403,
            "Forbidden: bot can't initiate conversation with a user".into()
        )
    );
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": a, "text": "x", "reply_parameters": {"message_id": 999}})
        )
        .await,
        bad("message to be replied not found")
    );
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": a, "text": "x", "reply_markup": "{broken"})
        )
        .await,
        bad("can't parse reply keyboard markup JSON object")
    );
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": a, "text": "x", "reply_markup": {"inline_keyboard": [[{"text": "b", "callback_data": ""}]]}})).await,
        bad("BUTTON_DATA_INVALID")
    );
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": a, "text": "<b>x", "parse_mode": "HTML"})
        )
        .await,
        bad("can't parse entities: Can't find end tag corresponding to start tag \"b\"")
    );
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": a, "text": "x", "parse_mode": "Klingon"})
        )
        .await,
        bad("unsupported parse_mode \"Klingon\"")
    );
    // Blocked by the user.
    env.ctl.block(a, BOT, true).unwrap();
    assert!(env.ctl.is_blocked(a, BOT));
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": a, "text": "x"}))
            .await,
        (403, "Forbidden: bot was blocked by the user".into())
    );
    let upd = env.updates_of("my_chat_member").await;
    assert_eq!(upd[0]["new_chat_member"]["status"], json!("kicked"));
    // Writing again unblocks.
    env.person_to_bot(a, json!({"text": "sorry"}));
    env.say(a, "welcome back").await;
    env.done();
}

#[tokio::test]
async fn parse_modes_become_entities() {
    let env = Env::new().await;
    let m = env
        .ok("sendMessage", json!({"chat_id": env.alice, "parse_mode": "HTML",
            "text": "<b>Bold</b> <i>it</i> <a href=\"https://example.com\">link</a> &lt;ok&gt; <code>c</code>"}))
        .await;
    assert_eq!(m["text"], json!("Bold it link <ok> c"));
    let e = m["entities"].as_array().unwrap();
    assert_eq!(e[0], json!({"type": "bold", "offset": 0, "length": 4}));
    assert_eq!(e[1], json!({"type": "italic", "offset": 5, "length": 2}));
    assert_eq!(
        e[2],
        json!({"type": "text_link", "offset": 8, "length": 4, "url": "https://example.com"})
    );
    assert_eq!(e[3], json!({"type": "code", "offset": 18, "length": 1}));

    let m = env
        .ok(
            "sendMessage",
            json!({"chat_id": env.alice, "parse_mode": "MarkdownV2",
            "text": "*bold* _it_ __u__ ~s~ ||sp|| `code` [t](https://t.me) 😀*x*\\!"}),
        )
        .await;
    assert_eq!(m["text"], json!("bold it u s sp code t 😀x!"));
    let kinds: Vec<&str> = m["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "bold",
            "italic",
            "underline",
            "strikethrough",
            "spoiler",
            "code",
            "text_link",
            "bold"
        ]
    );
    // Offsets are UTF-16: the emoji counts 2.
    assert_eq!(
        m["entities"][7],
        json!({"type": "bold", "offset": 24, "length": 1})
    );
    let (code, d) = env
        .err(
            "sendMessage",
            json!({"chat_id": env.alice, "parse_mode": "MarkdownV2", "text": "Hi."}),
        )
        .await;
    assert_eq!(code, 400);
    assert_eq!(d, "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'");

    // Explicit entities are kept; out of bounds ones refused.
    let m = env
        .ok("sendMessage", json!({"chat_id": env.alice, "text": "abc", "entities": [{"type": "bold", "offset": 0, "length": 3}]}))
        .await;
    assert_eq!(
        m["entities"],
        json!([{"type": "bold", "offset": 0, "length": 3}])
    );
    assert_eq!(
        env.err("sendMessage", json!({"chat_id": env.alice, "text": "abc", "entities": [{"type": "bold", "offset": 2, "length": 3}]})).await,
        (400, "Bad Request: entity beginning or end is out of text bounds".into())
    );
    // Text from people gets detected entities (commands, mentions).
    let got = env.person_to_bot(env.alice, json!({"text": "/help @olga"}));
    assert_eq!(got["entities"][0]["type"], json!("bot_command"));
    assert_eq!(got["entities"][1]["type"], json!("mention"));
    env.done();
}

#[tokio::test]
async fn replies_carry_reply_to_message() {
    let env = Env::new().await;
    let question = env.person_to_bot(env.alice, json!({"text": "Where is my order?"}));
    let got = env.updates_of("message").await;
    assert_eq!(got[0]["text"], json!("Where is my order?"));
    let answer = env
        .ok("sendMessage", json!({"chat_id": env.alice, "text": "On its way", "reply_parameters": {"message_id": mid(&question)}}))
        .await;
    assert_eq!(
        answer["reply_to_message"]["message_id"],
        question["message_id"]
    );
    assert_eq!(
        answer["reply_to_message"]["text"],
        json!("Where is my order?")
    );
    // A person's reply to the bot's message reaches the bot with reply_to_message.
    let back = env
        .ctl
        .send(
            env.alice,
            Place::Bot(BOT),
            &json!({"text": "thanks", "reply_to": mid(&answer)}),
        )
        .unwrap();
    assert_eq!(
        back[0]["reply_to_message"]["message_id"],
        answer["message_id"]
    );
    let got = env.updates_of("message").await;
    assert_eq!(got[0]["reply_to_message"]["text"], json!("On its way"));
    // allow_sending_without_reply.
    let m = env
        .ok("sendMessage", json!({"chat_id": env.alice, "text": "x", "reply_parameters": {"message_id": 9999, "allow_sending_without_reply": true}}))
        .await;
    assert!(m.get("reply_to_message").is_none());
    env.done();
}

#[tokio::test]
async fn inline_keyboard_and_callback_query_round_trip() {
    let env = Env::new().await;
    let kb = json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}, {"text": "Site", "url": "https://example.com"}]]});
    let m = env
        .ok(
            "sendMessage",
            json!({"chat_id": env.alice, "text": "Resolved?", "reply_markup": kb}),
        )
        .await;
    assert_eq!(m["reply_markup"], kb);
    // Reply keyboards are accepted but not kept on the message.
    let r = env
        .ok("sendMessage", json!({"chat_id": env.alice, "text": "pick", "reply_markup": {"keyboard": [[{"text": "A"}]], "resize_keyboard": true}}))
        .await;
    assert!(r.get("reply_markup").is_none());

    let qid = env
        .ctl
        .press(env.alice, Place::Bot(BOT), mid(&m), "yes")
        .unwrap();
    assert!(env
        .ctl
        .press(env.alice, Place::Bot(BOT), mid(&m), "no-such")
        .is_err());
    let cbs = env.updates_of("callback_query").await;
    assert_eq!(cbs.len(), 1);
    let cb = &cbs[0];
    assert_eq!(cb["id"], json!(qid));
    assert_eq!(cb["data"], json!("yes"));
    assert_eq!(cb["from"]["id"], json!(env.alice));
    assert_eq!(cb["message"]["message_id"], m["message_id"]);
    assert!(cb["chat_instance"].is_string());
    assert_eq!(env.ctl.callback_answer(&qid), None);
    assert_eq!(
        env.err(
            "answerCallbackQuery",
            json!({"callback_query_id": qid, "text": "x".repeat(201)})
        )
        .await,
        (400, "Bad Request: MESSAGE_TOO_LONG".into())
    );
    assert_eq!(
        env.ok(
            "answerCallbackQuery",
            json!({"callback_query_id": qid, "text": "Thanks!", "show_alert": true})
        )
        .await,
        json!(true)
    );
    let answer = env.ctl.callback_answer(&qid).unwrap();
    assert_eq!(answer["text"], json!("Thanks!"));
    assert_eq!(answer["show_alert"], json!(true));
    let too_old = (
        400,
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
            .to_string(),
    );
    assert_eq!(
        env.err("answerCallbackQuery", json!({"callback_query_id": qid}))
            .await,
        too_old
    );
    assert_eq!(
        env.err("answerCallbackQuery", json!({"callback_query_id": "123"}))
            .await,
        too_old
    );
    assert_eq!(
        env.err("answerCallbackQuery", json!({})).await,
        (400, "Bad Request: callback_query_id is empty".into())
    );
    env.done();
}

#[tokio::test]
async fn location_venue_contact_poll_dice() {
    let env = Env::new().await;
    let a = env.alice;
    let m = env
        .ok(
            "sendLocation",
            json!({"chat_id": a, "latitude": 52.5, "longitude": 13.4}),
        )
        .await;
    assert_eq!(m["location"], json!({"latitude": 52.5, "longitude": 13.4}));
    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err(
            "sendLocation",
            json!({"chat_id": a, "latitude": 91, "longitude": 0})
        )
        .await,
        bad("wrong latitude or longitude specified")
    );
    assert_eq!(
        env.err("sendLocation", json!({"chat_id": a, "latitude": 1}))
            .await,
        bad("longitude is empty")
    );

    let m = env
        .ok("sendVenue", json!({"chat_id": a, "latitude": 1.5, "longitude": 2.5, "title": "Office", "address": "Main st 1"}))
        .await;
    assert_eq!(m["venue"]["title"], json!("Office"));
    assert_eq!(m["venue"]["location"]["latitude"], json!(1.5));
    assert_eq!(
        env.err(
            "sendVenue",
            json!({"chat_id": a, "latitude": 1, "longitude": 2, "title": "x"})
        )
        .await,
        bad("address is empty")
    );

    let m = env.ok("sendContact", json!({"chat_id": a, "phone_number": "+100", "first_name": "Desk", "last_name": "Help"})).await;
    assert_eq!(
        m["contact"],
        json!({"phone_number": "+100", "first_name": "Desk", "last_name": "Help"})
    );
    assert_eq!(
        env.err("sendContact", json!({"chat_id": a, "phone_number": "+100"}))
            .await,
        bad("first_name is empty")
    );

    let m = env
        .ok("sendPoll", json!({"chat_id": a, "question": "Happy?", "options": [{"text": "Yes"}, {"text": "No"}], "is_anonymous": false}))
        .await;
    assert_eq!(m["poll"]["question"], json!("Happy?"));
    assert_eq!(m["poll"]["options"][1]["text"], json!("No"));
    assert_eq!(m["poll"]["is_anonymous"], json!(false));
    assert_eq!(m["poll"]["type"], json!("regular"));
    assert_eq!(
        env.err(
            "sendPoll",
            json!({"chat_id": a, "question": "Q", "options": ["only"]})
        )
        .await,
        bad("POLL_ANSWERS_INVALID")
    );
    assert_eq!(
        env.err("sendPoll", json!({"chat_id": a, "options": ["a", "b"]}))
            .await,
        bad("question is empty")
    );
    assert_eq!(
        env.err(
            "sendPoll",
            json!({"chat_id": a, "question": "Q", "options": ["a", "b"], "type": "exam"})
        )
        .await,
        bad("wrong poll type specified")
    );

    let m = env.ok("sendDice", json!({"chat_id": a})).await;
    assert_eq!(m["dice"]["emoji"], json!("🎲"));
    assert!((1..=6).contains(&m["dice"]["value"].as_i64().unwrap()));
    let m = env
        .ok("sendDice", json!({"chat_id": a, "emoji": "🎰"}))
        .await;
    assert!((1..=64).contains(&m["dice"]["value"].as_i64().unwrap()));
    assert_eq!(
        env.err("sendDice", json!({"chat_id": a, "emoji": "🍕"}))
            .await,
        bad("wrong dice emoji specified")
    );
    assert_eq!(
        env.err("sendDice", json!({"chat_id": 7})).await,
        bad("chat not found")
    );
    env.done();
}

#[tokio::test]
async fn chat_action_and_reactions() {
    let env = Env::new().await;
    let a = env.alice;
    assert_eq!(
        env.ok("sendChatAction", json!({"chat_id": a, "action": "typing"}))
            .await,
        json!(true)
    );
    assert_eq!(
        env.ok(
            "sendChatAction",
            json!({"chat_id": env.group, "action": "upload_photo"})
        )
        .await,
        json!(true)
    );
    assert_eq!(
        env.err("sendChatAction", json!({"chat_id": a, "action": "dancing"}))
            .await,
        (400, "Bad Request: wrong parameter action in request".into())
    );
    assert_eq!(
        env.err("sendChatAction", json!({"chat_id": a})).await,
        (400, "Bad Request: action is empty".into())
    );
    assert_eq!(
        env.err("sendChatAction", json!({"chat_id": 5, "action": "typing"}))
            .await,
        (400, "Bad Request: chat not found".into())
    );

    let msg = env.person_to_bot(a, json!({"text": "thanks!"}));
    let r = json!([{"type": "emoji", "emoji": "👍"}]);
    assert_eq!(
        env.ok(
            "setMessageReaction",
            json!({"chat_id": a, "message_id": mid(&msg), "reaction": r})
        )
        .await,
        json!(true)
    );
    let t = env.ctl.private_transcript(BOT, a);
    let seen = t
        .iter()
        .find(|m| m["message_id"] == msg["message_id"])
        .unwrap();
    assert_eq!(seen["reactions"], r);
    assert_eq!(
        env.ok(
            "setMessageReaction",
            json!({"chat_id": a, "message_id": mid(&msg), "reaction": []})
        )
        .await,
        json!(true)
    );
    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err("setMessageReaction", json!({"chat_id": a, "message_id": mid(&msg), "reaction": [{"type": "emoji", "emoji": "🍕"}]})).await,
        bad("REACTION_INVALID")
    );
    assert_eq!(
        env.err(
            "setMessageReaction",
            json!({"chat_id": a, "message_id": 9999, "reaction": r})
        )
        .await,
        bad("message to react not found")
    );
    assert_eq!(
        env.err("setMessageReaction", json!({"chat_id": a, "reaction": r}))
            .await,
        bad("message_id is empty")
    );
    env.done();
}

#[tokio::test]
async fn my_commands_per_scope_and_language() {
    let env = Env::new().await;
    let cmds = json!([{"command": "start", "description": "Start"}, {"command": "help", "description": "Help"}]);
    assert_eq!(env.ok("getMyCommands", json!({})).await, json!([]));
    assert_eq!(
        env.ok("setMyCommands", json!({"commands": cmds})).await,
        json!(true)
    );
    assert_eq!(env.ok("getMyCommands", json!({})).await, cmds);
    let scope = json!({"type": "chat", "chat_id": env.group});
    let ru = json!([{"command": "start", "description": "Начать"}]);
    assert_eq!(
        env.ok(
            "setMyCommands",
            json!({"commands": ru, "scope": scope, "language_code": "ru"})
        )
        .await,
        json!(true)
    );
    assert_eq!(
        env.ok(
            "getMyCommands",
            json!({"scope": scope, "language_code": "ru"})
        )
        .await,
        ru
    );
    assert_eq!(
        env.ok("getMyCommands", json!({"scope": scope})).await,
        json!([])
    );
    assert_eq!(
        env.ok(
            "deleteMyCommands",
            json!({"scope": scope, "language_code": "ru"})
        )
        .await,
        json!(true)
    );
    assert_eq!(
        env.ok(
            "getMyCommands",
            json!({"scope": scope, "language_code": "ru"})
        )
        .await,
        json!([])
    );
    assert_eq!(env.ok("deleteMyCommands", json!({})).await, json!(true));
    assert_eq!(env.ok("getMyCommands", json!({})).await, json!([]));

    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    assert_eq!(
        env.err(
            "setMyCommands",
            json!({"commands": [{"command": "Bad Cmd", "description": "x"}]})
        )
        .await,
        bad("BOT_COMMAND_INVALID")
    );
    assert_eq!(
        env.err(
            "setMyCommands",
            json!({"commands": [{"command": "ok", "description": ""}]})
        )
        .await,
        bad("BOT_COMMAND_DESCRIPTION_INVALID")
    );
    assert_eq!(
        env.err("setMyCommands", json!({})).await,
        bad("commands is empty")
    );
    assert_eq!(
        env.err("getMyCommands", json!({"scope": {"type": "galaxy"}}))
            .await,
        bad("can't parse BotCommandScope JSON object")
    );
    assert_eq!(
        env.err("deleteMyCommands", json!({"scope": {"type": "chat"}}))
            .await,
        bad("can't parse BotCommandScope JSON object")
    );
    env.done();
}

/// Telegram drops fields of input objects it does not know (telegraf sends `hide: false`
/// on inline buttons): nothing unknown is stored or echoed, whatever the transport.
#[tokio::test]
async fn unknown_fields_of_input_objects_are_dropped() {
    let env = Env::new().await;
    let kb = json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "yes", "hide": false}]], "extra": 1});
    let clean = json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]});
    let m = env
        .ok(
            "sendMessage",
            json!({"chat_id": env.alice, "text": "hi there", "reply_markup": kb,
                   "entities": [{"type": "bold", "offset": 0, "length": 2, "colour": "red"}],
                   "link_preview_options": {"is_disabled": true, "zoom": 2},
                   "reply_parameters": {"message_id": 1, "allow_sending_without_reply": true, "x": 1}}),
        )
        .await;
    assert_eq!(m["reply_markup"], clean);
    assert_eq!(
        m["entities"],
        json!([{"type": "bold", "offset": 0, "length": 2}])
    );
    assert_eq!(m["link_preview_options"], json!({"is_disabled": true}));
    // The same keyboard as urlencoded text, as telegraf's form transport sends it.
    let form = [
        ("chat_id", env.alice.to_string()),
        ("text", "form".to_string()),
        ("reply_markup", kb.to_string()),
    ];
    let resp = env
        .http
        .post(env.api("sendMessage"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let (status, body) = common::answer(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["reply_markup"], clean);
    // Edits and albums too.
    let e = env
        .ok(
            "editMessageReplyMarkup",
            json!({"chat_id": env.alice, "message_id": mid(&m),
                   "reply_markup": {"inline_keyboard": [[{"text": "No", "callback_data": "no", "hide": true}]]}}),
        )
        .await;
    assert_eq!(
        e["reply_markup"],
        json!({"inline_keyboard": [[{"text": "No", "callback_data": "no"}]]})
    );
    let album = env
        .ok(
            "sendMediaGroup",
            json!({"chat_id": env.alice, "media": [
                {"type": "photo", "media": "https://example.com/a.jpg", "caption": "a", "thumb": "x"},
                {"type": "photo", "media": "https://example.com/b.jpg", "caption_entities": [], "foo": 1}]}),
        )
        .await;
    assert_eq!(album[0]["caption"], json!("a"));
    // A person's later view of the message has no unknown field either.
    let seen = env.ctl.private_transcript(BOT, env.alice);
    assert!(
        !serde_json::to_string(&seen).unwrap().contains("hide"),
        "{seen:?}"
    );
    env.done();
}

/// The parameters Bot API 7.0 replaced with reply_parameters still work, and calling
/// them is not a conformance violation; message_thread_id has no place in a private chat.
#[tokio::test]
async fn legacy_reply_parameters_and_threads_in_private_chats() {
    let env = Env::new().await;
    let question = env.person_to_bot(env.alice, json!({"text": "Where is my order?"}));
    let answer = env
        .ok(
            "sendMessage",
            json!({"chat_id": env.alice, "text": "On its way", "reply_to_message_id": mid(&question)}),
        )
        .await;
    assert_eq!(
        answer["reply_to_message"]["message_id"],
        question["message_id"]
    );
    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": env.alice, "text": "x", "reply_to_message_id": 9999})
        )
        .await,
        (400, "Bad Request: message to be replied not found".into())
    );
    let m = env
        .ok(
            "sendMessage",
            json!({"chat_id": env.alice, "text": "x", "reply_to_message_id": 9999, "allow_sending_without_reply": true}),
        )
        .await;
    assert!(m.get("reply_to_message").is_none());
    // Form transports send it as text.
    let url = format!(
        "{}?chat_id={}&text=q&reply_to_message_id={}",
        env.api("sendMessage"),
        env.alice,
        mid(&question)
    );
    let (status, body) = common::answer(env.http.get(url).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["reply_to_message"]["message_id"],
        question["message_id"]
    );

    assert_eq!(
        env.err(
            "sendMessage",
            json!({"chat_id": env.alice, "message_thread_id": 5, "text": "x"})
        )
        .await,
        (400, "Bad Request: message thread not found".into())
    );
    assert_eq!(
        env.err(
            "sendPhoto",
            json!({"chat_id": env.alice, "message_thread_id": 5, "photo": "https://example.com/p.jpg"})
        )
        .await,
        (400, "Bad Request: message thread not found".into())
    );
    env.done();
}
