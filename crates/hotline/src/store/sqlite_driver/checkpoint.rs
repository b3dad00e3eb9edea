//! Write-ahead log checkpoints on a thread of their own, one per database file, and the
//! process's turn to write that they share with the store.
//!
//! SQLite checkpoints automatically in the connection whose commit pushed the log past
//! 1,000 pages: that commit copies the log into the database file and syncs both — the
//! only `fsync`s Hotline's settings make (WAL, `synchronous = NORMAL`). In this driver a
//! commit runs on a runtime thread (see the module above) inside the store's turn to
//! write, so every such checkpoint held a runtime thread and every writer for the length
//! of the copy and two syncs (15–30 ms on the development machine's disk): the relay's
//! p99 at 10 % load was 25–32 ms on disk against 6 ms on tmpfs (bench/README.md).
//!
//! Here each read-write connection replaces the automatic checkpoint with a hook that
//! wakes this file's thread for every 1,000 pages committed, and the thread copies and
//! syncs the log with passive checkpoints while writers go on. The log starts over from
//! its beginning only when a transaction begins with all of it copied; under a steady
//! stream of commits that moment may not come, so past [`FORCE`] pages the thread copies
//! the last few pages in the process's turn to write ([`turn`], the one `Store::begin`
//! takes) with a restart checkpoint (which also keeps out writes made outside the turn and
//! waits for readers of older snapshots) — a pause of two small syncs for the writers, once
//! per 8,000 pages rather than a large one per 1,000. Without that the log grew without bound (343 MB in one relay
//! benchmark) and every page lookup in it slowed down.

use std::collections::HashMap;
use std::ffi::c_int;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use libsqlite3_sys as ffi;

use super::raw::{Db, Failure};

/// Log pages committed per checkpoint (SQLite's own `wal_autocheckpoint` default).
const PAGES: c_int = 1000;

/// Log pages past which the log is made to start over (see the module): ≈ 32 MB.
const FORCE: c_int = 8 * PAGES;

/// The pause after a checkpoint failed (other than on a lock).
const FAILED_PAUSE: Duration = Duration::from_millis(100);

/// The process's turn to write to one database file (see `Store::begin`).
pub(crate) type Turn = Arc<tokio::sync::Mutex<()>>;

/// Turns and checkpointers by database path.
#[derive(Default)]
struct Registry {
    turns: HashMap<String, Weak<tokio::sync::Mutex<()>>>,
    checkpointers: HashMap<String, Weak<Checkpointer>>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// The turn to write to the file at `path`, shared by every store of this process on it
/// and by its checkpointer.
pub(crate) fn turn(path: &str) -> Turn {
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    turn_in(registry.get_or_insert_with(Registry::default), path)
}

fn turn_in(registry: &mut Registry, path: &str) -> Turn {
    if let Some(t) = registry.turns.get(path).and_then(Weak::upgrade) {
        return t;
    }
    registry.turns.retain(|_, t| t.strong_count() > 0);
    let t = Turn::default();
    registry.turns.insert(path.to_string(), Arc::downgrade(&t));
    t
}

/// The checkpointer of one database file. Shared by its read-write connections; the
/// thread ends when the last of them is gone.
pub(super) struct Checkpointer {
    wake: SyncSender<()>,
    marks: Arc<Marks>,
}

/// What the commit hook and the thread share.
struct Marks {
    /// Frames in the log after the latest commit.
    frames: AtomicI32,
    /// Frames at which the next checkpoint is due.
    due: AtomicI32,
}

impl Checkpointer {
    /// The checkpointer of the database at `path`, started if none runs.
    pub(super) fn of(path: &str) -> std::io::Result<Arc<Checkpointer>> {
        let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        let registry = registry.get_or_insert_with(Registry::default);
        if let Some(c) = registry.checkpointers.get(path).and_then(Weak::upgrade) {
            return Ok(c);
        }
        registry.checkpointers.retain(|_, c| c.strong_count() > 0);
        let turn = turn_in(registry, path);
        // One signal pending is enough: a checkpoint copies the whole log.
        let (wake, woken) = sync_channel(1);
        let file = path.to_string();
        let marks = Arc::new(Marks {
            frames: AtomicI32::new(0),
            due: AtomicI32::new(PAGES),
        });
        let seen = marks.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&file, &turn, &seen, woken))?;
        let c = Arc::new(Checkpointer { wake, marks });
        registry
            .checkpointers
            .insert(path.to_string(), Arc::downgrade(&c));
        Ok(c)
    }

    /// Hooks `db`'s commits to this checkpointer (replacing SQLite's automatic one).
    pub(super) fn watch(self: Arc<Self>, db: &mut Db) {
        db.on_commit(Box::new(move |frames| {
            let m = &self.marks;
            if frames < m.frames.swap(frames, Ordering::Relaxed) {
                // The log started over.
                m.due.store(PAGES, Ordering::Relaxed);
            }
            // Should the thread be gone (it panicked), the committing connection
            // checkpoints itself, as SQLite would have.
            frames >= m.due.load(Ordering::Relaxed)
                && matches!(self.wake.try_send(()), Err(TrySendError::Disconnected(())))
        }));
    }
}

