//! The dialog history (`dialog_messages`): every message either way, with its text, as the
//! API serves it. A [`Subscriber`]: rows are written by the recorder in the deciding
//! transaction, whether or not anyone reads them.

use futures::future::BoxFuture;
use serde_json::Value;

use super::content;
use super::events::{Event, Subscriber};
use super::Context;
use crate::store::{now_ms, NewHistoryMessage, StoreError, Tx};

/// Writes history rows for received, answered and intercepted messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct History;

fn row(dialog: i64, direction: &'static str, msg: &Value) -> NewHistoryMessage {
    NewHistoryMessage {
        dialog_id: dialog,
        direction,
        kind: content::kind(msg),
        text: content::text_or_caption(msg).map(str::to_string),
        user_message_id: None,
        group_message_id: None,
        author_id: msg["from"]["id"].as_i64(),
    }
}

impl Subscriber for History {
    fn record<'a>(
        &'a self,
        tx: &'a mut Tx,
        ctx: &'a Context,
        event: &'a Event<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let rows = match *event {
                Event::MessageReceived { dialog, message } => vec![NewHistoryMessage {
                    user_message_id: message["message_id"].as_i64(),
                    ..row(dialog, "incoming", message)
                }],
                Event::OperatorMessage { dialog, message } => vec![NewHistoryMessage {
                    group_message_id: message["message_id"].as_i64(),
                    ..row(dialog, "outgoing", message)
                }],
                Event::QuickReplySent {
                    dialog,
                    operator,
                    items,
                } => {
                    let first = items.first().unwrap_or(&Value::Null);
                    let text = first["text"].as_str().or(first["caption"].as_str());
                    vec![NewHistoryMessage {
                        dialog_id: dialog,
                        direction: "outgoing",
                        kind: first["type"].as_str().unwrap_or("text").to_string(),
                        text: text.map(str::to_string),
                        author_id: operator,
                        ..Default::default()
                    }]
                }
                Event::MessageEdited {
                    dialog,
                    outgoing,
                    message,
                } => {
                    if let Some(id) = message["message_id"].as_i64() {
                        let text = content::text_or_caption(message);
                        tx.edit_history_text(dialog, outgoing, id, text).await?;
                    }
                    return Ok(());
                }
                Event::Intercepted {
                    dialog,
                    messages,
                    copied,
                } => messages
                    .iter()
                    .map(|m| NewHistoryMessage {
                        user_message_id: m["message_id"].as_i64(),
                        ..row(dialog, "intercepted", m)
                    })
                    .chain(copied.iter().map(|id| NewHistoryMessage {
                        dialog_id: dialog,
                        direction: "intercepted",
                        kind: "copy".into(),
                        user_message_id: Some(*id),
                        ..Default::default()
                    }))
                    .collect(),
                _ => return Ok(()),
            };
            let now = now_ms();
            // Appended at the commit, with the batch's other rows (see `store::Tx`).
            for h in rows {
                tx.defer_history(ctx.connection, h, now);
            }
            Ok(())
        })
    }
}
