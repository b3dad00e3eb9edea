//! REMIND_AFTER: a dialog waiting for the team (🟪) longer than the parameter gets a ⏰
//! reminder in General naming its owner, and the `dialog_waiting` event — once per waiting
//! period (the dialog's `reminded_at` against its `status_since`). Runs as a timer like
//! AUTOCLOSE and is computed from the database each time, so it survives restarts.

use std::time::Duration;

use crate::domain::events::Event;
use crate::domain::render::{html, shown_name, topic_link};
use crate::domain::Context;
use crate::shutdown::Shutdown;
use crate::store::{now_ms, Store, StoreError, UnixMs};

/// Candidates reminded of per transaction.
const CHUNK: i64 = 50;

/// Checks every `every` until shutdown.
pub async fn run(ctx: Context, store: Store, every: Duration, mut shutdown: Shutdown) {
    loop {
        if let Err(e) = sweep(&ctx, &store, now_ms()).await {
            tracing::warn!(error = %e, "reminder check failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.recv() => return,
        }
    }
}

/// Reminds of the dialogs due at `now`; returns how many. Each reminder is guarded by the
/// dialog still waiting and not yet reminded of in this waiting period.
pub async fn sweep(ctx: &Context, store: &Store, now: UnixMs) -> Result<usize, StoreError> {
    let minutes = ctx.params().remind_after_minutes;
    if minutes == 0 {
        return Ok(0);
    }
    let before = now - i64::from(minutes) * 60_000;
    let mut reminded = 0;
    loop {
        let mut tx = store.begin().await?;
        let due = tx.dialogs_to_remind(ctx.connection, before, CHUNK).await?;
        for d in &due {
            if !tx.mark_reminded(d.id).await? {
                continue;
            }
            let Some(contact) = tx.contact(d.contact_id).await? else {
                continue;
            };
            let waiting_ms = now - d.status_since;
            let owner = match d.assignee {
                Some(a) => {
                    let name = tx
                        .operator(ctx.connection, a)
                        .await?
                        .map_or_else(|| a.to_string(), |o| o.name);
                    format!("owner: <a href=\"tg://user?id={a}\">{}</a>", html(&name))
                }
                None => "no owner: /take it".to_string(),
            };
            let name = shown_name(&contact, &ctx.params().hide_info);
            let who = match d.thread_id {
                Some(t) => format!(
                    "<a href=\"{}\">{}</a>",
                    topic_link(ctx.group_of(d), t),
                    html(&name)
                ),
                None => html(&name),
            };
            let text = format!(
                "⏰ {who} has waited for an answer for {} · {owner}",
                minutes_words(waiting_ms)
            );
            ctx.notice(&mut tx, None, None, text).await?;
            ctx.record(
                &mut tx,
                Event::DialogWaiting {
                    dialog: d.id,
                    assignee: d.assignee,
                    waiting_ms,
                },
            )
            .await?;
            reminded += 1;
        }
        tx.commit().await?;
        if (due.len() as i64) < CHUNK {
            return Ok(reminded);
        }
    }
}

/// `45 min`, `3 h 5 min`, `2 d 4 h`.
fn minutes_words(ms: i64) -> String {
    let m = ms / 60_000;
    match m {
        m if m < 60 => format!("{m} min"),
        m if m < 1440 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} d {} h", m / 1440, (m % 1440) / 60),
    }
}
