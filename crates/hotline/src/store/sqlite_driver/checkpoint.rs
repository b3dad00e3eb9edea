//! WAL checkpoints on a thread of their own, off the writers' path.
//!
//! By default the connection whose commit grows the WAL past 1,000 pages copies them back
//! into the database file and syncs it, inside that commit: with statements stepped on the
//! runtime (see the driver), that stalled the writer, and every task waiting for its
//! turn, for the copy and two fsyncs. The store's connections turn automatic checkpoints
//! off (`PRAGMA wal_autocheckpoint = 0`) and this thread checkpoints instead: PASSIVE (it
//! never waits for readers or writers) whenever the WAL holds frames, and TRUNCATE when the
//! WAL has grown past [`TRUNCATE_FRAMES`] despite that (a reader kept it from restarting).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use libsqlite3_sys as ffi;

use super::raw::{Db, Failure, Stepped};

/// How often the thread looks at the WAL.
const EVERY: Duration = Duration::from_millis(100);
/// WAL frames (pages) past which the thread waits for readers to truncate it (64 MiB of
/// 4 KiB pages).
const TRUNCATE_FRAMES: i64 = 16_384;

/// The checkpoint thread of one database; stops when dropped.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer").finish()
    }
}

impl Checkpointer {
    /// Starts checkpointing the database file at `path` (already created and in WAL mode).
    pub fn start(path: &str) -> std::io::Result<Checkpointer> {
        let db = Db::open(
            path,
            ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX,
        )
        .map_err(|f| std::io::Error::other(f.message))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(db, &flag))?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn run(db: Db, stop: &AtomicBool) {
    // TRUNCATE waits for readers through the busy handler, on this thread only.
    let _ = pragma(&db, "PRAGMA busy_timeout = 1000");
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(EVERY);
        match pragma(&db, "PRAGMA wal_checkpoint(PASSIVE)") {
            Ok(Some((_, frames, _))) if frames >= TRUNCATE_FRAMES => {
                if let Err(f) = pragma(&db, "PRAGMA wal_checkpoint(TRUNCATE)") {
                    tracing::debug!(error = %f.message, "WAL truncation waits for readers");
                }
            }
            Ok(_) => {}
            Err(f) => tracing::warn!(error = %f.message, "WAL checkpoint failed"),
        }
    }
    // A last one, so a stopped server leaves little WAL behind.
    let _ = pragma(&db, "PRAGMA wal_checkpoint(PASSIVE)");
}

/// Runs a checkpoint pragma; its row (busy, WAL frames, frames checkpointed).
fn pragma(db: &Db, sql: &str) -> Result<Option<(i64, i64, i64)>, Failure> {
    let (stmt, _) = db.prepare(sql, false)?;
    let Some(mut stmt) = stmt else {
        return Ok(None);
    };
    let mut out = None;
    while let Stepped::Row = stmt.step(db)? {
        if stmt.column_count() >= 3 {
            let n = |i| match stmt.value(i) {
                sqlx_core::any::AnyValueKind::BigInt(v) => v,
                _ => 0,
            };
            out = Some((n(0), n(1), n(2)));
        }
    }
    Ok(out)
}
