//! Webhook events: a [`Subscriber`] of the recorder, so an event's deliveries are queued
//! in the transaction of the decision it describes (an event exists exactly when its
//! decision was committed) and delivered later by [`super::delivery`].
//!
//! Every payload has the same envelope (documented in docs/api.md):
//!
//! ```json
//! {"id": "evt_…", "type": "message_received", "created_at": 1767225600000,
//!  "connection": {"id": 1, "name": "support"},
//!  "contact": {"user_id": 42, "first_name": "Ann", …},
//!  "dialog": {"id": 7, "status": "new", …},
//!  "data": {…}}
//! ```

use futures::future::BoxFuture;
use rand::RngCore;
use serde_json::{json, Value};

use crate::domain::events::{Event, Subscriber};
use crate::domain::views::{ContactView, DialogView};
use crate::domain::{content, Context};
use crate::store::{now_ms, NewDelivery, StoreError, Tx};

/// Queues webhook deliveries for the events the connection's `WEBHOOKS` subscribe to.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookEvents;

impl Subscriber for WebhookEvents {
    fn record<'a>(
        &'a self,
        tx: &'a mut Tx,
        ctx: &'a Context,
        event: &'a Event<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let dialog = event.dialog();
            match *event {
                Event::DialogCreated { .. } => {
                    enqueue(tx, ctx, "dialog_created", dialog, json!({}), None).await?;
                }
                Event::DialogReopened { .. } => {
                    enqueue(tx, ctx, "dialog_reopened", dialog, json!({}), None).await?;
                }
                Event::DialogClosed { .. } => {
                    enqueue(tx, ctx, "dialog_closed", dialog, json!({}), None).await?;
                }
                Event::MessageReceived { message, .. } => {
                    // Built only when wanted: this runs for every relayed message.
                    if wanted(ctx, "message_received") {
                        let data = json!({"message": message_view(message)});
                        enqueue(tx, ctx, "message_received", dialog, data, None).await?;
                    }
                }
                Event::OperatorMessagesDelivered { pairs, .. } => {
                    if !wanted(ctx, "message_sent") {
                        return Ok(());
                    }
                    for (g, u) in pairs {
                        let h = tx.history_by_group_message(ctx.connection, *g).await?;
                        let message = json!({
                            "message_id": u,
                            "group_message_id": g,
                            "kind": h.as_ref().map(|h| h.kind.clone()),
                            "text": h.as_ref().and_then(|h| h.text.clone()),
                            "author_id": h.as_ref().and_then(|h| h.author_id),
                            "via": "operator",
                        });
                        let data = json!({"message": message});
                        enqueue(tx, ctx, "message_sent", dialog, data, None).await?;
                    }
                }
                Event::ApiMessageSent { message, .. } => {
                    let data = json!({"message": {
                        "message_id": message["message_id"],
                        "kind": content::kind(message),
                        "text": content::text_or_caption(message),
                        "via": "api",
                    }});
                    enqueue(tx, ctx, "message_sent", dialog, data, None).await?;
                }
                Event::Intercepted {
                    messages, copied, ..
                } => {
                    // Built only when wanted: this runs for every mirrored call of the
                    // parallel bot (14k instructions a call without any webhook).
                    if !wanted(ctx, "message_intercepted") {
                        return Ok(());
                    }
                    let data = if messages.is_empty() {
                        json!({"copied_message_ids": copied})
                    } else {
                        json!({"messages": messages.iter().map(message_view).collect::<Vec<_>>()})
                    };
                    enqueue(tx, ctx, "message_intercepted", dialog, data, None).await?;
                }
                Event::DialogAssigned {
                    assignee,
                    previous,
                    by,
                    ..
                } => {
                    let name = match assignee {
                        Some(a) => tx.operator(ctx.connection, a).await?.map(|o| o.name),
                        None => None,
                    };
                    let data = json!({"assignee": assignee, "assignee_name": name, "previous": previous, "by": by});
                    enqueue(tx, ctx, "dialog_assigned", dialog, data, None).await?;
                }
                Event::DialogWaiting {
                    assignee,
                    waiting_ms,
                    ..
                } => {
                    let name = match assignee {
                        Some(a) => tx.operator(ctx.connection, a).await?.map(|o| o.name),
                        None => None,
                    };
                    let data = json!({"assignee": assignee, "assignee_name": name, "waiting_ms": waiting_ms});
                    enqueue(tx, ctx, "dialog_waiting", dialog, data, None).await?;
                }
                Event::ContactTagged { tag, .. } => {
                    let data = json!({"tag": tag});
                    enqueue(tx, ctx, "contact_tagged", dialog, data, None).await?;
                }
                Event::BotPaused { reason, by, .. } => {
                    let data = json!({"reason": reason.as_str(), "by": by});
                    enqueue(tx, ctx, "bot_paused", dialog, data, None).await?;
                }
                Event::BotResumed { reason, by, .. } => {
                    let data = json!({"reason": reason.as_str(), "by": by});
                    enqueue(tx, ctx, "bot_resumed", dialog, data, None).await?;
                }
                Event::BroadcastFinished {
                    broadcast: b,
                    counts,
                } => {
                    let data = json!({"broadcast": {
                        "id": b.id,
                        "state": b.state,
                        "audience": b.audience,
                        "total": b.total,
                        "sent": counts.sent,
                        "failed": counts.failed,
                        "blocked": counts.blocked,
                        "skipped": counts.skipped,
                        "cancelled": counts.cancelled,
                    }});
                    enqueue(tx, ctx, "broadcast_finished", None, data, None).await?;
                }
                Event::OperatorMessage { .. }
                | Event::QuickReplySent { .. }
                | Event::MessageEdited { .. } => {}
            }
            Ok(())
        })
    }
}

