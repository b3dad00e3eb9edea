//! The spam gate (`NEW_TOPICS_PER_HOUR`, issue 16): a connection creates at most that many
//! new topics an hour. A new contact over the cap gets no topic: the dialog waits in a queue
//! (its messages are kept, as every message is), General hears how many wait, and `/admit`
//! or the next hour's budget (oldest first, [`sweep`]) lets it in: the topic is created and
//! the kept messages are copied in order.

use std::time::Duration;

use serde_json::Value;

use super::actions::CopyIn;
use super::privacy;
use crate::domain::content;
use crate::domain::render::html;
use crate::domain::slash::{answer, Parsed};
use crate::domain::topics::Card;
use crate::domain::Context;
use crate::outbox::{Action, Lane};
use crate::shutdown::Shutdown;
use crate::store::{now_ms, Store, StoreError, Tx, UnixMs};

/// The window the cap counts over.
pub const HOUR_MS: i64 = 3_600_000;

/// copyMessages takes at most 100 ids.
const MAX_BURST: usize = 100;

/// Dialogs admitted per transaction by [`sweep`].
const CHUNK: i64 = 50;

/// Whether a new dialog must wait instead of getting a topic; records its admission
/// otherwise. Contacts who come while others wait queue behind them (oldest first).
pub(super) async fn holds(
    ctx: &Context,
    tx: &mut Tx,
    dialog: i64,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let cap = ctx.params().new_topics_per_hour;
    if cap == 0 {
        return Ok(false);
    }
    let used = tx
        .gate_admitted_since(ctx.connection, now - HOUR_MS)
        .await?;
    if used < i64::from(cap) && tx.gate_waiting_count(ctx.connection).await? == 0 {
        tx.gate_record_admission(ctx.connection, dialog, now)
            .await?;
        return Ok(false);
    }
    tx.gate_hold(ctx.connection, dialog, now).await?;
    let waiting = tx.gate_waiting_count(ctx.connection).await?;
    // One notice per doubling (1, 2, 4, 8 …): a flood of newcomers must not spend the
    // group's budget on notices about itself.
    if waiting > 0 && (waiting & (waiting - 1)) == 0 {
        let text = format!(
            "🚧 {waiting} new contact{} wait{} for a topic: NEW_TOPICS_PER_HOUR ({cap}) is \
             reached. /admit all lets them in, /admit USER_ID one of them; otherwise the next \
             hour's budget admits them, oldest first.",
            if waiting == 1 { "" } else { "s" },
            if waiting == 1 { "s" } else { "" },
        );
        ctx.notice(tx, None, None, text).await?;
    }
    Ok(true)
}

/// Keeps a message of a waiting dialog for its topic.
pub(super) async fn keep(tx: &mut Tx, dialog: i64, msg: &Value) -> Result<(), StoreError> {
    let Some(id) = msg["message_id"].as_i64() else {
        return Ok(());
    };
    tx.gate_keep(dialog, id, &msg.to_string()).await
}

/// Lets a waiting dialog in: its topic is created (with the card) and the kept messages
/// are copied in order. False when it did not wait.
pub async fn admit(
    ctx: &Context,
    tx: &mut Tx,
    dialog: i64,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let Some(kept) = tx.gate_release(ctx.connection, dialog).await? else {
        return Ok(false);
    };
    tx.gate_record_admission(ctx.connection, dialog, now)
        .await?;
    let params = ctx.params();
    let group = ctx.group_of_id(tx, dialog).await?;
    // The first group intent creates the topic (and posts the card when shown): it
    // declares those sends so the group's budget is planned for them.
    let mut sends = 2 + u32::from(params.auto_info && !params.hide_info.card);
    if params.recap > 0 {
        // The topic starts with what led to it, as it would have (RECAP).
        let user = ctx.user_of(tx, dialog).await?;
        ctx.post_recap(tx, dialog, user).await?;
    }
    let mut pending: Option<CopyIn> = None;
    for json in kept {
        let Ok(msg) = serde_json::from_str::<Value>(&json) else {
            continue;
        };
        let (Some(id), kind) = (msg["message_id"].as_i64(), content::kind(&msg)) else {
            continue;
        };
        let forward = !content::copyable(&kind);
        if let Some(p) = pending.as_mut() {
            if !forward && !p.forward && p.ids.len() < MAX_BURST {
                p.ids.push(id);
                continue;
            }
        }
        flush(ctx, tx, group, pending.take(), &mut sends).await?;
        // Masking and HIDE_INFO apply as they would have when the message came.
        if privacy::private_copy(ctx, tx, &params, &msg, dialog, None).await? {
            sends = 0;
            continue;
        }
        pending = Some(CopyIn {
            dialog,
            ids: vec![id],
            reply_to: None,
            kind,
            forward,
        });
    }
    flush(ctx, tx, group, pending, &mut sends).await?;
    if sends > 0 {
        // Nothing to copy: the topic still opens, with the card.
        let intent = Card { dialog }
            .to(group, Lane::Group)
            .with_fairness_key(dialog)
            .with_sends(2);
        ctx.enqueue(tx, intent, 0).await?;
    }
    tx.outbox_promote_new_dialog(ctx.connection, group, dialog)
        .await?;
    Ok(true)
}

