//! `/api/v1/webhooks`: the configured webhooks (parameter `WEBHOOKS`), the signing secret
//! and the delivery queue's counts; rotating the secret.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Auth;
use super::error::ErrorBody;
use super::{delivery, ApiError, ApiState};

/// One configured webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookView {
    /// Receiver URL.
    pub url: String,
    /// Events, `*`, or `/command` names.
    pub events: Vec<String>,
}

/// Webhook configuration and state.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhooksView {
    /// The HMAC-SHA256 secret deliveries are signed with (`X-Hotline-Signature`).
    pub secret: String,
    /// Configured webhooks (set them with `PUT /api/v1/parameters/WEBHOOKS`).
    pub webhooks: Vec<HookView>,
    /// Deliveries waiting or being retried.
    pub pending: i64,
    /// Deliveries given up after 72 h of failures.
    pub failed: i64,
    /// Deliveries done.
    pub delivered: i64,
}

async fn view(s: &ApiState, auth: &Auth, secret: String) -> Result<WebhooksView, ApiError> {
    let stats = s.store.delivery_stats(auth.connection()).await?;
    Ok(WebhooksView {
        secret,
        webhooks: auth
            .ctx
            .params()
            .webhooks
            .into_iter()
            .map(|w| HookView {
                url: w.url,
                events: w.events,
            })
            .collect(),
        pending: stats.pending,
        failed: stats.failed,
        delivered: stats.done,
    })
}

/// Webhooks, secret and queue counts.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = WebhooksView), (status = 401, body = ErrorBody)))]
pub async fn get(State(s): State<ApiState>, auth: Auth) -> Result<Json<WebhooksView>, ApiError> {
    let secret = delivery::secret(&s.store, auth.connection()).await?;
    Ok(Json(view(&s, &auth, secret).await?))
}

/// Replaces the signing secret. Deliveries from now on are signed with the new one and, for
/// the grace period (`webhooks.secret_grace_secs`, default 24 h), with the old one too.
#[utoipa::path(post, path = "/api/v1/webhooks/secret", tag = "webhooks",
    responses((status = 200, body = WebhooksView), (status = 401, body = ErrorBody)))]
pub async fn rotate_secret(
    State(s): State<ApiState>,
    auth: Auth,
) -> Result<Json<WebhooksView>, ApiError> {
    let secret =
        delivery::rotate_secret(&s.store, auth.connection(), auth.ctx.webhook_secret_grace).await?;
    Ok(Json(view(&s, &auth, secret).await?))
}
