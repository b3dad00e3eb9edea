//! `/stats`: figures on a scripted history with known answers, the chart is a PNG of the
//! expected size, and the command answers with a message and the chart.

mod broadcast_common;
mod common;

use broadcast_common::*;
use common::*;
use hotline::stats::{self, kind, CHART_SIZE};
use hotline::store::{ContactProfile, DialogStatus, Store};
use time::macros::date;
use time::UtcOffset;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

#[tokio::test]
async fn figures_on_a_scripted_history() {
    let db = hotline::store::testdb::TestDatabase::create(None).await;
    let store = Store::open(db.url()).await.unwrap();
    store.migrate().await.unwrap();
    let c = store.ensure_connection("support").await.unwrap();
    let mut dialogs = Vec::new();
    for u in 1..=3 {
        let p = ContactProfile {
            user_id: u,
            first_name: format!("U{u}"),
            ..Default::default()
        };
        let contact = store.contact_wrote(c, &p, None, 0).await.unwrap();
        let (d, _) = store
            .ensure_dialog(c, contact.id, DialogStatus::New, 0)
            .await
            .unwrap();
        dialogs.push(d.id);
    }
    // Monday 2026-03-02, UTC.
    let d0 = hotline::segments::day_start(date!(2026 - 03 - 02), UtcOffset::UTC);
    let script: &[(usize, i64, &str, Option<i64>)] = &[
        // Dialog 1: answered after 10 min, closed after an hour.
        (0, 9 * HOUR, kind::CREATED, None),
        (0, 9 * HOUR, kind::IN, None),
        (0, 9 * HOUR + 10 * MIN, kind::OUT, Some(100)),
        (0, 9 * HOUR + 20 * MIN, kind::IN, None),
        (0, 9 * HOUR + 25 * MIN, kind::OUT, Some(100)),
        (0, 10 * HOUR, kind::CLOSED, None),
        // Dialog 2: Tuesday, answered after 30 min by another operator, closed after 2 h,
        // reopened on Wednesday and answered after 5 min; the parallel bot wrote once.
        (1, DAY + 14 * HOUR, kind::CREATED, None),
        (1, DAY + 14 * HOUR, kind::IN, None),
        (1, DAY + 14 * HOUR + 5 * MIN, kind::IN, None),
        (1, DAY + 14 * HOUR + 30 * MIN, kind::OUT, Some(200)),
        (1, DAY + 16 * HOUR, kind::CLOSED, None),
        (1, 2 * DAY + 8 * HOUR, kind::REOPENED, None),
        (1, 2 * DAY + 8 * HOUR, kind::IN, None),
        (1, 2 * DAY + 8 * HOUR + 5 * MIN, kind::OUT, Some(100)),
        (1, 2 * DAY + 8 * HOUR + 6 * MIN, kind::INTERCEPTED, None),
        // Dialog 3: Wednesday night, never answered.
        (2, 2 * DAY + 23 * HOUR, kind::CREATED, None),
        (2, 2 * DAY + 23 * HOUR, kind::IN, None),
        // Outside the period.
        (2, 3 * DAY + HOUR, kind::OUT, Some(100)),
    ];
    for (d, at, k, op) in script {
        store
            .record_event(c, dialogs[*d], k, *op, d0 + at)
            .await
            .unwrap();
    }
    let r = stats::compute(&store, c, d0, d0 + 3 * DAY, UtcOffset::UTC)
        .await
        .unwrap();
    assert_eq!(
        (r.new, r.reopened, r.closed, r.unanswered),
        (3, 1, 2, 1),
        "dialogs"
    );
    assert_eq!((r.incoming, r.outgoing, r.intercepted), (6, 4, 1));
    assert_eq!(r.first_response.median, Some(10 * MIN));
    assert_eq!(r.first_response.p90, Some(30 * MIN));
    assert_eq!(r.first_response.count, 3);
    assert_eq!(r.resolution.median, Some(HOUR));
    assert_eq!(r.resolution.p90, Some(2 * HOUR));
    let ops: Vec<_> = r
        .operators
        .iter()
        .map(|o| {
            (
                o.operator_id,
                o.messages,
                o.dialogs,
                o.median_first_response,
            )
        })
        .collect();
    assert_eq!(
        ops,
        vec![(100, 3, 2, Some(5 * MIN)), (200, 1, 1, Some(30 * MIN))]
    );
    assert_eq!(r.by_weekday, [2, 2, 2, 0, 0, 0, 0]);
    let mut hours = [0; 24];
    hours[9] = 2;
    hours[14] = 2;
    hours[8] = 1;
    hours[23] = 1;
    assert_eq!(r.by_hour, hours);
    let days: Vec<_> = r
        .days
        .iter()
        .map(|d| (d.date.day(), d.incoming, d.outgoing, d.intercepted))
        .collect();
    assert_eq!(days, vec![(2, 2, 2, 0), (3, 2, 1, 0), (4, 2, 1, 1)]);
    // A time zone moves Wednesday 23:00 UTC into Thursday.
    let tz = UtcOffset::from_hms(3, 0, 0).unwrap();
    let shifted = stats::compute(&store, c, d0, d0 + 3 * DAY, tz)
        .await
        .unwrap();
    assert_eq!(shifted.by_weekday, [2, 2, 1, 1, 0, 0, 0]);

    let text = stats::render_text(&r, "2026-03-02 – 2026-03-04");
    assert!(
        text.contains("3 new · 1 reopened · 2 closed · 1 unanswered"),
        "{text}"
    );
    assert!(
        text.contains("median 10 min, p90 30 min (3 dialogs)"),
        "{text}"
    );
    assert!(text.contains("6 in · 4 out · 1 intercepted"), "{text}");

    let png = stats::chart(&r, "2026-03-02 – 2026-03-04").unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((w, h), CHART_SIZE);
    if let Ok(path) = std::env::var("STATS_PNG") {
        std::fs::write(path, &png).unwrap();
    }
    // An empty period renders too.
    let empty = stats::compute(&store, c, d0 - 7 * DAY, d0, UtcOffset::UTC)
        .await
        .unwrap();
    assert_eq!(empty.days.len(), 7);
    assert!(stats::chart(&empty, "empty").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_command_answers_with_figures_and_a_chart() {
    let t = spawn_app().await;
    let u = t.person("Mira");
    t.user_says(u, "Hello, where is my parcel?");
    let thread = t.wait_topic("Mira").await;
    t.wait_in_topic(thread, "parcel").await;
    t.operator_says(thread, "Let me check");
    t.wait_in_user_chat(u, "Let me check").await;
    t.operator_says(thread, "/close");
    command(&t, "/stats today", None);
    let m = wait_general(&t, "Team stats", |_| true).await;
    let text = text_of(&m);
    assert!(
        text.contains("1 new · 0 reopened · 1 closed · 0 unanswered"),
        "{text}"
    );
    assert!(text.contains("1 in · 1 out · 0 intercepted"), "{text}");
    wait_until("the chart", || {
        t.topic(None).iter().any(|m| m.get("photo").is_some())
    })
    .await;
    command(&t, "/stats yesterday-ish", None);
    wait_general(&t, "is not a period", |_| true).await;
}
