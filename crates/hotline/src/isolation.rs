//! One bad item affects only itself: the processing of one update, the execution of one
//! outbox intent and the delivery of one webhook each run under [`catch`], so a panic
//! becomes that item's failure. A failing item is retried with backoff
//! ([`retry_delay`]) and after [`MAX_ATTEMPTS`] becomes a dead letter: skipped, announced
//! in the connection's General topic, listed by `hotline dead-letters list` and re-queued
//! by `hotline dead-letters retry` (see docs/monitoring.md).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use std::process::ExitCode;

use futures::FutureExt;

use crate::backoff::Backoff;
use crate::config::Config;
use crate::store::{now_ms, DeadKind, Store, StoreError};

/// Failed attempts after which an update, an intent that panics, or a webhook delivery
/// that panics becomes a dead letter.
pub const MAX_ATTEMPTS: i64 = 5;

/// Longest error text kept with a dead letter (and shown in General).
const ERROR_CHARS: usize = 300;

/// Runs `f`, turning a panic into `Err(message)`.
pub async fn catch<F: Future>(f: F) -> Result<F::Output, String> {
    AssertUnwindSafe(f)
        .catch_unwind()
        .await
        .map_err(|p| format!("panic: {}", panic_message(p.as_ref())))
}

/// The text of a panic's payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// The delay before attempt `attempts + 1` of a failed item: 200 ms doubling, at most 30 s.
pub fn retry_delay(attempts: i64) -> Duration {
    const POLICY: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    POLICY.delay(u32::try_from(attempts.max(0)).unwrap_or(u32::MAX))
}

/// An error shortened for storage and for the notice in General.
pub fn short_error(error: &str) -> String {
    match error.char_indices().nth(ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &error[..i]),
        None => error.to_string(),
    }
}

/// `hotline dead-letters` actions.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DeadLetterCommand {
    /// List the dead letters: kind, id, connection, attempts, when, last error.
    List {
        /// Only this kind.
        #[arg(long, value_enum)]
        kind: Option<Kind>,
    },
    /// Re-queue a dead letter: it runs again at once, its attempts counted afresh.
    Retry {
        /// Its kind.
        #[arg(value_enum)]
        kind: Kind,
        /// Its id (from `list`).
        id: i64,
    },
    /// Remove a dead letter for good (an update is marked processed: never replayed).
    Drop {
        /// Its kind.
        #[arg(value_enum)]
        kind: Kind,
        /// Its id (from `list`).
        id: i64,
    },
}

/// A dead letter's kind on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// A Telegram update whose processing kept failing.
    Update,
    /// An outbox intent (a Bot API call) that failed.
    Intent,
    /// An outgoing webhook delivery that was given up.
    Webhook,
}

impl From<Kind> for DeadKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Update => DeadKind::Update,
            Kind::Intent => DeadKind::Intent,
            Kind::Webhook => DeadKind::Webhook,
        }
    }
}

/// Most dead letters listed per kind.
const LIST_LIMIT: i64 = 1000;

/// Runs `hotline dead-letters ACTION` against the configured database (safe while
/// Hotline runs: a re-queued item is picked up within a minute).
pub async fn command(config: &Config, action: &DeadLetterCommand) -> Result<(), ExitCode> {
    let fail = |e: StoreError| {
        eprintln!("database: {e}");
        ExitCode::FAILURE
    };
    let store = Store::open(&config.database_url).await.map_err(fail)?;
    store.migrate().await.map_err(fail)?;
    let result = match action {
        DeadLetterCommand::List { kind } => {
            let kinds: Vec<DeadKind> = match kind {
                Some(k) => vec![(*k).into()],
                None => DeadKind::ALL.to_vec(),
            };
            let mut all = Vec::new();
            for k in kinds {
                all.extend(store.dead_letters(k, LIST_LIMIT).await.map_err(fail)?);
            }
            if all.is_empty() {
                crate::outln!("no dead letters");
            } else {
                crate::outln!("kind\tid\tconnection\tattempts\tsince\tlast error");
                for d in &all {
                    let what = match d.update_id {
                        Some(u) => format!("{} (update_id {u})", d.id),
                        None => d.id.to_string(),
                    };
                    crate::outln!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        d.kind.name(),
                        what,
                        d.connection,
                        d.attempts,
                        utc(d.at),
                        d.last_error
                            .as_deref()
                            .unwrap_or("")
                            .replace(['\n', '\t'], " ")
                    );
                }
            }
            Ok(())
        }
        DeadLetterCommand::Retry { kind, id } | DeadLetterCommand::Drop { kind, id } => {
            let retry = matches!(action, DeadLetterCommand::Retry { .. });
            let k: DeadKind = (*kind).into();
            let done = if retry {
                store.retry_dead_letter(k, *id, now_ms()).await
            } else {
                store.drop_dead_letter(k, *id, now_ms()).await
            }
            .map_err(fail)?;
            if done {
                let what = if retry { "re-queued" } else { "dropped" };
                crate::outln!("{} {id} {what}", k.name());
                Ok(())
            } else {
                eprintln!(
                    "no dead {} with id {id} (see `hotline dead-letters list`)",
                    k.name()
                );
                Err(ExitCode::FAILURE)
            }
        }
    };
    store.close().await;
    result
}

/// A Unix-ms time as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc(ms: i64) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(f).ok())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_an_error() {
        assert_eq!(catch(async { 1 }).await, Ok(1));
        let e = catch(async { panic!("boom {}", 7) }).await.unwrap_err();
        assert_eq!(e, "panic: boom 7");
    }

    #[test]
    fn delays_grow_and_stop() {
        assert_eq!(retry_delay(1), Duration::from_millis(200));
        assert_eq!(retry_delay(2), Duration::from_millis(400));
        assert_eq!(retry_delay(i64::MAX), Duration::from_secs(30));
        assert_eq!(retry_delay(-3), Duration::from_millis(200));
        assert_eq!(
            short_error(&"é".repeat(400)).chars().count(),
            ERROR_CHARS + 1
        );
    }
}
