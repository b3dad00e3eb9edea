//! Webhook intake at `/telegram/<connection>`: the secret-token header is checked, the
//! update is committed to the log, and only then Telegram gets its 200.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::Value;
use tokio::sync::Notify;

use crate::config::{constant_time_eq, Secret};
use crate::store::{now_ms, ConnectionId, Store};

/// What the webhook route needs per connection.
#[derive(Clone)]
pub struct Intake {
    /// Connection name in the URL.
    pub name: String,
    /// Store id.
    pub connection: ConnectionId,
    /// Expected `X-Telegram-Bot-Api-Secret-Token`.
    pub secret: Secret,
    /// Wakes the processor.
    pub wake: Arc<Notify>,
    /// Wakes the gateway's long polls and webhook pushes.
    pub updates: crate::gateway::UpdateSignal,
}

/// Webhook routes' state.
#[derive(Clone)]
pub struct WebhookState {
    /// The database.
    pub store: Store,
    /// Connections in webhook mode.
    pub intakes: Arc<Vec<Intake>>,
}

/// `POST /telegram/{connection}`.
pub async fn receive(
    State(state): State<WebhookState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(update): Json<Value>,
) -> StatusCode {
    let Some(intake) = state.intakes.iter().find(|i| i.name == name) else {
        return StatusCode::NOT_FOUND;
    };
    let given = headers
        .get("x-telegram-bot-api-secret-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), intake.secret.expose().as_bytes()) {
        return StatusCode::UNAUTHORIZED;
    }
    if update["update_id"].as_i64().is_none() {
        return StatusCode::BAD_REQUEST;
    }
    match state
        .store
        .insert_updates(intake.connection, std::slice::from_ref(&update), now_ms())
        .await
    {
        Ok(new) => {
            crate::metrics::updates_received(intake.connection, new);
            intake.wake.notify_one();
            intake
                .updates
                .notify(update["update_id"].as_i64().unwrap_or(0));
            StatusCode::OK
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot store a webhook update; Telegram will retry");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}
