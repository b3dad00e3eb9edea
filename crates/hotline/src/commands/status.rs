//! `/close`, `/hold` (🟪) and `/wait` (🟨): set a dialog's status by hand.

use crate::relay::{Intent, Relay, RelayError};
use crate::store::{now_ms, Dialog, DialogStatus, Tx};

/// Applies the status named by the command.
pub async fn run(
    relay: &Relay,
    tx: &mut Tx,
    dialog: &Dialog,
    name: &str,
) -> Result<(), RelayError> {
    let status = match name {
        "close" => DialogStatus::Closed,
        "hold" => DialogStatus::New,
        _ => DialogStatus::Wait,
    };
    let was_closed = dialog.status == DialogStatus::Closed;
    if !tx.set_dialog_status(dialog.id, status, now_ms()).await? {
        return Ok(());
    }
    crate::api::events::status_changed(tx, relay, dialog.id, was_closed, status).await?;
    if status == DialogStatus::Closed {
        crate::stats::record(tx, relay, dialog.id, crate::stats::kind::CLOSED, None).await?;
    } else if was_closed {
        crate::stats::record(tx, relay, dialog.id, crate::stats::kind::REOPENED, None).await?;
    }
    // Title first: a closed topic still shows ⬛ in the list.
    relay
        .push(tx, Intent::Title { dialog: dialog.id }, 0)
        .await?;
    if was_closed || status == DialogStatus::Closed {
        relay
            .push(tx, Intent::TopicState { dialog: dialog.id }, 0)
            .await?;
    }
    Ok(())
}
