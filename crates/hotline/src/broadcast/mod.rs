//! Broadcasts (`/send` in General, and the REST API through the plain functions here).
//!
//! Lifecycle: a **draft** is created with its recipients already chosen (a segment is
//! evaluated by the database into `broadcast_recipients`), and a control message with
//! Confirm / Cancel buttons is posted. Confirm makes it **scheduled** (a start time ahead) or
//! **running**; Pause / Resume / Cancel work by button or `/send pause|resume|cancel N`.
//!
//! Sending is driven by [`run`] (one task per connection): it moves recipients from
//! `pending` to `queued` a chunk at a time and enqueues one outbox intent per recipient in the
//! Broadcast lane — the lowest priority, so dialog traffic always goes first — and the outbox
//! paces them within the bot's limits. Each delivery records its recipient's outcome; a
//! restart resumes from the recipient rows (queued ones still have their durable intents,
//! and a delivery whose recipient is no longer `queued` does nothing, so none is repeated).
//! When nothing is left, the control message shows the totals and a CSV report is posted.
//! Broadcast copies go from General straight to users: they are never copied into topics.

mod run;

pub use run::{register, report_csv, run, BroadcastExecutor, RunConfig};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::render::html;
use crate::domain::roles;
use crate::domain::slash::answer;
use crate::domain::slash::Parsed;
use crate::domain::Context;
use crate::outbox::{Action as _, Lane};
use crate::segments::{self, segment_error, SegmentError};
use crate::store::{
    now_ms, Broadcast, NewBroadcast, RecipientCounts, Store, StoreError, Tx, UnixMs,
};

/// Callback data prefix of Hotline's broadcast buttons (other bots' buttons are left alone).
pub const CALLBACK_PREFIX: &str = "hlbc:";

/// Broadcast work, the payload of a [`BroadcastJob`]; everything is resolved when it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Copy the broadcast's messages to one recipient.
    Deliver {
        /// Broadcast id.
        broadcast: i64,
        /// Recipient sequence number.
        seq: i64,
    },
    /// Post or update the control message (prompt, progress, totals).
    Control {
        /// Broadcast id.
        broadcast: i64,
        /// The command to answer (first post only).
        reply_to: Option<i64>,
        /// A document of user ids to load as recipients first (`/send list` with a file).
        file: Option<String>,
    },
    /// Answer a button press.
    Answer {
        /// callback_query id.
        callback: String,
        /// Short text shown to the presser.
        text: String,
    },
    /// Post the CSV report.
    Report {
        /// Broadcast id.
        broadcast: i64,
    },
}

/// The broadcasts' outbox action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastJob {
    /// What to do.
    pub op: Op,
}

impl crate::outbox::Action for BroadcastJob {
    const KIND: &'static str = "broadcast";
}

/// Who receives a broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every contact (blocked and banned ones are skipped).
    All,
    /// Only the admin who prepares it.
    Test(i64),
    /// These user ids.
    List(Vec<i64>),
    /// User ids read from a document (loaded when the prompt is posted).
    File(String),
    /// A segment expression.
    Segment(String),
}

impl Audience {
    fn label(&self) -> String {
        match self {
            Audience::All => "all".into(),
            Audience::Test(_) => "test".into(),
            Audience::List(ids) => format!("list of {}", ids.len()),
            Audience::File(_) => "file".into(),
            Audience::Segment(s) => s.clone(),
        }
    }
}

/// Why a broadcast request was refused.
#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    /// The segment does not parse or names an unknown tag.
    #[error("segment {0}")]
    Segment(#[from] SegmentError),
    /// No such broadcast in this connection.
    #[error("no broadcast #{0}")]
    NotFound(i64),
    /// The action does not apply in the broadcast's state.
    #[error("broadcast #{id} is {state}")]
    State {
        /// Broadcast id.
        id: i64,
        /// Its state.
        state: String,
    },
    /// Nothing to send.
    #[error("no messages to send")]
    NoSource,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A broadcast to prepare (`/send` or the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Recipients.
    pub audience: Audience,
    /// General message ids copied to each recipient, in order.
    pub sources: Vec<i64>,
    /// Not before (None = at confirmation).
    pub start_at: Option<UnixMs>,
    /// The admin (Telegram user id; 0 for the API).
    pub created_by: i64,
    /// allow_paid_broadcast.
    pub paid: bool,
}

/// What the admin does to a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start (or schedule) a draft.
    Confirm,
    /// Stop sending for now.
    Pause,
    /// Continue after a pause.
    Resume,
    /// Stop for good (pending recipients are reported as cancelled).
    Cancel,
}

