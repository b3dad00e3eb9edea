//! The setup bot (issue 18, docs/setup-bot.md): a management bot through which the owners
//! named in `[setup_bot]` add connections in Telegram and manage them, without editing the
//! configuration file or restarting.
//!
//! [`conversation`] decides, from where an owner's conversation stands and what they sent,
//! what to answer and what to do; it is pure (no Telegram, no store) so every path is
//! unit-tested, and its state is serialized into the store after each step so a restart in
//! the middle of `/connect` resumes where the owner was.

pub mod bot;
pub mod conversation;

pub use bot::{FileConnection, Runtime, SetupBot, FOLLOW_EVERY, LEASE_NAME};
