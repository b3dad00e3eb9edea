//! Update intake: long polling or webhook into the durable update log, and the
//! processor that feeds the log to the relay.
//!
//! Nothing is lost: a polled batch is committed before the next getUpdates confirms it,
//! a webhook is answered 200 only after the commit, and processing is idempotent per
//! update (decisions and the "processed" mark commit together).

pub mod polling;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tracing::Instrument;

use crate::domain::Context;
use crate::shutdown::Shutdown;
use crate::store::StoreError;
use crate::store::{now_ms, Store};

/// Every update type: Hotline is the only consumer of the bot's updates (the gateway
/// serves the parallel bot from the same log), so it asks for all of them.
pub const ALL_UPDATES: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
];

/// Updates handled per transaction.
const BATCH: i64 = 64;

/// Feeds unprocessed updates of the log to the relay, in update order, until shutdown.
pub async fn process_loop(ctx: Context, store: Store, wake: Arc<Notify>, mut shutdown: Shutdown) {
    let mut failures = 0u32;
    while !shutdown.is_shutdown() {
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match process_batch(&ctx, &store).await {
            Ok(0) => {
                failures = 0;
                tokio::select! {
                    _ = &mut notified => {}
                    _ = shutdown.recv() => {}
                }
            }
            Ok(_) => failures = 0,
            Err(e) => {
                failures += 1;
                let wait = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
                tracing::warn!(error = %e, ?wait, "processing updates failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.recv() => {}
                }
            }
        }
    }
}

/// Journaled gateway calls decided per transaction at most.
const CALLS: i64 = 256;

/// Handles one batch in one transaction; returns how many updates and journaled gateway
/// calls it handled. The parallel bot's calls (`gateway::journal`) are decided in journal
/// order, each right after the update it came after, so the mirror decision sees exactly
/// the user's messages that preceded the call.
pub async fn process_batch(ctx: &Context, store: &Store) -> Result<usize, StoreError> {
    // The journal first: every update a call came after was stored before the call was
    // journaled, so it is among the updates read next (or processed already).
    let calls = store.journaled_calls(ctx.connection, CALLS).await?;
    let updates = store.unprocessed_updates(ctx.connection, BATCH).await?;
    if updates.is_empty() && calls.is_empty() {
        return Ok(0);
    }
    let mut tx = store.begin().await?;
    let mut calls = calls.into_iter().peekable();
    let mut decided = None;
    for u in &updates {
        while let Some(call) = calls.next_if(|c| c.after_update < u.update_id) {
            crate::gateway::mirror::decide(&mut tx, ctx, &call).await?;
            decided = Some(call.id);
        }
        // Inside the connection's span (see `app::start`): its lines carry `update_id` too.
        let span = tracing::info_span!("update", update_id = u.update_id);
        async {
            crate::relay::handle(ctx, &mut tx, &u.payload).await?;
            tracing::debug!("update handled");
            Ok::<_, StoreError>(())
        }
        .instrument(span)
        .await?;
        tx.mark_update_processed(ctx.connection, u.update_id, now_ms())
            .await?;
    }
    // A partial batch means every stored update is processed; otherwise only calls that
    // came after the last one handled are due.
    let caught_up = (updates.len() as i64) < BATCH;
    let last = updates.last().map_or(i64::MIN, |u| u.update_id);
    while let Some(call) = calls.next_if(|c| caught_up || c.after_update <= last) {
        crate::gateway::mirror::decide(&mut tx, ctx, &call).await?;
        decided = Some(call.id);
    }
    if let Some(upto) = decided {
        tx.forget_calls(ctx.connection, upto).await?;
    }
    tx.commit().await?;
    crate::metrics::updates_processed(&ctx.name, updates.iter().map(|u| u.received_at));
    Ok(updates.len() + usize::from(decided.is_some()))
}
