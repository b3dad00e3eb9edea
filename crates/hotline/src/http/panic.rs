//! A panic inside a request handler answers 500 in the caller's error shape — Telegram's
//! `{"ok": false, ...}` on the gateway's paths, the API's `{"error": {...}}` elsewhere —
//! instead of dropping the connection; the server and every other request go on.

use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;

/// Middleware: runs the rest of the stack, turning a panic into a 500.
pub async fn catch_panic(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // Decided before the call: the request is gone afterwards. The URI is never logged
    // (gateway paths hold the bot token).
    let gateway = path.starts_with("/bot") || path.starts_with("/file/bot");
    guard(gateway, next.run(req)).await
}

/// Runs `handler`, turning a panic into a 500 in the shape of the gateway (`gateway`) or
/// of the API.
pub async fn guard(
    gateway: bool,
    handler: impl std::future::Future<Output = Response>,
) -> Response {
    match AssertUnwindSafe(handler).catch_unwind().await {
        Ok(response) => response,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, gateway, "a request handler panicked; answered 500");
            if gateway {
                crate::gateway::tg_error(500, "Internal Server Error")
            } else {
                crate::api::ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred (it was logged); the request may be retried",
                )
                .into_response()
            }
        }
    }
}
