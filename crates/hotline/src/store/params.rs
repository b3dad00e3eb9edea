//! Connections, their persisted parameter overrides, and a small key-value table.

use std::collections::BTreeMap;

use sqlx::Row;

use super::{now_ms, store_methods, Conn, ConnectionId, StoreError};

store_methods! {
    /// The id of connection `name`, created on first use. Keyed by the config name so that
    /// restarts and config reloads find the same rows.
    pub async fn ensure_connection(&self, name: &str) -> ConnectionId => ensure_connection;
    /// Parameters set at runtime (`/set`, API), to apply over the config file's values.
    pub async fn param_overrides(&self, connection: ConnectionId) -> BTreeMap<String, String> => param_overrides;
    /// Persists one parameter override (the value in the text form `Params::set` parses).
    pub async fn set_param_override(&self, connection: ConnectionId, name: &str, value: &str) -> () => set_param_override;
    /// Removes an override so the config file's value applies again.
    pub async fn delete_param_override(&self, connection: ConnectionId, name: &str) -> bool => delete_param_override;
    /// The id of connection `name` if it exists (read-only, for `check-config`).
    pub async fn find_connection(&self, name: &str) -> Option<ConnectionId> => find_connection;
    /// Reads a small state value (e.g. the polling offset).
    pub async fn kv_get(&self, connection: ConnectionId, key: &str) -> Option<String> => kv_get;
    /// Writes a small state value.
    pub async fn kv_set(&self, connection: ConnectionId, key: &str, value: &str) -> () => kv_set;
}

async fn ensure_connection(c: &mut Conn, name: &str) -> Result<ConnectionId, StoreError> {
    sqlx::query(
        "INSERT INTO connections (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(now_ms())
    .execute(&mut *c)
    .await?;
    let id: i64 = sqlx::query_scalar("SELECT id FROM connections WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *c)
        .await?;
    Ok(ConnectionId(id))
}

async fn find_connection(c: &mut Conn, name: &str) -> Result<Option<ConnectionId>, StoreError> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM connections WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *c)
        .await?;
    Ok(id.map(ConnectionId))
}

async fn param_overrides(
    c: &mut Conn,
    connection: ConnectionId,
) -> Result<BTreeMap<String, String>, StoreError> {
    let rows = sqlx::query("SELECT name, value FROM connection_params WHERE connection_id = $1")
        .bind(connection.0)
        .fetch_all(&mut *c)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect()
}

async fn set_param_override(
    c: &mut Conn,
    connection: ConnectionId,
    name: &str,
    value: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO connection_params (connection_id, name, value, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (connection_id, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(connection.0)
    .bind(name.to_ascii_uppercase())
    .bind(value)
    .bind(now_ms())
    .execute(&mut *c)
    .await?;
    super::notify_instances(c, super::Topic::Params, connection).await
}

async fn delete_param_override(
    c: &mut Conn,
    connection: ConnectionId,
    name: &str,
) -> Result<bool, StoreError> {
    let r = sqlx::query("DELETE FROM connection_params WHERE connection_id = $1 AND name = $2")
        .bind(connection.0)
        .bind(name.to_ascii_uppercase())
        .execute(&mut *c)
        .await?;
    if r.rows_affected() > 0 {
        super::notify_instances(c, super::Topic::Params, connection).await?;
    }
    Ok(r.rows_affected() > 0)
}

async fn kv_get(
    c: &mut Conn,
    connection: ConnectionId,
    key: &str,
) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT value FROM kv WHERE connection_id = $1 AND key = $2")
            .bind(connection.0)
            .bind(key)
            .fetch_optional(&mut *c)
            .await?,
    )
}

async fn kv_set(
    c: &mut Conn,
    connection: ConnectionId,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO kv (connection_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (connection_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(connection.0)
    .bind(key)
    .bind(value)
    .bind(now_ms())
    .execute(&mut *c)
    .await?;
    super::notify_instances(c, super::Topic::Params, connection).await
}

#[cfg(test)]
mod tests {
    use crate::store::testutil::temp_store;

    #[tokio::test]
    async fn overrides_crud() {
        let (s, _d) = temp_store().await;
        let a = s.ensure_connection("a").await.unwrap();
        let b = s.ensure_connection("b").await.unwrap();
        assert_ne!(a, b);
        s.set_param_override(a, "autoclose", "5").await.unwrap();
        s.set_param_override(a, "AUTOCLOSE", "6").await.unwrap();
        s.set_param_override(b, "WELCOME", "hi").await.unwrap();
        let o = s.param_overrides(a).await.unwrap();
        assert_eq!(o.len(), 1);
        assert_eq!(o["AUTOCLOSE"], "6");
        assert!(s.delete_param_override(a, "AUTOCLOSE").await.unwrap());
        assert!(!s.delete_param_override(a, "AUTOCLOSE").await.unwrap());
        assert!(s.param_overrides(a).await.unwrap().is_empty());
        s.kv_set(a, "offset", "1").await.unwrap();
        s.kv_set(a, "offset", "2").await.unwrap();
        assert_eq!(s.kv_get(a, "offset").await.unwrap().as_deref(), Some("2"));
        assert_eq!(s.kv_get(b, "offset").await.unwrap(), None);
    }
}