/// Queues one copy of kept messages; the first group intent declares the topic's sends.
async fn flush(
    ctx: &Context,
    tx: &mut Tx,
    group: i64,
    copy: Option<CopyIn>,
    sends: &mut u32,
) -> Result<(), StoreError> {
    let Some(copy) = copy else {
        return Ok(());
    };
    let dialog = copy.dialog;
    let mut intent = copy.to(group, Lane::Group).with_fairness_key(dialog);
    if *sends > 0 {
        intent = intent.with_sends(*sends);
        *sends = 0;
    }
    ctx.enqueue(tx, intent, 0).await?;
    Ok(())
}

/// Admits up to `limit` waiting dialogs, oldest first; returns how many.
pub async fn admit_oldest(
    ctx: &Context,
    tx: &mut Tx,
    limit: i64,
    now: UnixMs,
) -> Result<i64, StoreError> {
    let mut n = 0;
    for dialog in tx.gate_waiting_oldest(ctx.connection, limit).await? {
        if admit(ctx, tx, dialog, now).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// The hour's budget admits waiting dialogs, oldest first (also when the gate was turned
/// off while they waited); returns how many.
pub async fn sweep(ctx: &Context, store: &Store, now: UnixMs) -> Result<i64, StoreError> {
    let mut admitted = 0;
    loop {
        let mut tx = store.begin().await?;
        if tx.gate_waiting_count(ctx.connection).await? == 0 {
            tx.rollback().await?;
            return Ok(admitted);
        }
        let cap = ctx.params().new_topics_per_hour;
        let room = if cap == 0 {
            CHUNK
        } else {
            let used = tx
                .gate_admitted_since(ctx.connection, now - HOUR_MS)
                .await?;
            (i64::from(cap) - used).clamp(0, CHUNK)
        };
        let n = if room > 0 {
            admit_oldest(ctx, &mut tx, room, now).await?
        } else {
            0
        };
        tx.commit().await?;
        if n == 0 {
            return Ok(admitted);
        }
        tracing::info!(
            connection = ctx.connection.0,
            admitted = n,
            "spam gate admitted waiting contacts"
        );
        admitted += n;
    }
}

/// Runs [`sweep`] every `every` until shutdown.
pub async fn run(ctx: Context, store: Store, every: Duration, mut shutdown: Shutdown) {
    loop {
        if let Err(e) = sweep(&ctx, &store, now_ms()).await {
            tracing::warn!(error = %e, "spam gate check failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.recv() => return,
        }
    }
}

/// `/admit …` in words: what one admission run did.
pub fn admitted_text(n: i64, left: i64) -> String {
    let mut text = format!(
        "✅ Admitted {n} waiting contact{}.",
        if n == 1 { "" } else { "s" }
    );
    if left > 0 {
        text.push_str(&format!(
            " {left} still wait{}.",
            if left == 1 { "s" } else { "" }
        ));
    }
    text
}

/// Most dialogs one `/admit all` lets in; the answer says how many still wait. The command
/// runs in the deciding transaction (which holds the store's writer while it loads and
/// replays every admitted dialog's kept messages), and 500 new topics are already about
/// 75 minutes of one group's budget: a flood of 10,000 waiting contacts must not stall the
/// relay in one transaction.
const ALL_MAX: i64 = 500;

/// `/admit`: admits one waiting contact or all of them (parsed and authorized by the
/// command table, handed back here).
pub(super) async fn command(
    ctx: &Context,
    tx: &mut Tx,
    cmd: &Parsed,
    reply_to: Option<i64>,
) -> Result<(), StoreError> {
    let arg = cmd.args.trim();
    let now = now_ms();
    if arg.is_empty() {
        let waiting = tx.gate_waiting_count(ctx.connection).await?;
        let text = format!(
            "Usage: /admit USER_ID, /admit @username or /admit all. {waiting} contact{} wait{}.",
            if waiting == 1 { "" } else { "s" },
            if waiting == 1 { "s" } else { "" },
        );
        return answer(ctx, tx, None, reply_to, text).await;
    }
    let admitted = if arg.eq_ignore_ascii_case("all") {
        admit_oldest(ctx, tx, ALL_MAX, now).await?
    } else {
        let contact = ctx.named_contact(tx, arg).await?;
        let dialog = match contact {
            Some(c) => tx.dialog_for_contact(ctx.connection, c.id).await?,
            None => None,
        };
        let admitted = match dialog {
            Some(d) => admit(ctx, tx, d.id, now).await?,
            None => false,
        };
        if !admitted {
            let text = format!("{} does not wait at the spam gate.", html(arg));
            return answer(ctx, tx, None, reply_to, text).await;
        }
        1
    };
    let left = tx.gate_waiting_count(ctx.connection).await?;
    answer(ctx, tx, None, reply_to, admitted_text(admitted, left)).await
}