impl Action {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "confirm" => Self::Confirm,
            "pause" => Self::Pause,
            "resume" => Self::Resume,
            "cancel" => Self::Cancel,
            _ => return None,
        })
    }
}

/// Progress of a broadcast, for the control message and the API.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The broadcast.
    pub broadcast: Broadcast,
    /// Recipients per state.
    pub counts: RecipientCounts,
    /// Deliveries per second over the last 10 s.
    pub rate: f64,
}

/// Enqueues broadcast work: `lane` and `target` decide priority and rate limit; `key`
/// separates its queue from dialogs'.
pub(crate) async fn enqueue(
    ctx: &Context,
    tx: &mut Tx,
    op: Op,
    lane: Lane,
    target: i64,
    key: i64,
) -> Result<(), StoreError> {
    let intent = BroadcastJob { op }.to(target, lane).with_fairness_key(key);
    tx.enqueue(ctx.connection, &intent, now_ms()).await?;
    Ok(())
}

/// The control message's queue in General: one per broadcast, apart from dialogs.
fn control_key(broadcast: i64) -> i64 {
    -broadcast
}

pub(crate) async fn enqueue_control(
    ctx: &Context,
    tx: &mut Tx,
    broadcast: i64,
    lane: Lane,
) -> Result<(), StoreError> {
    let op = Op::Control {
        broadcast,
        reply_to: None,
        file: None,
    };
    enqueue(ctx, tx, op, lane, ctx.group_id, control_key(broadcast)).await
}

/// Prepares a draft in `tx`: recipients are chosen now, by the database. Returns its id.
/// The control message (with Confirm / Cancel) is queued, replying to `reply_to`.
pub async fn create_in(
    ctx: &Context,
    tx: &mut Tx,
    req: &Request,
    reply_to: Option<i64>,
) -> Result<i64, BroadcastError> {
    if req.sources.is_empty() {
        return Err(BroadcastError::NoSource);
    }
    let now = now_ms();
    let compiled = match &req.audience {
        Audience::Segment(src) => {
            Some(segments::resolve_tx(tx, ctx.connection, src, now, ctx.time_zone.0, 3).await??)
        }
        _ => None,
    };
    let id = tx
        .create_broadcast(
            ctx.connection,
            &NewBroadcast {
                audience: req.audience.label(),
                source_ids: req.sources.clone(),
                created_by: req.created_by,
                paid: req.paid,
                start_at: req.start_at.unwrap_or(0),
            },
            now,
        )
        .await?;
    let mut file = None;
    match &req.audience {
        Audience::All => {
            let all = segments::Compiled {
                sql: "1 = 1".into(),
                binds: Vec::new(),
            };
            tx.add_segment_recipients(ctx.connection, id, &all).await?;
        }
        Audience::Segment(_) => {
            let c = compiled.expect("compiled above");
            tx.add_segment_recipients(ctx.connection, id, &c).await?;
        }
        Audience::Test(user) => {
            tx.add_list_recipients(ctx.connection, id, &[*user]).await?;
        }
        Audience::List(users) => {
            tx.add_list_recipients(ctx.connection, id, users).await?;
        }
        Audience::File(f) => file = Some(f.clone()),
    }
    let op = Op::Control {
        broadcast: id,
        reply_to,
        file,
    };
    enqueue(ctx, tx, op, Lane::Group, ctx.group_id, control_key(id)).await?;
    Ok(id)
}

/// [`create_in`] in its own transaction (the API).
pub async fn create(store: &Store, ctx: &Context, req: &Request) -> Result<i64, BroadcastError> {
    let mut tx = store.begin().await?;
    let id = create_in(ctx, &mut tx, req, None).await?;
    tx.commit().await?;
    Ok(id)
}

