//! `/close`, `/hold` (🟪) and `/wait` (🟨): set a dialog's status by hand. Closing goes
//! through [`crate::closing`] (closing message, rating question).

use super::{Command, Place, Spec, Who};
use crate::domain::Context;
use crate::store::{now_ms, Dialog, DialogStatus, StoreError, Tx};

/// The status a command sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `/close`.
    Close,
    /// `/hold`: 🟪.
    Hold,
    /// `/wait`: 🟨.
    Wait,
}

/// The rows of this family.
pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        name: "close",
        aliases: &[],
        place: Place::Topic,
        who: Who::Operator,
        menu: "Close the dialog",
        help: "/close — close the dialog",
        parse: |_| Command::Status(Change::Close),
    },
    Spec {
        name: "hold",
        aliases: &[],
        place: Place::Topic,
        who: Who::Operator,
        menu: "Mark 🟪 (the user wrote last)",
        help: "/hold — mark 🟪",
        parse: |_| Command::Status(Change::Hold),
    },
    Spec {
        name: "wait",
        aliases: &[],
        place: Place::Topic,
        who: Who::Operator,
        menu: "Mark 🟨 (waiting for the user)",
        help: "/wait — mark 🟨",
        parse: |_| Command::Status(Change::Wait),
    },
];

/// Applies the status named by the command.
pub async fn run(
    ctx: &Context,
    tx: &mut Tx,
    dialog: &Dialog,
    change: Change,
    operator: Option<i64>,
) -> Result<(), StoreError> {
    let status = match change {
        Change::Close => {
            crate::closing::close_by_team(ctx, tx, dialog, operator).await?;
            return Ok(());
        }
        Change::Hold => DialogStatus::New,
        Change::Wait => DialogStatus::Wait,
    };
    ctx.set_status(tx, dialog, status, now_ms()).await?;
    Ok(())
}
