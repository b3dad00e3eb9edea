//! File-carrying send methods and albums: uploads, file id reuse, URLs, captions,
//! sendMediaGroup and its refusals.

mod common;

use common::{answer, mid, Env, BOT};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use tg_emulator::control::Place;

/// Uploads `bytes` as the `field` of `method` to Alice, with extra text parts.
async fn upload(
    env: &Env,
    method: &str,
    field: &str,
    name: &str,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = Form::new().text("chat_id", env.alice.to_string()).part(
        field.to_string(),
        Part::bytes(format!("{field} bytes").into_bytes()).file_name(name.to_string()),
    );
    for (k, v) in extra {
        form = form.text(k.to_string(), v.to_string());
    }
    answer(
        env.http
            .post(env.api(method))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn every_file_method_uploads_and_reuses_file_ids() {
    let env = Env::new().await;
    let cases = [
        ("sendPhoto", "photo", "p.jpg"),
        ("sendVideo", "video", "v.mp4"),
        ("sendAnimation", "animation", "a.gif.mp4"),
        ("sendAudio", "audio", "song.mp3"),
        ("sendVoice", "voice", "note.ogg"),
        ("sendVideoNote", "video_note", "round.mp4"),
        ("sendDocument", "document", "report.pdf"),
        ("sendSticker", "sticker", "s.webp"),
    ];
    for (method, field, name) in cases {
        let (status, body) = upload(&env, method, field, name, &[]).await;
        assert_eq!(status, 200, "{method}: {body}");
        let m = &body["result"];
        let media = &m[field];
        let file_id = if field == "photo" {
            let sizes = media.as_array().unwrap();
            assert!(
                sizes.len() >= 2
                    && sizes
                        .iter()
                        .all(|s| s["width"].is_i64() && s["height"].is_i64())
            );
            sizes.last().unwrap()["file_id"].clone()
        } else {
            assert!(media["file_unique_id"].is_string(), "{method}: {media}");
            media["file_id"].clone()
        };
        // Re-sending by file id gives the very same media object.
        let again = env
            .ok(method, json!({"chat_id": env.alice, field: file_id}))
            .await;
        assert_eq!(again[field], *media, "{method} by file id");
        // Sending to the group too.
        let in_group = env
            .ok(method, json!({"chat_id": env.group, field: file_id}))
            .await;
        assert_eq!(in_group[field], *media);
        // A file id of another kind is refused.
        let other = if field == "document" {
            "sendVideo"
        } else {
            "sendDocument"
        };
        let other_field = if field == "document" {
            "video"
        } else {
            "document"
        };
        let (code, d) = env
            .err(other, json!({"chat_id": env.alice, other_field: file_id}))
            .await;
        assert_eq!(code, 400);
        assert!(d.starts_with("Bad Request: can't use file of type"), "{d}");
        // An unknown file id.
        assert_eq!(
            env.err(
                method,
                json!({"chat_id": env.alice, field: "AgACAgIAAxkBAAIunknown"})
            )
            .await,
            (
                400,
                "Bad Request: wrong file identifier/HTTP URL specified".into()
            )
        );
        // No file at all.
        assert_eq!(
            env.err(method, json!({"chat_id": env.alice})).await,
            (
                400,
                format!("Bad Request: there is no {field} in the request")
            )
        );
        // Wrong chat.
        assert_eq!(
            env.err(method, json!({"chat_id": 77, field: file_id}))
                .await,
            (400, "Bad Request: chat not found".into())
        );
    }
    env.done();
}

#[tokio::test]
async fn captions_parse_modes_urls_and_metadata() {
    let env = Env::new().await;
    let (status, body) = upload(
        &env,
        "sendPhoto",
        "photo",
        "p.jpg",
        &[("caption", "<b>Invoice</b> #42"), ("parse_mode", "HTML")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let m = &body["result"];
    assert_eq!(m["caption"], json!("Invoice #42"));
    assert_eq!(
        m["caption_entities"],
        json!([{"type": "bold", "offset": 0, "length": 7}])
    );

    let long = "c".repeat(1025);
    let (status, body) = upload(
        &env,
        "sendDocument",
        "document",
        "d.txt",
        &[("caption", &long)],
    )
    .await;
    assert_eq!(
        (status, body["description"].as_str().unwrap()),
        (400, "Bad Request: message caption is too long")
    );
    assert_eq!(
        env.err(
            "sendPhoto",
            json!({"chat_id": env.alice, "photo": "https://example.com/cat.jpg", "caption": long})
        )
        .await,
        (400, "Bad Request: message caption is too long".into())
    );

    // An HTTP URL stands for a file Telegram downloads.
    let m = env
        .ok(
            "sendDocument",
            json!({"chat_id": env.alice, "document": "https://example.com/files/guide.pdf"}),
        )
        .await;
    assert!(m["document"]["file_id"].is_string());
    let m = env
        .ok("sendAudio", json!({"chat_id": env.alice, "audio": "https://example.com/a.mp3", "performer": "Band", "title": "Song", "duration": 42}))
        .await;
    assert_eq!(m["audio"]["performer"], json!("Band"));
    assert_eq!(m["audio"]["title"], json!("Song"));
    assert_eq!(m["audio"]["duration"], json!(42));
    let m = env.ok("sendVideo", json!({"chat_id": env.alice, "video": "https://example.com/v.mp4", "width": 1920, "height": 1080, "has_spoiler": true})).await;
    assert_eq!(
        (m["video"]["width"].clone(), m["video"]["height"].clone()),
        (json!(1920), json!(1080))
    );
    assert_eq!(m["has_media_spoiler"], json!(true));
    let m = env
        .ok(
            "sendSticker",
            json!({"chat_id": env.alice, "sticker": "https://example.com/s.webp", "emoji": "🎉"}),
        )
        .await;
    assert_eq!(m["sticker"]["emoji"], json!("🎉"));
    assert!(m.get("caption").is_none());
    env.done();
}

#[tokio::test]
async fn media_groups_share_an_id_and_arrive_as_separate_updates() {
    let env = Env::new().await;
    let form = Form::new()
        .text("chat_id", env.alice.to_string())
        .text(
            "media",
            json!([
                {"type": "photo", "media": "attach://one", "caption": "<i>first</i>", "parse_mode": "HTML"},
                {"type": "video", "media": "attach://two"},
                {"type": "photo", "media": "https://example.com/3.jpg"}
            ])
            .to_string(),
        )
        .part("one", Part::bytes(b"1111".to_vec()).file_name("1.jpg"))
        .part("two", Part::bytes(b"2222".to_vec()).file_name("2.mp4"));
    let (status, body) = answer(
        env.http
            .post(env.api("sendMediaGroup"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let msgs = body["result"].as_array().unwrap();
    assert_eq!(msgs.len(), 3);
    let album = msgs[0]["media_group_id"].as_str().unwrap();
    assert!(msgs.iter().all(|m| m["media_group_id"] == json!(album)));
    assert_eq!(msgs[0]["caption"], json!("first"));
    assert_eq!(msgs[0]["caption_entities"][0]["type"], json!("italic"));
    assert!(msgs[1]["video"].is_object());
    let ids: Vec<i64> = msgs.iter().map(mid).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1));

    // A person's album reaches the bot as one update per item.
    env.ctl
        .send(
            env.alice,
            Place::Bot(BOT),
            &json!({"media": [{"type": "photo"}, {"type": "photo", "caption": "two"}]}),
        )
        .unwrap();
    let got = env.updates_of("message").await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["media_group_id"], got[1]["media_group_id"]);
    assert_ne!(got[0]["media_group_id"], json!(album));

    let bad = |d: &str| (400u16, format!("Bad Request: {d}"));
    let photo = |u: &str| json!({"type": "photo", "media": u});
    let one = json!([photo("https://example.com/1.jpg")]);
    assert_eq!(
        env.err(
            "sendMediaGroup",
            json!({"chat_id": env.alice, "media": one})
        )
        .await,
        bad("wrong number of media items specified")
    );
    let eleven: Vec<Value> = (0..11)
        .map(|i| photo(&format!("https://example.com/{i}.jpg")))
        .collect();
    assert_eq!(
        env.err(
            "sendMediaGroup",
            json!({"chat_id": env.alice, "media": eleven})
        )
        .await,
        bad("too many messages to send as an album")
    );
    let mixed = json!([photo("https://example.com/1.jpg"), {"type": "document", "media": "https://example.com/d.pdf"}]);
    let (code, d) = env
        .err(
            "sendMediaGroup",
            json!({"chat_id": env.alice, "media": mixed}),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        d.starts_with("Bad Request: wrong type of the media group item"),
        "{d}"
    );
    let docs = json!([{"type": "document", "media": "https://example.com/a.pdf"}, {"type": "document", "media": "https://example.com/b.pdf"}]);
    assert_eq!(
        env.ok(
            "sendMediaGroup",
            json!({"chat_id": env.alice, "media": docs})
        )
        .await
        .as_array()
        .unwrap()
        .len(),
        2
    );
    let unknown = json!([photo("AgACunknown"), photo("https://example.com/1.jpg")]);
    assert_eq!(
        env.err(
            "sendMediaGroup",
            json!({"chat_id": env.alice, "media": unknown})
        )
        .await,
        bad("wrong file identifier/HTTP URL specified")
    );
    assert_eq!(
        env.err("sendMediaGroup", json!({"chat_id": env.alice}))
            .await,
        bad("media is empty")
    );
    env.done();
}
