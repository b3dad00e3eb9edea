//! The broadcast driver (chunks of recipients into the outbox, progress, the end) and the
//! execution of broadcast intents.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{
    control_key, enqueue, enqueue_control, state_label, BroadcastError, BroadcastJob, Op, Progress,
    CALLBACK_PREFIX,
};
use crate::config::Limits;
use crate::domain::events::Event;
use crate::domain::render::html;
use crate::domain::topics::Topics;
use crate::domain::Context;
use crate::outbox::Lane;
use crate::outbox::{Classify, Execute, Failure, Registry};
use crate::shutdown::Shutdown;
use crate::store::Intent;
use crate::store::{now_ms, Broadcast, Store, StoreError, UnixMs};
use crate::telegram::TgError;

/// Pacing of the driver.
#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    /// How often live broadcasts are looked at.
    pub tick: Duration,
    /// Recipients kept queued in the outbox per broadcast (refilled below half). About two
    /// seconds of sending: enough to keep the outbox busy between ticks, few enough that a
    /// pause or cancel takes effect at once and the outbox never holds 10,000 rows.
    pub chunk: i64,
    /// How often the progress message is edited (it counts against the group's limit).
    pub progress_every: Duration,
}

impl RunConfig {
    /// Defaults for the bot's limits.
    pub fn for_limits(limits: Limits) -> Self {
        Self {
            tick: Duration::from_millis(200),
            chunk: i64::from(limits.bot_per_second).clamp(10, 500) * 2,
            progress_every: Duration::from_secs(15),
        }
    }
}

