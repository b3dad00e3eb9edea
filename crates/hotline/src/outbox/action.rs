//! The open action registry. The outbox knows no feature: each feature defines its own
//! actions (a serialisable payload implementing [`Action`]), registers an [`Execute`]
//! implementation for each in a connection's [`Registry`], and chooses its own result
//! type (what [`Execute::complete`] records when the intent is marked done) and its own
//! error type (classified for the worker by [`Classify`]).
//!
//! An action is stored as its payload's JSON object plus a `"do"` field holding
//! [`Action::KIND`]; the worker reads that field to find the executor.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::store::{Intent, Lane, NewIntent, StoreError, Tx};
use crate::telegram::TgError;

/// The field of a stored action that names its kind.
pub const KIND_FIELD: &str = "do";

/// A kind of outbox work: its payload and its stored name.
pub trait Action: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stored name, unique across the registry (`copy_in`, `mirror`, ...). Changing it
    /// orphans stored intents: keep it.
    const KIND: &'static str;

    /// The stored form: the payload's JSON object with the kind added.
    fn encode(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("actions serialise to JSON objects");
        if let Value::Object(m) = &mut v {
            m.insert(KIND_FIELD.into(), Value::String(Self::KIND.into()));
        }
        v
    }

    /// Reads a stored action of this kind (`None` for another kind or a bad payload).
    fn decode(stored: &Value) -> Option<Self> {
        if stored[KIND_FIELD] != Self::KIND {
            return None;
        }
        serde_json::from_value(stored.clone()).ok()
    }

    /// An intent carrying this action to `target_chat` in `lane`.
    fn to(&self, target_chat: i64, lane: Lane) -> NewIntent {
        NewIntent::raw(target_chat, lane, self.encode())
    }
}

/// How the worker treats a failed execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Telegram asked to slow down: the whole bot pauses this many seconds, then retries.
    RetryAfter(u64),
    /// A network or server hiccup: retried with backoff.
    Transient,
    /// The store failed while executing: retried with backoff (and logged as a store
    /// failure, never as Telegram's).
    Store,
    /// It cannot work (bad request, gone): the intent is marked failed.
    Permanent,
}

/// Classifies an executor's error for the worker.
pub trait Classify {
    /// What the worker does about it.
    fn failure(&self) -> Failure;
}

impl Classify for TgError {
    fn failure(&self) -> Failure {
        match self {
            TgError::RetryAfter(secs) => Failure::RetryAfter(*secs),
            TgError::Transient(_) => Failure::Transient,
            TgError::Permanent { .. } | TgError::Decode(_) => Failure::Permanent,
        }
    }
}

impl Classify for StoreError {
    fn failure(&self) -> Failure {
        Failure::Store
    }
}

/// Executes one kind of action. One type may execute several kinds (one impl each).
pub trait Execute<A: Action>: Send + Sync + 'static {
    /// What a successful run hands to [`Execute::complete`].
    type Done: Send + 'static;
    /// The feature's error type.
    type Error: std::error::Error + Classify + Send + 'static;

    /// Performs the action: Bot API calls, reading the store. Known permanent conditions
    /// (a blocked user, a deleted topic) are handled here and returned as `Ok`.
    fn execute(
        &self,
        intent: &Intent,
        action: A,
    ) -> impl Future<Output = Result<Self::Done, Self::Error>> + Send;

    /// Records the result (message links, follow-up intents, events) in the transaction
    /// that marks the intent done: both commit, or neither and the intent runs again.
    /// The default records nothing.
    fn complete(
        &self,
        _tx: &mut Tx,
        _intent: &Intent,
        _done: Self::Done,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async { Ok(()) }
    }
}

/// Why an execution did not complete, as the worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// What to do about it.
    pub failure: Failure,
    /// The error, for the log and `last_error`.
    pub message: String,
}

/// A finished execution waiting to be recorded.
pub(crate) trait Completion: Send {
    /// Records it in the transaction that marks the intent done.
    fn record<'t>(self: Box<Self>, tx: &'t mut Tx) -> BoxFuture<'t, Result<(), StoreError>>;
}

/// An executor with its action type erased.
trait Erased: Send + Sync {
    fn run(&self, intent: Intent) -> BoxFuture<'static, Result<Box<dyn Completion>, Failed>>;
}

struct Entry<A, E> {
    executor: Arc<E>,
    _action: PhantomData<fn() -> A>,
}

struct Finished<A: Action, E: Execute<A>> {
    executor: Arc<E>,
    intent: Intent,
    done: E::Done,
}

impl<A: Action, E: Execute<A>> Completion for Finished<A, E> {
    fn record<'t>(self: Box<Self>, tx: &'t mut Tx) -> BoxFuture<'t, Result<(), StoreError>> {
        Box::pin(async move {
            let Finished {
                executor,
                intent,
                done,
            } = *self;
            executor.complete(tx, &intent, done).await
        })
    }
}

impl<A: Action, E: Execute<A>> Erased for Entry<A, E> {
    fn run(&self, intent: Intent) -> BoxFuture<'static, Result<Box<dyn Completion>, Failed>> {
        let executor = self.executor.clone();
        Box::pin(async move {
            let action: A = serde_json::from_value(intent.action.clone()).map_err(|e| Failed {
                failure: Failure::Permanent,
                message: format!("a {} intent cannot be decoded: {e}", A::KIND),
            })?;
            match executor.execute(&intent, action).await {
                Ok(done) => Ok(Box::new(Finished::<A, E> {
                    executor,
                    intent,
                    done,
                }) as Box<dyn Completion>),
                Err(e) => Err(Failed {
                    failure: e.failure(),
                    message: e.to_string(),
                }),
            }
        })
    }
}

/// The executors of one connection, by action kind. Built at start by every feature
/// registering its own ([`Registry::register`]).
#[derive(Default)]
pub struct Registry {
    entries: HashMap<&'static str, Box<dyn Erased>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `executor` for the actions of kind `A::KIND`.
    ///
    /// # Panics
    /// When that kind already has an executor: two features claiming one name is a
    /// programming error that must not reach a running server.
    pub fn register<A: Action, E: Execute<A>>(&mut self, executor: Arc<E>) -> &mut Self {
        let entry = Entry::<A, E> {
            executor,
            _action: PhantomData,
        };
        let previous = self.entries.insert(A::KIND, Box::new(entry));
        assert!(
            previous.is_none(),
            "two executors for outbox action {}",
            A::KIND
        );
        self
    }

    /// Whether some executor takes actions of `kind`.
    pub fn knows(&self, kind: &str) -> bool {
        self.entries.contains_key(kind)
    }

    /// Runs a claimed intent with the executor of its kind.
    pub(crate) async fn run(&self, intent: Intent) -> Result<Box<dyn Completion>, Failed> {
        let kind = intent.action[KIND_FIELD].as_str().unwrap_or("");
        match self.entries.get(kind) {
            Some(entry) => entry.run(intent).await,
            None => Err(Failed {
                failure: Failure::Permanent,
                message: format!("no executor for outbox action {kind:?}"),
            }),
        }
    }
}
