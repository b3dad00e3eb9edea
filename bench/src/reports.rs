//! `hotline-bench reports`: `/stats 30d` and `/export` at scale (issue 12: 100k contacts,
//! 1M messages). The database is seeded directly with SQL (recursive CTEs: seconds, not the
//! hours the relay would take), then each report runs in a fresh process of this binary so
//! its peak RSS (`VmHWM`) is its own.
//!
//! The seeded history spans 90 days: every contact has a dialog (created at first contact,
//! a third of them closed 5 h later), and the messages alternate user/operator (7
//! operators) round-robin over the dialogs, evenly in time — so 30 days hold a third of
//! them. Every message has its message link (what `/export` counts).

use std::process::Command;
use std::time::Instant;

use hotline::store::Store;
use serde_json::{json, Value};

const DAY: i64 = 86_400_000;

/// Seeds, then measures both reports in child processes and prints one JSON line each.
pub async fn run(contacts: i64, messages: i64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("reports.db").display());
    let now = hotline::store::now_ms();
    let started = Instant::now();
    seed(&url, contacts, messages, now).await;
    println!(
        "{}",
        json!({"phase": "seed", "contacts": contacts, "messages": messages,
               "ms": started.elapsed().as_millis() as u64})
    );
    let exe = std::env::current_exe().expect("own path");
    for what in ["stats", "export"] {
        let out = Command::new(&exe)
            .args(["measure-report", "--db", &url, "--what", what, "--now"])
            .arg(now.to_string())
            .output()
            .expect("child runs");
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

async fn seed(url: &str, contacts: i64, messages: i64, now: i64) {
    let store = Store::open(url).await.expect("store opens");
    store.migrate().await.expect("migrations");
    let conn = store.ensure_connection("bench").await.expect("connection");
    store.close().await;
    let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("url");
    let pool =
        sqlx::SqlitePool::connect_with(opts.synchronous(sqlx::sqlite::SqliteSynchronous::Off))
            .await
            .expect("pool");
    let start = now - 90 * DAY;
    let step = (90 * DAY / messages.max(1)).max(1);
    let statements = [
        // Contacts, first seen over the 90 days; one dialog each.
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
         INSERT INTO contacts (connection_id, user_id, first_name, last_name, username, language_code, \
           first_seen_at, last_message_at) \
         SELECT $1, 1000000 + i, 'User ' || i, 'Family', 'user' || i, 'en', \
           $3 + (i * 90 * 86400000) / $2, $4 - (i % 90) * 86400000 FROM n",
        "INSERT INTO dialogs (connection_id, contact_id, thread_id, status, status_since, activated, \
           created_at, last_activity_at) \
         SELECT $1, id, id, CASE id % 3 WHEN 0 THEN 'closed' WHEN 1 THEN 'wait' ELSE 'new' END, \
           first_seen_at, TRUE, first_seen_at, first_seen_at FROM contacts WHERE connection_id = $1",
        "INSERT INTO dialog_events (connection_id, dialog_id, kind, operator_id, at) \
         SELECT $1, id, 'created', NULL, created_at FROM dialogs WHERE connection_id = $1",
        "INSERT INTO dialog_events (connection_id, dialog_id, kind, operator_id, at) \
         SELECT $1, id, 'closed', NULL, created_at + 5 * 3600000 FROM dialogs \
         WHERE connection_id = $1 AND status = 'closed'",
    ];
    for sql in statements {
        sqlx::query(sql)
            .bind(conn.0)
            .bind(contacts)
            .bind(start)
            .bind(now)
            .execute(&pool)
            .await
            .expect("seed statement");
    }
    let first: i64 = sqlx::query_scalar("SELECT MIN(id) FROM dialogs WHERE connection_id = $1")
        .bind(conn.0)
        .fetch_one(&pool)
        .await
        .expect("first dialog");
    // Messages: user and operator alternate, round-robin over the dialogs, evenly in time.
    for sql in [
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1) \
         INSERT INTO dialog_events (connection_id, dialog_id, kind, operator_id, at) \
         SELECT $1, $3 + (i / 2) % $4, CASE i % 2 WHEN 0 THEN 'in' ELSE 'out' END, \
           CASE i % 2 WHEN 1 THEN 500 + i % 7 END, $5 + i * $6 FROM n",
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1) \
         INSERT INTO message_links (connection_id, dialog_id, user_chat_id, user_message_id, \
           group_chat_id, group_message_id, direction, kind, created_at) \
         SELECT $1, $3 + (i / 2) % $4, 1000000 + (i / 2) % $4, i, -100, i, \
           CASE i % 2 WHEN 0 THEN 'incoming' ELSE 'outgoing' END, 'text', $5 + i * $6 FROM n",
    ] {
        sqlx::query(sql)
            .bind(conn.0)
            .bind(messages)
            .bind(first)
            .bind(contacts)
            .bind(start)
            .bind(step)
            .execute(&pool)
            .await
            .expect("seed messages");
    }
    sqlx::query("ANALYZE")
        .execute(&pool)
        .await
        .expect("analyze");
    pool.close().await;
}

/// The child: one report against the seeded database, then its time and peak RSS.
pub async fn measure(url: &str, what: &str, now: i64) {
    let store = Store::open(url).await.expect("store opens");
    let conn = store
        .find_connection("bench")
        .await
        .expect("store")
        .expect("seeded connection");
    let tz = time::UtcOffset::UTC;
    let started = Instant::now();
    let mut extra: Value = json!({});
    match what {
        "stats" => {
            let (from, to, label) = hotline::stats::parse_period("30d", now, tz).expect("30d");
            let r = hotline::stats::compute(&store, conn, from, to, tz)
                .await
                .expect("stats");
            let computed = started.elapsed().as_millis() as u64;
            let text = hotline::stats::render_text(&r, &label);
            let png = hotline::stats::chart(&r, &label).expect("chart");
            extra = json!({"compute_ms": computed, "incoming": r.incoming, "outgoing": r.outgoing,
                           "new": r.new, "closed": r.closed, "text_bytes": text.len(),
                           "png_bytes": png.len()});
        }
        "export" => {
            let file = tempfile::NamedTempFile::new().expect("temp file");
            let w = std::io::BufWriter::new(file.reopen().expect("reopen"));
            let n = hotline::export::write_csv(&store, conn, None, tz, w)
                .await
                .expect("export");
            let bytes = std::fs::metadata(file.path()).map(|m| m.len()).unwrap_or(0);
            extra = json!({"rows": n, "csv_bytes": bytes});
        }
        other => panic!("unknown report {other}"),
    }
    let ms = started.elapsed().as_millis() as u64;
    println!(
        "{}",
        json!({"phase": what, "ms": ms, "peak_rss_mb": peak_rss_mb(), "detail": extra})
    );
}

/// `VmHWM` of this process, in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| (kb / 1024.0 * 10.0).round() / 10.0)
}
