//! Dates, durations and numbers typed by an admin or an API caller at the edges of the
//! calendar and of the integers get a clear error, and the connection keeps relaying.
//! (`/stats 9999-12-31` used to panic in date arithmetic and stop the update processor.)

mod api_support;
mod broadcast_common;
mod common;

use api_support::{error_code, Api};
use broadcast_common::*;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_dates_in_general_get_an_error_and_relaying_goes_on() {
    let t = spawn_app().await;
    for (typed, answer) in [
        ("/stats 9999-12-31", "Dates go up to 9999-12-30"),
        ("/stats 0001-01-01..9999-12-30", "at most 3660 days"),
        ("/stats 106800000000d", "is not a period"),
        ("/stats 100000w", "at most 3660 days"),
    ] {
        command(&t, typed, None);
        wait_general(&t, answer, |_| true).await;
    }
    let post = post_general(&t, serde_json::json!({"text": "Newsletter"}));
    command(&t, "/send all at 9999-12-31 23:59", Some(post));
    wait_general(&t, "more than a year ahead", |_| true).await;
    command(&t, "/send all in 9223372036854775807w", Some(post));
    wait_general(&t, "is not a delay", |_| true).await;
    let deep = format!("/send {}vip", "(".repeat(3000));
    command(&t, &deep, Some(post));
    wait_general(&t, "nested more than 32 levels", |_| true).await;

    // The processor is alive: a user's message still reaches the team.
    let u = t.person("Nadia");
    t.user_says(u, "Still there?");
    let thread = t.wait_topic("Nadia").await;
    t.wait_in_topic(thread, "Still there?").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_periods_and_numbers_in_the_api_are_400s() {
    let t = spawn_app().await;
    let api = Api::new(&t).await;
    for q in [
        "period=9999-12-31",
        "period=2026-01-01..9999-12-31",
        "period=0000-01-01..9999-12-30",
        "period=100000w",
        "period=106800000000d",
        "period=99999999999999999999999999d",
        "period=18446744073709551616w",
        "period=-5d",
        "period=-1",
        "period=-9223372036854775808d",
        "period=2026-01-01..-1",
        "period=-0001-01-01..2026-01-01",
    ] {
        let (status, body) = api.get(&format!("/api/v1/stats?{q}")).await;
        assert_eq!(status, 400, "{q}: {body}");
        assert_eq!(error_code(&body), "invalid_request", "{q}");
    }
    for q in [
        "limit=99999999999999999999",
        "limit=-1",
        "limit=0",
        "cursor=99999999999999999999",
        "cursor=-5",
    ] {
        let (status, body) = api.get(&format!("/api/v1/contacts?{q}")).await;
        assert_eq!(status, 400, "{q}: {body}");
        assert_eq!(error_code(&body), "invalid_request", "{q}");
    }
    let deep = format!("{}open{}", "(".repeat(200), ")".repeat(200));
    let (status, body) = api
        .send(
            api.req(reqwest::Method::GET, "/api/v1/contacts")
                .query(&[("segment", deep.as_str())]),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("nested"), "{body}");
    // The longest segment allowed runs in the database.
    let widest = vec!["open"; hotline::segments::MAX_CONDITIONS].join("|");
    let (status, body) = api
        .send(
            api.req(reqwest::Method::GET, "/api/v1/contacts")
                .query(&[("segment", widest.as_str())]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = api.get("/api/v1/stats?period=3660d").await;
    assert_eq!(status, 200);
}