/// A fresh event id.
pub fn event_id() -> String {
    let mut b = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut b);
    format!("evt_{}", hex::encode(b))
}

/// The envelope of an event about `dialog` (contact and dialog as they are in `tx`).
pub async fn envelope(
    tx: &mut Tx,
    ctx: &Context,
    dialog: Option<i64>,
    kind: &str,
    id: &str,
    data: Value,
) -> Result<Value, StoreError> {
    let (mut contact, mut dlg) = (Value::Null, Value::Null);
    if let Some(d) = dialog {
        if let Some(d) = tx.dialog(d).await? {
            if let Some(c) = tx.contact(d.contact_id).await? {
                let user = c.user_id;
                contact = serde_json::to_value(ContactView::from(c)).unwrap_or(Value::Null);
                dlg = serde_json::to_value(DialogView::new(d, user)).unwrap_or(Value::Null);
            }
        }
    }
    Ok(json!({
        "id": id,
        "type": kind,
        "created_at": now_ms(),
        "connection": {"id": ctx.connection.0, "name": ctx.name},
        "contact": contact,
        "dialog": dlg,
        "data": data,
    }))
}

/// Whether any webhook subscribes to `kind` (so building its payload can be skipped).
fn wanted(ctx: &Context, kind: &str) -> bool {
    ctx.with_params(|p| p.webhooks.iter().any(|w| w.wants(kind)))
}

/// Queues the event `kind` about `dialog` (None: not about a dialog) for every webhook
/// subscribed to it; `reply` tells where a custom command's answer goes. Returns how many
/// deliveries were queued.
pub async fn enqueue(
    tx: &mut Tx,
    ctx: &Context,
    kind: &str,
    dialog: Option<i64>,
    data: Value,
    reply: Option<Value>,
) -> Result<usize, StoreError> {
    // Read in place: this runs for every relayed message, and most connections have no
    // webhooks at all.
    let hooks: Vec<String> = ctx.with_params(|p| {
        p.webhooks
            .iter()
            .filter(|w| w.wants(kind))
            .map(|w| w.url.clone())
            .collect()
    });
    if hooks.is_empty() {
        return Ok(0);
    }
    let id = event_id();
    let body = envelope(tx, ctx, dialog, type_of(kind), &id, data)
        .await?
        .to_string();
    let now = now_ms();
    for url in &hooks {
        let d = NewDelivery {
            url: url.clone(),
            event: kind.to_string(),
            event_id: id.clone(),
            ordering_key: dialog.unwrap_or(0),
            body: body.clone(),
            reply: reply.as_ref().map(Value::to_string),
        };
        tx.enqueue_delivery(ctx.connection, &d, now).await?;
    }
    Ok(hooks.len())
}

/// The payload `type` of a queued event: custom commands (`/name`) are `command`.
pub fn type_of(event: &str) -> &str {
    if event.starts_with('/') {
        "command"
    } else {
        event
    }
}

fn message_view(msg: &Value) -> Value {
    json!({
        "message_id": msg["message_id"],
        "kind": content::kind(msg),
        "text": content::text_or_caption(msg),
        "media_group_id": msg["media_group_id"],
        "date": msg["date"],
    })
}
