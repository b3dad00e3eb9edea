//! Data at rest: the database holds message history, personal data and the webhook
//! signing secret, so its files are readable by the server's user only.
//!
//! Before SQLite opens the database: a missing data directory is created `0700`; a missing
//! database file is created `0600` (SQLite gives its `-wal`, `-shm` and `-journal` files the
//! database file's mode); existing files that others can read are tightened to `0600` with
//! a warning. An existing directory that others can enter is tightened to `0700` (with a
//! warning) only when it holds nothing but the database: a directory shared with other
//! files is not Hotline's to change, so it gets a warning saying what to run.

use std::path::{Path, PathBuf};

/// Files SQLite keeps next to the database.
const COMPANIONS: &[&str] = &["-wal", "-shm", "-journal"];

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every database file.
pub const FILE_MODE: u32 = 0o600;

/// Makes the data directory and the database files of `db` private (see the module doc).
#[cfg(unix)]
pub fn secure(db: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    let dir = match db.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&dir)?;
    } else {
        tighten_dir(&dir, db)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(db)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => tighten_file(db)?,
        Err(e) => return Err(e),
    }
    for suffix in COMPANIONS {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let companion = PathBuf::from(name);
        if companion.exists() {
            tighten_file(&companion)?;
        }
    }
    Ok(())
}

/// File modes are a Unix notion; elsewhere nothing is changed.
#[cfg(not(unix))]
pub fn secure(_db: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn mode_of(path: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(unix)]
fn tighten_file(path: &Path) -> std::io::Result<()> {
    let mode = mode_of(path)?;
    if mode & 0o077 != 0 {
        set_mode(path, FILE_MODE)?;
        tracing::warn!(
            path = %path.display(),
            was = format!("{mode:o}"),
            "the database file was readable by others; its mode is now 600"
        );
    }
    Ok(())
}

#[cfg(unix)]
fn tighten_dir(dir: &Path, db: &Path) -> std::io::Result<()> {
    let mode = mode_of(dir)?;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let db_name = db.file_name().unwrap_or_default().to_string_lossy();
    let only_database = std::fs::read_dir(dir)?.all(|entry| {
        entry.is_ok_and(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(db_name.as_ref())
        })
    });
    if only_database {
        set_mode(dir, DIR_MODE)?;
        tracing::warn!(
            dir = %dir.display(),
            was = format!("{mode:o}"),
            "the data directory was open to others; its mode is now 700"
        );
    } else {
        tracing::warn!(
            dir = %dir.display(),
            mode = format!("{mode:o}"),
            "the database's directory is open to others and holds other files, so Hotline \
             leaves it alone: keep the database in a directory of its own, or run chmod 700 on it"
        );
    }
    Ok(())
}
