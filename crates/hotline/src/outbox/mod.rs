//! The durable delivery queue between deciding code and Telegram.
//!
//! Deciding code writes an [`Intent`] with [`Tx::enqueue`](crate::store::Tx::enqueue) in
//! the same transaction that records its decision. A [`Worker`] per connection executes
//! due intents:
//! - strictly in order per queue — a queue is `(target_chat, fairness_key)`: a private
//!   chat is one queue; inside the backend group every dialog is its own queue, so dialogs
//!   interleave while each dialog keeps its order;
//! - fair across chats and across dialogs, with priority lanes ([`Lane`]);
//! - within Telegram's limits (sliding windows per bot, private chat and group), counting
//!   the parallel bot's own sends through the gateway ([`ExternalSends`]); a 429 pauses its
//!   chat for `retry_after` (and the bot for at most a second), and the pause is stored so
//!   a restarted worker or a new owner keeps it;
//! - retrying transient failures with capped exponential backoff and jitter;
//! - at least once: an intent in flight at a crash runs again after restart.
//!
//! # What an intent is
//! The outbox knows no feature. An intent's `action` is the JSON of a feature's
//! [`Action`] (a payload naming Hotline-level work — "copy user message M into dialog D",
//! "set the title of dialog D" — resolved when it runs), tagged with its kind. Each
//! feature registers an [`Execute`] implementation per action kind in the connection's
//! [`Registry`], with its own result type and error type; see [`action`].
//!
//! A successful run's result is recorded by [`Execute::complete`] in the transaction that
//! marks the intent done, so "message links recorded", "follow-ups queued" and "intent
//! done" commit together — a retry after a lost completion records them once.

pub mod action;
mod external;
mod limiter;
mod scheduler;
mod worker;

pub use crate::store::{Intent, IntentId, Lane, NewIntent};
pub use action::{Action, Classify, Execute, Failed, Failure, Registry};
pub use external::{ExternalLimit, ExternalSend, ExternalSends};
pub use limiter::RateWindow;
pub use scheduler::{Candidate, Pick, Scheduler};
pub use worker::{DeadLetterNotice, OutboxConfig, Worker, DEAD_LETTER_PREFIX};

#[cfg(test)]
mod tests;