/// The checkpointer thread: a checkpoint per wake-up (see the module), until every
/// connection of the file is closed. It opens the file for each one (tens of
/// microseconds, once per 1,000 pages written) rather than holding a connection, so it
/// never keeps a replaced file (a restore) or an idle database open.
fn run(path: &str, turn: &Turn, marks: &Marks, woken: Receiver<()>) {
    while woken.recv().is_ok() {
        if marks.frames.load(Ordering::Relaxed) < marks.due.load(Ordering::Relaxed) {
            // Queued while the last checkpoint ran, or before the log started over.
            continue;
        }
        match checkpoint(path, turn) {
            Ok(Some(log)) => marks
                .due
                .store(log.saturating_add(PAGES), Ordering::Relaxed),
            Ok(None) => {
                // A wake-up queued meanwhile finds nothing due until the new log grows.
                marks.frames.store(0, Ordering::Relaxed);
                marks.due.store(PAGES, Ordering::Relaxed);
            }
            // Another checkpoint runs (a closing connection's): the next commit past the
            // threshold wakes this thread again.
            Err(e) if e.is_busy() => {}
            Err(e) => {
                tracing::warn!(code = e.code, error = %e.message, "checkpointing the SQLite log failed; retried at the next wake-up");
                std::thread::sleep(FAILED_PAUSE);
            }
        }
    }
}

/// Passive checkpoints outside the turn before the one in it, at most: each copies what
/// was committed during the one before, so what is left for the turn shrinks each time.
const ROUNDS: usize = 4;

/// Pages committed during a round below which no further round is worth its syncs.
const FEW: c_int = 32;

/// How long the step in the turn waits for readers of older snapshots (every writer of the
/// process waits meanwhile).
const RESTART_WAIT: Duration = Duration::from_millis(50);

/// One checkpoint of the file at `path` (see the module). Returns the log's frames when
/// it goes on growing, or None when it will start over (all of it copied in the turn,
/// or started over already).
fn checkpoint(path: &str, turn: &Turn) -> Result<Option<c_int>, Failure> {
    let db = Db::open(path, ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX)?;
    // A connection that has not read the file yet does not know it is in WAL mode, and
    // its checkpoint does nothing at all: read the header first.
    if let (Some(mut header), _) = db.prepare("PRAGMA schema_version", false)? {
        header.step(&db)?;
    }
    let (mut last, _) = db.checkpoint(false)?;
    if last < FORCE {
        return Ok(Some(last));
    }
    // Past FORCE: shrink what the turn will wait for.
    for _ in 1..ROUNDS {
        let (log, _) = db.checkpoint(false)?;
        if log < last {
            return Ok(None);
        }
        let grew = log - last;
        last = log;
        if grew < FEW {
            break;
        }
    }
    let started = std::time::Instant::now();
    let _turn = turn.blocking_lock();
    let waited = started.elapsed();
    // Restart mode: writers that do not take the turn (single auto-commit writes) are kept
    // out too, and the log is sure to start over; a reader on an older snapshot gets
    // RESTART_WAIT to finish, else the log goes on and this is tried again later.
    db.busy_timeout(RESTART_WAIT);
    let done = db.checkpoint(true);
    tracing::debug!(
        target: "hotline::sqlite_checkpoint",
        last,
        done = done.is_ok(),
        turn_wait_us = waited.as_micros() as u64,
        in_turn_us = (started.elapsed() - waited).as_micros() as u64,
        "the log is made to start over"
    );
    match done {
        Ok(_) => Ok(None),
        Err(e) if e.is_busy() => Ok(Some(last)),
        Err(e) => Err(e),
    }
}
