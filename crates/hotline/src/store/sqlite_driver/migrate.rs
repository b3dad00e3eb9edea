//! sqlx's migrations on the driver's connections: the same `_sqlx_migrations` table, rows
//! and transaction per migration as sqlx's SQLite driver writes, so databases migrated by
//! either continue with the other.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use sqlx::migrate::{AppliedMigration, Migrate, MigrateError, Migration};
use sqlx::Row;
use sqlx_core::any::AnyConnectionBackend;
use sqlx_core::any::AnyValueKind;

use super::InlineConnection;

impl Migrate for InlineConnection {
    fn ensure_migrations_table(&mut self) -> BoxFuture<'_, Result<(), MigrateError>> {
        Box::pin(async move {
            self.run(
                "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
                    version BIGINT PRIMARY KEY,
                    description TEXT NOT NULL,
                    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
                    success BOOLEAN NOT NULL,
                    checksum BLOB NOT NULL,
                    execution_time BIGINT NOT NULL
                )",
            )
            .await?;
            Ok(())
        })
    }

    fn dirty_version(&mut self) -> BoxFuture<'_, Result<Option<i64>, MigrateError>> {
        Box::pin(async move {
            let rows = self
                .run_with(
                    "SELECT version FROM _sqlx_migrations WHERE success = false \
                     ORDER BY version LIMIT 1",
                    Vec::new(),
                )
                .await?;
            Ok(match rows.first() {
                Some(r) => Some(r.try_get::<i64, _>(0)?),
                None => None,
            })
        })
    }

    fn list_applied_migrations(
        &mut self,
    ) -> BoxFuture<'_, Result<Vec<AppliedMigration>, MigrateError>> {
        Box::pin(async move {
            let rows = self
                .run_with(
                    "SELECT version, checksum FROM _sqlx_migrations ORDER BY version",
                    Vec::new(),
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(AppliedMigration {
                        version: r.try_get(0)?,
                        checksum: Cow::Owned(r.try_get::<Vec<u8>, _>(1)?),
                    })
                })
                .collect()
        })
    }

    fn lock(&mut self) -> BoxFuture<'_, Result<(), MigrateError>> {
        Box::pin(async { Ok(()) })
    }

    fn unlock(&mut self) -> BoxFuture<'_, Result<(), MigrateError>> {
        Box::pin(async { Ok(()) })
    }

    fn apply<'e: 'm, 'm>(
        &'e mut self,
        migration: &'m Migration,
    ) -> BoxFuture<'m, Result<Duration, MigrateError>> {
        Box::pin(async move {
            let start = Instant::now();
            self.script_and_record(
                migration,
                "INSERT INTO _sqlx_migrations \
                 (version, description, success, checksum, execution_time) \
                 VALUES ($1, $2, TRUE, $3, -1)",
                vec![
                    AnyValueKind::BigInt(migration.version),
                    AnyValueKind::Text(Cow::Borrowed(&*migration.description)),
                    AnyValueKind::Blob(Cow::Borrowed(&*migration.checksum)),
                ],
            )
            .await?;
            let elapsed = start.elapsed();
            self.run_with(
                "UPDATE _sqlx_migrations SET execution_time = $1 WHERE version = $2",
                vec![
                    AnyValueKind::BigInt(elapsed.as_nanos() as i64),
                    AnyValueKind::BigInt(migration.version),
                ],
            )
            .await?;
            Ok(elapsed)
        })
    }

    fn revert<'e: 'm, 'm>(
        &'e mut self,
        migration: &'m Migration,
    ) -> BoxFuture<'m, Result<Duration, MigrateError>> {
        Box::pin(async move {
            let start = Instant::now();
            self.script_and_record(
                migration,
                "DELETE FROM _sqlx_migrations WHERE version = $1",
                vec![AnyValueKind::BigInt(migration.version)],
            )
            .await?;
            Ok(start.elapsed())
        })
    }
}

impl InlineConnection {
    /// Runs a migration's script and its bookkeeping statement in one transaction, so a
    /// migration is never applied (or reverted) twice.
    async fn script_and_record(
        &mut self,
        migration: &Migration,
        record: &str,
        values: Vec<AnyValueKind<'_>>,
    ) -> Result<(), MigrateError> {
        AnyConnectionBackend::begin(self, None).await?;
        let done = async {
            self.run(&migration.sql)
                .await
                .map_err(|e| MigrateError::ExecuteMigration(e, migration.version))?;
            self.run_with(record, values).await?;
            Ok::<_, MigrateError>(())
        }
        .await;
        if let Err(e) = done {
            AnyConnectionBackend::start_rollback(self);
            return Err(e);
        }
        AnyConnectionBackend::commit(self).await?;
        Ok(())
    }
}
