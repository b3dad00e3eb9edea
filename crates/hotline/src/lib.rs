//! Hotline: a self-hosted helpdesk inside Telegram.
//!
//! Module map (see `docs/reference/ARCHITECTURE.md`): `config` reads and validates the
//! configuration, `store` remembers, `telegram` talks to the Bot API, `outbox` delivers
//! decided intents durably and within Telegram's limits. Deciding code (relay, commands,
//! gateway) never calls Telegram directly: it writes outbox intents in the same store
//! transaction that records its decision.

#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod backoff;
pub mod backup;
pub mod broadcast;
pub mod closing;
pub mod commands;
pub mod config;
pub mod console;
pub mod domain;
pub mod export;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod gateway;
pub mod http;
pub mod intake;
pub mod isolation;
pub mod logging;
pub mod metrics;
pub mod outbox;
pub mod ready;
pub mod relay;
pub mod sandbox;
pub mod segments;
pub mod shutdown;
pub mod stats;
pub mod store;
pub mod telegram;

pub use shutdown::{Shutdown, ShutdownTrigger};
