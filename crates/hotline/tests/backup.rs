//! `hotline backup` and `hotline restore`, the real binary against a running Hotline:
//! a backup taken while users keep writing is a consistent snapshot from the middle of the
//! traffic; it restores into a new file with every row intact; restoring over a database in
//! use is refused and changes nothing; a backup of the final state restores to exactly the
//! live database; and Hotline runs on a restored database, relaying into the same topics.
//!
//! On PostgreSQL (`HOTLINE_TEST_DATABASE=postgres`) the same promise is kept by the server's
//! own tools, as docs/deployment.md says: `hotline backup`/`restore` refuse and name
//! `pg_dump`/`pg_restore`, and the documented commands are run here against a busy Hotline:
//! the dump is a snapshot from the middle of the traffic, restores into a new database with
//! every row, and Hotline runs on the restored database, relaying into the same topics.

mod cli_support;
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use cli_support::success;
use common::{spawn_app, text_of, wait_until, TestApp};
use hotline::store::testdb::{test_backend, TestDatabase};
use hotline::store::Backend;
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tg_emulator::control::Place;

/// Runs the binary off the runtime's threads.
async fn hotline(dir: &Path, args: &[&str]) -> Output {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli_support::run(&dir, &args)
    })
    .await
    .unwrap()
}

/// A config file for Hotline's world with its database at `db`.
fn write_config(t: &TestApp, name: &str, db: &Path) -> PathBuf {
    let path = t.dir.path().join(name);
    std::fs::write(
        &path,
        common::config_toml(db, &t.emu.url(), &t.token, t.group, ""),
    )
    .unwrap();
    path
}

async fn open(db: &Path) -> SqliteConnection {
    SqliteConnectOptions::new()
        .filename(db)
        .read_only(true)
        .connect()
        .await
        .unwrap()
}

/// Every table's rows, each rendered by SQLite's `quote()`, sorted.
async fn contents(db: &Path) -> BTreeMap<String, Vec<String>> {
    let mut c = open(db).await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let cols: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{t}')"))
                .fetch_all(&mut c)
                .await
                .unwrap();
        let row = cols
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let mut rows: Vec<String> = sqlx::query_scalar(&format!("SELECT {row} FROM \"{t}\""))
            .fetch_all(&mut c)
            .await
            .unwrap();
        rows.sort();
        out.insert(t, rows);
    }
    c.close().await.unwrap();
    out
}

