//! The durable delivery queue between deciding code and Telegram.
//!
//! Deciding code (relay, commands, gateway) writes an [`Intent`] with
//! [`Tx::enqueue`](crate::store::Tx::enqueue) in the same transaction that records its
//! decision. A [`Worker`] per connection executes due intents:
//! - strictly in order per queue — a queue is `(target_chat, fairness_key)`: a private
//!   chat is one queue; inside the backend group every dialog is its own queue, so dialogs
//!   interleave while each dialog keeps its order;
//! - fair across chats and across dialogs, with priority lanes ([`Lane`]);
//! - within Telegram's limits (sliding windows per bot, private chat and group), pausing the
//!   whole bot on 429 for `retry_after`;
//! - retrying transient failures with capped exponential backoff and jitter;
//! - at least once: an intent in flight at a crash runs again after restart.
//!
//! # What an intent is
//! The outbox does not interpret intents. An intent's `action` is JSON that the
//! connection's [`Executor`] decodes into its own `Action` type and executes. This keeps
//! the relay simple: it defines an enum of Hotline-level actions ("copy user message M
//! into dialog D", "set the title of dialog D") whose parameters are resolved at execution
//! time (D's topic id is read when the copy runs, a missing topic is created first), and
//! implements [`Executor`] once. Plain Bot API calls whose parameters are final when
//! decided can use [`BotCall`] (or embed it as one variant of the relay's enum), and
//! [`CallExecutor`] executes them as is.
//!
//! Results come back through [`Executor::on_success`] / [`Executor::on_permanent_failure`],
//! called with a transaction in which the worker also marks the intent done or failed, so
//! "message id mapping recorded" and "intent done" commit together.

mod limiter;
mod scheduler;
mod worker;

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{ConnectionId, StoreError, Tx, UnixMs};
use crate::telegram::{Client, TgError};

pub use limiter::RateWindow;
pub use scheduler::{Candidate, Pick, Scheduler};
pub use worker::{OutboxConfig, Worker};

/// Store id of an intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IntentId(pub i64);

/// Priority lane; lower runs first when the bot-wide budget is short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(i64)]
pub enum Lane {
    /// Operator replies and other calls a user is waiting for.
    Reply = 0,
    /// Copies and notices into the backend group.
    Group = 1,
    /// Broadcasts and other bulk work.
    Broadcast = 2,
}

impl Lane {
    /// Decodes the stored number.
    pub fn from_i64(v: i64) -> Option<Self> {
        match v {
            0 => Some(Self::Reply),
            1 => Some(Self::Group),
            2 => Some(Self::Broadcast),
            _ => None,
        }
    }
}

/// An intent to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewIntent {
    /// The chat the call goes to: decides the rate limit and the order.
    pub target_chat: i64,
    /// Priority lane.
    pub lane: Lane,
    /// Sub-queue inside the target chat: the dialog id for group copies, 0 otherwise.
    pub fairness_key: i64,
    /// The executor's action, as JSON.
    pub action: Value,
    /// Do not run before this time (scheduled broadcasts); `None` = now.
    pub not_before: Option<UnixMs>,
}

impl NewIntent {
    /// An intent carrying `action` serialised as JSON.
    pub fn new<A: Serialize>(
        target_chat: i64,
        lane: Lane,
        action: &A,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self::raw(target_chat, lane, serde_json::to_value(action)?))
    }

    /// An intent with an action already in JSON form.
    pub fn raw(target_chat: i64, lane: Lane, action: Value) -> Self {
        Self {
            target_chat,
            lane,
            fairness_key: 0,
            action,
            not_before: None,
        }
    }

    /// Puts the intent in its own sub-queue of the target chat (use the dialog id).
    pub fn with_fairness_key(mut self, key: i64) -> Self {
        self.fairness_key = key;
        self
    }

    /// Delays the first attempt until `at`.
    pub fn not_before(mut self, at: UnixMs) -> Self {
        self.not_before = Some(at);
        self
    }
}

/// A stored intent, as handed to the executor.
#[derive(Clone, Debug, PartialEq)]
pub struct Intent {
    /// Store id.
    pub id: IntentId,
    /// Owning connection.
    pub connection: ConnectionId,
    /// Priority lane.
    pub lane: Lane,
    /// Target chat.
    pub target_chat: i64,
    /// Sub-queue key.
    pub fairness_key: i64,
    /// The action JSON.
    pub action: Value,
    /// Attempts so far, including the current one while executing.
    pub attempts: u32,
    /// When it is due.
    pub next_attempt_at: UnixMs,
    /// Why the previous attempt failed.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: UnixMs,
}

/// Executes intents for one connection and reacts to their outcome.
///
/// `execute` may make several Bot API calls (e.g. create a missing topic, then copy) and
/// read the store to resolve parameters; it returns the result of the call that matters
/// or the error to classify. A store error during resolution should be returned as
/// [`TgError::Transient`] so the intent is retried.
pub trait Executor: Send + Sync + 'static {
    /// The executor's action type, stored as the intent's JSON.
    type Action: DeserializeOwned + Send + 'static;

    /// Performs the action.
    fn execute(
        &self,
        intent: &Intent,
        action: Self::Action,
    ) -> impl Future<Output = Result<Value, TgError>> + Send;

    /// Records the result (message id mappings, topic ids...) in the transaction that
    /// marks the intent done. An error rolls back and the intent is retried later.
    fn on_success(
        &self,
        _tx: &mut Tx,
        _intent: &Intent,
        _result: &Value,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async { Ok(()) }
    }

    /// Handles a permanent failure (mark contact blocked, notify the topic...) in the
    /// transaction that marks the intent failed.
    fn on_permanent_failure(
        &self,
        _tx: &mut Tx,
        _intent: &Intent,
        _error: &TgError,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async { Ok(()) }
    }
}

/// A Bot API call whose parameters are final when it is decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BotCall {
    /// Method name, e.g. `sendMessage`.
    pub method: String,
    /// JSON parameters.
    pub params: Value,
}

impl BotCall {
    /// A call of `method` with `params`.
    pub fn new(method: impl Into<String>, params: Value) -> Self {
        Self {
            method: method.into(),
            params,
        }
    }
}

/// Executes [`BotCall`]s as they are, with no result handling.
#[derive(Clone, Debug)]
pub struct CallExecutor {
    client: Client,
}

impl CallExecutor {
    /// An executor calling through `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl Executor for CallExecutor {
    type Action = BotCall;

    async fn execute(&self, _intent: &Intent, action: BotCall) -> Result<Value, TgError> {
        self.client.call(&action.method, action.params).await
    }
}

#[cfg(test)]
mod tests;
