//! `/metrics` after real traffic (a dialog, an operator answer, a webhook delivery, a
//! gateway call, a 429 storm), parsed with an independent Prometheus text-format parser:
//! every documented family is there with its type, and the values moved.

mod api_support;
mod common;

use std::collections::HashMap;

use api_support::{wait_async, with_webhooks};
use prometheus_parse::{Sample, Scrape, Value};
use tg_emulator::{Fault, Faults};

/// Every family Hotline exports and its type (docs/monitoring.md lists the same).
const FAMILIES: &[(&str, &str)] = &[
    ("hotline_updates_received_total", "counter"),
    ("hotline_updates_processed_total", "counter"),
    ("hotline_update_processing_lag_seconds", "histogram"),
    ("hotline_telegram_calls_total", "counter"),
    ("hotline_telegram_call_duration_seconds", "histogram"),
    ("hotline_outbox_rate_limited_total", "counter"),
    ("hotline_outbox_paused_seconds_total", "counter"),
    ("hotline_outbox_retries_total", "counter"),
    ("hotline_outbox_intents_total", "counter"),
    ("hotline_webhook_deliveries_total", "counter"),
    ("hotline_gateway_requests_total", "counter"),
    ("hotline_gateway_request_duration_seconds", "histogram"),
    ("hotline_outbox_depth", "gauge"),
    ("hotline_outbox_oldest_age_seconds", "gauge"),
    ("hotline_outbox_in_flight", "gauge"),
    ("hotline_outbox_dead_letters", "gauge"),
    ("hotline_updates_dead_letters", "gauge"),
    ("hotline_updates_pending", "gauge"),
    ("hotline_updates_oldest_pending_age_seconds", "gauge"),
    ("hotline_dialogs", "gauge"),
    ("hotline_webhook_deliveries_pending", "gauge"),
    ("hotline_webhook_oldest_pending_age_seconds", "gauge"),
    ("hotline_ready", "gauge"),
];

async fn scrape(base: &str) -> (String, Scrape) {
    let resp = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = resp.text().await.unwrap();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    (text, parsed)
}

/// The value of the sample `name` whose labels include `labels` (histograms: the count).
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name && matches(x, labels))
        .map(|x| match &x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(b) => b
                .iter()
                .find(|c| c.less_than.is_infinite())
                .map_or(0.0, |c| c.count),
            Value::Summary(_) => 0.0,
        })
        .sum()
}

fn matches(x: &Sample, labels: &[(&str, &str)]) -> bool {
    labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_with_traffic() {
    let (t, _api, rx) = with_webhooks("*", "").await;
    let base = format!("http://{}", t.app().addr);

    // Before any traffic: every family parses with its declared type.
    let (text, _) = scrape(&base).await;
    let mut types = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.insert(name.to_string(), kind.to_string());
        }
    }

    // A dialog: Ann writes, the topic opens, the operator answers.
    let ann = t.person("Ann");
    t.user_says(ann, "hello metrics");
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "hello metrics").await;
    t.operator_says(thread, "an answer");
    t.wait_in_user_chat(ann, "an answer").await;
    t.wait_until("a webhook delivered", || !rx.delivered().is_empty())
        .await;
    // The parallel bot's call through the gateway.
    let me: serde_json::Value = reqwest::get(format!("{base}/bot{}/getMe", t.token))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["ok"], true, "{me}");
    // A 429 storm on copies into the topic: the outbox pauses, then delivers.
    let storm = Fault {
        storm_rate: 1.0,
        storm_retry_after: 1,
        ..Fault::default()
    };
    t.emu.set_faults(Faults {
        methods: [
            ("copyMessage".to_string(), storm.clone()),
            ("sendMessage".to_string(), storm.clone()),
            ("copyMessages".to_string(), storm),
        ]
        .into(),
        ..Faults::default()
    });
    t.user_says(ann, "during the storm");
    wait_async("a 429 counted", || async {
        let (_, s) = scrape(&base).await;
        value(
            &s,
            "hotline_outbox_rate_limited_total",
            &[("connection", "support")],
        ) >= 1.0
    })
    .await;
    t.emu.set_faults(Faults::default());
    t.wait_in_topic(thread, "during the storm").await;

    let c = ("connection", "support");
    wait_async("every value moved", || async {
        let (_, s) = scrape(&base).await;
        let checks = [
            value(&s, "hotline_updates_received_total", &[c]) >= 2.0,
            value(&s, "hotline_updates_processed_total", &[c]) >= 2.0,
            value(&s, "hotline_update_processing_lag_seconds", &[c]) >= 2.0,
            value(
                &s,
                "hotline_telegram_calls_total",
                &[c, ("method", "createForumTopic"), ("outcome", "ok")],
            ) >= 1.0,
            value(&s, "hotline_telegram_calls_total", &[c, ("outcome", "429")]) >= 1.0,
            value(
                &s,
                "hotline_telegram_call_duration_seconds",
                &[c, ("method", "getMe")],
            ) >= 1.0,
            value(&s, "hotline_outbox_paused_seconds_total", &[c]) >= 1.0,
            value(&s, "hotline_outbox_retries_total", &[c]) >= 1.0,
            value(
                &s,
                "hotline_outbox_intents_total",
                &[c, ("outcome", "done")],
            ) >= 3.0,
            value(
                &s,
                "hotline_webhook_deliveries_total",
                &[c, ("outcome", "delivered")],
            ) >= 1.0,
            value(
                &s,
                "hotline_gateway_requests_total",
                &[c, ("method", "getMe"), ("status", "2xx")],
            ) >= 1.0,
            value(
                &s,
                "hotline_gateway_request_duration_seconds",
                &[c, ("method", "getMe")],
            ) >= 1.0,
            // One dialog, open (new or waiting).
            value(&s, "hotline_dialogs", &[c, ("status", "new")])
                + value(&s, "hotline_dialogs", &[c, ("status", "wait")])
                == 1.0,
            value(&s, "hotline_dialogs", &[c, ("status", "closed")]) == 0.0,
            // Every lane is exported, even when empty.
            ["reply", "group", "broadcast"].iter().all(|l| {
                s.samples
                    .iter()
                    .any(|x| x.metric == "hotline_outbox_depth" && matches(x, &[c, ("lane", l)]))
            }),
            value(&s, "hotline_outbox_dead_letters", &[c]) == 0.0,
            value(&s, "hotline_ready", &[]) == 1.0,
        ];
        checks.iter().all(|ok| *ok)
    })
    .await;

    // Names and types: every family, as the parser read it and as declared.
    let (text, s) = scrape(&base).await;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.insert(name.to_string(), kind.to_string());
        }
    }
    for (name, kind) in FAMILIES {
        assert_eq!(
            types.get(*name).map(String::as_str),
            Some(*kind),
            "{name} missing or of the wrong type"
        );
        assert!(s.docs.contains_key(*name), "{name} has no HELP");
        let parsed = s.samples.iter().find(|x| x.metric == *name);
        let parsed = parsed.unwrap_or_else(|| panic!("{name}: no sample"));
        let ok = matches!(
            (*kind, &parsed.value),
            ("counter", Value::Counter(_))
                | ("gauge", Value::Gauge(_))
                | ("histogram", Value::Histogram(_))
        );
        assert!(ok, "{name}: parsed as {:?}", parsed.value);
    }
    // No token in the exposition (labels carry the connection's name only).
    assert!(!text.contains(&t.token));
}