async fn count(db: &Path, sql: &str) -> i64 {
    let mut c = open(db).await;
    let n = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap();
    c.close().await.unwrap();
    n
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_while_users_write_then_restore_and_compare() {
    if test_backend() == Backend::Postgres {
        println!("SQLite files only; on PostgreSQL pg_dump_while_users_write_then_restore_and_compare covers it");
        return;
    }
    let mut t = spawn_app().await;
    let dir = t.dir.path().to_path_buf();
    let live = dir.join("hotline.db");
    write_config(&t, "hotline.toml", &live);
    let users: Vec<i64> = ["Ann", "Ben", "Cy", "Dee"]
        .iter()
        .map(|n| t.person(n))
        .collect();

    // Traffic: the users write in turn until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (ctl, bot, users, stop, sent) = (
            t.ctl.clone(),
            t.bot,
            users.clone(),
            stop.clone(),
            sent.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let user = users[i % users.len()];
                ctl.send(
                    user,
                    Place::Bot(bot),
                    &json!({ "text": format!("message {i}") }),
                )
                .unwrap();
                i += 1;
                sent.store(i, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
            i
        })
    };
    let logged = || async { count(&live, "SELECT count(*) FROM updates").await };
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    while logged().await < 20 {
        assert!(tokio::time::Instant::now() < deadline, "no traffic");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Ann's topic is recorded before the backup, so the restored Hotline knows it.
    t.wait_topic("Ann").await;
    let before = logged().await;
    let out = hotline(
        &dir,
        &["backup", "--config", "hotline.toml", "--to", "during.db"],
    )
    .await;
    let said = success(&out, "backup during traffic");
    assert!(said.contains("backed up"), "{said}");
    let during = dir.join("during.db");
    #[cfg(unix)]
    assert_eq!(mode(&during), 0o600, "a backup is private");
    // Restoring over the database Hotline has open is refused and changes nothing.
    let out = hotline(
        &dir,
        &["restore", "--config", "hotline.toml", "--from", "during.db"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "restore over a running Hotline");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use") && err.contains("stop Hotline first"),
        "{err}"
    );

    // More traffic after the backup, then everything relayed.
    let after_backup = sent.load(Ordering::SeqCst);
    let more = after_backup + 20;
    wait_until("20 more messages", || sent.load(Ordering::SeqCst) >= more).await;
    stop.store(true, Ordering::SeqCst);
    let total = writer.await.unwrap();
    for (k, user) in users.iter().enumerate() {
        let last = (0..total).rev().find(|i| i % users.len() == k).unwrap();
        let text = format!("message {last}");
        wait_until(&format!("{text} in its topic"), || {
            t.topics().iter().any(|topic| {
                let thread = topic["message_thread_id"].as_i64().unwrap_or(0);
                t.topic(Some(thread)).iter().any(|m| text_of(m) == text)
            })
        })
        .await;
        let _ = user;
    }
    let after = logged().await;

    // The snapshot is consistent and from the middle of the traffic.
    let b = count(&during, "SELECT count(*) FROM updates").await;
    println!("updates: {before} before the backup, {b} in it, {after} at the end ({total} sent)");
    assert!(
        before <= b && b <= after - 20,
        "backup holds {b} updates: {before} were logged before it started, {after} at the end"
    );
    let mut c = open(&during).await;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(verdict, "ok");
    let orphans: Vec<String> = sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&mut c)
        .await
        .unwrap();
    assert!(
        orphans.is_empty(),
        "rows without their parents: {orphans:?}"
    );
    c.close().await.unwrap();
    // A few rows per table as the live database has them: logged updates never change
    // their content, contacts keep who they are.
    for (sql, what) in [
        (
            "SELECT quote(update_id) || quote(payload) FROM updates ORDER BY id LIMIT 5",
            "updates",
        ),
        (
            "SELECT quote(user_id) || quote(first_name) || quote(first_seen_at) FROM contacts ORDER BY id LIMIT 3",
            "contacts",
        ),
        (
            "SELECT quote(contact_id) || quote(created_at) FROM dialogs ORDER BY id LIMIT 3",
            "dialogs",
        ),
    ] {
        let rows = |db: PathBuf| async move {
            let mut c = open(&db).await;
            let r: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap();
            r
        };
        let (in_backup, in_live) = (rows(during.clone()).await, rows(live.clone()).await);
        assert!(!in_backup.is_empty(), "{what}: empty backup");
        assert_eq!(in_backup, in_live[..in_backup.len()], "{what}");
    }

    // Restored into a new file: every table, every row.
    write_config(&t, "restored.toml", &dir.join("restored.db"));
    let out = hotline(
        &dir,
        &[
            "restore",
            "--config",
            "restored.toml",
            "--from",
            "during.db",
        ],
    )
    .await;
    success(&out, "restore into a new file");
    #[cfg(unix)]
    assert_eq!(mode(&dir.join("restored.db")), 0o600);
    let restored = contents(&dir.join("restored.db")).await;
    assert_eq!(restored, contents(&during).await);
    assert!(restored.len() > 10 && restored["updates"].len() as i64 == b);

    // The final state: stopped, backed up, restored, identical to the live database.
    t.stop().await;
    let out = hotline(
        &dir,
        &["backup", "--config", "hotline.toml", "--to", "final.db"],
    )
    .await;
    success(&out, "backup of the stopped database");
    write_config(&t, "final.toml", &dir.join("final-restored.db"));
    let out = hotline(
        &dir,
        &["restore", "--config", "final.toml", "--from", "final.db"],
    )
    .await;
    success(&out, "restore of the final backup");
    let live_rows = contents(&live).await;
    assert_eq!(contents(&dir.join("final-restored.db")).await, live_rows);
    assert!(live_rows["updates"].len() as i64 >= after);

    // Back to the mid-traffic snapshot on the live path: the replaced database is kept, and
    // Hotline runs on the restored one, relaying into the topic it knows.
    // (The stopped Hotline's pool closes its SQLite handles on their own threads; until
    // they are closed, the database counts as in use and restore refuses, changing nothing.)
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    let out = loop {
        let out = hotline(
            &dir,
            &["restore", "--config", "hotline.toml", "--from", "during.db"],
        )
        .await;
        if out.status.code() != Some(2) || tokio::time::Instant::now() > deadline {
            break out;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let said = success(&out, "restore over the stopped database");
    let kept = said
        .lines()
        .find_map(|l| l.strip_prefix("the replaced database was kept as "))
        .expect("where the old database went")
        .trim()
        .to_string();
    assert_eq!(contents(Path::new(&kept)).await, live_rows);
    assert_eq!(count(&live, "SELECT count(*) FROM updates").await, b);
    t.restart().await;
    let ann = users[0];
    let thread: i64 = {
        let mut c = open(&live).await;
        let thread = sqlx::query_scalar(
            "SELECT d.thread_id FROM dialogs d JOIN contacts c ON c.id = d.contact_id WHERE c.user_id = ?",
        )
        .bind(ann)
        .fetch_one(&mut c)
        .await
        .unwrap();
        c.close().await.unwrap();
        thread
    };
    t.user_says(ann, "after the restore");
    t.wait_in_topic(thread, "after the restore").await;
}

/// Users writing to the bot in turn, one message every `pace`, until stopped.
struct Traffic {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    writer: Option<tokio::task::JoinHandle<usize>>,
}

impl Traffic {
    fn start(t: &TestApp, users: &[i64], pace: std::time::Duration) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let (ctl, bot, users, stop2, sent2) = (
            t.ctl.clone(),
            t.bot,
            users.to_vec(),
            stop.clone(),
            sent.clone(),
        );
        let writer = tokio::task::spawn_blocking(move || {
            let mut i = 0usize;
            while !stop2.load(Ordering::SeqCst) {
                let user = users[i % users.len()];
                ctl.send(
                    user,
                    Place::Bot(bot),
                    &json!({ "text": format!("message {i}") }),
                )
                .unwrap();
                i += 1;
                sent2.store(i, Ordering::SeqCst);
                std::thread::sleep(pace);
            }
            i
        });
        Traffic {
            stop,
            sent,
            writer: Some(writer),
        }
    }

    /// Stops the writer; returns how many messages were sent.
    async fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.writer.take().expect("running").await.unwrap()
    }
}