/// Applies an admin action in `tx`; returns a short confirmation text.
pub async fn act_in(
    ctx: &Context,
    tx: &mut Tx,
    id: i64,
    action: Action,
) -> Result<String, BroadcastError> {
    let b = tx
        .broadcast(ctx.connection, id)
        .await?
        .ok_or(BroadcastError::NotFound(id))?;
    let now = now_ms();
    let refused = || BroadcastError::State {
        id,
        state: b.state.clone(),
    };
    let text = match action {
        Action::Confirm => {
            let to = if b.start_at > now {
                "scheduled"
            } else {
                "running"
            };
            if !tx.set_broadcast_state(id, &["draft"], to, now).await? {
                return Err(refused());
            }
            if to == "scheduled" {
                format!("Broadcast #{id} scheduled.")
            } else {
                format!("Broadcast #{id} started.")
            }
        }
        Action::Pause => {
            if !tx
                .set_broadcast_state(id, &["running", "scheduled"], "paused", now)
                .await?
            {
                return Err(refused());
            }
            format!("Broadcast #{id} paused.")
        }
        Action::Resume => {
            let to = if b.start_at > now {
                "scheduled"
            } else {
                "running"
            };
            if !tx.set_broadcast_state(id, &["paused"], to, now).await? {
                return Err(refused());
            }
            format!("Broadcast #{id} resumed.")
        }
        Action::Cancel => {
            let was_draft = b.state == "draft";
            if !tx
                .set_broadcast_state(
                    id,
                    &["draft", "scheduled", "running", "paused"],
                    "cancelled",
                    now,
                )
                .await?
            {
                return Err(refused());
            }
            tx.cancel_pending_recipients(id).await?;
            if was_draft {
                // Nothing was sent: no report.
                tx.finish_broadcast(id, now).await?;
            }
            format!("Broadcast #{id} cancelled.")
        }
    };
    enqueue_control(ctx, tx, id, Lane::Group).await?;
    Ok(text)
}

/// [`act_in`] in its own transaction (the API).
pub async fn act(
    store: &Store,
    ctx: &Context,
    id: i64,
    action: Action,
) -> Result<String, BroadcastError> {
    let mut tx = store.begin().await?;
    let text = act_in(ctx, &mut tx, id, action).await?;
    tx.commit().await?;
    Ok(text)
}

/// A broadcast's progress (the API's and the control message's view).
pub async fn progress(store: &Store, ctx: &Context, id: i64) -> Result<Progress, BroadcastError> {
    let broadcast = store
        .broadcast(ctx.connection, id)
        .await?
        .ok_or(BroadcastError::NotFound(id))?;
    let counts = store.recipient_counts(id).await?;
    let rate = store.sent_since(id, now_ms() - 10_000).await? as f64 / 10.0;
    Ok(Progress {
        broadcast,
        counts,
        rate,
    })
}

const HELP: &str = "<b>/send</b> — broadcasts. Reply to a message (an album, or the first of \
several messages you wrote in a row) with:\n\
/send test — only to you\n/send all — every contact\n\
/send SEGMENT — e.g. <code>/send vip &amp; !churned</code>, <code>/send (lead | trial) &amp; lang:de</code>, \
<code>seen&lt;7d</code>, <code>first&gt;2026-01-01</code>, <code>open</code>, <code>blocked</code>, <code>banned</code>\n\
/send list ID,ID,... — these users (or attach a file of ids with the caption /send list)\n\
Add <code>at 2026-12-01 10:00</code> or <code>in 2h</code> to schedule, <code>paid</code> for allow_paid_broadcast.\n\
/send — list · /send pause|resume|cancel N";

/// How far ahead a broadcast can be scheduled (`/send at|in`, the API's `start_at`).
pub const MAX_DELAY_MS: i64 = 366 * 86_400_000;

