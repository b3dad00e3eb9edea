//! `hotline backup` and `hotline restore` for the SQLite store.
//!
//! A backup is `VACUUM INTO` a new file: one read transaction, so the copy is a consistent
//! snapshot even while Hotline keeps writing (WAL readers do not block writers). It is
//! written next to its destination under a temporary name with mode 0600, checked
//! (`integrity_check`), synced and only then renamed into place, so a crash never leaves a
//! half backup under the final name.
//!
//! A restore refuses while any process has the database open (a running Hotline keeps its
//! connections, and SQLite then refuses the exclusive lock we ask for), moves the current
//! database (with its `-wal`/`-shm` files) aside instead of deleting it, and puts a copy of the
//! backup in place the same temp-file-then-rename way.
//!
//! PostgreSQL has its own tools: `pg_dump`/`pg_restore` (see `docs/deployment.md`).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteLockingMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};

/// Why a backup or restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The configured database is PostgreSQL: Hotline does not copy it itself.
    #[error(
        "the database is PostgreSQL: back it up with pg_dump and restore with pg_restore \
         (see docs/deployment.md, \"Backups\"), e.g. pg_dump --format=custom --file=hotline.dump \"$DATABASE_URL\""
    )]
    Postgres,
    /// An in-memory database has nothing on disk to copy.
    #[error("the database is in memory; there is nothing to back up or restore")]
    Memory,
    /// A URL that is neither SQLite nor PostgreSQL.
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    Unsupported,
    /// The database file named by the configuration does not exist.
    #[error("no database at {0}")]
    NoDatabase(PathBuf),
    /// Backups never overwrite a file.
    #[error("{0} already exists; choose a new file name (backups never overwrite)")]
    Exists(PathBuf),
    /// Restore needs the database to be unused.
    #[error(
        "{0} is in use (a running Hotline or another program has it open); stop Hotline first"
    )]
    InUse(PathBuf),
    /// The file to restore from is not a Hotline database, or the copy failed its check.
    #[error("{path} is not a usable Hotline database: {reason}")]
    NotHotline {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("database: {0}")]
    Sqlite(#[from] sqlx::Error),
}

/// What a backup wrote.
#[derive(Debug)]
pub struct BackupSummary {
    /// Tables copied.
    pub tables: usize,
    /// Rows in those tables.
    pub rows: i64,
    /// Size of the backup file.
    pub bytes: u64,
}

/// What a restore did.
#[derive(Debug)]
pub struct RestoreSummary {
    /// Where the database that was replaced now is (`None`: there was none).
    pub previous: Option<PathBuf>,
}

/// The SQLite file behind a database URL.
pub fn sqlite_path(url: &str) -> Result<PathBuf, BackupError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(BackupError::Postgres);
    }
    if !url.starts_with("sqlite:") {
        return Err(BackupError::Unsupported);
    }
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(BackupError::Memory);
    }
    let opts = SqliteConnectOptions::from_str(url)?;
    Ok(opts.get_filename().to_path_buf())
}

/// Copies the database of `url` into the new file `to` (mode 0600) while Hotline may run.
pub async fn backup(url: &str, to: &Path) -> Result<BackupSummary, BackupError> {
    let source = sqlite_path(url)?;
    if !source.exists() {
        return Err(BackupError::NoDatabase(source));
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_path_buf()));
    }
    let partial = sibling(to, "partial");
    create_private(&partial)?;
    let result = async {
        let mut conn = SqliteConnectOptions::new()
            .filename(&source)
            .busy_timeout(Duration::from_secs(30))
            .connect()
            .await?;
        sqlx::query("VACUUM INTO ?")
            .bind(partial.to_string_lossy().as_ref())
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        // The copy is a plain rollback-journal file: one self-contained file to store.
        let mut copy = open_file(&partial).await?;
        sqlx::query("PRAGMA journal_mode = DELETE")
            .execute(&mut copy)
            .await?;
        let (tables, rows) = check(&mut copy, &partial).await?;
        copy.close().await?;
        Ok::<_, BackupError>((tables, rows))
    }
    .await;
    let (tables, rows) = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    publish(&partial, to)?;
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(BackupSummary {
        tables,
        rows,
        bytes,
    })
}

