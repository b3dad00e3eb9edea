//! The driver's own promises, on temporary database files: arguments and rows as sqlx's
//! SQLite driver gave them, errors of the right kind, lock waits that never block a
//! thread, and migrations compatible with sqlx's.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{Connection, Executor, Row};

use super::BUSY_WAIT;

async fn pool(dir: &tempfile::TempDir, max: u32) -> sqlx::AnyPool {
    crate::store::install_drivers();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    AnyPoolOptions::new()
        .max_connections(max)
        .connect(&url)
        .await
        .unwrap()
}

#[tokio::test]
async fn arguments_rows_and_statements_as_sqlx_gave_them() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(&dir, 1).await;
    // Several statements in one text, no arguments (migrations, pragmas).
    p.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB, flag BOOLEAN); -- done\n")
        .await
        .unwrap();
    // `$N` names the N-th argument, even twice and out of order.
    let r = sqlx::query("INSERT INTO t (id, name, score, data, flag) VALUES ($2, $1, $3, $4, $5), ($2 + 1, $1, NULL, NULL, $5) RETURNING id")
        .bind("ann")
        .bind(7i64)
        .bind(1.5f64)
        .bind(vec![1u8, 2, 3])
        .bind(true)
        .fetch_all(&p)
        .await
        .unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].get::<i64, _>("id"), 7);
    let done = sqlx::query("UPDATE t SET name = $1 WHERE id >= $2")
        .bind("bob")
        .bind(7i64)
        .execute(&p)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 2);
    let row = sqlx::query(
        "SELECT id, name, score, data, CAST(flag AS INTEGER) AS flag FROM t WHERE id = $1",
    )
    .bind(7i64)
    .fetch_one(&p)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("name"), "bob");
    assert_eq!(row.get::<f64, _>("score"), 1.5);
    assert_eq!(row.get::<Vec<u8>, _>("data"), vec![1, 2, 3]);
    assert_eq!(row.get::<i64, _>("flag"), 1);
    let row = sqlx::query("SELECT score, data FROM t WHERE id = 8")
        .fetch_one(&p)
        .await
        .unwrap();
    assert_eq!(row.get::<Option<f64>, _>("score"), None);
    assert_eq!(row.get::<Option<Vec<u8>>, _>(1), None);
    // A SELECT reports no changes of its own.
    let sel = sqlx::query("SELECT 1").execute(&p).await.unwrap();
    assert_eq!(sel.rows_affected(), 0);
    // Rows stream one at a time.
    let n: i64 = sqlx::query("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) SELECT count(*) AS n FROM c")
        .fetch_one(&p)
        .await
        .unwrap()
        .get("n");
    assert_eq!(n, 5000);
}

#[tokio::test]
async fn errors_have_sqlx_kinds_and_transactions_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(&dir, 1).await;
    p.execute("CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (a INTEGER NOT NULL REFERENCES a(id))")
        .await
        .unwrap();
    sqlx::query("INSERT INTO a VALUES (1)")
        .execute(&p)
        .await
        .unwrap();
    let dup = sqlx::query("INSERT INTO a VALUES (1)")
        .execute(&p)
        .await
        .unwrap_err();
    assert!(
        dup.as_database_error().unwrap().is_unique_violation(),
        "{dup}"
    );
    let fk = sqlx::query("INSERT INTO b VALUES (2)")
        .execute(&p)
        .await
        .unwrap_err();
    assert!(
        fk.as_database_error().unwrap().is_foreign_key_violation(),
        "{fk}"
    );
    let syntax = sqlx::query("SELEKT").execute(&p).await.unwrap_err();
    assert!(syntax.to_string().contains("syntax error"), "{syntax}");
    // A dropped transaction rolls back; a savepoint undoes only its part.
    {
        let mut tx = p.begin().await.unwrap();
        sqlx::query("INSERT INTO a VALUES (2)")
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let mut tx = p.begin().await.unwrap();
    sqlx::query("INSERT INTO a VALUES (3)")
        .execute(&mut *tx)
        .await
        .unwrap();
    {
        let mut inner = tx.begin().await.unwrap();
        sqlx::query("INSERT INTO a VALUES (4)")
            .execute(&mut *inner)
            .await
            .unwrap();
        inner.rollback().await.unwrap();
    }
    tx.commit().await.unwrap();
    let ids: Vec<i64> = sqlx::query("SELECT id FROM a ORDER BY id")
        .fetch_all(&p)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![1, 3]);
}

