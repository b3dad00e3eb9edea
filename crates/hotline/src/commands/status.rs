//! `/close`, `/hold` (🟪) and `/wait` (🟨): set a dialog's status by hand.

use crate::domain::Context;
use crate::store::{now_ms, Dialog, DialogStatus, StoreError, Tx};

/// Applies the status named by the command.
pub async fn run(
    ctx: &Context,
    tx: &mut Tx,
    dialog: &Dialog,
    name: &str,
) -> Result<(), StoreError> {
    let status = match name {
        "close" => DialogStatus::Closed,
        "hold" => DialogStatus::New,
        _ => DialogStatus::Wait,
    };
    ctx.set_status(tx, dialog, status, now_ms()).await?;
    Ok(())
}
