//! What happened, and the one recorder.
//!
//! A decision describes what it did as an [`Event`] and hands it to [`Context::record`]
//! inside its transaction; every [`Subscriber`] of the connection writes its rows there —
//! the dialog history ([`super::history`]), analytics (`stats`), webhook deliveries
//! (`api::events`) — so each row exists exactly when its decision was committed, and
//! no path can forget one of them. A new subscriber (a metric, another export) implements
//! [`Subscriber`] and joins the list `app` builds for each connection.

use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use super::Context;
use crate::store::{Broadcast, PauseReason, RecipientCounts, StoreError, Tx};

/// Something that happened in a dialog (or, for broadcasts, in the connection).
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A contact's dialog was created (first contact, `/new`).
    DialogCreated {
        /// Dialog id.
        dialog: i64,
    },
    /// A closed dialog was reopened: the user or an operator wrote, `/hold`, `/wait`,
    /// `/new`, a quick reply, the API.
    DialogReopened {
        /// Dialog id.
        dialog: i64,
    },
    /// A dialog was closed (`/close`, AUTOCLOSE, the API).
    DialogClosed {
        /// Dialog id.
        dialog: i64,
    },
    /// A user's message is being relayed into the topic.
    MessageReceived {
        /// Dialog id.
        dialog: i64,
        /// The Telegram message.
        message: &'a Value,
    },
    /// An operator's message in the topic is going to the user.
    OperatorMessage {
        /// Dialog id.
        dialog: i64,
        /// The Telegram message in the group.
        message: &'a Value,
    },
    /// A quick reply is going to the user (`/say`, a tag's `sends`, the API).
    QuickReplySent {
        /// Dialog id.
        dialog: i64,
        /// The operator who sent it or set the tag; None through the API.
        operator: Option<i64>,
        /// The stored content items (the first gives the history's kind and text).
        items: &'a [Value],
    },
    /// The dialog's owner changed (`/take`, `/assign`, `/unassign`, the API).
    DialogAssigned {
        /// Dialog id.
        dialog: i64,
        /// The new owner; `None` when unassigned.
        assignee: Option<i64>,
        /// The owner before.
        previous: Option<i64>,
        /// The operator who changed it; `None` through the API.
        by: Option<i64>,
    },
    /// A dialog has waited for the team (🟪) longer than REMIND_AFTER: the team was
    /// reminded in General (once per waiting period).
    DialogWaiting {
        /// Dialog id.
        dialog: i64,
        /// Its owner, if any.
        assignee: Option<i64>,
        /// How long it has waited, in milliseconds.
        waiting_ms: i64,
    },
    /// A message of the dialog was edited: the user's in their chat, or an operator's in
    /// the topic (`outgoing`).
    MessageEdited {
        /// Dialog id.
        dialog: i64,
        /// An operator's message (in the group) rather than the user's.
        outgoing: bool,
        /// The edited Telegram message.
        message: &'a Value,
    },
    /// Operator messages reached the user: `(group message id, user message id)` pairs.
    OperatorMessagesDelivered {
        /// Dialog id.
        dialog: i64,
        /// What was delivered as what.
        pairs: &'a [(i64, i64)],
    },
    /// A message sent through the API reached the user.
    ApiMessageSent {
        /// Dialog id.
        dialog: i64,
        /// The sent Message, as Telegram returned it.
        message: &'a Value,
    },
    /// The parallel bot put messages into the user's chat: whole messages it sent, or the
    /// ids of messages it copied or forwarded there.
    Intercepted {
        /// Dialog id.
        dialog: i64,
        /// Messages as Telegram returned them.
        messages: &'a [Value],
        /// Ids of copied or forwarded messages.
        copied: &'a [i64],
    },
    /// A tag was put on the dialog's contact.
    ContactTagged {
        /// Dialog id.
        dialog: i64,
        /// The tag's name.
        tag: &'a str,
    },
    /// The parallel bot was paused in a dialog (the handover).
    BotPaused {
        /// Dialog id.
        dialog: i64,
        /// Who asked.
        reason: PauseReason,
        /// The operator, when one asked.
        by: Option<i64>,
    },
    /// The parallel bot answers the dialog's user again.
    BotResumed {
        /// Dialog id.
        dialog: i64,
        /// Who asked.
        reason: PauseReason,
        /// The operator, when one asked.
        by: Option<i64>,
    },
    /// A broadcast ended (done, or cancelled and drained).
    BroadcastFinished {
        /// The broadcast.
        broadcast: &'a Broadcast,
        /// Its recipients per state.
        counts: &'a RecipientCounts,
    },
}

impl Event<'_> {
    /// The dialog the event is about, if any.
    pub fn dialog(&self) -> Option<i64> {
        match *self {
            Event::DialogCreated { dialog }
            | Event::DialogReopened { dialog }
            | Event::DialogClosed { dialog }
            | Event::MessageReceived { dialog, .. }
            | Event::OperatorMessage { dialog, .. }
            | Event::QuickReplySent { dialog, .. }
            | Event::MessageEdited { dialog, .. }
            | Event::DialogAssigned { dialog, .. }
            | Event::DialogWaiting { dialog, .. }
            | Event::OperatorMessagesDelivered { dialog, .. }
            | Event::ApiMessageSent { dialog, .. }
            | Event::Intercepted { dialog, .. }
            | Event::ContactTagged { dialog, .. }
            | Event::BotPaused { dialog, .. }
            | Event::BotResumed { dialog, .. } => Some(dialog),
            Event::BroadcastFinished { .. } => None,
        }
    }
}

/// Records events in the deciding transaction. An error rolls the decision back (it is
/// retried), so a subscriber only fails when the store does.
pub trait Subscriber: Send + Sync {
    /// Writes what `event` means to this subscriber.
    fn record<'a>(
        &'a self,
        tx: &'a mut Tx,
        ctx: &'a Context,
        event: &'a Event<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// The subscribers of one connection, in the order they record.
#[derive(Clone, Default)]
pub struct Subscribers(Arc<Vec<Arc<dyn Subscriber>>>);

impl Subscribers {
    /// A list of subscribers.
    pub fn new(list: Vec<Arc<dyn Subscriber>>) -> Self {
        Self(Arc::new(list))
    }
}

impl Context {
    /// Hands `event` to every subscriber, in the caller's transaction.
    pub async fn record(&self, tx: &mut Tx, event: Event<'_>) -> Result<(), StoreError> {
        for s in self.subscribers.0.iter() {
            s.record(tx, self, &event).await?;
        }
        Ok(())
    }
}