/// What `/send ARGS` asks for, before recipients are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendArgs {
    /// Recipients (`Test` carries 0: the caller fills in the sender).
    pub audience: Audience,
    /// Start time.
    pub start_at: Option<UnixMs>,
    /// allow_paid_broadcast.
    pub paid: bool,
}

/// Parses `/send` arguments (not `pause|resume|cancel`). `file` is the attached document.
pub fn parse_args(
    args: &str,
    file: Option<&str>,
    now: UnixMs,
    tz: time::UtcOffset,
) -> Result<SendArgs, String> {
    let mut words: Vec<&str> = args.split_whitespace().collect();
    let mut paid = false;
    words.retain(|w| {
        let p = w.eq_ignore_ascii_case("paid");
        paid |= p;
        !p
    });
    let mut start_at = None;
    let n = words.len();
    if n >= 3 && words[n - 3].eq_ignore_ascii_case("at") {
        let text = format!("{} {}", words[n - 2], words[n - 1]);
        let at = parse_local(&text, tz)
            .ok_or_else(|| format!("“{}” is not a time: use at YYYY-MM-DD HH:MM", html(&text)))?;
        if at <= now {
            return Err(format!("{} is in the past.", html(&text)));
        }
        if at > now + MAX_DELAY_MS {
            return Err(format!("{} is more than a year ahead.", html(&text)));
        }
        start_at = Some(at);
        words.truncate(n - 3);
    } else if n >= 2 && words[n - 2].eq_ignore_ascii_case("in") {
        let ms = segments::parse_age(&words[n - 1].to_lowercase()).ok_or_else(|| {
            format!(
                "“{}” is not a delay: use in 30m, in 2h or in 1d",
                html(words[n - 1])
            )
        })?;
        if ms > MAX_DELAY_MS {
            return Err("A broadcast can be scheduled at most a year ahead.".into());
        }
        start_at = Some(now + ms);
        words.truncate(n - 2);
    }
    let rest = words.join(" ");
    let first = words.first().map(|w| w.to_lowercase()).unwrap_or_default();
    let audience = match first.as_str() {
        "" => {
            return Err("Whom to? /send all, /send test, /send SEGMENT or /send list IDS.".into())
        }
        "all" if words.len() == 1 => Audience::All,
        "test" if words.len() == 1 => Audience::Test(0),
        "list" => {
            let ids_text = rest[4..].trim();
            if ids_text.is_empty() {
                match file {
                    Some(f) => Audience::File(f.to_string()),
                    None => {
                        return Err(
                            "/send list needs ids (/send list 1,2,3) or an attached file of ids."
                                .into(),
                        )
                    }
                }
            } else {
                let mut ids = Vec::new();
                for part in ids_text.split([',', ' ', ';']).filter(|p| !p.is_empty()) {
                    match part.parse::<i64>() {
                        Ok(id) if id > 0 => ids.push(id),
                        _ => return Err(format!("“{}” is not a user id.", html(part))),
                    }
                }
                Audience::List(ids)
            }
        }
        _ => {
            segments::parse(&rest).map_err(|e| segment_error(&rest, &e))?;
            Audience::Segment(rest)
        }
    };
    Ok(SendArgs {
        audience,
        start_at,
        paid,
    })
}

