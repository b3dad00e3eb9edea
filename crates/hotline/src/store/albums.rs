//! Album buffering: parts of one `media_group_id` gathered into one copy intent.

use sqlx::Row;

use super::{store_methods, Conn, ConnectionId, StoreError};

store_methods! {
    /// The batch (intent id) still collecting parts of this album, if any.
    pub async fn open_album_batch(&self, connection: ConnectionId, media_group_id: &str) -> Option<i64> => open_album_batch;
    /// Adds a part to a batch (idempotent).
    pub async fn add_album_part(&self, connection: ConnectionId, media_group_id: &str, batch: i64, chat_id: i64, message_id: i64) -> () => add_album_part;
    /// Seals a batch (later parts start a new one) and returns its message ids in order.
    pub async fn album_batch(&self, connection: ConnectionId, batch: i64) -> Vec<i64> => album_batch;
}

async fn open_album_batch(
    c: &mut Conn,
    connection: ConnectionId,
    media_group_id: &str,
) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT batch FROM album_parts WHERE connection_id = $1 AND media_group_id = $2 AND sealed = FALSE LIMIT 1")
        .bind(connection.0)
        .bind(media_group_id)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.map(|r| r.get::<i64, _>(0)))
}

async fn add_album_part(
    c: &mut Conn,
    connection: ConnectionId,
    media_group_id: &str,
    batch: i64,
    chat_id: i64,
    message_id: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO album_parts (connection_id, media_group_id, batch, chat_id, message_id) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(connection.0)
    .bind(media_group_id)
    .bind(batch)
    .bind(chat_id)
    .bind(message_id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn album_batch(
    c: &mut Conn,
    connection: ConnectionId,
    batch: i64,
) -> Result<Vec<i64>, StoreError> {
    sqlx::query("UPDATE album_parts SET sealed = TRUE WHERE connection_id = $1 AND batch = $2")
        .bind(connection.0)
        .bind(batch)
        .execute(&mut *c)
        .await?;
    let rows = sqlx::query("SELECT message_id FROM album_parts WHERE connection_id = $1 AND batch = $2 ORDER BY message_id")
        .bind(connection.0)
        .bind(batch)
        .fetch_all(&mut *c)
        .await?;
    Ok(rows.iter().map(|r| r.get::<i64, _>(0)).collect())
}
