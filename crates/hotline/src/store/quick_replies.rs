//! Quick replies (`/say`) and the recent album items a reply to one album item needs.

use serde_json::Value;
use sqlx::Row;

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// How long album items are kept for `/say NAME` (a reply to an album from a topic).
pub const MEDIA_ITEMS_TTL_MS: i64 = 24 * 3600 * 1000;

/// A saved quick reply.
#[derive(Clone, Debug, PartialEq)]
pub struct QuickReply {
    /// Store id.
    pub id: i64,
    /// The name as typed.
    pub name: String,
    /// Lower-cased name.
    pub key: String,
    /// What to send: a JSON array of items (see `domain::resend`).
    pub items: Value,
    /// Where the original is (for forwarding and links).
    pub source_chat: i64,
    /// The original's topic, if any.
    pub source_thread: Option<i64>,
    /// The original message ids (several for an album).
    pub source_ids: Vec<i64>,
}

/// A new quick reply.
#[derive(Clone, Debug)]
pub struct NewQuickReply<'a> {
    /// The name as typed.
    pub name: &'a str,
    /// Items to send.
    pub items: &'a Value,
    /// Original chat.
    pub source_chat: i64,
    /// Original topic.
    pub source_thread: Option<i64>,
    /// Original message ids.
    pub source_ids: &'a [i64],
    /// Who saved it.
    pub created_by: i64,
}

store_methods! {
    /// Saves (or replaces) a quick reply; true when it replaced one.
    pub async fn save_quick_reply(&self, connection: ConnectionId, q: &NewQuickReply<'_>, now: UnixMs) -> bool => save_quick_reply;
    /// A quick reply by name (case-insensitive).
    pub async fn quick_reply(&self, connection: ConnectionId, name: &str) -> Option<QuickReply> => quick_reply;
    /// Every quick reply, by name.
    pub async fn quick_replies(&self, connection: ConnectionId) -> Vec<QuickReply> => quick_replies;
    /// Deletes a quick reply; false when there was none.
    pub async fn delete_quick_reply(&self, connection: ConnectionId, name: &str) -> bool => delete_quick_reply;
    /// Remembers one album item (and drops items older than a day).
    pub async fn record_media_item(&self, connection: ConnectionId, chat_id: i64, message_id: i64, media_group_id: &str, item: &Value, now: UnixMs) -> () => record_media_item;
    /// The album of a remembered item: every item of its media group, in order, with ids.
    pub async fn media_album(&self, connection: ConnectionId, chat_id: i64, message_id: i64, since: UnixMs) -> Vec<(i64, Value)> => media_album;
}

fn from_row(r: &super::DbRow) -> Result<QuickReply, StoreError> {
    let corrupt = |m: String| StoreError::Corrupt {
        table: "quick_replies",
        message: m,
    };
    let items: String = r.try_get("items")?;
    let ids: String = r.try_get("source_ids")?;
    Ok(QuickReply {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        key: r.try_get("key")?,
        items: serde_json::from_str(&items).map_err(|e| corrupt(e.to_string()))?,
        source_chat: r.try_get("source_chat")?,
        source_thread: r.try_get("source_thread")?,
        source_ids: serde_json::from_str(&ids).map_err(|e| corrupt(e.to_string()))?,
    })
}

const COLUMNS: &str = "id, name, key, items, source_chat, source_thread, source_ids";

async fn save_quick_reply(
    c: &mut Conn,
    connection: ConnectionId,
    q: &NewQuickReply<'_>,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let existed = quick_reply(c, connection, q.name).await?.is_some();
    sqlx::query(
        "INSERT INTO quick_replies (connection_id, name, key, items, source_chat, source_thread, \
         source_ids, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (connection_id, key) DO UPDATE SET name = excluded.name, items = excluded.items, \
         source_chat = excluded.source_chat, source_thread = excluded.source_thread, \
         source_ids = excluded.source_ids, created_by = excluded.created_by, created_at = excluded.created_at",
    )
    .bind(connection.0)
    .bind(q.name)
    .bind(q.name.to_lowercase())
    .bind(q.items.to_string())
    .bind(q.source_chat)
    .bind(q.source_thread)
    .bind(serde_json::to_string(q.source_ids).unwrap_or_else(|_| "[]".into()))
    .bind(q.created_by)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(existed)
}

async fn quick_reply(
    c: &mut Conn,
    connection: ConnectionId,
    name: &str,
) -> Result<Option<QuickReply>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM quick_replies WHERE connection_id = $1 AND key = $2"
    ))
    .bind(connection.0)
    .bind(name.to_lowercase())
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

