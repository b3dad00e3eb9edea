//! REST API end to end: the OpenAPI document lists every route, every route refuses a
//! request without a valid key, and each resource's success and validation paths.

mod api_support;
mod common;

use api_support::{error_code, wait_async, Api, Receiver};
use common::{spawn_app, text_of};
use reqwest::Method;
use serde_json::{json, Value};

/// Every operation the API serves: (method, path template).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/contacts"),
    ("get", "/api/v1/contacts/{user_id}"),
    ("post", "/api/v1/contacts/{user_id}/ban"),
    ("delete", "/api/v1/contacts/{user_id}/ban"),
    ("get", "/api/v1/contacts/{user_id}/handover"),
    ("post", "/api/v1/contacts/{user_id}/handover"),
    ("delete", "/api/v1/contacts/{user_id}/handover"),
    ("put", "/api/v1/contacts/{user_id}/tags/{tag}"),
    ("delete", "/api/v1/contacts/{user_id}/tags/{tag}"),
    ("get", "/api/v1/tags"),
    ("get", "/api/v1/quick-replies"),
    ("post", "/api/v1/dialogs/{id}/quick-replies/{name}"),
    ("get", "/api/v1/dialogs"),
    ("get", "/api/v1/dialogs/{id}"),
    ("post", "/api/v1/dialogs/{id}/close"),
    ("post", "/api/v1/dialogs/{id}/reopen"),
    ("post", "/api/v1/dialogs/{id}/assign"),
    ("get", "/api/v1/dialogs/{id}/messages"),
    ("post", "/api/v1/dialogs/{id}/messages"),
    ("post", "/api/v1/dialogs/{id}/messages/upload"),
    ("get", "/api/v1/parameters"),
    ("get", "/api/v1/parameters/{name}"),
    ("put", "/api/v1/parameters/{name}"),
    ("get", "/api/v1/keys"),
    ("post", "/api/v1/keys"),
    ("delete", "/api/v1/keys/{id}"),
    ("get", "/api/v1/broadcasts"),
    ("post", "/api/v1/broadcasts"),
    ("get", "/api/v1/broadcasts/{id}"),
    ("post", "/api/v1/broadcasts/{id}/{action}"),
    ("get", "/api/v1/broadcasts/{id}/report"),
    ("get", "/api/v1/export"),
    ("get", "/api/v1/stats"),
    ("get", "/api/v1/webhooks"),
    ("post", "/api/v1/webhooks/secret"),
];

