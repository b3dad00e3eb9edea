//! The HTTP port: Telegram webhooks (`/telegram/<connection>`), health probes, and the
//! Bot API gateway (`/bot<token>/…`, `/file/bot<token>/…`) in front of every route.
//!
//! Hardening (docs/security.md) lives apart from the routes: [`serve`] is the serve loop
//! with timeouts and a connection cap, [`body`] the request bodies' minimum rate,
//! [`panic`] turns a handler's panic into a 500; [`harden`] applies what wraps routes.

pub mod body;
pub mod panic;
pub mod serve;

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

/// Wraps the whole application (API, gateway, webhooks, health) in what protects every
/// route: a handler's panic answers 500 instead of dropping the connection.
pub fn harden(app: Router) -> Router {
    app.layer(axum::middleware::from_fn(panic::catch_panic))
}
