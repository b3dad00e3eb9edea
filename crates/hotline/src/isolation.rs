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

use futures::FutureExt;

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
    let exp = attempts.saturating_sub(1).clamp(0, 10) as u32;
    Duration::from_millis(200u64 << exp).min(Duration::from_secs(30))
}

/// An error shortened for storage and for the notice in General.
pub fn short_error(error: &str) -> String {
    match error.char_indices().nth(ERROR_CHARS) {
        Some((i, _)) => format!("{}…", &error[..i]),
        None => error.to_string(),
    }
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
