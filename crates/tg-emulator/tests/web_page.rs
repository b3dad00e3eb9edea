//! The sandbox page: served by the emulator with its assets, the world route it
//! discovers bots, people and groups with, the `/` menu's commands, and uploads of picked
//! files.

use serde_json::{json, Value};
use tg_emulator::control::Place;
use tg_emulator::Emulator;

async fn get(url: &str) -> (u16, String, String) {
    let r = reqwest::get(url).await.expect("GET");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, r.text().await.expect("body"))
}

#[tokio::test]
async fn page_and_assets_are_served() {
    let emu = Emulator::start_local().await.unwrap();
    for path in ["/", "/sandbox"] {
        let (status, ct, html) = get(&format!("{}{path}", emu.url())).await;
        assert_eq!(status, 200, "{path}");
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
        for id in [
            "user-select",
            "bot-select",
            "user-input",
            "user-send",
            "user-chat",
            "user-photo",
            "user-document",
            "user-voice",
            "user-album",
            "start-payload",
            "start-send",
            "block-toggle",
            "topic-list",
            "group-chat",
            "operator-select",
            "operator-input",
            "operator-send",
            "operator-attach",
            "operator-file",
            "operator-menu",
            "operator-slash",
            "tab-user",
            "tab-group",
            "topic-back",
            "upload-form",
            "lightbox",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{path} lacks #{id}");
        }
        assert!(html.contains("/app.js") && html.contains("/styles.css"));
        assert!(
            !html.contains("https://"),
            "the page must not load anything from the internet"
        );
    }
    let (status, ct, js) = get(&format!("{}/app.js", emu.url())).await;
    assert_eq!(status, 200);
    assert!(ct.contains("javascript"), "{ct}");
    assert!(
        js.contains("/control/events")
            && js.contains("/control/world")
            && js.contains("data-thread-id")
    );
    let (status, ct, css) = get(&format!("{}/styles.css", emu.url())).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/css"), "{ct}");
    assert!(css.contains(".msg") && css.contains(".topic"));
}

