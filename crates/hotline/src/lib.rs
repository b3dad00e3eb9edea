//! Hotline: a self-hosted helpdesk inside Telegram.
//!
//! Deciding code never calls Telegram directly: it writes outbox intents in the same store
//! transaction that records its decision. The modules form layers; a module refers only to
//! its own layer or the ones below, and no two modules refer to each other, directly or in
//! a ring (`tests/layering.rs` checks both; docs/architecture.md draws the layers).
//!
//! Module map, bottom layer first:
//! - **foundation**: `config` reads and validates the configuration; `store` remembers
//!   (all SQL); `telegram` talks to the Bot API; `metrics` and `ready` serve `/metrics`
//!   and `/ready`; `isolation` keeps one poison item from stopping the others (dead
//!   letters); `backoff` is the one retry policy; `shutdown`, `logging`, `console` (CLI
//!   output) and `fault` (test-only fault hooks) are plumbing.
//! - **outbox core**: `outbox` delivers intents durably within Telegram's limits; features
//!   register their executors in its open action registry, it knows none of them.
//! - **domain**: `domain` is one connection as decisions see it: typed dialog operations,
//!   the one event recorder, topics, message links, wording, masking, command parsing.
//! - **features**: `intake` (updates into the log, then the processor), `relay` (user ↔
//!   topic), `commands` (operator commands), `gateway` (the parallel bot's Bot API
//!   gateway), `api` (REST API and webhook events), `broadcast` (`/send`), `segments`
//!   (the segment language), `export`, `stats`, `closing` (close message and rating),
//!   `backup` (backup and restore), `setup` (the setup bot: connections added and managed
//!   in Telegram).
//! - **entry**: `runtime` (owns every connection, its in-memory state and tasks: "who runs
//!   this connection" is `Runtime::owner`), `app` (start-up orchestration), `http` (the
//!   HTTP port), `sandbox` (`hotline sandbox`); the binary's `main.rs` sits on top.

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
pub mod runtime;
pub mod sandbox;
pub mod segments;
pub mod setup;
pub mod shutdown;
pub mod stats;
pub mod store;
pub mod telegram;

pub use shutdown::{Shutdown, ShutdownTrigger};