async fn quick_replies(
    c: &mut Conn,
    connection: ConnectionId,
) -> Result<Vec<QuickReply>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM quick_replies WHERE connection_id = $1 ORDER BY key"
    ))
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

async fn delete_quick_reply(
    c: &mut Conn,
    connection: ConnectionId,
    name: &str,
) -> Result<bool, StoreError> {
    let r = sqlx::query("DELETE FROM quick_replies WHERE connection_id = $1 AND key = $2")
        .bind(connection.0)
        .bind(name.to_lowercase())
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() > 0)
}

async fn record_media_item(
    c: &mut Conn,
    connection: ConnectionId,
    chat_id: i64,
    message_id: i64,
    media_group_id: &str,
    item: &Value,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM media_items WHERE created_at < $1")
        .bind(now - MEDIA_ITEMS_TTL_MS)
        .execute(&mut *c)
        .await?;
    sqlx::query(
        "INSERT INTO media_items (connection_id, chat_id, message_id, media_group_id, item, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(connection.0)
    .bind(chat_id)
    .bind(message_id)
    .bind(media_group_id)
    .bind(item.to_string())
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn media_album(
    c: &mut Conn,
    connection: ConnectionId,
    chat_id: i64,
    message_id: i64,
    since: UnixMs,
) -> Result<Vec<(i64, Value)>, StoreError> {
    let rows = sqlx::query(
        "SELECT m.message_id, m.item FROM media_items m \
         JOIN media_items one ON one.connection_id = m.connection_id \
              AND one.media_group_id = m.media_group_id \
         WHERE one.connection_id = $1 AND one.chat_id = $2 AND one.message_id = $3 \
              AND m.chat_id = $2 AND m.created_at >= $4 ORDER BY m.message_id",
    )
    .bind(connection.0)
    .bind(chat_id)
    .bind(message_id)
    .bind(since)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            let item: String = r.try_get(1)?;
            let v = serde_json::from_str(&item).map_err(|e| StoreError::Corrupt {
                table: "media_items",
                message: e.to_string(),
            })?;
            Ok((r.try_get(0)?, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;
    use serde_json::json;

    #[tokio::test]
    async fn quick_replies_and_albums() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("a").await.unwrap();
        let items = json!([{"type": "text", "text": "hi"}]);
        let q = NewQuickReply {
            name: "Hello",
            items: &items,
            source_chat: -100,
            source_thread: Some(3),
            source_ids: &[7],
            created_by: 1,
        };
        assert!(!s.save_quick_reply(conn, &q, 1).await.unwrap());
        assert!(s.save_quick_reply(conn, &q, 2).await.unwrap());
        let got = s.quick_reply(conn, "HELLO").await.unwrap().unwrap();
        assert_eq!((got.source_ids, got.items), (vec![7], items));
        assert_eq!(s.quick_replies(conn).await.unwrap().len(), 1);
        assert!(s.delete_quick_reply(conn, "hello").await.unwrap());
        assert!(!s.delete_quick_reply(conn, "hello").await.unwrap());

        let now = 10 * MEDIA_ITEMS_TTL_MS;
        for id in [5, 4, 6] {
            s.record_media_item(conn, 9, id, "g", &json!({"id": id}), now)
                .await
                .unwrap();
        }
        s.record_media_item(conn, 9, 8, "other", &json!({}), now)
            .await
            .unwrap();
        let album = s.media_album(conn, 9, 6, now - 1).await.unwrap();
        assert_eq!(
            album.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![4, 5, 6]
        );
        // A day later the items are gone.
        s.record_media_item(conn, 9, 1, "x", &json!({}), now + MEDIA_ITEMS_TTL_MS + 1)
            .await
            .unwrap();
        assert!(s.media_album(conn, 9, 6, 0).await.unwrap().is_empty());
    }
}