/// Replaces the database of `url` with a copy of the backup `from`. Refuses while the
/// database is open anywhere; the replaced database is kept next to it.
pub async fn restore(url: &str, from: &Path) -> Result<RestoreSummary, BackupError> {
    let target = sqlite_path(url)?;
    if !from.is_file() {
        return Err(BackupError::NoDatabase(from.to_path_buf()));
    }
    {
        let mut conn = SqliteConnectOptions::new()
            .filename(from)
            .read_only(true)
            .connect()
            .await
            .map_err(|e| not_hotline(from, e.to_string()))?;
        check(&mut conn, from).await?;
        conn.close().await?;
    }
    let existed = target.exists();
    if existed {
        quiesce(&target).await?;
    }
    // The database with its WAL and shared-memory files goes aside as a whole; an orphan WAL
    // left without its database goes too, or SQLite would replay it into the restored file.
    let files: Vec<&str> = ["", "-wal", "-shm"]
        .into_iter()
        .filter(|s| with_suffix(&target, s).exists())
        .collect();
    let previous = if files.is_empty() {
        None
    } else {
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_default();
        let mut aside = sibling_named(&target, &format!("before-restore-{stamp}"));
        let mut n = 1;
        while ["", "-wal", "-shm"]
            .iter()
            .any(|s| with_suffix(&aside, s).exists())
        {
            n += 1;
            aside = sibling_named(&target, &format!("before-restore-{stamp}-{n}"));
        }
        for suffix in files {
            let to = with_suffix(&aside, suffix);
            std::fs::rename(with_suffix(&target, suffix), &to)
                .map_err(|source| BackupError::Io { path: to, source })?;
        }
        existed.then_some(aside)
    };
    let partial = sibling(&target, "restoring");
    create_private(&partial)?;
    let copied = std::fs::File::open(from)
        .and_then(|mut src| {
            let mut dst = std::fs::OpenOptions::new().write(true).open(&partial)?;
            std::io::copy(&mut src, &mut dst)?;
            dst.sync_all()
        })
        .map_err(|source| BackupError::Io {
            path: partial.clone(),
            source,
        });
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    publish(&partial, &target)?;
    Ok(RestoreSummary { previous })
}

/// Fails with [`BackupError::InUse`] when another connection has `db` open; otherwise folds
/// the WAL into the file so that the file alone holds everything before it is moved.
async fn quiesce(db: &Path) -> Result<(), BackupError> {
    let busy = |e: &sqlx::Error| match e {
        sqlx::Error::Database(d) => d
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| c & 0xff == 5 || c & 0xff == 6),
        _ => false,
    };
    let in_use = || BackupError::InUse(db.to_path_buf());
    // Exclusive locking mode holds the file lock until close, and a WAL database only grants
    // it when no other connection is open (each one keeps a shared lock while open).
    let mut conn = SqliteConnectOptions::new()
        .filename(db)
        .locking_mode(SqliteLockingMode::Exclusive)
        .busy_timeout(Duration::ZERO)
        .connect()
        .await
        .map_err(|e| if busy(&e) { in_use() } else { e.into() })?;
    let locked = async {
        sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await?;
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .execute(&mut conn)
            .await?;
        sqlx::query("COMMIT").execute(&mut conn).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
    }
    .await;
    let _ = conn.close().await;
    match locked {
        Ok(_) => Ok(()),
        Err(e) if busy(&e) => Err(in_use()),
        Err(e) => Err(e.into()),
    }
}

/// Checks a copy: SQLite's integrity check passes and Hotline's migrations table is there.
/// Returns the number of tables and rows.
async fn check(conn: &mut SqliteConnection, path: &Path) -> Result<(usize, i64), BackupError> {
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| not_hotline(path, e.to_string()))?;
    if verdict != "ok" {
        return Err(not_hotline(path, format!("integrity check: {verdict}")));
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    if !tables.iter().any(|t| t == "_sqlx_migrations") {
        return Err(not_hotline(path, "no _sqlx_migrations table".into()));
    }
    let mut rows = 0;
    for t in &tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM \"{t}\""))
            .fetch_one(&mut *conn)
            .await?;
        rows += n;
    }
    Ok((tables.len(), rows))
}

fn not_hotline(path: &Path, reason: String) -> BackupError {
    BackupError::NotHotline {
        path: path.to_path_buf(),
        reason,
    }
}