/// Stops the traffic if the test fails, so the runtime does not wait for the writer forever.
impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Runs `program args` (a PostgreSQL client tool) off the runtime's threads; fails the test
/// with its output unless it succeeds.
async fn pg_tool(program: &str, args: &[&str]) {
    let (program, args): (String, Vec<String>) = (
        program.to_string(),
        args.iter().map(|s| s.to_string()).collect(),
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program)
            .args(&args)
            .output()
            .unwrap_or_else(|e| {
                panic!("{program} (PostgreSQL's client tools, needed on PostgreSQL): {e}")
            })
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every table's rows in the PostgreSQL database at `url`, each as its row literal, sorted.
async fn pg_contents(url: &str) -> BTreeMap<String, Vec<String>> {
    let pool = common::db_pool(url).await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let mut rows: Vec<String> = sqlx::query_scalar(&format!("SELECT r::text FROM \"{t}\" r"))
            .fetch_all(&pool)
            .await
            .unwrap();
        rows.sort();
        out.insert(t, rows);
    }
    pool.close().await;
    out
}

async fn pg_count(url: &str, sql: &str) -> i64 {
    let pool = common::db_pool(url).await;
    let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
    pool.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_dump_while_users_write_then_restore_and_compare() {
    if test_backend() != Backend::Postgres {
        println!("PostgreSQL only; on SQLite backup_while_users_write_then_restore_and_compare covers it");
        return;
    }
    let mut t = spawn_app().await;
    let dir = t.dir.path().to_path_buf();
    let live = t.db.url().to_string();
    std::fs::write(
        dir.join("hotline.toml"),
        common::config_toml_url(&live, &t.emu.url(), &t.token, t.group, ""),
    )
    .unwrap();
    let users: Vec<i64> = ["Ann", "Ben", "Cy", "Dee"]
        .iter()
        .map(|n| t.person(n))
        .collect();
    // Paced so that a loaded machine still relays it all within the wait below.
    let traffic = Traffic::start(&t, &users, std::time::Duration::from_millis(10));
    let logged = || pg_count(&live, "SELECT count(*) FROM updates");
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    while logged().await < 20 {
        assert!(tokio::time::Instant::now() < deadline, "no traffic");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    t.wait_topic("Ann").await;

    // Hotline does not copy a PostgreSQL database itself: it says which tools do, and
    // changes nothing.
    for (args, tool) in [
        (
            ["backup", "--config", "hotline.toml", "--to", "during.db"],
            "pg_dump",
        ),
        (
            ["restore", "--config", "hotline.toml", "--from", "during.db"],
            "pg_restore",
        ),
    ] {
        let out = hotline(&dir, &args).await;
        assert_eq!(out.status.code(), Some(2), "hotline {}", args[0]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("PostgreSQL") && err.contains(tool) && err.contains("deployment.md"),
            "{err}"
        );
        assert!(!dir.join("during.db").exists());
    }

    // The documented backup, taken while users write: one snapshot.
    let before = logged().await;
    let dump = dir.join("during.dump");
    pg_tool(
        "pg_dump",
        &["--format=custom", "--file", dump.to_str().unwrap(), &live],
    )
    .await;
    let after_backup = traffic.sent.load(Ordering::SeqCst);
    wait_until("20 more messages", || {
        traffic.sent.load(Ordering::SeqCst) >= after_backup + 20
    })
    .await;
    let total = traffic.finish().await;
    for k in 0..users.len() {
        let last = (0..total).rev().find(|i| i % users.len() == k).unwrap();
        let text = format!("message {last}");
        let limit = std::time::Duration::from_secs(60);
        common::wait_until_for(&format!("{text} in its topic"), limit, || {
            t.topics().iter().any(|topic| {
                let thread = topic["message_thread_id"].as_i64().unwrap_or(0);
                t.topic(Some(thread)).iter().any(|m| text_of(m) == text)
            })
        })
        .await;
    }
    let after = logged().await;

    // Restored into a new database: a snapshot from the middle of the traffic, with the
    // live database's rows.
    let restored = TestDatabase::create(None).await;
    pg_tool(
        "pg_restore",
        &[
            "--no-owner",
            "--exit-on-error",
            "--dbname",
            restored.url(),
            dump.to_str().unwrap(),
        ],
    )
    .await;
    let b = pg_count(restored.url(), "SELECT count(*) FROM updates").await;
    println!("updates: {before} before the dump, {b} in it, {after} at the end ({total} sent)");
    assert!(
        before <= b && b <= after - 20,
        "the dump holds {b} updates: {before} were logged before it started, {after} at the end"
    );
    for (sql, what) in [
        ("SELECT update_id::text || payload FROM updates ORDER BY id LIMIT 5", "updates"),
        (
            "SELECT user_id::text || first_name || first_seen_at::text FROM contacts ORDER BY id LIMIT 3",
            "contacts",
        ),
        (
            "SELECT contact_id::text || created_at::text FROM dialogs ORDER BY id LIMIT 3",
            "dialogs",
        ),
    ] {
        let rows = |url: String| async move {
            let pool = common::db_pool(&url).await;
            let r: Vec<String> = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
            pool.close().await;
            r
        };
        let (in_backup, in_live) = (
            rows(restored.url().to_string()).await,
            rows(live.clone()).await,
        );
        assert!(!in_backup.is_empty(), "{what}: empty backup");
        assert_eq!(in_backup, in_live[..in_backup.len()], "{what}");
    }

    // The final state: stopped, dumped, restored, identical to the live database.
    t.stop().await;
    let final_dump = dir.join("final.dump");
    pg_tool(
        "pg_dump",
        &[
            "--format=custom",
            "--file",
            final_dump.to_str().unwrap(),
            &live,
        ],
    )
    .await;
    let final_restored = TestDatabase::create(None).await;
    pg_tool(
        "pg_restore",
        &[
            "--no-owner",
            "--exit-on-error",
            "--dbname",
            final_restored.url(),
            final_dump.to_str().unwrap(),
        ],
    )
    .await;
    let live_rows = pg_contents(&live).await;
    assert!(live_rows.len() > 10 && live_rows["updates"].len() as i64 >= after);
    assert_eq!(pg_contents(final_restored.url()).await, live_rows);

    // Hotline runs on the mid-traffic snapshot, relaying into the topic it knows.
    t.config.database_url = restored.url().to_string();
    t.restart().await;
    let ann = users[0];
    let thread: i64 = {
        let pool = common::db_pool(restored.url()).await;
        let thread = sqlx::query_scalar(
            "SELECT d.thread_id FROM dialogs d JOIN contacts c ON c.id = d.contact_id WHERE c.user_id = $1",
        )
        .bind(ann)
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        thread
    };
    t.user_says(ann, "after the restore");
    t.wait_in_topic(thread, "after the restore").await;
    t.stop().await;
}
