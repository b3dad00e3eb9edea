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

pub use crate::store::{Intent, IntentId, Lane, NewIntent};
use crate::store::{StoreError, Tx};
use crate::telegram::{Client, TgError};

pub use limiter::RateWindow;
pub use scheduler::{Candidate, Pick, Scheduler};
pub use worker::{OutboxConfig, Worker};

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
