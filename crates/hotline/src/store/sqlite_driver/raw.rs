//! Safe wrappers around the few SQLite C calls the driver needs (`libsqlite3-sys`, the
//! same bundled SQLite sqlx links). Every `unsafe` block of the driver is in this file.
//!
//! Threading: a [`Db`] and its [`Stmt`]s are used by one task at a time (the driver's
//! connection is borrowed mutably for every call), and SQLite is built thread-safe, so
//! moving them between threads is sound: hence the `Send` impls.

use std::borrow::Cow;
use std::ffi::{c_int, CStr, CString};
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;
use sqlx_core::any::{AnyTypeInfoKind, AnyValueKind};

/// A failed SQLite call: the extended result code and SQLite's message.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub code: c_int,
    pub message: String,
}

impl Failure {
    /// Whether another connection holds the lock (worth waiting for, see the driver).
    pub fn is_busy(&self) -> bool {
        self.code & 0xff == ffi::SQLITE_BUSY
    }
}

/// One open database connection.
pub(super) struct Db {
    raw: NonNull<ffi::sqlite3>,
    /// The WAL hook's closure ([`Db::on_commit`]); declared after `raw` and freed after
    /// the connection is closed (`Drop` closes first), so SQLite never calls a freed one.
    wal_hook: Option<Box<WalHook>>,
}

/// What [`Db::on_commit`] runs: given the frames now in the write-ahead log, whether the
/// committing connection should checkpoint the log itself, now.
pub(super) type WalHook = Box<dyn Fn(c_int) -> bool + Send + Sync>;

/// SQLite's WAL hook calls this with the closure registered by [`Db::on_commit`].
extern "C" fn wal_hook(
    data: *mut std::ffi::c_void,
    db: *mut ffi::sqlite3,
    schema: *const std::ffi::c_char,
    frames: c_int,
) -> c_int {
    // SAFETY: `data` is the `WalHook` boxed in the `Db`, alive until after its close.
    let hook = unsafe { &*(data as *const WalHook) };
    // A panic must not unwind into C: it counts as "checkpoint here".
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(frames))).unwrap_or(true) {
        // SAFETY: the connection and schema name SQLite passed to this hook; what its
        // default hook does (a checkpoint's failure leaves the log for the next one).
        unsafe { ffi::sqlite3_wal_checkpoint(db, schema) };
    }
    ffi::SQLITE_OK
}

// SAFETY: see the module comment (one user at a time, thread-safe SQLite build).
unsafe impl Send for Db {}

impl Db {
    /// Opens `path` with SQLite's `flags` (`SQLITE_OPEN_*`).
    pub fn open(path: &str, flags: c_int) -> Result<Db, Failure> {
        let c_path = CString::new(path).map_err(|_| Failure {
            code: ffi::SQLITE_MISUSE,
            message: "database path contains a NUL byte".into(),
        })?;
        let mut raw = ptr::null_mut();
        // SAFETY: valid C string and out pointer; the handle is closed on every path.
        let rc = unsafe { ffi::sqlite3_open_v2(c_path.as_ptr(), &mut raw, flags, ptr::null()) };
        let Some(raw) = NonNull::new(raw) else {
            return Err(Failure {
                code: rc,
                message: "out of memory opening the database".into(),
            });
        };
        let db = Db {
            raw,
            wal_hook: None,
        };
        if rc != ffi::SQLITE_OK {
            return Err(db.failure(rc));
        }
        // SAFETY: valid handle.
        unsafe { ffi::sqlite3_extended_result_codes(db.raw.as_ptr(), 1) };
        Ok(db)
    }

    /// The failure `rc` with this connection's current message.
    pub fn failure(&self, rc: c_int) -> Failure {
        // SAFETY: valid handle; the message is copied before any other call.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.raw.as_ptr())) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: valid handle.
        let code = unsafe { ffi::sqlite3_extended_errcode(self.raw.as_ptr()) };
        Failure {
            code: if code == ffi::SQLITE_OK { rc } else { code },
            message,
        }
    }

