//! `/bot off` and `/bot on` in a topic: the handover by hand. `/bot off` pauses the
//! parallel bot for this user (their messages still come here, the bot no longer sees
//! them), `/bot on` gives the user back to it; `/bot` alone tells the current state.

use crate::domain::Context;
use crate::store::{now_ms, Dialog, PauseReason, StoreError, Tx};

use super::{Command, Place, Spec, Who};
use crate::domain::slash::answer;
use crate::domain::slash::Parsed;

/// What `/bot` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `/bot off` (or `pause`, `stop`).
    Off,
    /// `/bot on` (or `resume`, `start`).
    On,
    /// `/bot`: tell the current state.
    Show,
    /// Anything else: the usage.
    Usage,
}

/// The rows of this family.
pub(super) const COMMANDS: &[Spec] = &[Spec {
    name: "bot",
    aliases: &[],
    place: Place::Topic,
    who: Who::Operator,
    menu: "Pause the bot for this user: /bot off, /bot on",
    help: "/bot off, /bot on — pause the parallel bot for this user (⏸) and give it back",
    parse: |p| Command::Bot(parse(p)),
}];

fn parse(cmd: &Parsed) -> Op {
    match cmd.words().as_slice() {
        ["off"] | ["pause"] | ["stop"] => Op::Off,
        ["on"] | ["resume"] | ["start"] => Op::On,
        [] => Op::Show,
        _ => Op::Usage,
    }
}

/// Runs `/bot [off|on]` typed in the dialog's topic by `operator`.
pub async fn run(
    ctx: &Context,
    tx: &mut Tx,
    dialog: &Dialog,
    op: Op,
    operator: Option<i64>,
    reply_to: Option<i64>,
) -> Result<(), StoreError> {
    let now = now_ms();
    let by = PauseReason::Operator;
    let text = match op {
        Op::Off => {
            if ctx
                .pause_bot(tx, dialog, by, operator, reply_to, now)
                .await?
            {
                return Ok(());
            }
            "The bot is already paused for this user. /bot on gives the dialog back to it."
        }
        Op::On => {
            if ctx
                .resume_bot(tx, dialog.id, by, operator, reply_to, now)
                .await?
            {
                return Ok(());
            }
            "The bot is not paused for this user."
        }
        Op::Show => {
            if tx.open_pause(dialog.id).await?.is_some() {
                "⏸ The bot is paused for this user. /bot on gives the dialog back to it."
            } else {
                "▶️ The bot answers this user. /bot off pauses it while you handle the dialog."
            }
        }
        Op::Usage => {
            "Usage: /bot off (pause the bot for this user) or /bot on (give the dialog back)."
        }
    };
    answer(ctx, tx, Some(dialog.id), reply_to, text.to_string()).await
}
