//! The handover's custom Bot API methods, for the parallel bot to call with its own token
//! through the gateway (they do not exist at Telegram): `hotlineHandover` (`chat_id`: hand
//! the user over to the team and pause the bot for them) and `hotlineResume` (`chat_id`:
//! take the user back). Answered like a Bot API method: `{"ok":true,"result":true}`.

use std::sync::Arc;

use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{param_i64, tg_error, tg_ok, Bot};
use crate::store::{now_ms, PauseReason};

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
    let done = async {
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
    match done.await {
        Ok(Some(())) => tg_ok(json!(true), None),
        Ok(None) => tg_error(400, "Bad Request: chat not found"),
        Err(e) => {
            tracing::error!(error = %e, "gateway: the handover could not be recorded");
            tg_error(
                500,
                "Internal Server Error: the handover could not be recorded",
            )
        }
    }
}
