//! The HTTP port: Telegram webhooks (`/telegram/<connection>`), health probes, `/metrics`,
//! and the Bot API gateway (`/bot<token>/…`, `/file/bot<token>/…`) in front of every route.
//!
//! Hardening (docs/security.md) lives apart from the routes: [`serve`] is the serve loop
//! with timeouts and a connection cap, [`body`] the request bodies' minimum rate,
//! [`panic`] turns a handler's panic into a 500; [`harden`] applies what wraps routes.

pub mod body;
pub mod panic;
pub mod serve;

use std::sync::{Arc, OnceLock};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceExt;

use crate::gateway::{self, Gateway};
use crate::intake::webhook::{self, WebhookState};
use crate::metrics::{self, MetricsState};
use crate::ready::Readiness;

/// What start-up builds for the port: every route, and the gateway.
#[derive(Clone)]
pub struct Routes {
    /// Every route Hotline serves once started ([`harden`]ed).
    pub router: Router,
    /// The Bot API gateway, served before any router (see [`probes`]).
    pub gateway: Gateway,
}

/// What the port serves from the moment it is bound: `/health` (liveness), `/ready`
/// (readiness), and every other route from `app` once start-up has built it (503 before).
/// Gateway paths (`/bot…`, `/file/bot…`) go straight to the gateway, past the routers and
/// their middleware (a panic still answers 500): the pass-through is the port's hottest
/// path, and each router layer cost it measurable CPU per call (bench/README.md).
pub fn probes(readiness: Readiness, app: Arc<OnceLock<Routes>>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(crate::ready::handler))
        .with_state(readiness)
        .fallback(move |req: Request| {
            let app = app.get().cloned();
            async move {
                match app {
                    // Boxed: the gateway's future is large, and this one is moved (copied
                    // whole) as axum boxes it; holding a pointer keeps that copy small.
                    Some(app) if gateway::is_gateway_path(req.uri().path()) => {
                        Box::pin(panic::guard(true, gateway::serve(&app.gateway, req))).await
                    }
                    Some(app) => app
                        .router
                        .oneshot(req)
                        .await
                        .unwrap_or_else(|never| match never {}),
                    None => (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response(),
                }
            }
        })
}

/// Every route Hotline serves once started.
pub fn router(webhooks: WebhookState, gateway: Gateway, metrics: MetricsState) -> Router {
    let probes = Router::new()
        .route("/metrics", get(metrics::handler))
        .with_state(metrics);
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/telegram/{connection}", post(webhook::receive))
        .with_state(webhooks)
        .merge(probes)
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
