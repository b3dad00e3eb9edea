//! The HTTP port: Telegram webhooks (`/telegram/<connection>`) and health probes.

use axum::routing::{get, post};
use axum::Router;

use crate::intake::webhook::{self, WebhookState};

/// Every route Hotline serves.
pub fn router(webhooks: WebhookState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/telegram/{connection}", post(webhook::receive))
        .with_state(webhooks)
}
