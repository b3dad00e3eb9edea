//! The HTTP port: Telegram webhooks (`/telegram/<connection>`), health probes, and the
//! Bot API gateway (`/bot<token>/…`, `/file/bot<token>/…`) in front of every route.

use axum::routing::{get, post};
use axum::Router;

use crate::gateway::{self, Gateway};
use crate::intake::webhook::{self, WebhookState};

/// Every route Hotline serves.
pub fn router(webhooks: WebhookState, gateway: Gateway) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/telegram/{connection}", post(webhook::receive))
        .with_state(webhooks)
        .layer(axum::middleware::from_fn_with_state(
            gateway,
            gateway::intercept,
        ))
}
