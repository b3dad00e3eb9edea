//! `/export [SEGMENT]`: a CSV of contacts posted as a document to General. Rows are
//! streamed from the database into a temporary file, so memory does not grow with the
//! number of contacts; [`write_csv`] is the same export for the API.

use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::domain::render::html;
use crate::domain::slash::answer;
use crate::domain::slash::Parsed;
use crate::domain::topics::Topics;
use crate::domain::Context;
use crate::outbox::{Action, Classify, Execute, Failure, Registry};
use crate::segments::segment_error;
use crate::segments::{self, SegmentError};
use crate::store::{now_ms, ConnectionId, ExportRow, Intent, Store, StoreError, Tx, UnixMs};
use crate::telegram::TgError;

/// The export's columns.
pub const HEADER: [&str; 15] = [
    "user_id",
    "first_name",
    "last_name",
    "username",
    "language",
    "first_seen",
    "last_message_at",
    "tags",
    "dialog_status",
    "messages_in",
    "messages_out",
    "blocked",
    "banned",
    "profile",
    "rating",
];

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The segment is wrong.
    #[error("segment {0}")]
    Segment(#[from] SegmentError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the CSV failed.
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    /// Writing the file failed.
    #[error("writing the file: {0}")]
    Io(#[from] std::io::Error),
}

/// `YYYY-MM-DD HH:MM:SS` in `tz`.
pub fn format_time(at: UnixMs, tz: time::UtcOffset) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(tz);
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.format(&f).unwrap_or_default()
}

fn record(r: &ExportRow, tz: time::UtcOffset) -> [String; 15] {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    [
        r.user_id.to_string(),
        r.first_name.clone(),
        r.last_name.clone().unwrap_or_default(),
        r.username.clone().unwrap_or_default(),
        r.language_code.clone().unwrap_or_default(),
        format_time(r.first_seen_at, tz),
        r.last_message_at
            .map(|t| format_time(t, tz))
            .unwrap_or_default(),
        r.tags.clone().unwrap_or_default(),
        r.dialog_status.clone().unwrap_or_default(),
        r.messages_in.to_string(),
        r.messages_out.to_string(),
        yes_no(r.blocked),
        yes_no(r.banned),
        format!("tg://user?id={}", r.user_id),
        r.rating.map(|s| s.to_string()).unwrap_or_default(),
    ]
}

/// Writes the CSV of the contacts matching `segment` (None = all) to `out`, row by row;
/// returns the number of contacts.
pub async fn write_csv<W: Write>(
    store: &Store,
    connection: ConnectionId,
    segment: Option<&str>,
    tz: time::UtcOffset,
    out: W,
) -> Result<u64, ExportError> {
    let compiled = match segment {
        Some(src) => Some(segments::resolve(store, connection, src, now_ms(), tz, 2).await??),
        None => None,
    };
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    let n = store
        .export_contacts(connection, compiled.as_ref(), |r| {
            w.write_record(record(&r, tz))
        })
        .await??;
    w.flush()?;
    Ok(n)
}

/// `/export [SEGMENT]` in General (the command table checked the author is an admin): checks the segment now, exports when the intent runs.
pub async fn command(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    cmd: &Parsed,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let segment = (!cmd.args.is_empty()).then(|| cmd.args.clone());
    if let Some(src) = &segment {
        let checked =
            segments::resolve_tx(tx, ctx.connection, src, now_ms(), ctx.time_zone.0, 2).await?;
        if let Err(e) = checked {
            return answer(ctx, tx, None, reply_to, segment_error(src, &e)).await;
        }
    }
    let job = ExportJob { segment, reply_to };
    ctx.to_group(tx, None, &job).await?;
    Ok(())
}

/// Post a CSV export of contacts in General (`/export`): the export's outbox action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportJob {
    /// Segment, or all contacts.
    pub segment: Option<String>,
    /// The command message.
    pub reply_to: Option<i64>,
}

impl Action for ExportJob {
    const KIND: &'static str = "export";
}

/// Why an export job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Telegram refused or did not answer.
    #[error(transparent)]
    Telegram(#[from] TgError),
    /// Writing the file or reading the contacts failed.
    #[error(transparent)]
    Export(#[from] ExportError),
}

impl Classify for JobError {
    fn failure(&self) -> Failure {
        match self {
            JobError::Telegram(e) => e.failure(),
            JobError::Export(ExportError::Store(e)) => e.failure(),
            JobError::Export(_) => Failure::Transient,
        }
    }
}

/// Executes [`ExportJob`]s for one connection.
pub struct ExportExecutor(pub Topics);

/// Registers the export's action with its executor.
pub fn register(registry: &mut Registry, topics: &Topics) {
    registry.register::<ExportJob, _>(std::sync::Arc::new(ExportExecutor(topics.clone())));
}

impl Execute<ExportJob> for ExportExecutor {
    type Done = ();
    type Error = JobError;

    async fn execute(&self, _intent: &Intent, job: ExportJob) -> Result<(), JobError> {
        execute(&self.0, job.segment.as_deref(), job.reply_to).await
    }
}

/// Runs an export: a temporary file, then one upload streamed from it.
async fn execute(
    ex: &Topics,
    segment: Option<&str>,
    reply_to: Option<i64>,
) -> Result<(), JobError> {
    let ctx = &ex.ctx;
    let file = tempfile::NamedTempFile::new().map_err(ExportError::Io)?;
    let writer = std::io::BufWriter::new(file.reopen().map_err(ExportError::Io)?);
    let mut extra = json!({});
    if let Some(r) = reply_to {
        extra["reply_parameters"] = json!({"message_id": r, "allow_sending_without_reply": true});
    }
    let n = match write_csv(&ex.store, ctx.connection, segment, ctx.time_zone.0, writer).await {
        Ok(n) => n,
        Err(ExportError::Segment(e)) => {
            extra["parse_mode"] = json!("HTML");
            let text = segment_error(segment.unwrap_or(""), &e);
            ex.tg.send_message(ctx.group_id, &text, extra).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let what = segment.map_or("all contacts".to_string(), |s| format!("segment {s}"));
    extra["caption"] = json!(format!("📇 Export: {n} contacts ({})", html(&what)));
    extra["parse_mode"] = json!("HTML");
    let name = format!(
        "contacts-{}.csv",
        &format_time(now_ms(), ctx.time_zone.0)[..10]
    );
    // Streamed from the file into the upload: never read back into memory.
    ex.tg
        .send_document_file(ctx.group_id, &name, "text/csv", file.path(), extra)
        .await?;
    Ok(())
}
