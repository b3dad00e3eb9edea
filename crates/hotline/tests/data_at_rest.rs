//! Data at rest is private to the server's user: the data directory is 0700, the SQLite
//! database and its -wal/-shm files 0600, whether Hotline creates them or finds them open.
//!
//! SQLite only, whatever `HOTLINE_TEST_DATABASE` says: on PostgreSQL Hotline keeps no files;
//! the data lives in the server's data directory, whose permissions the server sets and
//! enforces (it refuses to start on a group- or world-readable one).
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use hotline::store::Store;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn set_mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// Opens, migrates and writes (so the WAL and shared-memory files exist).
async fn open_and_write(db: &Path) -> Store {
    let store = Store::open(&format!("sqlite://{}", db.display()))
        .await
        .expect("store opens");
    store.migrate().await.unwrap();
    let c = store.ensure_connection("support").await.unwrap();
    store.kv_set(c, "k", "v").await.unwrap();
    store
}

fn companion(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    s.into()
}

#[tokio::test]
async fn new_directory_and_files_are_private() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let db = dir.join("hotline.db");
    let store = open_and_write(&db).await;
    assert_eq!(mode(&dir), 0o700, "data directory");
    assert_eq!(mode(&db), 0o600, "database");
    for suffix in ["-wal", "-shm"] {
        let f = companion(&db, suffix);
        assert!(f.exists(), "{} exists while open", f.display());
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    store.close().await;
}

#[tokio::test]
async fn existing_open_files_are_tightened() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let db = dir.join("hotline.db");
    open_and_write(&db).await.close().await;
    // As an older Hotline (or a careless copy) left them.
    set_mode(&dir, 0o755);
    set_mode(&db, 0o644);
    let wal = companion(&db, "-wal");
    std::fs::write(&wal, b"").unwrap();
    set_mode(&wal, 0o666);
    let store = open_and_write(&db).await;
    assert_eq!(mode(&dir), 0o700, "a directory holding only the database");
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&wal), 0o600);
    store.close().await;
}

#[tokio::test]
async fn a_shared_directory_is_left_alone_but_the_files_are_private() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("srv");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("hotline.toml"), b"").unwrap();
    set_mode(&dir, 0o755);
    let db = dir.join("hotline.db");
    let store = open_and_write(&db).await;
    assert_eq!(mode(&dir), 0o755, "not Hotline's alone: only a warning");
    assert_eq!(mode(&db), 0o600);
    store.close().await;
}
