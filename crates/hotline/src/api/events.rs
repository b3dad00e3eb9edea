//! Webhook events, recorded in the transaction of the decision they describe (so an event
//! exists exactly when its decision was committed) and delivered later by [`super::delivery`].
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
//!
//! Hooks elsewhere are one line each: `crate::api::events::record(tx, relay, dialog, Event::…)`.
//! Message events also write the dialog's text history (`dialog_messages`), which the API
//! serves, whether or not a webhook listens.

use rand::RngCore;
use serde_json::{json, Value};

use super::contacts::ContactView;
use super::dialogs::DialogView;
use crate::gateway::mirror::Mirror;
use crate::relay::{content, Relay};
use crate::store::{now_ms, DialogStatus, NewDelivery, NewHistoryMessage, StoreError, Tx};

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A contact's dialog was created (first contact, or `/new`).
    DialogCreated,
    /// A closed dialog was reopened (the user wrote again, `/hold`, or the API).
    DialogReopened,
    /// The dialog was closed (`/close`, AUTOCLOSE, or the API).
    DialogClosed,
    /// A user message was relayed into the topic (`data.message`).
    MessageReceived(Value),
    /// An operator's (or the API's) message reached the user (`data.message`).
    MessageSent(Value),
    /// The parallel bot sent something to the user (`data`: what it sent).
    MessageIntercepted(Value),
    /// A tag was set on the contact (`data.tag`).
    ContactTagged(Value),
}

impl Event {
    /// The event's `type`.
    pub fn name(&self) -> &'static str {
        match self {
            Event::DialogCreated => "dialog_created",
            Event::DialogReopened => "dialog_reopened",
            Event::DialogClosed => "dialog_closed",
            Event::MessageReceived(_) => "message_received",
            Event::MessageSent(_) => "message_sent",
            Event::MessageIntercepted(_) => "message_intercepted",
            Event::ContactTagged(_) => "contact_tagged",
        }
    }

    fn data(&self) -> Value {
        match self {
            Event::MessageReceived(v)
            | Event::MessageSent(v)
            | Event::MessageIntercepted(v)
            | Event::ContactTagged(v) => v.clone(),
            _ => json!({}),
        }
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
    relay: &Relay,
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
        "connection": {"id": relay.connection.0, "name": relay.name},
        "contact": contact,
        "dialog": dlg,
        "data": data,
    }))
}

/// Whether any webhook subscribes to `kind` (so building its payload can be skipped).
fn wanted(relay: &Relay, kind: &str) -> bool {
    relay
        .params
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .webhooks
        .iter()
        .any(|w| w.wants(kind))
}

