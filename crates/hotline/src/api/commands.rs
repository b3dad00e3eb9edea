//! Custom commands: any `/name` Hotline does not know, when a `WEBHOOKS` entry lists
//! `/name`, is POSTed to that URL (signed like every event) instead of the "Unknown
//! command" notice; the receiver's answer is posted where the command was typed.

use serde_json::{json, Value};

use super::delivery::ReplyTo;
use super::events;
use crate::domain::slash::Parsed;
use crate::domain::Context;
use crate::store::StoreError;
use crate::store::Tx;

/// Routes an unknown command to its webhook; false when no webhook takes it.
pub async fn custom(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: Option<i64>,
    cmd: &Parsed,
) -> Result<bool, StoreError> {
    let event = format!("/{}", cmd.name);
    if !ctx.params().webhooks.iter().any(|w| w.wants(&event)) {
        return Ok(false);
    }
    let from = &msg["from"];
    let data = json!({
        "command": cmd.name,
        "args": cmd.args,
        "text": msg["text"],
        "message_id": msg["message_id"],
        "place": if dialog.is_some() { "topic" } else { "general" },
        "from": {
            "id": from["id"],
            "first_name": from["first_name"],
            "last_name": from["last_name"],
            "username": from["username"],
        },
    });
    let reply = ReplyTo {
        dialog,
        reply_to: msg["message_id"].as_i64(),
        command: cmd.name.clone(),
    };
    let reply = serde_json::to_value(reply).expect("serialises");
    Ok(events::enqueue(tx, ctx, &event, dialog, data, Some(reply)).await? > 0)
}
