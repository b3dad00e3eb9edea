//! `/close`, `/hold` (🟪) and `/wait` (🟨): set a dialog's status by hand. Closing goes
//! through [`crate::closing`] (closing message, rating question).

use crate::domain::Context;
use crate::store::{now_ms, Dialog, DialogStatus, StoreError, Tx};

/// Applies the status named by the command.
pub async fn run(
    ctx: &Context,
    tx: &mut Tx,
    dialog: &Dialog,
    name: &str,
    operator: Option<i64>,
) -> Result<(), StoreError> {
    let status = match name {
        "close" => {
            crate::closing::close_by_team(ctx, tx, dialog, operator).await?;
            return Ok(());
        }
        "hold" => DialogStatus::New,
        _ => DialogStatus::Wait,
    };
    ctx.set_status(tx, dialog, status, now_ms()).await?;
    Ok(())
}
