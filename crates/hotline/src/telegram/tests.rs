//! Client tests against a tiny in-process HTTP server that answers like the Bot API.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Request};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::*;

const TOKEN: &str = "4242:SECRET_token-value";

#[derive(Default)]
struct Seen {
    calls: Vec<(String, String, String)>, // (method, content type, body)
}

async fn serve(seen: Arc<Mutex<Seen>>) -> String {
    let app = Router::new()
        .route(
            "/{bot}/{method}",
            post(move |Path((bot, method)): Path<(String, String)>, req: Request| {
                let seen = seen.clone();
                async move {
                    assert_eq!(bot, format!("bot{TOKEN}"));
                    let ct = req.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                    let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
                    let body = String::from_utf8_lossy(&body).to_string();
                    seen.lock().unwrap().calls.push((method.clone(), ct, body));
                    let (status, v) = match method.as_str() {
                        "getMe" => (200, json!({"ok": true, "result": {"id": 4242, "is_bot": true, "first_name": "B", "can_join_groups": true}})),
                        "sendMessage" => (200, json!({"ok": true, "result": {"message_id": 7, "message_thread_id": 3, "chat": {"id": -100, "type": "supergroup", "is_forum": true}, "date": 1, "text": "hi"}})),
                        "copyMessages" => (200, json!({"ok": true, "result": [{"message_id": 10}, {"message_id": 11}]})),
                        "flood" => (429, json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}})),
                        "blocked" => (403, json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})),
                        "migrated" => (400, json!({"ok": false, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat", "parameters": {"migrate_to_chat_id": -1009}})),
                        "boom" => (502, json!({"ok": false, "error_code": 502, "description": "Bad Gateway"})),
                        "html" => (502, json!("not a bot api body")),
                        "editMessageText" => (200, json!({"ok": true, "result": true})),
                        "sendDocument" => (200, json!({"ok": true, "result": {"message_id": 1, "chat": {"id": -100, "type": "supergroup"}, "date": 1}})),
                        _ => (404, json!({"ok": false, "error_code": 404, "description": "Not Found: method not found"})),
                    };
                    (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(v)).into_response()
                }
            }),
        )
        .route("/file/{bot}/{*path}", get(|Path((_, path)): Path<(String, String)>| async move { format!("file:{path}") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

#[tokio::test]
async fn typed_calls_and_error_classes() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let url = serve(seen.clone()).await;
    let c = Client::new(&url, Secret::new(TOKEN));
    assert_eq!(c.bot_id(), Some(4242));
    assert!(!format!("{c:?}").contains("SECRET"));

    let me = c.get_me().await.unwrap();
    assert_eq!(me.id, 4242);
    assert_eq!(me.extra["can_join_groups"], true, "unknown fields are kept");

    let m = c
        .send_message(-100, "hi", json!({"message_thread_id": 3}))
        .await
        .unwrap();
    assert_eq!(
        (m.message_id, m.message_thread_id, m.chat.is_forum),
        (7, Some(3), true)
    );
    let body: Value = serde_json::from_str(&seen.lock().unwrap().calls[1].2).unwrap();
    assert_eq!(
        body,
        json!({"chat_id": -100, "text": "hi", "message_thread_id": 3})
    );

    let ids = c
        .copy_messages(-100, 5, &[1, 2], Value::Null)
        .await
        .unwrap();
    assert_eq!(
        ids,
        vec![MessageId { message_id: 10 }, MessageId { message_id: 11 }]
    );
    assert_eq!(
        c.edit_message_text(5, 1, "x", Value::Null).await.unwrap(),
        None
    );

    assert_eq!(
        c.call("flood", json!({})).await.unwrap_err(),
        TgError::RetryAfter(7)
    );
    assert!(c.call("blocked", json!({})).await.unwrap_err().is_blocked());
    assert_eq!(
        c.call("migrated", json!({}))
            .await
            .unwrap_err()
            .migrate_to_chat_id(),
        Some(-1009)
    );
    assert!(matches!(
        c.call("boom", json!({})).await.unwrap_err(),
        TgError::Transient(_)
    ));
    assert!(matches!(
        c.call("html", json!({})).await.unwrap_err(),
        TgError::Transient(_)
    ));
    assert!(matches!(
        c.call("nope", json!({})).await.unwrap_err(),
        TgError::Permanent { code: 404, .. }
    ));
    assert!(matches!(
        c.get_chat(1).await.unwrap_err(),
        TgError::Permanent { .. }
    ));

    assert_eq!(
        &c.download_file("documents/a.csv").await.unwrap()[..],
        b"file:documents/a.csv"
    );
}

#[tokio::test]
async fn multipart_document_upload() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let url = serve(seen.clone()).await;
    let c = Client::new(&url, Secret::new(TOKEN));
    let m = c
        .send_document_bytes(
            -100,
            "report.csv",
            "text/csv",
            bytes::Bytes::from_static(b"id,name\n1,a\n"),
            json!({"caption": "Export", "reply_parameters": {"message_id": 4}}),
        )
        .await
        .unwrap();
    assert_eq!(m.message_id, 1);
    let calls = &seen.lock().unwrap().calls;
    let (method, ct, body) = calls.last().unwrap();
    assert_eq!(method, "sendDocument");
    assert!(ct.starts_with("multipart/form-data"));
    assert!(body.contains("filename=\"report.csv\"") && body.contains("id,name\n1,a\n"));
    assert!(
        body.contains("{\"message_id\":4}"),
        "nested objects are JSON-encoded"
    );
    assert!(body.contains("name=\"chat_id\"\r\n\r\n-100"));
}

#[tokio::test]
async fn network_errors_never_leak_the_token() {
    // Nothing listens on port 9 of localhost (discard), so the connection is refused.
    let c = Client::new("http://127.0.0.1:9", Secret::new(TOKEN));
    let e = c.get_me().await.unwrap_err();
    assert!(matches!(e, TgError::Transient(_)), "{e:?}");
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains("SECRET") && !text.contains("4242:"),
        "{text}"
    );
    let e = c.download_file("x").await.unwrap_err();
    assert!(!format!("{e} {e:?}").contains("SECRET"));
}