/// Drives the connection's broadcasts until shutdown. Store failures are logged and
/// retried at the next tick.
pub async fn run(ctx: Context, store: Store, config: RunConfig, mut shutdown: Shutdown) {
    let mut last_progress: HashMap<i64, UnixMs> = HashMap::new();
    loop {
        if let Err(e) = tick(&ctx, &store, &config, &mut last_progress).await {
            tracing::warn!(connection = %ctx.name, error = %e, "broadcast driver: store failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(config.tick) => {}
            _ = shutdown.recv() => return,
        }
    }
}

async fn tick(
    ctx: &Context,
    store: &Store,
    config: &RunConfig,
    last_progress: &mut HashMap<i64, UnixMs>,
) -> Result<(), StoreError> {
    let now = now_ms();
    if store.start_due_broadcasts(ctx.connection, now).await? > 0 {
        tracing::info!(connection = %ctx.name, "broadcast: scheduled start");
    }
    for b in store.live_broadcasts(ctx.connection).await? {
        let counts = store.recipient_counts(b.id).await?;
        let mut tx = store.begin().await?;
        match b.state.as_str() {
            "running" if counts.left() == 0 => {
                tx.set_broadcast_state(b.id, &["running"], "done", now)
                    .await?;
            }
            "running" if counts.queued < config.chunk / 2 && counts.pending > 0 => {
                let next = tx
                    .queue_recipients(b.id, config.chunk - counts.queued)
                    .await?;
                for (seq, user) in next {
                    let op = Op::Deliver {
                        broadcast: b.id,
                        seq,
                    };
                    enqueue(ctx, &mut tx, op, Lane::Broadcast, user, 0).await?;
                }
            }
            "done" | "cancelled"
                if counts.queued == 0 && tx.finish_broadcast(b.id, now).await? =>
            {
                ctx.record(
                    &mut tx,
                    Event::BroadcastFinished {
                        broadcast: &b,
                        counts: &counts,
                    },
                )
                .await?;
                enqueue_control(ctx, &mut tx, b.id, Lane::Group).await?;
                let op = Op::Report { broadcast: b.id };
                enqueue(
                    ctx,
                    &mut tx,
                    op,
                    Lane::Group,
                    ctx.group_id,
                    control_key(b.id),
                )
                .await?;
                last_progress.remove(&b.id);
            }
            _ => {}
        }
        if b.state == "running" {
            let last = last_progress.entry(b.id).or_insert(now);
            if now - *last >= config.progress_every.as_millis() as i64 {
                *last = now;
                enqueue_control(ctx, &mut tx, b.id, Lane::Broadcast).await?;
            }
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Why a broadcast job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Telegram refused or did not answer.
    #[error(transparent)]
    Telegram(#[from] TgError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The broadcast is gone.
    #[error(transparent)]
    Broadcast(#[from] BroadcastError),
}

impl Classify for JobError {
    fn failure(&self) -> Failure {
        match self {
            JobError::Telegram(e) => e.failure(),
            JobError::Store(e) | JobError::Broadcast(BroadcastError::Store(e)) => e.failure(),
            JobError::Broadcast(_) => Failure::Permanent,
        }
    }
}

/// Executes [`BroadcastJob`]s for one connection.
pub struct BroadcastExecutor(pub Topics);

/// Registers the broadcasts' action with its executor.
pub fn register(registry: &mut Registry, topics: &Topics) {
    registry.register::<BroadcastJob, _>(Arc::new(BroadcastExecutor(topics.clone())));
}

impl Execute<BroadcastJob> for BroadcastExecutor {
    type Done = ();
    type Error = JobError;

    async fn execute(&self, _intent: &Intent, job: BroadcastJob) -> Result<(), JobError> {
        execute(&self.0, &job.op).await
    }
}

/// Runs one broadcast job. Handled permanent failures are `Ok`.
async fn execute(ex: &Topics, op: &Op) -> Result<(), JobError> {
    match op {
        Op::Deliver { broadcast, seq } => deliver(ex, *broadcast, *seq).await,
        Op::Control {
            broadcast,
            reply_to,
            file,
        } => control(ex, *broadcast, *reply_to, file.as_deref()).await,
        Op::Answer { callback, text } => {
            let r = ex
                .tg
                .call(
                    "answerCallbackQuery",
                    json!({"callback_query_id": callback, "text": text}),
                )
                .await;
            match r {
                // A query older than Telegram keeps cannot be answered any more.
                Err(e) if !e.is_retryable() => Ok(()),
                r => Ok(r.map(|_| ())?),
            }
        }
        Op::Report { broadcast } => report(ex, *broadcast).await,
    }
}

async fn deliver(ex: &Topics, broadcast: i64, seq: i64) -> Result<(), JobError> {
    let store = &ex.store;
    let Some(d) = store.delivery(broadcast, seq).await? else {
        return Ok(());
    };
    if d.state != "queued" {
        // Already settled (a retry after a crash between the call and its record).
        return Ok(());
    }
    match d.broadcast_state.as_str() {
        "cancelled" => {
            store
                .set_recipient(
                    broadcast,
                    seq,
                    "queued",
                    "cancelled",
                    Some("broadcast cancelled"),
                    None,
                )
                .await?;
            return Ok(());
        }
        "paused" => {
            store
                .set_recipient(broadcast, seq, "queued", "pending", None, None)
                .await?;
            return Ok(());
        }
        _ => {}
    }
    let extra = if d.paid {
        json!({"allow_paid_broadcast": true})
    } else {
        json!({})
    };
    let result = ex
        .tg
        .copy_messages(d.user_id, ex.ctx.group_id, &d.source_ids, extra)
        .await;
    let (state, error) = match result {
        Ok(_) => ("sent", None),
        Err(e) if e.is_blocked() => {
            if let Some(contact) = d.contact_id {
                store.set_contact_blocked(contact, true).await?;
            }
            ("blocked", Some("blocked the bot".to_string()))
        }
        Err(e) if e.is_retryable() => return Err(e.into()),
        Err(e) => ("failed", Some(e.to_string())),
    };
    let sent_at = (state == "sent").then(now_ms);
    store
        .set_recipient(broadcast, seq, "queued", state, error.as_deref(), sent_at)
        .await?;
    Ok(())
}

/// The control message's text and buttons for the broadcast's current state.
pub fn render(p: &Progress, tz: time::UtcOffset) -> (String, Option<Value>) {
    let b = &p.broadcast;
    let c = &p.counts;
    let sources = b.sources().len();
    let mut t = format!(
        "📣 <b>Broadcast #{}</b> · {}\n{}",
        b.id,
        html(&b.audience),
        state_label(&b.state)
    );
    if b.start_at > now_ms() && matches!(b.state.as_str(), "draft" | "scheduled" | "paused") {
        t.push_str(&format!(
            " · starts {} ({})",
            super::format_local(b.start_at, tz),
            crate::config::TimeZone(tz)
        ));
    }
    t.push_str(&format!(
        "\nTo {}{}\n{} ({}){}",
        plural(b.total - c.skipped, "recipient", "recipients"),
        if c.skipped > 0 {
            format!(" ({} skipped: blocked or banned)", c.skipped)
        } else {
            String::new()
        },
        plural(sources as i64, "message", "messages"),
        if b.state == "draft" {
            "the copy above is exactly what they get; not posted in topics"
        } else {
            "copied from General; not posted in topics"
        },
        if b.paid { " · paid broadcast" } else { "" },
    ));
    if b.state != "draft" {
        t.push_str(&format!(
            "\nSent {} · failed {} · blocked {} · left {}",
            c.sent,
            c.failed,
            c.blocked,
            c.left()
        ));
        if c.cancelled > 0 {
            t.push_str(&format!(" · cancelled {}", c.cancelled));
        }
        if b.state == "running" && p.rate > 0.0 {
            let eta = (c.left() as f64 / p.rate).ceil() as i64;
            t.push_str(&format!(
                "\nRate {:.1}/s · ETA {}",
                p.rate,
                human_duration(eta)
            ));
        }
    }
    let button = |label: &str, action: &str| json!({"text": label, "callback_data": format!("{CALLBACK_PREFIX}{action}:{}", b.id)});
    let row = match b.state.as_str() {
        "draft" => Some(vec![
            button("✅ Confirm", "confirm"),
            button("✖️ Cancel", "cancel"),
        ]),
        "scheduled" | "running" => Some(vec![
            button("⏸ Pause", "pause"),
            button("✖️ Cancel", "cancel"),
        ]),
        "paused" => Some(vec![
            button("▶️ Resume", "resume"),
            button("✖️ Cancel", "cancel"),
        ]),
        _ => None,
    };
    (t, row.map(|r| json!({ "inline_keyboard": [r] })))
}

fn human_duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

async fn load_file(ex: &Topics, b: &Broadcast, file: &str) -> Result<(), JobError> {
    let f = ex.tg.get_file(file).await?;
    let Some(path) = f.file_path else {
        return Err(TgError::Decode("getFile gave no file_path".into()).into());
    };
    let bytes = ex.tg.download_file(&path).await?;
    let text = String::from_utf8_lossy(&bytes);
    let ids: Vec<i64> = text
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .filter_map(|w| w.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .collect();
    ex.store
        .add_list_recipients(ex.ctx.connection, b.id, &ids)
        .await?;
    Ok(())
}

async fn control(
    ex: &Topics,
    id: i64,
    reply_to: Option<i64>,
    file: Option<&str>,
) -> Result<(), JobError> {
    let store = &ex.store;
    let ctx = &ex.ctx;
    let tz = ctx.time_zone.0;
    let Some(b) = store.broadcast(ctx.connection, id).await? else {
        return Ok(());
    };
    if let Some(f) = file {
        if b.total == 0 && b.state == "draft" {
            if let Err(e) = load_file(ex, &b, f).await {
                if e.failure() != Failure::Permanent {
                    return Err(e);
                }
                let text = format!("Could not read the file of ids: {}", html(&e.to_string()));
                ex.tg
                    .send_message(ctx.group_id, &text, json!({"parse_mode": "HTML"}))
                    .await?;
            }
        }
    }
    if b.control_message.is_none() && b.state == "draft" && !preview(ex, &b).await? {
        return Ok(());
    }
    let p = super::progress(store, ctx, id).await?;
    let (text, keyboard) = render(&p, tz);
    let mut extra = json!({"parse_mode": "HTML"});
    if let Some(k) = keyboard {
        extra["reply_markup"] = k;
    }
    match p.broadcast.control_message {
        Some(m) => match ex.tg.edit_message_text(ctx.group_id, m, &text, extra).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_modified() || e.is_message_to_edit_not_found() => Ok(()),
            Err(e) if e.is_retryable() => Err(e.into()),
            Err(e) => {
                tracing::warn!(broadcast = id, error = %e, "broadcast: progress not shown");
                Ok(())
            }
        },
        None => {
            if let Some(r) = reply_to {
                extra["reply_parameters"] =
                    json!({"message_id": r, "allow_sending_without_reply": true});
            }
            let m = ex.tg.send_message(ctx.group_id, &text, extra).await?;
            Ok(store.set_broadcast_control(id, m.message_id).await?)
        }
    }
}

/// Copies a draft's messages into General just before its control message, so admins
/// confirm exactly what recipients will get. False when nothing could be copied: the draft
/// is then cancelled with the reason (the message was deleted, or the id was never a
/// General message — the API cannot know an old id before Telegram answers). A crash
/// between the copy and the control message repeats the preview (at least once, like
/// every outbox call).
async fn preview(ex: &Topics, b: &Broadcast) -> Result<bool, JobError> {
    let ctx = &ex.ctx;
    let sources = b.sources();
    let copied = match ex
        .tg
        .copy_messages(ctx.group_id, ctx.group_id, &sources, json!({}))
        .await
    {
        Ok(ids) => Ok(ids.len()),
        Err(e) if e.is_retryable() => return Err(e.into()),
        Err(e) => Err(e.to_string()),
    };
    let problem = match copied {
        Ok(0) => Some("none of its messages can be copied (deleted, or not in General)".into()),
        Ok(n) if n < sources.len() => {
            let text = format!(
                "⚠️ Broadcast #{}: only {n} of {} messages can be copied (the others were deleted or are not in General); the preview above is what will be sent.",
                b.id,
                sources.len()
            );
            ex.tg.send_message(ctx.group_id, &text, json!({})).await?;
            None
        }
        Ok(_) => None,
        Err(e) => Some(format!("its messages cannot be copied: {}", html(&e))),
    };
    let Some(problem) = problem else {
        return Ok(true);
    };
    let mut tx = ex.store.begin().await?;
    match super::act_in(ctx, &mut tx, b.id, super::Action::Cancel).await {
        Ok(_) | Err(BroadcastError::State { .. } | BroadcastError::NotFound(_)) => {}
        Err(BroadcastError::Store(e)) => return Err(e.into()),
        Err(e) => tracing::warn!(broadcast = b.id, error = %e, "broadcast: draft not cancelled"),
    }
    tx.commit().await?;
    let text = format!("✖️ Broadcast #{} cancelled: {problem}.", b.id);
    ex.tg
        .send_message(ctx.group_id, &text, json!({"parse_mode": "HTML"}))
        .await?;
    Ok(false)
}

/// "1 recipient", "3 recipients".
pub(crate) fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The CSV report of a broadcast: user id, name, username, status, error, sent at.
pub async fn report_csv(
    store: &Store,
    broadcast: i64,
    tz: time::UtcOffset,
) -> Result<Vec<u8>, StoreError> {
    let rows = store.report_rows(broadcast).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| StoreError::Corrupt {
        table: "broadcast_recipients",
        message: e.to_string(),
    };
    w.write_record(["user_id", "name", "username", "status", "error", "sent_at"])
        .map_err(csv_err)?;
    for r in rows {
        let name = match (&r.first_name, &r.last_name) {
            (Some(f), Some(l)) if !l.is_empty() => format!("{f} {l}"),
            (Some(f), _) => f.clone(),
            _ => String::new(),
        };
        w.write_record([
            r.user_id.to_string(),
            name,
            r.username.unwrap_or_default(),
            r.state,
            r.error.unwrap_or_default(),
            r.sent_at
                .map(|t| crate::export::format_time(t, tz))
                .unwrap_or_default(),
        ])
        .map_err(csv_err)?;
    }
    w.into_inner().map_err(|e| StoreError::Corrupt {
        table: "broadcast_recipients",
        message: e.to_string(),
    })
}

async fn report(ex: &Topics, id: i64) -> Result<(), JobError> {
    let ctx = &ex.ctx;
    let p = super::progress(&ex.store, ctx, id).await?;
    let csv = report_csv(&ex.store, id, ctx.time_zone.0).await?;
    let c = p.counts;
    let caption = format!(
        "📄 Broadcast #{id} report: sent {}, failed {}, blocked {}, skipped {}, cancelled {}",
        c.sent, c.failed, c.blocked, c.skipped, c.cancelled
    );
    let mut extra = json!({"caption": caption});
    if let Some(m) = p.broadcast.control_message {
        extra["reply_parameters"] = json!({"message_id": m, "allow_sending_without_reply": true});
    }
    ex.tg
        .send_document_bytes(
            ctx.group_id,
            &format!("broadcast-{id}.csv"),
            "text/csv",
            csv.into(),
            extra,
        )
        .await?;
    Ok(())
}