    /// Prepares the first statement of `sql`; returns it (None for only whitespace or a
    /// comment) and the byte offset where the rest of `sql` starts.
    pub fn prepare(&self, sql: &str, persistent: bool) -> Result<(Option<Stmt>, usize), Failure> {
        let mut raw = ptr::null_mut();
        let mut tail = ptr::null();
        let flags = if persistent {
            ffi::SQLITE_PREPARE_PERSISTENT
        } else {
            0
        };
        // SAFETY: `sql` outlives the call and its length is passed; `tail` points into it.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.raw.as_ptr(),
                sql.as_ptr().cast(),
                sql.len() as c_int,
                flags,
                &mut raw,
                &mut tail,
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.failure(rc));
        }
        let used = if tail.is_null() {
            sql.len()
        } else {
            (tail as usize - sql.as_ptr() as usize).min(sql.len())
        };
        Ok((NonNull::new(raw).map(|raw| Stmt { raw }), used))
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    pub fn changes(&self) -> u64 {
        // SAFETY: valid handle.
        unsafe { ffi::sqlite3_changes64(self.raw.as_ptr()) as u64 }
    }

    /// Runs `hook` after every commit of this connection that wrote to the write-ahead
    /// log, with the frames the log now holds. This replaces SQLite's automatic
    /// checkpoint on this connection (`sqlite3_wal_hook` and `wal_autocheckpoint` share
    /// the one slot): the caller checkpoints instead (see `checkpoint`).
    pub fn on_commit(&mut self, hook: WalHook) {
        let hook = Box::new(hook);
        let data = &*hook as *const WalHook as *mut std::ffi::c_void;
        // SAFETY: valid handle; `data` stays valid until the connection is closed (it is
        // kept in `self.wal_hook`, dropped only after `sqlite3_close`).
        unsafe { ffi::sqlite3_wal_hook(self.raw.as_ptr(), Some(wal_hook), data) };
        self.wal_hook = Some(hook);
    }

    /// Copies the write-ahead log into the database file, syncing both; returns the
    /// frames in the log and how many of them are now in the file. Passive (`restart`
    /// false): what it can, waiting for no reader or writer. Restart: keeps writers out,
    /// copies everything and waits until no reader uses the log, so the next writer starts
    /// it over — waiting up to the connection's busy timeout, else `SQLITE_BUSY`.
    pub fn checkpoint(&self, restart: bool) -> Result<(c_int, c_int), Failure> {
        let mode = if restart {
            ffi::SQLITE_CHECKPOINT_RESTART
        } else {
            ffi::SQLITE_CHECKPOINT_PASSIVE
        };
        let (mut log, mut copied) = (0, 0);
        // SAFETY: valid handle; a null schema means every attached database; the counts
        // are written to locals.
        let rc = unsafe {
            ffi::sqlite3_wal_checkpoint_v2(
                self.raw.as_ptr(),
                ptr::null(),
                mode,
                &mut log,
                &mut copied,
            )
        };
        if rc == ffi::SQLITE_OK {
            Ok((log, copied))
        } else {
            Err(self.failure(rc))
        }
    }

    /// Sets how long a call waits for another connection's lock before `SQLITE_BUSY`
    /// (blocking the calling thread: only for connections of a thread of their own).
    pub fn busy_timeout(&self, wait: std::time::Duration) {
        let ms = wait.as_millis().min(c_int::MAX as u128) as c_int;
        // SAFETY: valid handle.
        unsafe { ffi::sqlite3_busy_timeout(self.raw.as_ptr(), ms) };
    }

    /// Whether the connection is outside any transaction.
    pub fn autocommit(&self) -> bool {
        // SAFETY: valid handle.
        unsafe { ffi::sqlite3_get_autocommit(self.raw.as_ptr()) != 0 }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // SAFETY: valid handle; its statements were finalized first (the cache is dropped before it, a cursor borrows the connection).
        unsafe { ffi::sqlite3_close(self.raw.as_ptr()) };
    }
}

/// A prepared statement of a [`Db`]. Dropped (finalized) before its connection, since
/// the connection struct declares its statement cache before the [`Db`].
pub(super) struct Stmt {
    raw: NonNull<ffi::sqlite3_stmt>,
}

// SAFETY: as for `Db`.
unsafe impl Send for Stmt {}

/// What one [`Stmt::step`] produced.
pub(super) enum Stepped {
    Row,
    Done,
}

