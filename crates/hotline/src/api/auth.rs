//! Bearer API keys. A key is `hl_` + 64 hex digits (32 random bytes); only its SHA-256 is
//! stored, so a database leak reveals no usable key. Each key belongs to one connection and
//! authorises the whole API of that connection.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{ApiError, ApiState};
use crate::domain::Context;
use crate::store::{now_ms, ConnectionId, Store, StoreError};

/// Characters of a key kept in listings to recognise it.
const PREFIX_LEN: usize = 10;

/// The hex SHA-256 of a key, as stored.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A newly created key: shown once, never stored in clear.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Store id (for revoking).
    pub id: i64,
    /// The key itself.
    pub key: String,
}

/// A fresh random key.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("hl_{}", hex::encode(bytes))
}

/// Creates a key for `connection`; `created_by` says who asked (`cli`, `telegram:<id>`).
pub async fn create_key(
    store: &Store,
    connection: ConnectionId,
    name: &str,
    created_by: &str,
) -> Result<NewKey, StoreError> {
    let key = generate();
    let id = store_key(store, connection, name, created_by, &key).await?;
    Ok(NewKey { id, key })
}

/// Stores `key` (hashed); returns its id.
pub async fn store_key(
    store: &Store,
    connection: ConnectionId,
    name: &str,
    created_by: &str,
    key: &str,
) -> Result<i64, StoreError> {
    store
        .insert_api_key(
            connection,
            name,
            &key[..PREFIX_LEN.min(key.len())],
            &hash_key(key),
            created_by,
            now_ms(),
        )
        .await
}

/// An authenticated request: the key's connection.
#[derive(Clone)]
pub struct Auth {
    /// The connection's decision context (decisions, live parameters).
    pub ctx: Context,
    /// The key used.
    pub key_id: i64,
}

impl Auth {
    /// The connection's store id.
    pub fn connection(&self) -> ConnectionId {
        self.ctx.connection
    }
}

impl FromRequestParts<ApiState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <API key>"))?;
        let key = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|k| !k.is_empty() && k.len() <= 200)
            .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <API key>"))?;
        let found = state
            .store
            .api_key_by_hash(&hash_key(key), now_ms())
            .await?;
        let Some(k) = found else {
            return Err(ApiError::unauthorized("unknown or revoked API key"));
        };
        let ctx = state
            .ctx(ConnectionId(k.connection_id))
            .ok_or_else(|| ApiError::unauthorized("the key's connection is not running"))?;
        let span = tracing::Span::current();
        span.record("connection", ctx.name.as_str());
        span.record("key_id", k.id);
        Ok(Self { ctx, key_id: k.id })
    }
}
