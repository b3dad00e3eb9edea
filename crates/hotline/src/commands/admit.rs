//! `/admit USER_ID|@username|all` in General: contacts waiting at the spam gate
//! (`NEW_TOPICS_PER_HOUR`) get their topics now, with the messages they wrote meanwhile.

use super::{Command, Place, Spec, Who};
use crate::domain::render::html;
use crate::domain::slash::{answer, Parsed};
use crate::domain::Context;
use crate::relay::gate;
use crate::store::{now_ms, StoreError, Tx};

/// Most dialogs one `/admit all` lets in (the rest wait for the next one).
const ALL_MAX: i64 = 10_000;

/// The rows of this family.
pub(super) const COMMANDS: &[Spec] = &[Spec {
    name: "admit",
    aliases: &[],
    place: Place::General,
    who: Who::Admin,
    menu: "Let contacts waiting at the spam gate in",
    help: "/admit USER_ID, /admit @username or /admit all — give contacts waiting at the spam gate (NEW_TOPICS_PER_HOUR) their topics",
    parse: |p| Command::Admit(p.clone()),
}];

/// Admits one waiting contact or all of them.
pub async fn run(
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
        gate::admit_oldest(ctx, tx, ALL_MAX, now).await?
    } else {
        let contact = match arg.parse::<i64>() {
            Ok(id) => tx.contact_by_user(ctx.connection, id).await?,
            Err(_) => {
                tx.contact_by_username(ctx.connection, arg.trim_start_matches('@'))
                    .await?
            }
        };
        let dialog = match contact {
            Some(c) => tx.dialog_for_contact(ctx.connection, c.id).await?,
            None => None,
        };
        let admitted = match dialog {
            Some(d) => gate::admit(ctx, tx, d.id, now).await?,
            None => false,
        };
        if !admitted {
            let text = format!("{} does not wait at the spam gate.", html(arg));
            return answer(ctx, tx, None, reply_to, text).await;
        }
        1
    };
    let left = tx.gate_waiting_count(ctx.connection).await?;
    answer(ctx, tx, None, reply_to, gate::admitted_text(admitted, left)).await
}