/// Parses `YYYY-MM-DD HH:MM` in `tz`.
pub fn parse_local(s: &str, tz: time::UtcOffset) -> Option<UnixMs> {
    let (d, t) = s.split_once(' ')?;
    let day = segments::parse_date(d)?;
    let (h, m) = t.split_once(':')?;
    let time = time::Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()?;
    let at = time::PrimitiveDateTime::new(day, time).assume_offset(tz);
    Some((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Formats a time for the team in `tz`.
pub fn format_local(at: UnixMs, tz: time::UtcOffset) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(tz);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    t.format(&f).unwrap_or_default()
}

/// `/send` in General (the command table checked the author is an admin).
pub async fn command(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    cmd: &Parsed,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let words = cmd.words();
    let first = words.first().map(|w| w.to_lowercase());
    if let Some(action) = first.as_deref().and_then(Action::parse) {
        let text = match words
            .get(1)
            .and_then(|w| w.trim_start_matches('#').parse().ok())
        {
            None => format!("Which broadcast? /send {} N", first.unwrap_or_default()),
            Some(id) => match act_in(ctx, tx, id, action).await {
                Ok(t) => t,
                Err(BroadcastError::Store(e)) => return Err(e),
                Err(e) => format!("Cannot do that: {}.", html(&e.to_string())),
            },
        };
        return answer(ctx, tx, None, reply_to, text).await;
    }
    let replied = msg["reply_to_message"]["message_id"].as_i64();
    let Some(source) = replied.filter(|_| !cmd.args.is_empty()) else {
        let text = if cmd.args.is_empty() {
            list_text(ctx, tx).await?
        } else {
            format!("Reply to the message to broadcast.\n\n{HELP}")
        };
        return answer(ctx, tx, None, reply_to, text).await;
    };
    if msg["reply_to_message"]["text"]
        .as_str()
        .is_some_and(|t| t.starts_with('/'))
    {
        let text = "That message is a command, not something to broadcast: reply with /send to the message people should get.";
        return answer(ctx, tx, None, reply_to, text.into()).await;
    }
    let now = now_ms();
    let file = msg["document"]["file_id"].as_str();
    let args = match parse_args(&cmd.args, file, now, ctx.time_zone.0) {
        Ok(a) => a,
        Err(text) => return answer(ctx, tx, None, reply_to, text).await,
    };
    let sender = match roles::author(ctx, msg) {
        roles::Author::Person(id) => id,
        _ => 0,
    };
    let audience = match args.audience {
        Audience::Test(_) => {
            let reachable = tx
                .contact_by_user(ctx.connection, sender)
                .await?
                .is_some_and(|c| !c.blocked);
            if !reachable {
                let text = "⚠️ You have not written to the bot (or blocked it), so Telegram will not let it message you: open a private chat with the bot, press Start, then /send test again.";
                return answer(ctx, tx, None, reply_to, text.into()).await;
            }
            Audience::Test(sender)
        }
        a => a,
    };
    let author = msg["reply_to_message"]["from"]["id"].as_i64().unwrap_or(0);
    let until = reply_to.map_or(source, |r| r - 1);
    let mut sources = tx
        .general_chain(ctx.connection, source, until.max(source), author)
        .await?;
    if !sources.contains(&source) {
        sources = vec![source];
    }
    let req = Request {
        audience,
        sources,
        start_at: args.start_at,
        created_by: sender,
        paid: args.paid,
    };
    match create_in(ctx, tx, &req, reply_to).await {
        Ok(_) => Ok(()),
        Err(BroadcastError::Segment(e)) => {
            let src = match &req.audience {
                Audience::Segment(s) => s.as_str(),
                _ => "",
            };
            answer(ctx, tx, None, reply_to, segment_error(src, &e)).await
        }
        Err(BroadcastError::Store(e)) => Err(e),
        Err(e) => answer(ctx, tx, None, reply_to, html(&e.to_string())).await,
    }
}

async fn list_text(ctx: &Context, tx: &mut Tx) -> Result<String, StoreError> {
    let list = tx.recent_broadcasts(ctx.connection, 10).await?;
    if list.is_empty() {
        return Ok(format!("No broadcasts yet.\n\n{HELP}"));
    }
    let mut t = String::from("<b>Broadcasts</b>\n");
    for b in list {
        let c = tx.recipient_counts(b.id).await?;
        t.push_str(&format!(
            "#{} {} · {} · {} · sent {}, failed {}, blocked {}, left {}\n",
            b.id,
            state_label(&b.state),
            html(&b.audience),
            run::plural(b.total, "recipient", "recipients"),
            c.sent,
            c.failed,
            c.blocked,
            c.left()
        ));
    }
    t.push_str("\n/send pause|resume|cancel N");
    Ok(t)
}

/// A short label for a state.
pub fn state_label(state: &str) -> &'static str {
    match state {
        "draft" => "⏳ waiting for confirmation",
        "scheduled" => "🕒 scheduled",
        "running" => "▶️ sending",
        "paused" => "⏸ paused",
        "done" => "✅ done",
        _ => "✖️ cancelled",
    }
}

/// A `callback_query` update: Hotline's broadcast buttons; anything else is left alone
/// (in a parallel connection, the other bot answers its own buttons).
pub async fn on_callback(ctx: &Context, tx: &mut Tx, q: &Value) -> Result<(), StoreError> {
    let Some(data) = q["data"]
        .as_str()
        .and_then(|d| d.strip_prefix(CALLBACK_PREFIX))
    else {
        return Ok(());
    };
    if q["message"]["chat"]["id"].as_i64() != Some(ctx.group_id) {
        return Ok(());
    }
    let (Some(callback), Some(from)) = (q["id"].as_str(), q["from"]["id"].as_i64()) else {
        return Ok(());
    };
    let parsed = data
        .split_once(':')
        .and_then(|(a, id)| Some((Action::parse(a)?, id.parse::<i64>().ok()?)));
    let text = match parsed {
        None => "Unknown button.".to_string(),
        Some(_) if !roles::is_admin(ctx, tx, from).await? => {
            "🔒 Only admins can do that.".to_string()
        }
        Some((action, id)) => match act_in(ctx, tx, id, action).await {
            Ok(t) => t,
            Err(BroadcastError::Store(e)) => return Err(e),
            Err(e) => format!("Cannot do that: {e}."),
        },
    };
    let op = Op::Answer {
        callback: callback.to_string(),
        text,
    };
    enqueue(ctx, tx, op, Lane::Reply, from, 0).await?;
    Ok(())
}

/// Records a non-command General message, so `/send` can take an album or a chain.
pub async fn remember_general(ctx: &Context, tx: &mut Tx, msg: &Value) -> Result<(), StoreError> {
    let (Some(id), Some(author)) = (msg["message_id"].as_i64(), msg["from"]["id"].as_i64()) else {
        return Ok(());
    };
    tx.remember_general(
        ctx.connection,
        id,
        author,
        msg["media_group_id"].as_str(),
        now_ms(),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMs = 1_780_000_000_000;

    fn p(args: &str) -> Result<SendArgs, String> {
        parse_args(args, None, NOW, time::UtcOffset::UTC)
    }

    #[test]
    fn send_arguments() {
        assert_eq!(p("all").unwrap().audience, Audience::All);
        assert_eq!(p("test").unwrap().audience, Audience::Test(0));
        assert_eq!(
            p("list 1, 2,3").unwrap().audience,
            Audience::List(vec![1, 2, 3])
        );
        let a = p("vip & !churned in 2h paid").unwrap();
        assert_eq!(a.audience, Audience::Segment("vip & !churned".into()));
        assert_eq!(a.start_at, Some(NOW + 2 * 3_600_000));
        assert!(a.paid);
        let a = p("all at 2026-12-01 10:00").unwrap();
        assert_eq!(
            a.start_at,
            parse_local("2026-12-01 10:00", time::UtcOffset::UTC)
        );
        assert!(p("all at 2020-01-01 10:00").unwrap_err().contains("past"));
        assert!(p("list 1,x").unwrap_err().contains("x"));
        assert!(p("list").is_err());
        assert_eq!(
            parse_args("list", Some("F"), NOW, time::UtcOffset::UTC)
                .unwrap()
                .audience,
            Audience::File("F".into())
        );
        assert!(p("vip &").unwrap_err().contains("position 6"));
    }

    #[test]
    fn schedules_are_bounded() {
        for (args, needle) in [
            ("all at 9999-12-31 23:59", "a year"),
            ("all at 2028-01-01 00:00", "a year"),
            ("all in 100000w", "a year"),
            ("all in 367d", "a year"),
            ("all at 2026-13-01 10:00", "not a time"),
            ("all at 2026-12-01 24:00", "not a time"),
            ("all in 99999999999999999999d", "not a delay"),
        ] {
            let e = p(args).expect_err(args);
            assert!(e.contains(needle), "{args}: {e}");
        }
        assert_eq!(p("all in 366d").unwrap().start_at, Some(NOW + MAX_DELAY_MS));
    }
}