async fn open_file(path: &Path) -> Result<SqliteConnection, BackupError> {
    Ok(SqliteConnectOptions::new().filename(path).connect().await?)
}

/// `dir/.name.<what>-<pid>`: a temporary name next to `path` (same file system, so the
/// final rename is atomic).
fn sibling(path: &Path, what: &str) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

/// `dir/name.<what>` next to `path`.
fn sibling_named(path: &Path, what: &str) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!("{name}.{what}"))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Creates an empty file readable by its owner only (a backup holds every conversation).
fn create_private(path: &Path) -> Result<(), BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|source| BackupError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Syncs `partial`, renames it to `to` and syncs the directory, so the name appears only
/// with the whole content behind it.
fn publish(partial: &Path, to: &Path) -> Result<(), BackupError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BackupError::Io { path, source }
    };
    std::fs::File::open(partial)
        .and_then(|f| f.sync_all())
        .map_err(io(partial))?;
    if let Err(source) = std::fs::rename(partial, to) {
        let _ = std::fs::remove_file(partial);
        return Err(BackupError::Io {
            path: to.to_path_buf(),
            source,
        });
    }
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(matches!(
            sqlite_path("postgres://u:p@h/db"),
            Err(BackupError::Postgres)
        ));
        assert!(matches!(
            sqlite_path("postgresql://h/db"),
            Err(BackupError::Postgres)
        ));
        assert!(matches!(
            sqlite_path("sqlite::memory:"),
            Err(BackupError::Memory)
        ));
        assert!(matches!(
            sqlite_path("mysql://h/db"),
            Err(BackupError::Unsupported)
        ));
        assert_eq!(
            sqlite_path("sqlite:///var/lib/hotline/h.db").unwrap(),
            PathBuf::from("/var/lib/hotline/h.db")
        );
        assert_eq!(
            sqlite_path("sqlite://hotline.db?mode=rwc").unwrap(),
            PathBuf::from("hotline.db")
        );
        let msg = BackupError::Postgres.to_string();
        assert!(
            msg.contains("pg_dump") && msg.contains("pg_restore"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn backup_then_restore_over_an_existing_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("h.db");
        let url = format!("sqlite://{}", db.display());
        let store = crate::store::Store::open(&format!("{url}?mode=rwc"))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store.ensure_connection("support").await.unwrap();
        let to = dir.path().join("b.db");
        let s = backup(&url, &to).await.unwrap();
        assert!(s.tables > 5 && s.rows > 0, "{s:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&to).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            backup(&url, &to).await,
            Err(BackupError::Exists(_))
        ));
        // The store is open: restoring over it is refused and changes nothing.
        assert!(matches!(
            restore(&url, &to).await,
            Err(BackupError::InUse(_))
        ));
        store.ensure_connection("sales").await.unwrap();
        store.close().await;
        // The pool's SQLite handles close on their worker threads, shortly after `close`.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let r = loop {
            match restore(&url, &to).await {
                Err(BackupError::InUse(_)) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                other => break other.unwrap(),
            }
        };
        let aside = r.previous.expect("the replaced database is kept");
        assert!(aside.exists());
        let count = |p: PathBuf| async move {
            let mut c = open_file(&p).await.unwrap();
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM connections")
                .fetch_one(&mut c)
                .await
                .unwrap();
            n
        };
        assert_eq!(count(db.clone()).await, 1, "the backup's content");
        assert_eq!(count(aside).await, 2, "the replaced database, intact");
        // An orphan WAL next to a missing database is moved away, not replayed into the copy.
        let other = dir.path().join("other.db");
        std::fs::write(with_suffix(&other, "-wal"), "stale").unwrap();
        let other_url = format!("sqlite://{}", other.display());
        let r = restore(&other_url, &to).await.unwrap();
        assert!(r.previous.is_none());
        assert!(!with_suffix(&other, "-wal").exists());
        assert_eq!(count(other.clone()).await, 1);
        // Not a database at all.
        let junk = dir.path().join("junk");
        std::fs::write(&junk, "hello").unwrap();
        assert!(matches!(
            restore(&url, &junk).await,
            Err(BackupError::NotHotline { .. })
        ));
    }
}