/// A writer that meets another connection's write lock waits for it without blocking
/// its thread: on a single-threaded runtime the lock holder still gets to commit.
#[tokio::test(flavor = "current_thread")]
async fn lock_waits_yield_the_thread() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(&dir, 2).await;
    p.execute("CREATE TABLE t (x INTEGER)").await.unwrap();
    let mut holder = p.acquire().await.unwrap();
    holder.execute("BEGIN IMMEDIATE").await.unwrap();
    holder.execute("INSERT INTO t VALUES (1)").await.unwrap();
    let waiter = {
        let p = p.clone();
        tokio::spawn(async move {
            sqlx::query("INSERT INTO t VALUES (2)")
                .execute(&p)
                .await
                .unwrap();
        })
    };
    // Let the waiter meet the lock, then commit on this same thread.
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(!waiter.is_finished());
    holder.execute("COMMIT").await.unwrap();
    tokio::time::timeout(BUSY_WAIT, waiter)
        .await
        .unwrap()
        .unwrap();
    let n: i64 = sqlx::query("SELECT count(*) FROM t")
        .fetch_one(&p)
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}

/// A database migrated by sqlx's own SQLite driver (every Hotline before this driver)
/// is recognised as migrated, and the other way round.
#[tokio::test]
async fn migrations_continue_across_drivers() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    let mut native = sqlx::SqliteConnection::connect(&url).await.unwrap();
    crate::store::sqlite_backend::MIGRATOR
        .run(&mut native)
        .await
        .unwrap();
    native.close().await.unwrap();
    let store = crate::store::Store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    let c = store.ensure_connection("x").await.unwrap();
    assert_eq!(store.ensure_connection("x").await.unwrap(), c);
    let mut native = sqlx::SqliteConnection::connect(&url).await.unwrap();
    crate::store::sqlite_backend::MIGRATOR
        .run(&mut native)
        .await
        .unwrap();
}

/// The log is checkpointed into the database file by the checkpointer thread while the
/// pool's connections stay open and writers keep committing, and it starts over instead of
/// growing: without the thread (or with a checkpoint that never opened the log) every page
/// stays in `-wal` for good.
#[tokio::test]
async fn the_log_is_checkpointed_off_the_committing_thread_and_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(&dir, 2).await;
    p.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)")
        .await
        .unwrap();
    let db = dir.path().join("t.db");
    let wal = dir.path().join("t.db-wal");
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    // 12,000 commits of a page-sized row each, back to back (no quiet moment for the log
    // to start over by itself): 48 MB through a log that may hold 8,000 pages (32 MB).
    let blob = vec![7u8; 3000];
    let mut largest_log = 0;
    for i in 0..12_000i64 {
        sqlx::query("INSERT INTO t (id, data) VALUES ($1, $2)")
            .bind(i)
            .bind(&blob)
            .execute(&p)
            .await
            .unwrap();
        if i % 500 == 0 {
            largest_log = largest_log.max(size(&wal));
        }
    }
    largest_log = largest_log.max(size(&wal));
    // The commits write ≈ 150 MB of log frames (each also rewrites b-tree pages); a log
    // that never started over holds them all. The thread forces a start-over past 32 MB;
    // on a loaded machine it may lag behind the writers, hence the margin.
    assert!(
        largest_log < 100_000_000,
        "the log grew to {largest_log} bytes: it never started over"
    );
    // The thread copies the log into the file (a condition with a deadline).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while size(&db) < 12_000 * 3000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file was not checkpointed: {} bytes, log {} bytes",
            size(&db),
            size(&wal)
        );
        // Commits go on meanwhile (a checkpoint is due every 1,000 pages committed).
        sqlx::query("UPDATE t SET data = data WHERE id < 300")
            .execute(&p)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
        .fetch_one(&p)
        .await
        .unwrap();
    assert_eq!(n, 12_000);
}
