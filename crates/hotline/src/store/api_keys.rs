//! API keys (stored as SHA-256 hashes) and files uploaded through the API.

use sqlx::{FromRow, Row};

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// A stored API key (never the key itself).
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct ApiKey {
    /// Store id (what `revoke` takes).
    pub id: i64,
    /// Owning connection (store id).
    pub connection_id: i64,
    /// Label given at creation.
    pub name: String,
    /// First characters of the key, to recognise it in lists.
    pub prefix: String,
    /// Who created it (`cli`, `telegram:<user id>`).
    pub created_by: String,
    /// Creation time.
    pub created_at: UnixMs,
    /// Last successful authentication.
    pub last_used_at: Option<UnixMs>,
    /// Set when revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<UnixMs>,
}

/// A file uploaded through the API, waiting for its send intent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiUpload {
    /// File name sent to Telegram.
    pub file_name: String,
    /// MIME type, if the client gave one.
    pub mime: Option<String>,
    /// The bytes.
    pub data: Vec<u8>,
}

const COLUMNS: &str =
    "id, connection_id, name, prefix, created_by, created_at, last_used_at, revoked_at";

store_methods! {
    /// Stores a new key by its hash; returns its id.
    pub async fn insert_api_key(&self, connection: ConnectionId, name: &str, prefix: &str, hash: &str, created_by: &str, now: UnixMs) -> i64 => insert_api_key;
    /// The live (not revoked) key with this hash, marking it used at `now`.
    pub async fn api_key_by_hash(&self, hash: &str, now: UnixMs) -> Option<ApiKey> => api_key_by_hash;
    /// Every key of a connection, revoked ones included, oldest first.
    pub async fn api_keys(&self, connection: ConnectionId) -> Vec<ApiKey> => api_keys;
    /// Revokes a key of the connection; false when there is no such live key.
    pub async fn revoke_api_key(&self, connection: ConnectionId, id: i64, now: UnixMs) -> bool => revoke_api_key;
    /// Keeps an uploaded file until a send intent uses it; returns its id.
    pub async fn insert_api_upload(&self, connection: ConnectionId, upload: &ApiUpload, now: UnixMs) -> i64 => insert_api_upload;
    /// An uploaded file.
    pub async fn api_upload(&self, connection: ConnectionId, id: i64) -> Option<ApiUpload> => api_upload;
    /// Forgets an uploaded file once it was sent.
    pub async fn delete_api_upload(&self, connection: ConnectionId, id: i64) -> () => delete_api_upload;
}

async fn insert_api_key(
    c: &mut Conn,
    connection: ConnectionId,
    name: &str,
    prefix: &str,
    hash: &str,
    created_by: &str,
    now: UnixMs,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO api_keys (connection_id, name, prefix, hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(connection.0)
    .bind(name)
    .bind(prefix)
    .bind(hash)
    .bind(created_by)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

async fn api_key_by_hash(
    c: &mut Conn,
    hash: &str,
    now: UnixMs,
) -> Result<Option<ApiKey>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "UPDATE api_keys SET last_used_at = $2 WHERE hash = $1 AND revoked_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind(hash)
    .bind(now)
    .fetch_optional(&mut *c)
    .await?)
}

async fn api_keys(c: &mut Conn, connection: ConnectionId) -> Result<Vec<ApiKey>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE connection_id = $1 ORDER BY id"
    ))
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?)
}

async fn revoke_api_key(
    c: &mut Conn,
    connection: ConnectionId,
    id: i64,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE api_keys SET revoked_at = $3 WHERE connection_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(connection.0)
    .bind(id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

async fn insert_api_upload(
    c: &mut Conn,
    connection: ConnectionId,
    u: &ApiUpload,
    now: UnixMs,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO api_uploads (connection_id, file_name, mime, data, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(connection.0)
    .bind(&u.file_name)
    .bind(&u.mime)
    .bind(&u.data)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

async fn api_upload(
    c: &mut Conn,
    connection: ConnectionId,
    id: i64,
) -> Result<Option<ApiUpload>, StoreError> {
    let row = sqlx::query(
        "SELECT file_name, mime, data FROM api_uploads WHERE connection_id = $1 AND id = $2",
    )
    .bind(connection.0)
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    row.map(|r| {
        Ok(ApiUpload {
            file_name: r.try_get(0)?,
            mime: r.try_get(1)?,
            data: r.try_get(2)?,
        })
    })
    .transpose()
}

async fn delete_api_upload(
    c: &mut Conn,
    connection: ConnectionId,
    id: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM api_uploads WHERE connection_id = $1 AND id = $2")
        .bind(connection.0)
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::store::testutil::temp_store;

    #[tokio::test]
    async fn keys_authenticate_until_revoked() {
        let (s, _d) = temp_store().await;
        let a = s.ensure_connection("a").await.unwrap();
        let b = s.ensure_connection("b").await.unwrap();
        let id = s
            .insert_api_key(a, "ci", "hl_abc", "h1", "cli", 1)
            .await
            .unwrap();
        let k = s.api_key_by_hash("h1", 5).await.unwrap().unwrap();
        assert_eq!((k.id, k.connection_id, k.last_used_at), (id, a.0, Some(5)));
        assert!(
            !s.revoke_api_key(b, id, 6).await.unwrap(),
            "other connection"
        );
        assert!(s.revoke_api_key(a, id, 6).await.unwrap());
        assert!(!s.revoke_api_key(a, id, 7).await.unwrap());
        assert!(s.api_key_by_hash("h1", 8).await.unwrap().is_none());
        assert_eq!(s.api_keys(a).await.unwrap()[0].revoked_at, Some(6));
    }
}