/// Queues the event `kind` about `dialog` (None: not about a dialog) for every webhook
/// subscribed to it; `reply` tells where a custom command's answer goes. Returns how many
/// deliveries were queued.
pub async fn enqueue(
    tx: &mut Tx,
    relay: &Relay,
    kind: &str,
    dialog: Option<i64>,
    data: Value,
    reply: Option<Value>,
) -> Result<usize, StoreError> {
    // Read in place: this runs for every relayed message, and most connections have no
    // webhooks at all.
    let hooks: Vec<String> = relay
        .params
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .webhooks
        .iter()
        .filter(|w| w.wants(kind))
        .map(|w| w.url.clone())
        .collect();
    if hooks.is_empty() {
        return Ok(0);
    }
    let id = event_id();
    let body = envelope(tx, relay, dialog, type_of(kind), &id, data)
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
        tx.enqueue_delivery(relay.connection, &d, now).await?;
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

/// Records `event` about `dialog` for the webhooks that want it.
pub async fn record(
    tx: &mut Tx,
    relay: &Relay,
    dialog: i64,
    event: Event,
) -> Result<(), StoreError> {
    enqueue(tx, relay, event.name(), Some(dialog), event.data(), None).await?;
    Ok(())
}

/// A dialog was created (first contact, `/new`).
pub async fn created(tx: &mut Tx, relay: &Relay, dialog: i64) -> Result<(), StoreError> {
    record(tx, relay, dialog, Event::DialogCreated).await
}

/// A closed dialog was reopened by the user's message.
pub async fn reopened(tx: &mut Tx, relay: &Relay, dialog: i64) -> Result<(), StoreError> {
    record(tx, relay, dialog, Event::DialogReopened).await
}

/// A dialog was closed (AUTOCLOSE).
pub async fn closed(tx: &mut Tx, relay: &Relay, dialog: i64) -> Result<(), StoreError> {
    record(tx, relay, dialog, Event::DialogClosed).await
}

/// A tag was put on the dialog's contact (`/mark`, the API).
pub async fn tagged(tx: &mut Tx, relay: &Relay, dialog: i64, tag: &str) -> Result<(), StoreError> {
    record(tx, relay, dialog, Event::ContactTagged(json!({"tag": tag}))).await
}

/// A broadcast ended (done, or cancelled and drained): `broadcast_finished`, not about a
/// dialog (`contact` and `dialog` are null).
pub async fn broadcast_finished(
    tx: &mut Tx,
    relay: &Relay,
    b: &crate::store::Broadcast,
    counts: &crate::store::RecipientCounts,
) -> Result<(), StoreError> {
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
    enqueue(tx, relay, "broadcast_finished", None, data, None).await?;
    Ok(())
}

/// A status change by `/close`, `/hold`, `/wait` or the API: closed or reopened events.
pub async fn status_changed(
    tx: &mut Tx,
    relay: &Relay,
    dialog: i64,
    was_closed: bool,
    status: DialogStatus,
) -> Result<(), StoreError> {
    match (was_closed, status) {
        (false, DialogStatus::Closed) => record(tx, relay, dialog, Event::DialogClosed).await,
        (true, s) if s != DialogStatus::Closed => {
            record(tx, relay, dialog, Event::DialogReopened).await
        }
        _ => Ok(()),
    }
}

fn message_view(msg: &Value) -> Value {
    json!({
        "message_id": msg["message_id"],
        "kind": content::kind(msg),
        "text": text_of(msg),
        "media_group_id": msg["media_group_id"],
        "date": msg["date"],
    })
}

fn text_of(msg: &Value) -> Option<String> {
    msg["text"]
        .as_str()
        .or_else(|| msg["caption"].as_str())
        .map(str::to_string)
}

/// A user message about to be relayed into the topic: history + `message_received`.
pub async fn received(
    tx: &mut Tx,
    relay: &Relay,
    dialog: i64,
    msg: &Value,
) -> Result<(), StoreError> {
    let h = NewHistoryMessage {
        dialog_id: dialog,
        direction: "incoming",
        kind: content::kind(msg),
        text: text_of(msg),
        user_message_id: msg["message_id"].as_i64(),
        group_message_id: None,
        author_id: msg["from"]["id"].as_i64(),
    };
    tx.insert_history(relay.connection, &h, now_ms()).await?;
    if !wanted(relay, "message_received") {
        return Ok(());
    }
    let data = json!({"message": message_view(msg)});
    record(tx, relay, dialog, Event::MessageReceived(data)).await
}

/// An operator message decided to go to the user: its history row (the `message_sent`
/// event follows when it is delivered, see [`delivered`]).
pub async fn operator_message(
    tx: &mut Tx,
    relay: &Relay,
    dialog: i64,
    msg: &Value,
) -> Result<(), StoreError> {
    let h = NewHistoryMessage {
        dialog_id: dialog,
        direction: "outgoing",
        kind: content::kind(msg),
        text: text_of(msg),
        user_message_id: None,
        group_message_id: msg["message_id"].as_i64(),
        author_id: msg["from"]["id"].as_i64(),
    };
    tx.insert_history(relay.connection, &h, now_ms()).await?;
    Ok(())
}

/// Operator messages (`group_ids`) reached the user as `user_ids`: `message_sent`.
pub async fn delivered(
    store: &crate::store::Store,
    relay: &Relay,
    dialog: i64,
    group_ids: &[i64],
    user_ids: &[i64],
) -> Result<(), StoreError> {
    if relay
        .params()
        .webhooks
        .iter()
        .all(|w| !w.wants("message_sent"))
    {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    tx.lock_for_write().await?;
    for (g, u) in group_ids.iter().zip(user_ids) {
        let h = tx.history_by_group_message(relay.connection, *g).await?;
        let message = json!({
            "message_id": u,
            "group_message_id": g,
            "kind": h.as_ref().map(|h| h.kind.clone()),
            "text": h.as_ref().and_then(|h| h.text.clone()),
            "author_id": h.as_ref().and_then(|h| h.author_id),
            "via": "operator",
        });
        record(
            &mut tx,
            relay,
            dialog,
            Event::MessageSent(json!({"message": message})),
        )
        .await?;
    }
    tx.commit().await
}

/// The parallel bot sent something to the user: history + `message_intercepted`.
pub async fn intercepted(
    tx: &mut Tx,
    relay: &Relay,
    dialog: i64,
    mirror: &Mirror,
) -> Result<(), StoreError> {
    let data = match mirror {
        Mirror::Sent { messages, .. } => {
            for m in messages {
                let h = NewHistoryMessage {
                    dialog_id: dialog,
                    direction: "intercepted",
                    kind: content::kind(m),
                    text: text_of(m),
                    user_message_id: m["message_id"].as_i64(),
                    group_message_id: None,
                    author_id: m["from"]["id"].as_i64(),
                };
                tx.insert_history(relay.connection, &h, now_ms()).await?;
            }
            json!({"messages": messages.iter().map(message_view).collect::<Vec<_>>()})
        }
        Mirror::Copied { ids, .. } => {
            for id in ids {
                let h = NewHistoryMessage {
                    dialog_id: dialog,
                    direction: "intercepted",
                    kind: "copy".into(),
                    user_message_id: Some(*id),
                    ..Default::default()
                };
                tx.insert_history(relay.connection, &h, now_ms()).await?;
            }
            json!({"copied_message_ids": ids})
        }
        _ => return Ok(()),
    };
    record(tx, relay, dialog, Event::MessageIntercepted(data)).await
}
