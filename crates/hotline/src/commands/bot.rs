//! `/bot off` and `/bot on` in a topic: the handover by hand. `/bot off` pauses the
//! parallel bot for this user (their messages still come here, the bot no longer sees
//! them), `/bot on` gives the user back to it; `/bot` alone tells the current state.

use crate::domain::Context;
use crate::store::{now_ms, Dialog, PauseReason, StoreError, Tx};

use crate::domain::slash::answer;
use crate::domain::slash::Parsed;

/// Runs `/bot [off|on]` typed in the dialog's topic by `operator`.
pub async fn run(
    ctx: &Context,
    tx: &mut Tx,
    dialog: &Dialog,
    cmd: &Parsed,
    operator: Option<i64>,
    reply_to: Option<i64>,
) -> Result<(), StoreError> {
    let now = now_ms();
    let by = PauseReason::Operator;
    let text = match cmd.words().as_slice() {
        ["off"] | ["pause"] | ["stop"] => {
            if ctx
                .pause_bot(tx, dialog, by, operator, reply_to, now)
                .await?
            {
                return Ok(());
            }
            "The bot is already paused for this user. /bot on gives the dialog back to it."
        }
        ["on"] | ["resume"] | ["start"] => {
            if ctx
                .resume_bot(tx, dialog.id, by, operator, reply_to, now)
                .await?
            {
                return Ok(());
            }
            "The bot is not paused for this user."
        }
        [] => {
            if tx.open_pause(dialog.id).await?.is_some() {
                "⏸ The bot is paused for this user. /bot on gives the dialog back to it."
            } else {
                "▶️ The bot answers this user. /bot off pauses it while you handle the dialog."
            }
        }
        _ => "Usage: /bot off (pause the bot for this user) or /bot on (give the dialog back).",
    };
    answer(ctx, tx, Some(dialog.id), reply_to, text.to_string()).await
}
