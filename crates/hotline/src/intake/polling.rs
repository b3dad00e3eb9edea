//! Long polling: each batch is committed to the update log before the next getUpdates
//! confirms it (offset = last id + 1), so a crash at any line loses nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::backoff::Backoff;
use crate::gateway::order::Order;
use crate::shutdown::Shutdown;
use crate::store::{now_ms, ConnectionId, Store};
use crate::telegram::ALL_UPDATES;
use crate::telegram::{Client, TgError};

/// Long-poll timeout asked of Telegram, in seconds.
pub const POLL_TIMEOUT: u32 = 25;

/// Polls until shutdown, waking the processor and the gateway (`stored`) after every
/// stored batch.
pub async fn poll_loop(
    tg: Client,
    store: Store,
    connection: ConnectionId,
    wake: Arc<Notify>,
    stored: crate::gateway::UpdateSignal,
    mut shutdown: Shutdown,
) {
    let mut offset = match store.last_update_id(connection).await {
        Ok(last) => last.map(|id| id + 1),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the update log");
            None
        }
    };
    let mut failures = 0u32;
    let order = stored.order().clone();
    order.set_polling();
    let mut wanted = order.wanted();
    while !shutdown.is_shutdown() {
        // A poll that started at `started` and whose batch is stored proves every update
        // queued before then is stored (see `gateway::order`). While the processor waits
        // for that proof, polls are short; a long poll is cut when it starts waiting.
        let started = now_ms();
        // Marked seen before the check: a sync wanted after it cuts the long poll short
        // (the other way round, one wanted in between waited out the long poll).
        wanted.borrow_and_update();
        let urgent = order.sync_pending();
        let timeout = if urgent { 0 } else { POLL_TIMEOUT };
        let polled = tokio::select! {
            r = tg.get_updates(offset, 100, timeout, Some(ALL_UPDATES)) => r,
            _ = sync_wanted(&mut wanted, &order), if !urgent => continue,
            _ = shutdown.recv() => break,
        };
        let wait = match polled {
            Ok(updates) if updates.is_empty() => {
                failures = 0;
                order.set_synced(started);
                continue;
            }
            Ok(updates) => match store.insert_updates(connection, &updates, now_ms()).await {
                Ok(new) => {
                    crate::metrics::updates_received(connection, new);
                    failures = 0;
                    let max = updates.iter().filter_map(|u| u["update_id"].as_i64()).max();
                    if let Some(max) = max {
                        offset = Some(max + 1);
                    }
                    wake.notify_one();
                    stored.notify(max.unwrap_or(0));
                    // A full batch may have left older updates upstream.
                    if updates.len() < 100 {
                        order.set_synced(started);
                    }
                    continue;
                }
                Err(e) => {
                    // Not stored: do not confirm; the same batch comes again.
                    tracing::error!(error = %e, "cannot store updates");
                    failures += 1;
                    backoff(failures)
                }
            },
            Err(TgError::RetryAfter(secs)) => Duration::from_secs(secs),
            Err(e) => {
                failures += 1;
                if e.is_unauthorized() {
                    tracing::error!(
                        "the bot token was rejected (401); polling stops retrying fast"
                    );
                } else {
                    tracing::warn!(error = %e, "getUpdates failed");
                }
                backoff(failures)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.recv() => break,
        }
    }
}

/// Resolves when the processor starts waiting for a sync (never when the sender is gone).
async fn sync_wanted(wanted: &mut tokio::sync::watch::Receiver<i64>, order: &Order) {
    loop {
        if wanted.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        if order.sync_pending() {
            return;
        }
    }
}

/// After `failures` failed polls in a row: 400 ms doubling to 25.6 s.
fn backoff(failures: u32) -> Duration {
    const POLICY: Backoff = Backoff::new(Duration::from_millis(400), Duration::from_millis(25_600));
    POLICY.delay(failures)
}
