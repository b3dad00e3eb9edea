//! Update delivery: getUpdates long polling (with Telegram's 409s) here, webhook pushes
//! in [`webhook`].

mod webhook;

pub use webhook::ensure_webhook_task;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::{methods, Shared};

/// getUpdates: answers at once when updates are waiting, else waits up to `timeout`
/// seconds for one. A newer getUpdates or a setWebhook terminates it with 409.
pub async fn get_updates(shared: &Arc<Shared>, bot: i64, p: &Params) -> ApiResult<Value> {
    let (generation, notify, deadline, limit) = {
        let mut world = shared.world();
        let (updates, timeout) = methods::get_updates_now(&mut world, bot, p)?;
        let q = world.queues.get_mut(&bot).expect("bot queue");
        q.poll_generation += 1;
        q.terminated_by = Some("terminated by other getUpdates request; make sure that only one bot instance is running");
        q.notify.notify_waiters();
        if !updates.as_array().is_some_and(|a| a.is_empty()) || timeout == 0 {
            return Ok(updates);
        }
        let limit = p.i64("limit")?.unwrap_or(100).clamp(1, 100) as usize;
        q.waiting += 1;
        (
            q.poll_generation,
            q.notify.clone(),
            tokio::time::Instant::now() + Duration::from_secs(timeout),
            limit,
        )
    };
    let _waiting = Waiting { shared, bot };
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let world = shared.world();
            let q = &world.queues[&bot];
            if q.poll_generation != generation {
                return Err(ApiError::conflict(
                    q.terminated_by
                        .unwrap_or("terminated by other getUpdates request"),
                ));
            }
            if q.webhook.is_some() {
                return Err(ApiError::conflict("terminated by setWebhook request"));
            }
            if !q.pending.is_empty() {
                return Ok(Value::Array(q.take(limit)));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Ok(json!([]));
        }
    }
}

/// Counts a waiting long poll while it lives (see [`crate::Control::is_polling`]).
struct Waiting<'a> {
    shared: &'a Shared,
    bot: i64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(q) = self.shared.world().queues.get_mut(&self.bot) {
            q.waiting = q.waiting.saturating_sub(1);
        }
    }
}
