//! Throw-away databases for tests and benchmarks, on the backend chosen by the
//! `HOTLINE_TEST_DATABASE` environment variable (`sqlite`, the default, or `postgres`), so
//! one test suite runs against both engines.
//!
//! On PostgreSQL each [`TestDatabase`] is a fresh database with a random name on the server
//! at `HOTLINE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped when the guard is dropped. An unreachable server is an error, never a skip.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{Connection, Executor, PgConnection};

use super::Backend;

/// The server used when `HOTLINE_TEST_POSTGRES_URL` is not set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The backend tests run on, from `HOTLINE_TEST_DATABASE` (`postgres`/`postgresql` or
/// anything else = SQLite).
pub fn test_backend() -> Backend {
    match std::env::var("HOTLINE_TEST_DATABASE").as_deref() {
        Ok("postgres") | Ok("postgresql") | Ok("pg") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// A database that lives as long as this guard: a file in a temporary directory
/// (SQLite) or a database of its own on the server (PostgreSQL).
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// Creates an empty database on the backend of [`test_backend`]; `file` names the SQLite
    /// file inside `dir` (a fresh temporary directory when `None`).
    ///
    /// # Panics
    /// When the database cannot be created (PostgreSQL unreachable, disk full): a test
    /// environment without its database must fail loudly.
    pub async fn create(dir: Option<&Path>) -> TestDatabase {
        match test_backend() {
            Backend::Sqlite => {
                let (owned, path): (Option<tempfile::TempDir>, PathBuf) = match dir {
                    Some(d) => (None, d.join("hotline.db")),
                    None => {
                        let t = tempfile::tempdir().expect("temporary directory");
                        let p = t.path().join("hotline.db");
                        (Some(t), p)
                    }
                };
                TestDatabase {
                    url: format!("sqlite://{}", path.display()),
                    dir: owned,
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let admin = std::env::var("HOTLINE_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
                TestDatabase::create_postgres(&admin).await
            }
        }
    }

    /// Creates an empty database with a random name on the PostgreSQL server at `admin` (a
    /// URL whose role may create databases), whatever `HOTLINE_TEST_DATABASE` says: for a
    /// benchmark pointed at a server explicitly.
    ///
    /// # Panics
    /// When the server is unreachable or refuses to create the database.
    pub async fn create_postgres(admin: &str) -> TestDatabase {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let admin = admin.to_string();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "hotline_test_{}_{}_{}",
            std::process::id(),
            nanos,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut c = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is unreachable: {e} \
             (start it, or set HOTLINE_TEST_POSTGRES_URL)",
                admin.split('@').next_back().unwrap_or("")
            )
        });
        c.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = c.close().await;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        TestDatabase {
            url: format!("{base}/{name}"),
            dir: None,
            postgres: Some((admin, name)),
        }
    }

    /// The `database_url` to give Hotline.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The temporary directory holding the SQLite file, when this guard owns one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop may run inside a runtime: drop the database from a thread of its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let mut c = PgConnection::connect(&admin).await?;
                c.execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await?;
                c.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
            .map_err(std::io::Error::other)
        })
        .join();
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "dropping a test database failed");
        }
    }
}
