//! Transport: GET/POST, query string, JSON, urlencoded, multipart (parts and
//! `attach://`), case-insensitive method names, answer and error shapes, 401/404,
//! file downloads, getMe and getFile.

mod common;

use common::{answer, check_error_shape, Env, BOT, TOKEN};
use reqwest::multipart::{Form, Part};
use serde_json::json;

#[tokio::test]
async fn get_me_over_get_with_query_string_and_post() {
    let env = Env::new().await;
    let (status, body) = answer(env.http.get(env.api("getMe")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body["ok"], json!(true));
    let me = &body["result"];
    assert_eq!(me["id"], json!(BOT));
    assert_eq!(me["is_bot"], json!(true));
    assert_eq!(me["username"], json!("support_bot"));
    assert!(me["can_join_groups"].is_boolean() && me["supports_inline_queries"].is_boolean());
    assert_eq!(env.ok("getMe", json!({})).await, *me);

    // sendMessage entirely in the query string of a GET.
    let url = format!(
        "{}?chat_id={}&text=hello%20there",
        env.api("sendMessage"),
        env.alice
    );
    let (status, body) = answer(env.http.get(url).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["text"], json!("hello there"));
    env.done();
}

#[tokio::test]
async fn json_urlencoded_and_multipart_bodies() {
    let env = Env::new().await;
    // urlencoded, with a JSON-serialised keyboard as text.
    let kb = json!({"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}).to_string();
    let chat = env.alice.to_string();
    let resp = env
        .http
        .post(env.api("sendMessage"))
        .form(&[
            ("chat_id", chat.as_str()),
            ("text", "form"),
            ("reply_markup", kb.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = answer(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        json!("y")
    );

    // multipart with text parts only.
    let form = Form::new()
        .text("chat_id", chat.clone())
        .text("text", "multi")
        .text("disable_notification", "true");
    let (status, body) = answer(
        env.http
            .post(env.api("sendMessage"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["text"], json!("multi"));

    // Body parameters win over the query string; the query fills in the rest.
    let url = format!(
        "{}?chat_id={}&text=from-query",
        env.api("sendMessage"),
        env.alice
    );
    let (status, body) = answer(
        env.http
            .post(url)
            .json(&json!({"text": "from-body"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["text"], json!("from-body"));

    // A broken JSON body.
    let resp = env
        .http
        .post(env.api("sendMessage"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    let (status, body) = answer(resp).await;
    check_error_shape(status, &body, "bad json");
    assert_eq!(
        body["description"],
        json!("Bad Request: can't parse JSON object")
    );
    env.done();
}

#[tokio::test]
async fn files_upload_as_parts_and_attach_and_download() {
    let env = Env::new().await;
    let chat = env.alice.to_string();
    // A file as the part named like the parameter.
    let form = Form::new()
        .text("chat_id", chat.clone())
        .text("caption", "direct")
        .part(
            "document",
            Part::bytes(b"hello file".to_vec())
                .file_name("notes.txt")
                .mime_str("text/plain")
                .unwrap(),
        );
    let (status, body) = answer(
        env.http
            .post(env.api("sendDocument"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let doc = &body["result"]["document"];
    assert_eq!(doc["file_name"], json!("notes.txt"));
    assert_eq!(doc["mime_type"], json!("text/plain"));
    assert_eq!(doc["file_size"], json!(10));

    // A file referenced as attach://name.
    let form = Form::new()
        .text("chat_id", chat.clone())
        .text("photo", "attach://pic")
        .part(
            "pic",
            Part::bytes(b"\x89PNGdata".to_vec()).file_name("a.png"),
        );
    let (status, body) = answer(
        env.http
            .post(env.api("sendPhoto"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let sizes = body["result"]["photo"].as_array().unwrap().clone();
    assert!(sizes.len() >= 2);

    // attach:// to a part that is not there.
    let form = Form::new()
        .text("chat_id", chat.clone())
        .text("photo", "attach://missing");
    let (status, body) = answer(
        env.http
            .post(env.api("sendPhoto"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    check_error_shape(status, &body, "missing part");
    assert_eq!(
        body["description"],
        json!("Bad Request: file missing not found in request")
    );

    // getFile and the download URL.
    let file = env.ok("getFile", json!({"file_id": doc["file_id"]})).await;
    assert_eq!(file["file_id"], doc["file_id"]);
    assert_eq!(file["file_unique_id"], doc["file_unique_id"]);
    assert_eq!(file["file_size"], json!(10));
    let path = file["file_path"].as_str().unwrap();
    let resp = env
        .http
        .get(format!("{}/file/bot{TOKEN}/{path}", env.emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"hello file");
    let biggest = sizes.last().unwrap();
    let file = env
        .ok("getFile", json!({"file_id": biggest["file_id"]}))
        .await;
    let resp = env
        .http
        .get(format!(
            "{}/file/bot{TOKEN}/{}",
            env.emu.url(),
            file["file_path"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"\x89PNGdata");

    // getFile errors; downloads of unknown paths or with a wrong token.
    assert_eq!(
        env.err("getFile", json!({"file_id": "nonsense"})).await,
        (400, "Bad Request: invalid file_id".into())
    );
    assert_eq!(
        env.err("getFile", json!({})).await,
        (400, "Bad Request: file_id is empty".into())
    );
    let resp = env
        .http
        .get(format!(
            "{}/file/bot{TOKEN}/documents/none.bin",
            env.emu.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = env
        .http
        .get(format!("{}/file/bot1:wrong/{path}", env.emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    env.done();
}

#[tokio::test]
async fn method_names_are_case_insensitive_and_may_come_as_a_parameter() {
    let env = Env::new().await;
    for name in ["GetMe", "GETME", "getme"] {
        assert_eq!(env.ok(name, json!({})).await["id"], json!(BOT));
    }
    let sent = env
        .ok(
            "SendMessage",
            json!({"chat_id": env.alice, "text": "Pascal"}),
        )
        .await;
    assert_eq!(sent["text"], json!("Pascal"));
    // The method as a parameter of a request to /bot<token>/.
    let url = format!("{}/bot{TOKEN}/", env.emu.url());
    let (status, body) = answer(
        env.http
            .post(url)
            .json(&json!({"method": "getMe"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["id"], json!(BOT));
    env.done();
}

#[tokio::test]
async fn unknown_token_is_401_and_unknown_method_404() {
    let env = Env::new().await;
    let url = format!("{}/bot999:nope/getMe", env.emu.url());
    let (status, body) = answer(env.http.get(url).send().await.unwrap()).await;
    check_error_shape(status, &body, "bad token");
    assert_eq!(
        (status, body["description"].as_str().unwrap()),
        (401, "Unauthorized")
    );

    assert_eq!(
        env.err("getMee", json!({})).await,
        (404, "Not Found".into())
    );
    assert_eq!(
        env.err("sendTelepathy", json!({})).await,
        (404, "Not Found".into())
    );
    let (status, body) = answer(
        env.http
            .get(format!("{}/nothing/here", env.emu.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    check_error_shape(status, &body, "outside /bot");
    assert_eq!(status, 404);
    env.done();
}

/// python-telegram-bot escapes the token's colon (`/file/bot123%3Aabc/...`); Telegram
/// decodes the path before matching the token, in method and file URLs alike.
#[tokio::test]
async fn percent_encoded_paths_are_decoded() {
    let env = Env::new().await;
    let escaped = TOKEN.replace(':', "%3A");
    let url = format!("{}/bot{escaped}/getMe", env.emu.url());
    let (status, body) = answer(env.http.get(url).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["id"], json!(BOT));
    // Lower-case escapes and an escaped method name too.
    let url = format!("{}/bot{}/get%4De", env.emu.url(), TOKEN.replace(':', "%3a"));
    let (status, body) = answer(env.http.get(url).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");

    let photo = env.upload_photo().await;
    let file_id = photo["photo"][0]["file_id"].clone();
    let file = env.ok("getFile", json!({"file_id": file_id})).await;
    let path = file["file_path"].as_str().unwrap();
    let resp = env
        .http
        .get(format!("{}/file/bot{escaped}/{path}", env.emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"\xff\xd8jpeg");
    // Decoding does not let a wrong token through.
    let url = format!("{}/bot999%3Anope/getMe", env.emu.url());
    assert_eq!(env.http.get(url).send().await.unwrap().status(), 401);
    env.done();
}

/// The binary says which address it could not listen on.
#[tokio::test]
async fn address_in_use_names_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tg-emulator"))
        .args(["--listen", &addr])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}
