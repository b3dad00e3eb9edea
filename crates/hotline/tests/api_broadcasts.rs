//! REST API over issue 6's modules: segment filters, CSV export, stats and broadcasts
//! (create, progress, actions, report, the `broadcast_finished` webhook).

mod api_support;
mod common;

use api_support::{error_code, wait_async, Api, Receiver};
use common::text_of;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_export_stats_and_broadcasts() {
    let rx = Receiver::start().await;
    let t = common::spawn_app_with(&format!(
        "WEBHOOKS = \"{}/hook broadcast_finished\"",
        rx.url
    ))
    .await;
    let api = Api::new(&t).await;
    let (_, w) = api.get("/api/v1/webhooks").await;
    *rx.secret.lock().unwrap() = w["secret"].as_str().unwrap().to_string();
    let ann = t.person("Ann");
    let bob = t.person("Bob");
    t.user_says(ann, "Hello");
    t.wait_topic("Ann").await;
    t.user_says(bob, "Hi there");
    t.wait_topic("Bob").await;
    t.operator_says_in_general("/mark new vip");
    wait_async("the tag", || async {
        api.put(&format!("/api/v1/contacts/{ann}/tags/vip"), json!({}))
            .await
            .0
            == 200
    })
    .await;

    // Segment filter.
    let (s, page) = api.get("/api/v1/contacts?segment=vip").await;
    assert_eq!(s, 200);
    let ids: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["user_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![ann]);
    let (_, page) = api.get("/api/v1/contacts?segment=!vip&q=bo").await;
    assert_eq!(page["items"][0]["user_id"], bob);
    let (s, b) = api.get("/api/v1/contacts?segment=vip%20%26").await;
    assert_eq!((s, error_code(&b).as_str()), (400, "invalid_request"));
    let (s, _) = api.get("/api/v1/contacts?segment=nosuchtag").await;
    assert_eq!(s, 400);

    // Export.
    let r = api
        .req(reqwest::Method::GET, "/api/v1/export")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains(&ann.to_string()) && csv.contains(&bob.to_string()));
    let only = api
        .req(reqwest::Method::GET, "/api/v1/export?segment=vip")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(only.lines().count(), 2);
    assert!(only.contains(&ann.to_string()) && !only.contains(&bob.to_string()));
    let (s, _) = api.get("/api/v1/export?segment=(").await;
    assert_eq!(s, 400);

    // Stats.
    let (s, st) = api.get("/api/v1/stats?period=today").await;
    assert_eq!(s, 200);
    assert!(st["incoming"].as_i64().unwrap() >= 2, "{st}");
    assert_eq!(st["new"], 2);
    assert_eq!(st["by_hour"].as_array().unwrap().len(), 24);
    let (s, b) = api.get("/api/v1/stats?period=someday").await;
    assert_eq!((s, error_code(&b).as_str()), (400, "invalid_request"));
    assert_eq!(api.get("/api/v1/stats").await.0, 200);

    // A broadcast to a segment, confirmed at once.
    let src = t.operator_says_in_general("Sale today: 20% off!");
    let (s, b) = api
        .post(
            "/api/v1/broadcasts",
            json!({"message_ids": [src["message_id"]], "segment": "vip", "confirm": true}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_i64().unwrap();
    t.wait_in_user_chat(ann, "20% off").await;
    wait_async("the broadcast done", || async {
        let (_, b) = api.get(&format!("/api/v1/broadcasts/{id}")).await;
        b["state"] == "done" && b["finished_at"].is_i64()
    })
    .await;
    let (_, b) = api.get(&format!("/api/v1/broadcasts/{id}")).await;
    assert_eq!(
        (b["total"].as_i64(), b["sent"].as_i64(), b["left"].as_i64()),
        (Some(1), Some(1), Some(0))
    );
    assert!(!t
        .user_chat(bob)
        .iter()
        .any(|m| text_of(m).contains("20% off")));
    let report = api
        .req(
            reqwest::Method::GET,
            &format!("/api/v1/broadcasts/{id}/report"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(report.starts_with("user_id,"));
    assert!(
        report.contains(&format!("{ann},Ann,")) && report.contains(",sent,"),
        "{report}"
    );
    t.wait_until("broadcast_finished", || !rx.delivered().is_empty())
        .await;
    let e: Value = rx.delivered()[0].clone();
    assert_eq!(e["type"], "broadcast_finished");
    assert_eq!(e["data"]["broadcast"]["id"], id);
    assert_eq!(e["data"]["broadcast"]["sent"], 1);
    assert!(e["contact"].is_null() && e["dialog"].is_null());
    assert!(rx.all()[0].signed);
    let (s, _) = api
        .post(&format!("/api/v1/broadcasts/{id}/cancel"), json!({}))
        .await;
    assert_eq!(s, 409, "a finished broadcast cannot be cancelled");

    // A scheduled draft, then cancelled.
    let later = hotline::store::now_ms() + 3_600_000;
    let (s, d) = api
        .post(
            "/api/v1/broadcasts",
            json!({"message_ids": [src["message_id"]], "users": [bob], "start_at": later}),
        )
        .await;
    assert_eq!((s, d["state"].as_str()), (201, Some("draft")));
    let d_id = d["id"].as_i64().unwrap();
    let (s, d) = api
        .post(&format!("/api/v1/broadcasts/{d_id}/confirm"), json!({}))
        .await;
    assert_eq!((s, d["state"].as_str()), (200, Some("scheduled")));
    let (s, d) = api
        .post(&format!("/api/v1/broadcasts/{d_id}/cancel"), json!({}))
        .await;
    assert_eq!((s, d["state"].as_str()), (200, Some("cancelled")));
    let (_, list) = api.get("/api/v1/broadcasts").await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    // An id inside what Hotline has seen of General, but not a General message (here the
    // bot's own control message) is refused; the error names it.
    let newer = t.operator_says_in_general("Newer news");
    let (store, conn) = (t.app().store.clone(), t.app().connections[0].ctx.connection);
    let bots: Vec<i64> = t
        .topic(None)
        .iter()
        .filter(|m| m["from"]["is_bot"] == true)
        .filter_map(|m| m["message_id"].as_i64())
        .filter(|id| *id > src["message_id"].as_i64().unwrap())
        .collect();
    let not_general = bots[0];
    wait_async("the newer General message remembered", || async {
        store.unknown_general(conn, &[not_general]).await.unwrap() == [not_general]
    })
    .await;
    let (s, b) = api
        .post(
            "/api/v1/broadcasts",
            json!({"message_ids": [src["message_id"], not_general, newer["message_id"]], "all": true}),
        )
        .await;
    assert_eq!(
        (s, error_code(&b).as_str()),
        (400, "invalid_request"),
        "{b}"
    );
    assert!(
        b.to_string().contains(&format!("{not_general} is not")),
        "{b}"
    );

    // An id Hotline cannot judge (newer than anything seen) is checked by the draft's preview
    // copy: Telegram cannot copy it, so the draft is cancelled and General says why.
    let (s, d) = api
        .post(
            "/api/v1/broadcasts",
            json!({"message_ids": [999_999], "all": true}),
        )
        .await;
    assert_eq!((s, d["state"].as_str()), (201, Some("draft")), "{d}");
    let ghost = d["id"].as_i64().unwrap();
    wait_async("the unsendable draft cancelled", || async {
        let (_, b) = api.get(&format!("/api/v1/broadcasts/{ghost}")).await;
        b["state"] == "cancelled"
    })
    .await;
    t.wait_until("the reason in General", || {
        t.topic(None)
            .iter()
            .any(|m| text_of(m).contains(&format!("Broadcast #{ghost} cancelled: ")))
    })
    .await;

    // Validation.
    for bad in [
        json!({}),
        json!({"message_ids": [], "all": true}),
        json!({"message_ids": [1], "all": true, "segment": "vip"}),
        json!({"message_ids": [1]}),
        json!({"message_ids": [1], "segment": "vip &"}),
        json!({"message_ids": [1], "users": []}),
        json!({"message_ids": [-1], "all": true}),
        json!({"message_ids": [1], "all": true, "start_at": -5}),
        json!({"message_ids": [1], "all": true, "extra": 1}),
    ] {
        let (s, b) = api.post("/api/v1/broadcasts", bad.clone()).await;
        assert_eq!(
            (s, error_code(&b).as_str()),
            (400, "invalid_request"),
            "{bad}"
        );
    }
    assert_eq!(
        api.post(&format!("/api/v1/broadcasts/{d_id}/explode"), json!({}))
            .await
            .0,
        400
    );
    assert_eq!(
        api.post("/api/v1/broadcasts/999999/pause", json!({}))
            .await
            .0,
        404
    );
    assert_eq!(api.get("/api/v1/broadcasts/999999").await.0, 404);
    assert_eq!(api.get("/api/v1/broadcasts/abc").await.0, 400);
    assert_eq!(api.get("/api/v1/broadcasts/999999/report").await.0, 404);
    t.assert_conformant();
}
