//! `/api/v1/keys`: list, create (the key is in the answer, once) and revoke API keys.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{create_key, Auth};
use super::error::{ApiJson, ApiPath, ErrorBody};
use super::{ApiError, ApiState};
use crate::store::{now_ms, ApiKey};

/// An API key as listed (never the key itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// Id (for revoking).
    pub id: i64,
    /// Label.
    pub name: String,
    /// The key's first characters.
    pub prefix: String,
    /// Who created it: `cli`, `api`, `telegram:<user id>`.
    pub created_by: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms of the last authenticated request.
    pub last_used_at: Option<i64>,
    /// Unix ms; revoked keys authenticate nothing.
    pub revoked_at: Option<i64>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created_by: k.created_by,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// Body of a key creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A label, 1–64 printable characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
}

/// A created key: `key` is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// Id (for revoking).
    pub id: i64,
    /// The bearer key. Store it now: Hotline keeps only its hash.
    pub key: String,
}

/// Validates a key label.
pub fn check_name(name: &str) -> Result<&str, ApiError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 64 || n.chars().any(char::is_control) {
        return Err(ApiError::invalid("name must be 1–64 printable characters"));
    }
    Ok(n)
}

/// Lists the connection's keys.
#[utoipa::path(get, path = "/api/v1/keys", tag = "keys",
    responses((status = 200, body = Vec<KeyView>), (status = 401, body = ErrorBody)))]
pub async fn list(State(s): State<ApiState>, auth: Auth) -> Result<Json<Vec<KeyView>>, ApiError> {
    let keys = s.store.api_keys(auth.connection()).await?;
    Ok(Json(keys.into_iter().map(KeyView::from).collect()))
}

/// Creates a key for the same connection.
#[utoipa::path(post, path = "/api/v1/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn create(
    State(s): State<ApiState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let name = check_name(&body.name)?;
    let k = create_key(&s.store, auth.connection(), name, "api").await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            id: k.id,
            key: k.key,
        }),
    ))
}

/// Revokes a key (the key in use may revoke itself).
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "keys",
    params(("id" = i64, Path, description = "Key id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(s): State<ApiState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    if s.store
        .revoke_api_key(auth.connection(), id, now_ms())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no live key {id}")))
    }
}
