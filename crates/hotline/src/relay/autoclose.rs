//! AUTOCLOSE: dialogs waiting for the user (🟨) longer than the parameter are closed.
//! Computed from the database each time, so the timer survives restarts.

use std::time::Duration;

use super::{Intent, Relay, RelayError};
use crate::shutdown::Shutdown;
use crate::store::{now_ms, DialogStatus, Store, UnixMs};

/// Checks every `every` until shutdown.
pub async fn run(relay: Relay, store: Store, every: Duration, mut shutdown: Shutdown) {
    loop {
        if let Err(e) = sweep(&relay, &store, now_ms()).await {
            tracing::warn!(error = %e, "auto-close check failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.recv() => return,
        }
    }
}

/// Closes the dialogs due at `now`; returns how many.
pub async fn sweep(relay: &Relay, store: &Store, now: UnixMs) -> Result<usize, RelayError> {
    let hours = relay.params().autoclose_hours;
    if hours == 0 {
        return Ok(0);
    }
    let before = now - i64::from(hours) * 3_600_000;
    let due = store
        .dialogs_waiting_since(relay.connection, before, 500)
        .await?;
    for d in &due {
        let mut tx = store.begin().await?;
        if tx
            .set_dialog_status(d.id, DialogStatus::Closed, now)
            .await?
        {
            crate::api::events::closed(&mut tx, relay, d.id).await?;
            crate::stats::record(&mut tx, relay, d.id, crate::stats::kind::CLOSED, None).await?;
            relay
                .push(&mut tx, Intent::Title { dialog: d.id }, 0)
                .await?;
            relay
                .push(&mut tx, Intent::TopicState { dialog: d.id }, 0)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(due.len())
}
