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

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;
use tokio::sync::Notify;
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::domain::Context;
use crate::gateway::order::{Order, Snapshot};
use crate::lease::Held;
use crate::shutdown::Shutdown;
use crate::store::{now_ms, GatewayCall, Store, StoreError, Tx, UnixMs};

/// Updates handled per transaction.
const BATCH: i64 = 64;
/// Waits after the store failed processing updates: 200 ms doubling to 6.4 s.
const PROCESS_RETRY: Backoff =
    Backoff::new(Duration::from_millis(200), Duration::from_millis(6400));

/// Feeds unprocessed updates of the log to the relay, in update order, until shutdown.
/// `order` is the connection's ordering state shared with the gateway and the intake
/// (see `gateway::order`). With `lease` (several instances may share the database), every
/// batch commits only while this instance still holds the lease at its epoch (see
/// [`process_batch`]); when it does not, the loop reports the lease lost and decides
/// nothing more.
pub async fn process_loop(
    ctx: Context,
    store: Store,
    wake: Arc<Notify>,
    order: Order,
    lease: Option<Held>,
    mut shutdown: Shutdown,
) {
    #[cfg(feature = "fault-injection")]
    crate::fault::check(crate::fault::Site::Task, &ctx.name);
    let mut failures = 0u32;
    let mut synced = order.synced_changes();
    while !shutdown.is_shutdown() {
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // A sync after the pass's snapshot wakes the next wait.
        synced.borrow_and_update();
        // A panic outside one update's handling (deciding the gateway's calls) is retried
        // like a store failure: the task, and every other connection, go on.
        let pass = crate::isolation::catch(process_batch(&ctx, &store, &order, lease.as_ref()))
            .await
            .unwrap_or_else(|panic| {
                Err(StoreError::Corrupt {
                    table: "updates",
                    message: panic,
                })
            });
        match pass {
            Ok(pass) if pass.lease_lost => {
                // The owner's work stops (see `lease::hold`); until then, nothing more.
                shutdown.recv().await;
            }
            // More stored updates or calls than one pass reads: the next pass at once.
            Ok(pass) if pass.handled > 0 && !pass.read_all => failures = 0,
            // Otherwise what is left waits like an empty pass: whatever arrived since
            // this pass read the store notified `wake` meanwhile.
            Ok(pass) => {
                failures = 0;
                let wait = pass
                    .retry_at
                    .map(|at| Duration::from_millis((at - now_ms()).clamp(1, 60_000) as u64))
                    // Within a minute even so: an update re-queued by `hotline
                    // dead-letters retry` (another process) is due.
                    .unwrap_or(Duration::from_secs(60));
                // A settled send matters only to what waits for one; otherwise it would
                // wake a pass per mirrored send that finds its calls still waiting for
                // the sync (the send was journaled, which woke a pass already).
                tokio::select! {
                    _ = &mut notified => {}
                    _ = synced.changed() => {}
                    _ = order.send_settled(), if pass.waits_for_send => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.recv() => {}
                }
            }
            Err(e) => {
                failures += 1;
                let wait = PROCESS_RETRY.delay(failures);
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

/// What one [`process_batch`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Updates handled plus journaled calls decided.
    pub handled: usize,
    /// When a bot's send that waits for the intake may be placed anyway (see
    /// `gateway::order::Order::grace_end`).
    pub retry_at: Option<UnixMs>,
    /// The lease was taken over before the commit: the pass was rolled back and the
    /// lease reported lost ([`Held::lost`]).
    pub lease_lost: bool,
    /// Something waits for a bot's send in flight: the next pass is due when one settles
    /// (otherwise only a new update or call, the intake's sync or `retry_at` can change
    /// what a pass decides).
    pub waits_for_send: bool,
    /// The pass read every stored update and journaled call (neither batch was full).
    pub read_all: bool,
}

/// A private chat an update is about and, for a new message, its `message_id` there.
fn update_place(payload: &Value) -> (Option<i64>, Option<i64>) {
    let private = |m: &Value| {
        (m["chat"]["type"] == "private")
            .then(|| m["chat"]["id"].as_i64())
            .flatten()
    };
    if let Some(m) = payload.get("message") {
        return (private(m), m["message_id"].as_i64());
    }
    for key in ["edited_message", "message_reaction"] {
        if let Some(m) = payload.get(key) {
            return (private(m), None);
        }
    }
    if let Some(q) = payload.get("callback_query") {
        return (private(&q["message"]), None);
    }
    (None, None)
}

/// A journaled call with its place, while a pass decides.
struct Pending {
    call: GatewayCall,
    /// The chat's key (0 = no private chat) and the send's position.
    chat: i64,
    position: Option<i64>,
    done: bool,
}

/// Where in the pass the calls are decided: before an update, or after the last one.
#[derive(Clone, Copy)]
enum Point {
    Before {
        update_id: i64,
        chat: Option<i64>,
        position: Option<i64>,
        /// The batch is full: more stored updates are unread.
        full: bool,
    },
    End {
        caught_up: bool,
        last: i64,
    },
}

/// What a pass knows while it places the calls among the updates.
#[derive(Debug, Default)]
struct PassState {
    /// Chats whose updates wait (backing off, or behind a send in flight): their later
    /// updates and calls wait too.
    held: HashSet<i64>,
    /// Per chat, the user's messages of this batch not handled yet.
    unhandled: HashMap<i64, BTreeSet<i64>>,
    /// The earliest time something waiting is due anyway (see [`Pass::retry_at`]).
    retry_at: Option<UnixMs>,
    /// An update or a call waits for a bot's send in flight (see `Snapshot::sending_before`).
    waits_for_send: bool,
}

impl PassState {
    /// Something waiting is due at `at` at the latest.
    fn wait_until(&mut self, at: UnixMs) {
        self.retry_at = Some(self.retry_at.map_or(at, |r| r.min(at)));
    }
}

/// Plans the pending calls that belong before `point`, in journal order, per chat: a
/// send that precedes the user's message at `point` in Telegram's order always; any
/// other call when it came before the update (`after_update`), its chat is not waiting,
/// and — for a send — the intake has caught up with it. A call that must wait makes the
/// later calls of its chat wait too. Returns the calls to decide, in the order to decide
/// them, marked done; a send waiting for the intake asks for a sync (`retry_at`: when it
/// is placed anyway).
fn plan_calls(
    order: &Order,
    snap: &Snapshot,
    now: UnixMs,
    st: &mut PassState,
    calls: &mut [Pending],
    point: Point,
) -> Vec<usize> {
    let mut waiting: HashSet<i64> = st.held.clone();
    let mut plan = Vec::new();
    for i in 0..calls.len() {
        if calls[i].done {
            continue;
        }
        let p = &calls[i];
        let caught_up = |p: &Pending| order.caught_up(snap, p.call.called_at, now);
        let (due, earlier_send) = match point {
            Point::Before {
                update_id,
                chat,
                position,
                full,
            } => {
                let same = chat == Some(p.chat) && p.chat != 0;
                match (same, p.position, position) {
                    // Telegram ran this send before the user's message.
                    (true, Some(send), Some(msg)) if send < msg => (true, true),
                    // It ran after: it waits until the message is handled.
                    (true, Some(_), Some(_)) => (false, false),
                    // With more updates unread, a send may belong before one of them.
                    _ => (
                        p.call.after_update < update_id
                            && !(full && p.position.is_some() && p.chat != 0),
                        false,
                    ),
                }
            }
            // After a full batch, more stored updates are unread: a send may belong before
            // one of them, so only other calls that came before the last one read are due.
            Point::End { caught_up, last } => (
                caught_up || (p.call.after_update <= last && (p.position.is_none() || p.chat == 0)),
                false,
            ),
        };
        // A user's message of this batch that Telegram ran before the send and that is not
        // handled yet (later in the batch, or held) comes first.
        let before_unhandled = p.position.is_some_and(|send| {
            st.unhandled
                .get(&p.chat)
                .and_then(|s| s.first())
                .is_some_and(|first| *first < send)
        });
        let positioned = p.position.is_some() && p.chat != 0;
        // A send in flight since before this one was answered may have run before it.
        let after_send = positioned && snap.sending_before(p.chat, p.call.called_at);
        let go = earlier_send
            || (due
                && !before_unhandled
                && !waiting.contains(&p.chat)
                && (!positioned || (caught_up(p) && !after_send)));
        if go {
            tracing::debug!(
                chat = p.chat,
                position = ?p.position,
                called_at = p.call.called_at,
                "gateway call decided"
            );
            // Sends of the same chat that Telegram ran before this one go first, in
            // Telegram's order (concurrent sends are journaled as their answers come).
            if let (Some(send), true) = (p.position, p.chat != 0) {
                let chat = p.chat;
                let mut earlier: Vec<usize> = (0..calls.len())
                    .filter(|&j| {
                        !calls[j].done
                            && j != i
                            && calls[j].chat == chat
                            && calls[j].position.is_some_and(|m| m < send)
                    })
                    .collect();
                earlier.sort_by_key(|&j| calls[j].position);
                for j in earlier {
                    calls[j].done = true;
                    plan.push(j);
                }
            }
            calls[i].done = true;
            plan.push(i);
            continue;
        }
        waiting.insert(p.chat);
        st.waits_for_send |= after_send;
        if due && positioned && !caught_up(p) {
            order.want_sync(p.call.called_at);
            let at = order.grace_end(p.call.called_at);
            st.wait_until(at);
        }
    }
    plan
}

/// Decides the planned calls (see [`plan_calls`]) in the pass's transaction.
async fn decide_calls(
    tx: &mut Tx,
    ctx: &Context,
    calls: &[Pending],
    plan: &[usize],
) -> Result<usize, StoreError> {
    for &i in plan {
        crate::gateway::mirror::decide(tx, ctx, &calls[i].call).await?;
    }
    Ok(plan.len())
}

/// For an update that may pause the bot: once this transaction committed (after the
/// pause's own hook, registered while handling it), the gateway serves what came after it.
fn settle_after_commit(ctx: &Context, tx: &mut Tx, u: &crate::store::StoredUpdate) {
    if crate::domain::handover::may_pause(ctx, &u.payload) {
        let (pauses, id) = (ctx.pauses.clone(), u.update_id);
        tx.after_commit(move || pauses.settle(id));
    }
}

/// Records a failed attempt at `u`: when it may run again, or — after
/// [`crate::isolation::MAX_ATTEMPTS`] — a dead letter with a notice in General (`None`).
async fn update_failed(
    ctx: &Context,
    tx: &mut Tx,
    u: &crate::store::StoredUpdate,
    error: &str,
) -> Result<Option<UnixMs>, StoreError> {
    use crate::isolation::{retry_delay, short_error, MAX_ATTEMPTS};
    let attempts = u.attempts.saturating_add(1);
    let error = short_error(error);
    let now = now_ms();
    if attempts < MAX_ATTEMPTS {
        let at = now.saturating_add(retry_delay(attempts).as_millis() as i64);
        tracing::warn!(update_id = u.update_id, attempts, %error, "processing an update failed; it is retried later, alone");
        tx.update_failed(ctx.connection, u.update_id, &error, attempts, Some(at), now)
            .await?;
        return Ok(Some(at));
    }
    tracing::error!(update_id = u.update_id, attempts, %error, "an update keeps failing: set aside as a dead letter");
    tx.update_failed(ctx.connection, u.update_id, &error, attempts, None, now)
        .await?;
    let text = format!(
        "{}: update {} could not be processed after {attempts} attempts and was set \
         aside: {}\nThe other updates go on. <code>hotline dead-letters list</code> \
         shows it; <code>hotline dead-letters retry</code> runs it again.",
        crate::outbox::DEAD_LETTER_PREFIX,
        u.update_id,
        crate::domain::render::html(&error)
    );
    ctx.notice(tx, None, None, text).await?;
    Ok(None)
}

/// Handles one batch in one transaction. The parallel bot's journaled calls
/// (`gateway::journal`) are decided among the updates in Telegram's order per user chat
/// (see `gateway::order`): a send by its `message_id` among the user's messages, every
/// other call right after the update it came after, so the mirror decision sees exactly
/// the user's messages that preceded the call. A user's message that must wait for a
/// send in flight stays unprocessed (with the later updates of its chat) for a later pass.
///
/// With `lease`, the transaction commits only if this instance still holds the lease at
/// its epoch, checked by one statement right before the commit (share-locking the lease
/// row on PostgreSQL, so a take-over waits for the commit instead of racing it): an
/// owner frozen past the lapse (SIGSTOP, a stalled VM) and then resumed would otherwise
/// decide the updates its successor decides too, until its next renewal. Otherwise the
/// pass is rolled back, the lease reported lost, and [`Pass::lease_lost`] set. `None`
/// where one process is alone on its database (SQLite: the lease is seized at start and
/// no other instance can take it over), which saves the statement.
pub async fn process_batch(
    ctx: &Context,
    store: &Store,
    order: &Order,
    lease: Option<&Held>,
) -> Result<Pass, StoreError> {
    // The ordering state first (see `Order::snapshot`), then the journal: every update a
    // call came after was stored before the call was journaled, so it is among the
    // updates read next (or processed already).
    let snap = order.snapshot();
    let calls = store.journaled_calls(ctx.connection, CALLS).await?;
    let updates = store.unprocessed_updates(ctx.connection, BATCH).await?;
    let read_all = (calls.len() as i64) < CALLS && (updates.len() as i64) < BATCH;
    if updates.is_empty() && calls.is_empty() {
        return Ok(Pass {
            read_all,
            ..Pass::default()
        });
    }
    let now = now_ms();
    let mut calls: Vec<Pending> = calls
        .into_iter()
        .map(|call| {
            let place = crate::gateway::mirror::place(&call);
            Pending {
                chat: place.chat.unwrap_or(0),
                position: place.chat.and(place.position),
                call,
                done: false,
            }
        })
        .collect();
    let mut st = PassState::default();
    for u in &updates {
        if let (Some(c), Some(m)) = update_place(&u.payload) {
            st.unhandled.entry(c).or_default().insert(m);
        }
    }
    // DNS for `/set WEBHOOKS` before the writer is taken (see `commands::settings`).
    for u in &updates {
        crate::commands::settings::prefetch(ctx, &u.payload).await;
    }
    // Without updates, the pass is the calls' plan after the last update: when it decides
    // nothing (every send waits for the intake's sync or a send in flight), no transaction
    // is begun — under a flood of mirrored sends that was most passes.
    let end_plan = if updates.is_empty() {
        let plan = plan_calls(
            order,
            &snap,
            now,
            &mut st,
            &mut calls,
            Point::End {
                caught_up: true,
                last: i64::MIN,
            },
        );
        if plan.is_empty() {
            return Ok(Pass {
                handled: 0,
                retry_at: st.retry_at,
                lease_lost: false,
                waits_for_send: st.waits_for_send,
                read_all,
            });
        }
        Some(plan)
    } else {
        None
    };
    let mut handled = 0;
    let mut tx = store.begin().await?;
    let mut processed = Vec::with_capacity(updates.len());
    for u in &updates {
        let (chat, position) = update_place(&u.payload);
        // An update backing off after a failed attempt waits, and the later updates of
        // its chat wait behind it (their order is kept).
        if let Some(at) = u.retry_at.filter(|at| *at > now) {
            st.held.extend(chat);
            st.wait_until(at);
            continue;
        }
        if let Some(c) = chat {
            if st.held.contains(&c) {
                continue;
            }
            // Sends Telegram ran before this message go first: a send in flight since
            // before the message was stored, or since before one of them was answered.
            let since = calls
                .iter()
                .filter(|p| {
                    !p.done && p.chat == c && p.position.zip(position).is_some_and(|(s, m)| s < m)
                })
                .map(|p| p.call.called_at)
                .fold(u.received_at, i64::max);
            if position.is_some() && snap.sending_before(c, since) {
                st.held.insert(c);
                st.waits_for_send = true;
                continue;
            }
        }
        let point = Point::Before {
            update_id: u.update_id,
            chat,
            position,
            full: updates.len() as i64 >= BATCH,
        };
        let plan = plan_calls(order, &snap, now, &mut st, &mut calls, point);
        handled += decide_calls(&mut tx, ctx, &calls, &plan).await?;
        if let (Some(c), Some(m)) = (chat, position) {
            if let Some(s) = st.unhandled.get_mut(&c) {
                s.remove(&m);
            }
        }
        // Inside the connection's span (see `runtime`): its lines carry `update_id` too.
        let span = tracing::info_span!("update", update_id = u.update_id);
        // Each update in its own savepoint, its panics caught: a failure undoes only this
        // update's decisions and counts against it alone (see `crate::isolation`).
        tx.savepoint().await?;
        let outcome = crate::isolation::catch(
            async {
                #[cfg(feature = "fault-injection")]
                {
                    let item = u.payload.to_string();
                    crate::fault::check(crate::fault::Site::Update, &item);
                    crate::fault::stall(&item).await;
                }
                // A pause this update makes starts when it arrived (`domain::handover`).
                crate::domain::handover::during_update(
                    u.received_at,
                    crate::relay::handle(ctx, &mut tx, &u.payload),
                )
                .await
            }
            .instrument(span.clone()),
        )
        .await;
        let error = match outcome {
            Ok(Ok(())) => {
                // The savepoint stays open (nested under the next one) and the mark is
                // written with the batch's at the end: two statements fewer per update,
                // and the commit keeps everything either way.
                settle_after_commit(ctx, &mut tx, u);
                processed.push(u.update_id);
                span.in_scope(|| tracing::debug!("update handled"));
                handled += 1;
                continue;
            }
            // The store itself failed: the whole pass is retried, nothing is counted.
            Ok(Err(e)) if e.is_systemic() => return Err(e),
            Ok(Err(e)) => e.to_string(),
            Err(panic) => panic,
        };
        tx.rollback_to_savepoint().await?;
        if let Some(at) = update_failed(ctx, &mut tx, u, &error).await? {
            st.held.extend(chat);
            st.wait_until(at);
        } else {
            // Given up (a dead letter): what came after it is served.
            settle_after_commit(ctx, &mut tx, u);
        }
    }
    // A partial batch means every stored update was read; otherwise only calls that came
    // after the last one read are due.
    let plan = end_plan.unwrap_or_else(|| {
        let point = Point::End {
            caught_up: (updates.len() as i64) < BATCH,
            last: updates.last().map_or(i64::MIN, |u| u.update_id),
        };
        plan_calls(order, &snap, now, &mut st, &mut calls, point)
    });
    handled += decide_calls(&mut tx, ctx, &calls, &plan).await?;
    let decided: Vec<i64> = calls.iter().filter(|p| p.done).map(|p| p.call.id).collect();
    if !decided.is_empty() {
        tx.forget_these_calls(ctx.connection, &decided).await?;
    }
    if !processed.is_empty() {
        tx.mark_updates_processed(ctx.connection, &processed, now_ms())
            .await?;
    }
    if let Some(held) = lease {
        if !tx
            .holds_lease(ctx.connection, store.instance_id(), held.epoch())
            .await?
        {
            tx.rollback().await?;
            tracing::warn!(
                epoch = held.epoch(),
                "the lease was taken over by another instance: this pass is undone, and \
                 this instance stands by"
            );
            held.lost();
            return Ok(Pass {
                lease_lost: true,
                ..Pass::default()
            });
        }
    }
    tx.commit().await?;
    order.processed();
    crate::metrics::updates_processed(&ctx.name, updates.iter().map(|u| u.received_at));
    Ok(Pass {
        handled,
        retry_at: st.retry_at,
        lease_lost: false,
        waits_for_send: st.waits_for_send,
        read_all,
    })
}
