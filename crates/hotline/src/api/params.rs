//! `/api/v1/parameters`: read and set connection parameters (SPEC §3) with the same
//! parser as the config file and `/set`; a change is stored (it survives restarts) and
//! takes effect at once.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Auth;
use super::error::{ApiJson, ApiPath, ErrorBody};
use super::{ApiError, ApiState};
use crate::config::PARAM_NAMES;
use crate::domain::Context;
use crate::store::Store;

/// A parameter and its value in text form (what `PUT` accepts).
#[derive(Debug, Serialize, ToSchema)]
pub struct ParamView {
    /// Upper-case name, e.g. `AUTOCLOSE`.
    pub name: String,
    /// The value as text, e.g. `48`, `on`, `OFF`.
    pub value: String,
}

/// Body of a change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetParam {
    /// The new value in the parameter's text syntax (docs: SPEC §3); at most 8000 characters.
    #[schema(max_length = 8000)]
    pub value: String,
}

fn known(name: &str) -> Result<&'static str, ApiError> {
    PARAM_NAMES
        .iter()
        .copied()
        .find(|n| n.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "unknown parameter; known: {}",
                PARAM_NAMES.join(", ")
            ))
        })
}

/// Validates and applies one change: stored, then live. Shared with other callers.
pub async fn apply(
    store: &Store,
    ctx: &Context,
    name: &str,
    value: &str,
) -> Result<String, ApiError> {
    let name = known(name)?;
    let mut next = ctx.params();
    next.set(name, value)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    if name == "WEBHOOKS" {
        super::targets::check_hooks(&next.webhooks, &ctx.webhook_targets)
            .await
            .map_err(|e| ApiError::invalid(format!("WEBHOOKS: {e}")))?;
    }
    let rendered = next.get(name).unwrap_or_default();
    store
        .set_param_override(ctx.connection, name, &rendered)
        .await?;
    let mut live = ctx.params.write().unwrap_or_else(|e| e.into_inner());
    // Apply to the live value (another change may have landed meanwhile).
    let _ = live.set(name, &rendered);
    Ok(rendered)
}

/// Every parameter with its current value.
#[utoipa::path(get, path = "/api/v1/parameters", tag = "parameters",
    responses((status = 200, body = Vec<ParamView>), (status = 401, body = ErrorBody)))]
pub async fn list(auth: Auth) -> Json<Vec<ParamView>> {
    let p = auth.ctx.params();
    Json(
        p.entries()
            .into_iter()
            .map(|(name, value)| ParamView {
                name: name.to_string(),
                value,
            })
            .collect(),
    )
}

/// One parameter.
#[utoipa::path(get, path = "/api/v1/parameters/{name}", tag = "parameters",
    params(("name" = String, Path, description = "Parameter name (case-insensitive)")),
    responses((status = 200, body = ParamView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(auth: Auth, ApiPath(name): ApiPath<String>) -> Result<Json<ParamView>, ApiError> {
    let name = known(&name)?;
    Ok(Json(ParamView {
        name: name.to_string(),
        value: auth.ctx.params().get(name).unwrap_or_default(),
    }))
}

/// Sets one parameter (validated; takes effect without a restart).
#[utoipa::path(put, path = "/api/v1/parameters/{name}", tag = "parameters",
    params(("name" = String, Path, description = "Parameter name (case-insensitive)")),
    request_body = SetParam,
    responses((status = 200, body = ParamView), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<SetParam>,
) -> Result<Json<ParamView>, ApiError> {
    if body.value.chars().count() > 8000 {
        return Err(ApiError::invalid("value is longer than 8000 characters"));
    }
    let value = apply(&s.store, &auth.ctx, &name, &body.value).await?;
    Ok(Json(ParamView {
        name: known(&name)?.to_string(),
        value,
    }))
}
