//! `/apikey` (admins, in General): list, create and revoke API keys. A new key is sent to
//! the admin in a private chat with the bot; when the bot cannot write to them (they never
//! started it) it is posted in General with a warning to delete the message (or revoke the
//! key) since everyone in the group can read it. The key is generated when that message is
//! sent and is never stored in clear, not even in the outbox.

use serde_json::Value;

use super::send::{ApiAction, ApiJob};
use crate::domain::render::html;
use crate::domain::slash::Parsed;
use crate::domain::Context;
use crate::store::StoreError;
use crate::store::{now_ms, Tx};

/// `/apikey`, `/apikey new NAME`, `/apikey revoke ID` in General (admins only: the command table checked the author).
pub async fn apikey(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    cmd: &Parsed,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let words = cmd.words();
    let text = match words.as_slice() {
        [] => {
            let keys = tx.api_keys(ctx.connection).await?;
            let live: Vec<String> = keys
                .iter()
                .filter(|k| k.revoked_at.is_none())
                .map(|k| {
                    format!(
                        "#{} <code>{}…</code> {}",
                        k.id,
                        html(&k.prefix),
                        html(&k.name)
                    )
                })
                .collect();
            let list = if live.is_empty() {
                "No API keys yet.".to_string()
            } else {
                format!("API keys:\n{}", live.join("\n"))
            };
            format!("{list}\n\n/apikey new NAME — create a key (sent to you privately)\n/apikey revoke ID — revoke one")
        }
        ["new", name @ ..] if !name.is_empty() => {
            let name = name.join(" ");
            if name.chars().count() > 64 {
                "The name must be at most 64 characters.".to_string()
            } else {
                let Some(admin) = msg["from"]["id"].as_i64() else {
                    return Ok(());
                };
                let action = ApiAction::NewKey {
                    admin,
                    name,
                    reply_to,
                };
                let job = ApiJob {
                    dialog: None,
                    action,
                };
                ctx.to_group(tx, None, &job).await?;
                return Ok(());
            }
        }
        ["revoke", id] => match id.trim_start_matches('#').parse::<i64>() {
            Ok(id) if tx.revoke_api_key(ctx.connection, id, now_ms()).await? => {
                format!("🔑 Key #{id} is revoked.")
            }
            _ => format!("No live key {}.", html(id)),
        },
        _ => "Usage: /apikey, /apikey new NAME, /apikey revoke ID".to_string(),
    };
    crate::domain::slash::answer(ctx, tx, None, reply_to, text).await
}
