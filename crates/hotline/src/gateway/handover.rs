//! The handover's custom Bot API methods, for the parallel bot to call with its own token
//! through the gateway (they do not exist at Telegram): `hotlineHandover` (`chat_id`: hand
//! the user over to the team and pause the bot for them) and `hotlineResume` (`chat_id`:
//! take the user back). Answered like a Bot API method: `{"ok":true,"result":true}`.

use std::sync::Arc;

use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{param_i64, tg_error, tg_ok, Bot};
use crate::store::{now_ms, PauseReason};

/// How long a handover for a user not known yet waits for the update processor.
const FIRST_CONTACT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// It looks again after every pass of the processor, and at least this often (a fallback:
/// a pass normally wakes it first).
const FIRST_CONTACT_RECHECK: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs `hotlineHandover` (`pause`) or `hotlineResume`.
pub async fn method(bot: &Arc<Bot>, p: &Map<String, Value>, pause: bool) -> Response {
    let chat = match param_i64(p, "chat_id") {
        Ok(Some(c)) => c,
        Ok(None) => return tg_error(400, "Bad Request: chat_id is empty"),
        Err(_) => return tg_error(400, "Bad Request: chat not found"),
    };
    if chat <= 0 {
        return tg_error(
            400,
            "Bad Request: the handover is for private chats with users",
        );
    }
    let ctx = &bot.ctx;
    let now = now_ms();
    let attempt = || async {
        let mut tx = bot.store.begin().await?;
        let r = if pause {
            ctx.request_handover(&mut tx, chat, PauseReason::Bot, now)
                .await?
                .map(|_| ())
        } else {
            ctx.request_resume(&mut tx, chat, PauseReason::Bot, now)
                .await?
                .map(|_| ())
        };
        tx.commit().await?;
        Ok::<_, crate::store::StoreError>(r)
    };
    // A bot may hand a user over in its answer to that user's very first update, which it
    // can get (pushed or polled) before Hotline has processed it into a contact: while
    // stored updates wait for the processor, look again instead of "chat not found".
    let done = async {
        let deadline = tokio::time::Instant::now() + FIRST_CONTACT_WAIT;
        // Subscribed before the first attempt: a pass that ends after it wakes the wait.
        let mut passes = bot.signal.order().passes();
        loop {
            passes.borrow_and_update();
            let r = attempt().await?;
            if r.is_some() || tokio::time::Instant::now() >= deadline {
                return Ok::<_, crate::store::StoreError>(r);
            }
            if bot
                .store
                .unprocessed_updates(ctx.connection, 1)
                .await?
                .is_empty()
            {
                return Ok(r);
            }
            let recheck = deadline.min(tokio::time::Instant::now() + FIRST_CONTACT_RECHECK);
            let _ = tokio::time::timeout_at(recheck, passes.changed()).await;
        }
    };
    match done.await {
        Ok(Some(())) => tg_ok(json!(true), None),
        Ok(None) => tg_error(400, "Bad Request: chat not found"),
        Err(e) => {
            tracing::error!(connection = %bot.ctx.name, error = %e, "gateway: the handover could not be recorded");
            tg_error(
                500,
                "Internal Server Error: the handover could not be recorded",
            )
        }
    }
}