#[tokio::test]
async fn world_lists_bots_people_groups_and_chats() {
    let emu = Emulator::start_local().await.unwrap();
    let c = emu.control();
    let bot = c
        .add_bot("123456:secret", "support_bot", "Support")
        .unwrap();
    let olga = c.add_user("Olga", None, Some("olga"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    let alice = c.add_user("Alice", Some("Smith"), Some("alice"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    let group = c.add_group("Support team", true, Some(olga));
    c.add_admin_bot(group, bot).unwrap();
    c.send(alice, Place::Bot(bot), &json!({"text": "hello"}))
        .unwrap();
    c.block(alice, bot, true).unwrap();

    let (status, ct, body) = get(&format!("{}/control/world", emu.url())).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/json"), "{ct}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ok"], true);
    let w = &v["result"];
    assert_eq!(
        w["bots"],
        json!([{"id": bot, "username": "support_bot", "first_name": "Support"}])
    );
    let names: Vec<&str> = w["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["first_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Olga", "Alice"]);
    assert_eq!(w["people"][1]["last_name"], "Smith");
    let g = &w["groups"][0];
    assert_eq!(g["id"], group);
    assert_eq!(g["title"], "Support team");
    assert_eq!(g["is_forum"], true);
    let members = g["members"].as_array().unwrap();
    assert!(members
        .iter()
        .any(|m| m["user"]["id"] == olga && m["status"] == "creator"));
    assert!(members.iter().any(|m| m["user"]["id"] == bot
        && m["status"] == "administrator"
        && m["user"]["is_bot"] == true));
    assert_eq!(
        w["privates"],
        json!([{"bot": bot, "user": alice, "blocked": true}])
    );
}

/// An emulator with the bot `123456:secret` and a person, Alice: (emulator, bot, Alice).
async fn bot_and_alice() -> (Emulator, i64, i64) {
    let emu = Emulator::start_local().await.unwrap();
    let c = emu.control();
    let bot = c
        .add_bot("123456:secret", "support_bot", "Support")
        .unwrap();
    let alice = c.add_user("Alice", None, None, None)["id"]
        .as_i64()
        .unwrap();
    (emu, bot, alice)
}

#[tokio::test]
async fn files_download_by_id() {
    let (emu, bot, alice) = bot_and_alice().await;
    let c = emu.control();
    let doc = json!({"document": {"file_name": "invoice.pdf", "mime_type": "application/pdf", "content": "%PDF-1.4 invoice"}});
    let sent = c.send(alice, Place::Bot(bot), &doc).unwrap();
    let file_id = sent[0]["document"]["file_id"].as_str().unwrap().to_string();
    let (status, ct, body) = get(&format!("{}/control/file/{file_id}", emu.url())).await;
    assert_eq!(status, 200);
    assert_eq!(ct, "application/pdf");
    assert_eq!(body, "%PDF-1.4 invoice");
    let (status, _, _) = get(&format!("{}/control/file/nope", emu.url())).await;
    assert_eq!(status, 404);
    // The Bot API routes still work next to the page's.
    let (status, _, body) = get(&format!("{}/bot123456:secret/getMe", emu.url())).await;
    assert_eq!(status, 200, "{body}");
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("POST");
    (r.status().as_u16(), r.json().await.expect("JSON"))
}

#[tokio::test]
async fn picked_files_upload_as_base64() {
    let (emu, bot, alice) = bot_and_alice().await;
    // Bytes that are not UTF-8 (a PNG header), as a file picked in the page.
    let bytes: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe";
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let (status, v) = post(
        &format!("{}/control/send", emu.url()),
        json!({"from": alice, "bot": bot, "caption": "the label",
               "width": 480, "height": 300,
               "photo": {"file_name": "label.png", "mime_type": "image/png", "content_base64": b64}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let m = &v["result"][0];
    assert_eq!(m["caption"], "the label");
    let big = m["photo"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (big["width"].as_i64(), big["height"].as_i64()),
        (Some(480), Some(300))
    );
    let url = format!(
        "{}/control/file/{}",
        emu.url(),
        big["file_id"].as_str().unwrap()
    );
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes);

    let (status, v) = post(
        &format!("{}/control/send", emu.url()),
        json!({"from": alice, "bot": bot, "document": {"file_name": "x.bin", "content_base64": "not base64!"}}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(
        v["description"],
        "Bad Request: content_base64 is not valid base64"
    );
}

#[tokio::test]
async fn commands_route_gives_each_person_their_menu() {
    let emu = Emulator::start_local().await.unwrap();
    let c = emu.control();
    let bot = c
        .add_bot("123456:secret", "support_bot", "Support")
        .unwrap();
    let olga = c.add_user("Olga", None, None, Some("en"))["id"]
        .as_i64()
        .unwrap();
    let max = c.add_user("Max", None, None, Some("en"))["id"]
        .as_i64()
        .unwrap();
    let group = c.add_group("Support team", true, Some(olga));
    c.set_member(group, max, "member", json!({})).unwrap();
    c.add_admin_bot(group, bot).unwrap();
    let set = |scope: Value, commands: Value| {
        let url = format!("{}/bot123456:secret/setMyCommands", emu.url());
        async move {
            let (status, v) = post(&url, json!({"scope": scope, "commands": commands})).await;
            assert_eq!(status, 200, "{v}");
        }
    };
    set(
        json!({"type": "chat", "chat_id": group}),
        json!([{"command": "close", "description": "Close the dialog"}]),
    )
    .await;
    set(
        json!({"type": "chat_administrators", "chat_id": group}),
        json!([{"command": "close", "description": "Close the dialog"}, {"command": "stats", "description": "Team analytics"}]),
    )
    .await;
    let menu = |user: i64| {
        let url = format!("{}/control/commands?chat_id={group}&user={user}", emu.url());
        async move {
            let (status, _, body) = get(&url).await;
            assert_eq!(status, 200, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            v["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["command"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(menu(olga).await, ["close", "stats"]);
    assert_eq!(menu(max).await, ["close"]);
    let (_, _, body) = get(&format!(
        "{}/control/commands?bot={bot}&user={max}",
        emu.url()
    ))
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["result"],
        json!([])
    );
}