fn concrete(path: &str) -> String {
    path.replace("{user_id}", "1")
        .replace("{id}", "1")
        .replace("{name}", "AUTOCLOSE")
        .replace("{tag}", "vip")
        .replace("{action}", "cancel")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route_and_each_needs_a_key() {
    let t = spawn_app().await;
    let api = Api::new(&t).await;
    let doc: Value = reqwest::get(api.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.push((method.clone(), path.clone()));
            }
        }
    }
    documented.sort();
    let mut expected: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(
        documented, expected,
        "the document lists exactly the served routes"
    );
    // The generated document and the served one are the same.
    assert_eq!(
        serde_json::to_value(hotline::api::openapi()).unwrap()["paths"],
        doc["paths"]
    );

    let revoked = hotline::api::auth::create_key(
        &t.app().store,
        t.app().connections[0].ctx.connection,
        "old",
        "test",
    )
    .await
    .unwrap();
    t.app()
        .store
        .revoke_api_key(t.app().connections[0].ctx.connection, revoked.id, 1)
        .await
        .unwrap();
    let bad: [Option<String>; 4] = [
        None,
        Some("Basic dXNlcjpwYXNz".into()),
        Some("Bearer hl_0000".into()),
        Some(format!("Bearer {}", revoked.key)),
    ];
    for (method, path) in ROUTES {
        for auth in &bad {
            let mut rb = api.http.request(
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                api.url(&concrete(path)),
            );
            if let Some(a) = auth {
                rb = rb.header("authorization", a);
            }
            let r = rb.send().await.unwrap();
            assert_eq!(r.status().as_u16(), 401, "{method} {path} with {auth:?}");
            assert_eq!(r.headers()["www-authenticate"], "Bearer");
            let body: Value = r.json().await.unwrap();
            assert_eq!(error_code(&body), "unauthorized");
        }
    }
    let (status, body) = api.get("/api/v1/nothing/here").await;
    assert_eq!((status, error_code(&body).as_str()), (404, "not_found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_dialogs_and_ban() {
    let t = spawn_app().await;
    let api = Api::new(&t).await;
    let ann = t.person("Ann");
    let bob = t.person("Bob");
    let cy = t.person("Cy");
    t.user_says(ann, "Hello from Ann");
    let thread = t.wait_topic("Ann").await;
    t.user_says(bob, "Hello from Bob");
    t.wait_topic("Bob").await;
    t.user_says(cy, "Hello from Cy");
    t.wait_topic("Cy").await;

    // Contacts: list, pages, filters, validation.
    let (s, all) = api.get("/api/v1/contacts").await;
    assert_eq!(s, 200);
    let ids: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![ann, bob, cy]);
    assert!(all["next_cursor"].is_null());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/contacts?limit=2&cursor={c}"),
            None => "/api/v1/contacts?limit=2".into(),
        };
        let (s, page) = api.get(&path).await;
        assert_eq!(s, 200);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["user_id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids, "cursor pages cover everyone once");
    let (_, found) = api.get("/api/v1/contacts?q=BO").await;
    assert_eq!(found["items"][0]["user_id"], bob);
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let (_, none) = api.get("/api/v1/contacts?banned=true").await;
    assert!(none["items"].as_array().unwrap().is_empty());
    for bad in [
        "/api/v1/contacts?limit=0",
        "/api/v1/contacts?limit=201",
        "/api/v1/contacts?limit=abc",
        "/api/v1/contacts?cursor=-5",
        "/api/v1/contacts?cursor=xyz",
        "/api/v1/contacts?banned=maybe",
    ] {
        let (s, body) = api.get(bad).await;
        assert_eq!(
            (s, error_code(&body).as_str()),
            (400, "invalid_request"),
            "{bad}"
        );
    }
    let long = "x".repeat(101);
    let (s, _) = api.get(&format!("/api/v1/contacts?q={long}")).await;
    assert_eq!(s, 400);

    let (s, c) = api.get(&format!("/api/v1/contacts/{ann}")).await;
    assert_eq!(s, 200);
    assert_eq!(c["first_name"], "Ann");
    let dialog = c["dialog"]["id"].as_i64().unwrap();
    assert_eq!(c["dialog"]["thread_id"], thread);
    let (s, body) = api.get("/api/v1/contacts/424242").await;
    assert_eq!((s, error_code(&body).as_str()), (404, "not_found"));
    let (s, body) = api.get("/api/v1/contacts/ann").await;
    assert_eq!((s, error_code(&body).as_str()), (400, "invalid_request"));

    // Ban and unban: the same notice in the topic as /ban.
    let (s, c) = api
        .post(&format!("/api/v1/contacts/{ann}/ban"), json!({}))
        .await;
    assert_eq!((s, c["banned"].clone()), (200, json!(true)));
    t.wait_in_topic(thread, "is banned").await;
    let (_, banned) = api.get("/api/v1/contacts?banned=true").await;
    assert_eq!(banned["items"][0]["user_id"], ann);
    let (s, c) = api.delete(&format!("/api/v1/contacts/{ann}/ban")).await;
    assert_eq!((s, c["banned"].clone()), (200, json!(false)));
    t.wait_in_topic(thread, "no longer banned").await;
    let (s, _) = api.post("/api/v1/contacts/424242/ban", json!({})).await;
    assert_eq!(s, 404);
    let (s, _) = api.delete("/api/v1/contacts/x/ban").await;
    assert_eq!(s, 400);

    // Dialogs: list by status, get, close, reopen.
    let (s, list) = api.get("/api/v1/dialogs?status=new").await;
    assert_eq!(s, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    let (s, body) = api.get("/api/v1/dialogs?status=open").await;
    assert_eq!((s, error_code(&body).as_str()), (400, "invalid_request"));
    let (s, d) = api.get(&format!("/api/v1/dialogs/{dialog}")).await;
    assert_eq!((s, d["contact"]["user_id"].as_i64()), (200, Some(ann)));
    let (s, _) = api.get("/api/v1/dialogs/999999").await;
    assert_eq!(s, 404);
    let (s, d) = api
        .post(&format!("/api/v1/dialogs/{dialog}/close"), json!({}))
        .await;
    assert_eq!((s, d["status"].as_str()), (200, Some("closed")));
    t.wait_until("⬛ closed topic", || {
        let info = t.topic_info(thread);
        info["name"].as_str().unwrap().starts_with("⬛") && info["is_closed"] == true
    })
    .await;
    let (_, closed) = api.get("/api/v1/dialogs?status=closed").await;
    assert_eq!(closed["items"][0]["id"], dialog);
    let (s, d) = api
        .post(&format!("/api/v1/dialogs/{dialog}/reopen"), json!({}))
        .await;
    assert_eq!((s, d["status"].as_str()), (200, Some("new")));
    t.wait_until("🟪 reopened topic", || {
        let info = t.topic_info(thread);
        info["name"].as_str().unwrap().starts_with("🟪") && info["is_closed"] == false
    })
    .await;
    let (s, _) = api.post("/api/v1/dialogs/abc/close", json!({})).await;
    assert_eq!(s, 400);
    let (s, _) = api.post("/api/v1/dialogs/999999/reopen", json!({})).await;
    assert_eq!(s, 404);
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_history_and_sending_as_the_team() {
    let t = spawn_app().await;
    let api = Api::new(&t).await;
    let ann = t.person("Ann");
    t.user_says(ann, "Where is my parcel?");
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "Where is my parcel").await;
    let (_, c) = api.get(&format!("/api/v1/contacts/{ann}")).await;
    let dialog = c["dialog"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/dialogs/{dialog}/messages");

    let (s, h) = api.get(&path).await;
    assert_eq!(s, 200);
    assert_eq!(h["items"][0]["direction"], "incoming");
    assert_eq!(h["items"][0]["text"], "Where is my parcel?");
    assert_eq!(h["items"][0]["author_id"], ann);

    let (s, q) = api
        .post(
            &path,
            json!({"text": "It is on its way <b>today</b>", "parse_mode": "HTML"}),
        )
        .await;
    assert_eq!((s, q["status"].as_str()), (202, Some("queued")));
    let got = t.wait_in_user_chat(ann, "It is on its way today").await;
    assert_eq!(got["entities"][0]["type"], "bold");
    let echo = t.wait_in_topic(thread, "It is on its way today").await;
    assert!(
        text_of(&echo).starts_with("🔌 API"),
        "marked as sent via the API"
    );
    t.wait_title(thread, "🟨").await;
    // The user's reply to it lands as a reply to its topic copy.
    t.ctl
        .send(
            ann,
            tg_emulator::control::Place::Bot(t.bot),
            &json!({"text": "Great, thanks", "reply_to": got["message_id"]}),
        )
        .unwrap();
    let reply = t.wait_in_topic(thread, "Great, thanks").await;
    assert_eq!(reply["reply_to_message"]["message_id"], echo["message_id"]);

    // An uploaded file.
    let form = reqwest::multipart::Form::new()
        .text("type", "document")
        .text("caption", "Your invoice")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"invoice 42".to_vec())
                .file_name("invoice.txt")
                .mime_str("text/plain")
                .unwrap(),
        );
    let (s, _) = api
        .send(
            api.req(Method::POST, &format!("{path}/upload"))
                .multipart(form),
        )
        .await;
    assert_eq!(s, 202);
    let doc = t.wait_in_user_chat(ann, "Your invoice").await;
    assert_eq!(doc["document"]["file_name"], "invoice.txt");
    t.wait_in_topic(thread, "Your invoice").await;

    let (_, h) = api.get(&format!("{path}?limit=10")).await;
    let items = h["items"].as_array().unwrap();
    let api_rows: Vec<&Value> = items.iter().filter(|m| m["direction"] == "api").collect();
    assert_eq!(api_rows.len(), 2);
    let (_, h1) = api.get(&format!("{path}?limit=1")).await;
    assert_eq!(h1["items"].as_array().unwrap().len(), 1);
    assert!(h1["next_cursor"].is_string());

    // Validation.
    let too_long = "x".repeat(4097);
    for (body, code) in [
        (json!({}), 400),
        (json!({"text": "   "}), 400),
        (json!({"text": too_long}), 400),
        (json!({"text": "x", "parse_mode": "bbcode"}), 400),
        (json!({"text": "x", "extra": 1}), 400),
        (json!({"text": 5}), 400),
        (
            json!({"media": {"type": "photo", "url": "ftp://x/y.png"}}),
            400,
        ),
        (
            json!({"media": {"type": "sticker", "url": "https://x.test/y.png"}}),
            400,
        ),
        (
            json!({"text": "x".repeat(1025), "media": {"type": "photo", "url": "https://x.test/y.png"}}),
            400,
        ),
    ] {
        let (s, b) = api.post(&path, body.clone()).await;
        assert_eq!(s, code, "{body}");
        assert_eq!(error_code(&b), "invalid_request");
    }
    let (s, b) = api
        .send(api.req(Method::POST, &path).body("{\"text\": \"x\"}"))
        .await;
    assert_eq!(
        (s, error_code(&b).as_str()),
        (415, "unsupported_media_type")
    );
    let (s, _) = api
        .send(
            api.req(Method::POST, &path)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(s, 400);
    let big = json!({"text": "y".repeat(70 * 1024)});
    let (s, b) = api.post(&path, big).await;
    assert_eq!((s, error_code(&b).as_str()), (413, "payload_too_large"));
    let (s, _) = api
        .post("/api/v1/dialogs/999999/messages", json!({"text": "x"}))
        .await;
    assert_eq!(s, 404);
    let (s, _) = api.get("/api/v1/dialogs/999999/messages").await;
    assert_eq!(s, 404);
    let (s, _) = api.get(&format!("{path}?limit=500")).await;
    assert_eq!(s, 400);
    let no_file = reqwest::multipart::Form::new().text("caption", "x");
    let (s, _) = api
        .send(
            api.req(Method::POST, &format!("{path}/upload"))
                .multipart(no_file),
        )
        .await;
    assert_eq!(s, 400);
    let bad_type = reqwest::multipart::Form::new()
        .text("type", "sticker")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x"),
        );
    let (s, _) = api
        .send(
            api.req(Method::POST, &format!("{path}/upload"))
                .multipart(bad_type),
        )
        .await;
    assert_eq!(s, 400);
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_keys_and_webhook_secret() {
    let t = spawn_app().await;
    let api = Api::new(&t).await;

    let (s, all) = api.get("/api/v1/parameters").await;
    assert_eq!(s, 200);
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "AUTOCLOSE" && p["value"] == "48"));
    let (s, p) = api.get("/api/v1/parameters/autoclose").await;
    assert_eq!((s, p["value"].as_str()), (200, Some("48")));
    let (s, p) = api
        .put("/api/v1/parameters/AUTOCLOSE", json!({"value": "12"}))
        .await;
    assert_eq!((s, p["value"].as_str()), (200, Some("12")));
    assert_eq!(t.app().connections[0].ctx.params().autoclose_hours, 12);
    let stored = t
        .app()
        .store
        .param_overrides(t.app().connections[0].ctx.connection)
        .await
        .unwrap();
    assert_eq!(stored["AUTOCLOSE"], "12", "survives a restart");
    let (s, b) = api
        .put("/api/v1/parameters/AUTOCLOSE", json!({"value": "soon"}))
        .await;
    assert_eq!((s, error_code(&b).as_str()), (400, "invalid_request"));
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("AUTOCLOSE"));
    let (s, _) = api
        .put("/api/v1/parameters/WELCOME", json!({"value": "Hi {first}"}))
        .await;
    assert_eq!(s, 400, "WELCOME placeholders are checked");
    let (s, _) = api.put("/api/v1/parameters/AUTOCLOSE", json!({})).await;
    assert_eq!(s, 400);
    let (s, b) = api.get("/api/v1/parameters/NOPE").await;
    assert_eq!((s, error_code(&b).as_str()), (404, "not_found"));
    let (s, _) = api
        .put("/api/v1/parameters/NOPE", json!({"value": "1"}))
        .await;
    assert_eq!(s, 404);

    let (s, keys) = api.get("/api/v1/keys").await;
    assert_eq!((s, keys.as_array().unwrap().len()), (200, 1));
    assert!(keys[0]["last_used_at"].is_i64());
    assert!(
        !keys.to_string().contains(&api.key),
        "keys are never listed"
    );
    let (s, created) = api.post("/api/v1/keys", json!({"name": "ci"})).await;
    assert_eq!(s, 201);
    let other = Api {
        key: created["key"].as_str().unwrap().to_string(),
        base: api.base.clone(),
        http: api.http.clone(),
    };
    assert_eq!(other.get("/api/v1/keys").await.0, 200);
    for bad in [
        json!({"name": ""}),
        json!({"name": "x".repeat(65)}),
        json!({}),
        json!({"name": "a", "b": 1}),
    ] {
        let (s, _) = api.post("/api/v1/keys", bad.clone()).await;
        assert_eq!(s, 400, "{bad}");
    }
    let id = created["id"].as_i64().unwrap();
    assert_eq!(api.delete(&format!("/api/v1/keys/{id}")).await.0, 204);
    assert_eq!(other.get("/api/v1/keys").await.0, 401, "revoked at once");
    assert_eq!(api.delete(&format!("/api/v1/keys/{id}")).await.0, 404);
    assert_eq!(api.delete("/api/v1/keys/abc").await.0, 400);

    let (s, w) = api.get("/api/v1/webhooks").await;
    assert_eq!(s, 200);
    let secret = w["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        api.get("/api/v1/webhooks").await.1["secret"],
        secret.as_str()
    );
    let (s, w) = api.post("/api/v1/webhooks/secret", json!({})).await;
    assert_eq!(s, 200);
    assert_ne!(w["secret"], secret.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_quick_replies() {
    let rx = Receiver::start().await;
    let t = common::spawn_app_with(&format!("WEBHOOKS = \"{}/hook contact_tagged\"", rx.url)).await;
    let api = Api::new(&t).await;
    let (_, w) = api.get("/api/v1/webhooks").await;
    *rx.secret.lock().unwrap() = w["secret"].as_str().unwrap().to_string();
    let ann = t.person("Ann");
    t.user_says(ann, "Hi");
    let thread = t.wait_topic("Ann").await;
    let (_, c) = api.get(&format!("/api/v1/contacts/{ann}")).await;
    let dialog = c["dialog"]["id"].as_i64().unwrap();
    assert_eq!(c["tags"], json!([]));

    t.operator_says_in_general("/mark new vip");
    wait_async("the tag vip", || async {
        let (_, tags) = api.get("/api/v1/tags").await;
        tags.as_array()
            .is_some_and(|a| a.iter().any(|t| t["name"] == "vip"))
    })
    .await;
    let (s, c) = api
        .put(&format!("/api/v1/contacts/{ann}/tags/VIP"), json!({}))
        .await;
    assert_eq!((s, c["tags"].clone()), (200, json!(["vip"])));
    t.wait_in_topic(thread, "vip set").await;
    t.wait_until("contact_tagged delivered", || !rx.delivered().is_empty())
        .await;
    let e = &rx.delivered()[0];
    assert_eq!(
        (e["type"].as_str(), e["data"]["tag"].as_str()),
        (Some("contact_tagged"), Some("vip"))
    );
    assert!(rx.all()[0].signed);
    let (_, tags) = api.get("/api/v1/tags").await;
    assert_eq!(tags[0]["contacts"], 1);
    let (s, b) = api
        .put(&format!("/api/v1/contacts/{ann}/tags/nosuch"), json!({}))
        .await;
    assert_eq!((s, error_code(&b).as_str()), (404, "not_found"));
    let (s, _) = api.put("/api/v1/contacts/424242/tags/vip", json!({})).await;
    assert_eq!(s, 404);
    let (s, _) = api.put("/api/v1/contacts/ann/tags/vip", json!({})).await;
    assert_eq!(s, 400);
    let (s, c) = api
        .delete(&format!("/api/v1/contacts/{ann}/tags/vip"))
        .await;
    assert_eq!((s, c["tags"].clone()), (200, json!([])));
    t.wait_in_topic(thread, "vip removed").await;

    // A quick reply saved in General, sent through the API.
    let saved = t.operator_says_in_general("Thanks for waiting, we are on it!");
    t.ctl
        .send(
            t.operator,
            tg_emulator::control::Place::Group(t.group, None),
            &json!({"text": "/say thanks", "reply_to": saved["message_id"]}),
        )
        .unwrap();
    wait_async("the quick reply", || async {
        let (_, q) = api.get("/api/v1/quick-replies").await;
        q.as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    let (_, q) = api.get("/api/v1/quick-replies").await;
    assert_eq!(q[0]["name"], "thanks");
    assert_eq!(q[0]["text"], "Thanks for waiting, we are on it!");
    let path = format!("/api/v1/dialogs/{dialog}/quick-replies/thanks");
    assert_eq!(api.post(&path, json!({})).await.0, 202);
    t.wait_in_user_chat(ann, "we are on it").await;
    let (s, b) = api
        .post(
            &format!("/api/v1/dialogs/{dialog}/quick-replies/nope"),
            json!({}),
        )
        .await;
    assert_eq!((s, error_code(&b).as_str()), (404, "not_found"));
    let (s, _) = api
        .post(
            &format!("/api/v1/dialogs/{dialog}/quick-replies/a%20b"),
            json!({}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = api
        .post("/api/v1/dialogs/999999/quick-replies/thanks", json!({}))
        .await;
    assert_eq!(s, 404);
    t.assert_conformant();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apikey_command_for_admins() {
    let t = spawn_app().await;
    let api = Api::new(&t).await;
    let general = |needle: &str| {
        t.topic(None)
            .into_iter()
            .find(|m| text_of(m).contains(needle))
    };
    // The operator never started the bot: the key comes in General, with a warning.
    t.operator_says_in_general("/apikey new zapier");
    t.wait_until("the key in General", || general("hl_").is_some())
        .await;
    let msg = text_of(&general("hl_").unwrap());
    assert!(msg.contains("everyone in this group can read it"));
    let key = msg
        .split_whitespace()
        .find(|w| w.starts_with("hl_"))
        .unwrap()
        .to_string();
    let other = Api {
        key,
        base: api.base.clone(),
        http: api.http.clone(),
    };
    let (s, keys) = other.get("/api/v1/keys").await;
    assert_eq!(s, 200);
    let k = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "zapier")
        .unwrap()
        .clone();
    assert_eq!(k["created_by"], format!("telegram:{}", t.operator));
    // Once the admin has a private chat with the bot, keys go there.
    t.ctl
        .send(
            t.operator,
            tg_emulator::control::Place::Bot(t.bot),
            &json!({"text": "/start"}),
        )
        .unwrap();
    t.operator_says_in_general("/apikey new private");
    t.wait_until("the key in the private chat", || {
        t.user_chat(t.operator)
            .iter()
            .any(|m| text_of(m).contains("hl_"))
    })
    .await;
    t.wait_until("a pointer in General", || {
        general("sent to you in a private chat").is_some()
    })
    .await;
    t.operator_says_in_general("/apikey");
    t.wait_until("the list", || general("API keys:").is_some())
        .await;
    t.operator_says_in_general(&format!("/apikey revoke {}", k["id"]));
    t.wait_until("revoked", || general("is revoked").is_some())
        .await;
    assert_eq!(other.get("/api/v1/keys").await.0, 401);
    // Not for everyone.
    let stranger = t.person("Sam");
    t.ctl
        .set_member(t.group, stranger, "member", json!({}))
        .unwrap();
    t.ctl
        .send(
            stranger,
            tg_emulator::control::Place::Group(t.group, None),
            &json!({"text": "/apikey new x"}),
        )
        .unwrap();
    t.wait_until("a refusal", || {
        general("for the group's administrators").is_some()
    })
    .await;
}

/// Edits reach the history (issue 17): the API serves a message's latest text, whether the
/// user edited it in their chat or an operator in the topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_are_reflected_in_the_history() {
    use tg_emulator::control::Place;
    let t = spawn_app().await;
    let api = Api::new(&t).await;
    let ann = t.person("Ann");
    let first = t.user_says(ann, "I need 3 boxes");
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "3 boxes").await;
    let answer = t.operator_says(thread, "Price is 10");
    t.wait_in_user_chat(ann, "Price is 10").await;
    t.ctl
        .edit(
            ann,
            Place::Bot(t.bot),
            first["message_id"].as_i64().unwrap(),
            &json!({"text": "I need 4 boxes"}),
        )
        .unwrap();
    t.ctl
        .edit(
            t.operator,
            Place::Group(t.group, Some(thread)),
            answer["message_id"].as_i64().unwrap(),
            &json!({"text": "Price is 12"}),
        )
        .unwrap();
    t.wait_in_topic(thread, "4 boxes").await;
    t.wait_in_user_chat(ann, "Price is 12").await;

    let (_, c) = api.get(&format!("/api/v1/contacts/{ann}")).await;
    let dialog = c["dialog"]["id"].as_i64().unwrap();
    let (s, h) = api.get(&format!("/api/v1/dialogs/{dialog}/messages")).await;
    assert_eq!(s, 200);
    let texts: Vec<(&str, &str)> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["direction"].as_str().unwrap(),
                m["text"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        texts,
        [("incoming", "I need 4 boxes"), ("outgoing", "Price is 12")],
        "{h}"
    );
}
