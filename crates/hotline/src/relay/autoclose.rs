//! AUTOCLOSE: dialogs waiting for the user (🟨) longer than the parameter are closed.
//! Computed from the database each time, so the timer survives restarts.

use std::time::Duration;

use crate::domain::Context;
use crate::shutdown::Shutdown;
use crate::store::{now_ms, Store, StoreError, UnixMs};

/// Candidates closed per transaction.
const CHUNK: i64 = 100;

/// Checks every `every` until shutdown.
pub async fn run(ctx: Context, store: Store, every: Duration, mut shutdown: Shutdown) {
    loop {
        if let Err(e) = sweep(&ctx, &store, now_ms()).await {
            tracing::warn!(error = %e, "auto-close check failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.recv() => return,
        }
    }
}

/// Closes the dialogs due at `now`; returns how many. Candidates are chosen and closed in
/// one transaction, each close guarded by the dialog still waiting since before the
/// cut-off, so a user who writes in between keeps their dialog open.
pub async fn sweep(ctx: &Context, store: &Store, now: UnixMs) -> Result<usize, StoreError> {
    let hours = ctx.params().autoclose_hours;
    if hours == 0 {
        return Ok(0);
    }
    let before = now - i64::from(hours) * 3_600_000;
    let mut closed = 0;
    loop {
        let mut tx = store.begin().await?;
        let due = tx
            .dialogs_waiting_since(ctx.connection, before, CHUNK)
            .await?;
        for d in &due {
            if ctx.close_if_waiting(&mut tx, d.id, before, now).await? {
                closed += 1;
            }
        }
        tx.commit().await?;
        if (due.len() as i64) < CHUNK {
            return Ok(closed);
        }
    }
}