impl Stmt {
    /// Binds `values` to the statement's parameters as sqlx's SQLite driver does: `$N` and
    /// `?N` name the N-th value, a bare `?` takes the next one.
    pub fn bind(&mut self, db: &Db, values: &[AnyValueKind<'_>]) -> Result<(), Failure> {
        // SAFETY: valid statement.
        let count = unsafe { ffi::sqlite3_bind_parameter_count(self.raw.as_ptr()) };
        let mut next = 0usize;
        for i in 1..=count {
            // SAFETY: valid statement, index in range; the name lives with the statement.
            let name = unsafe { ffi::sqlite3_bind_parameter_name(self.raw.as_ptr(), i) };
            let n = if name.is_null() {
                next += 1;
                next
            } else {
                // SAFETY: a NUL-terminated string owned by the statement.
                let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
                match name
                    .strip_prefix(['$', '?'])
                    .and_then(|d| d.parse::<usize>().ok())
                {
                    Some(n) => n,
                    None => {
                        return Err(Failure {
                            code: ffi::SQLITE_MISUSE,
                            message: format!("unsupported SQL parameter: {name}"),
                        })
                    }
                }
            };
            let Some(value) = n.checked_sub(1).and_then(|k| values.get(k)) else {
                continue;
            };
            let p = self.raw.as_ptr();
            // SAFETY: valid statement and index; text and blobs are copied (TRANSIENT).
            let rc = unsafe {
                match value {
                    AnyValueKind::Null(_) => ffi::sqlite3_bind_null(p, i),
                    AnyValueKind::Bool(b) => ffi::sqlite3_bind_int64(p, i, *b as i64),
                    AnyValueKind::SmallInt(v) => ffi::sqlite3_bind_int64(p, i, *v as i64),
                    AnyValueKind::Integer(v) => ffi::sqlite3_bind_int64(p, i, *v as i64),
                    AnyValueKind::BigInt(v) => ffi::sqlite3_bind_int64(p, i, *v),
                    AnyValueKind::Real(v) => ffi::sqlite3_bind_double(p, i, *v as f64),
                    AnyValueKind::Double(v) => ffi::sqlite3_bind_double(p, i, *v),
                    AnyValueKind::Text(t) => ffi::sqlite3_bind_text64(
                        p,
                        i,
                        t.as_ptr().cast(),
                        t.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    AnyValueKind::Blob(b) => ffi::sqlite3_bind_blob64(
                        p,
                        i,
                        b.as_ptr().cast(),
                        b.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                    ),
                    other => {
                        return Err(Failure {
                            code: ffi::SQLITE_MISUSE,
                            message: format!("unsupported argument {other:?}"),
                        })
                    }
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(db.failure(rc));
            }
        }
        Ok(())
    }

    /// Runs the statement to its next row or to its end.
    pub fn step(&mut self, db: &Db) -> Result<Stepped, Failure> {
        // SAFETY: valid statement.
        match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(Stepped::Row),
            ffi::SQLITE_DONE => Ok(Stepped::Done),
            rc => Err(db.failure(rc)),
        }
    }

    /// Makes the statement ready to run again (its bindings stay).
    pub fn reset(&mut self) {
        // SAFETY: valid statement; the error it may repeat was already reported by step.
        unsafe { ffi::sqlite3_reset(self.raw.as_ptr()) };
    }

    /// Resets and forgets the bindings (before the statement goes back to the cache).
    pub fn clear(&mut self) {
        self.reset();
        // SAFETY: valid statement.
        unsafe { ffi::sqlite3_clear_bindings(self.raw.as_ptr()) };
    }

    /// Whether the statement cannot change the database (its "changes" are not its own).
    pub fn readonly(&self) -> bool {
        // SAFETY: valid statement.
        unsafe { ffi::sqlite3_stmt_readonly(self.raw.as_ptr()) != 0 }
    }

    /// Number of result columns.
    pub fn column_count(&self) -> usize {
        // SAFETY: valid statement.
        unsafe { ffi::sqlite3_column_count(self.raw.as_ptr()) as usize }
    }

    /// The name of result column `i`.
    pub fn column_name(&self, i: usize) -> String {
        // SAFETY: valid statement and index; the name is copied at once.
        let name = unsafe { ffi::sqlite3_column_name(self.raw.as_ptr(), i as c_int) };
        if name.is_null() {
            return String::new();
        }
        // SAFETY: a NUL-terminated string owned by the statement.
        unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned()
    }

    /// The value of column `i` of the current row, owned.
    pub fn value(&self, i: usize) -> AnyValueKind<'static> {
        let p = self.raw.as_ptr();
        let i = i as c_int;
        // SAFETY: valid statement positioned on a row, index in range; text and blob
        // pointers are read with their byte counts before any other call on the statement.
        unsafe {
            match ffi::sqlite3_column_type(p, i) {
                ffi::SQLITE_INTEGER => AnyValueKind::BigInt(ffi::sqlite3_column_int64(p, i)),
                ffi::SQLITE_FLOAT => AnyValueKind::Double(ffi::sqlite3_column_double(p, i)),
                ffi::SQLITE_TEXT => {
                    let text = ffi::sqlite3_column_text(p, i);
                    let len = ffi::sqlite3_column_bytes(p, i) as usize;
                    let bytes = if text.is_null() {
                        &[][..]
                    } else {
                        std::slice::from_raw_parts(text, len)
                    };
                    AnyValueKind::Text(Cow::Owned(String::from_utf8_lossy(bytes).into_owned()))
                }
                ffi::SQLITE_BLOB => {
                    let blob = ffi::sqlite3_column_blob(p, i);
                    let len = ffi::sqlite3_column_bytes(p, i) as usize;
                    let bytes = if blob.is_null() {
                        Vec::new()
                    } else {
                        std::slice::from_raw_parts(blob.cast::<u8>(), len).to_vec()
                    };
                    AnyValueKind::Blob(Cow::Owned(bytes))
                }
                _ => AnyValueKind::Null(AnyTypeInfoKind::Null),
            }
        }
    }
}

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: valid statement, finalized once.
        unsafe { ffi::sqlite3_finalize(self.raw.as_ptr()) };
    }
}
