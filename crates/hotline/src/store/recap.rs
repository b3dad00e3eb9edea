//! `RECAP`: the conversation before a dialog opened (`recap_messages`).

use sqlx::Row;

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// One remembered message: who wrote it (`user` or `bot`), its text, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecapLine {
    /// `user` or `bot`.
    pub author: String,
    /// Text, caption or a `[kind]` placeholder.
    pub text: String,
    /// When it was written.
    pub at: UnixMs,
}

store_methods! {
    /// Remembers a message of `user`'s conversation, keeping only the last `keep`.
    pub async fn remember_recap(&self, connection: ConnectionId, user: i64, author: &str, text: &str, keep: u32, now: UnixMs) -> () => remember_recap;
    /// The remembered conversation of `user`, oldest first, removed from the store.
    pub async fn take_recap(&self, connection: ConnectionId, user: i64) -> Vec<RecapLine> => take_recap;
}

async fn remember_recap(
    c: &mut Conn,
    connection: ConnectionId,
    user: i64,
    author: &str,
    text: &str,
    keep: u32,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO recap_messages (connection_id, user_chat_id, author, text, at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(connection.0)
    .bind(user)
    .bind(author)
    .bind(text)
    .bind(now)
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "DELETE FROM recap_messages WHERE connection_id = $1 AND user_chat_id = $2 AND id NOT IN \
         (SELECT id FROM recap_messages WHERE connection_id = $1 AND user_chat_id = $2 \
          ORDER BY id DESC LIMIT $3)",
    )
    .bind(connection.0)
    .bind(user)
    .bind(i64::from(keep))
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn take_recap(
    c: &mut Conn,
    connection: ConnectionId,
    user: i64,
) -> Result<Vec<RecapLine>, StoreError> {
    let rows = sqlx::query(
        "DELETE FROM recap_messages WHERE connection_id = $1 AND user_chat_id = $2 \
         RETURNING id, author, text, at",
    )
    .bind(connection.0)
    .bind(user)
    .fetch_all(&mut *c)
    .await?;
    let mut out: Vec<(i64, RecapLine)> = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                RecapLine {
                    author: r.try_get("author")?,
                    text: r.try_get("text")?,
                    at: r.try_get("at")?,
                },
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    out.sort_by_key(|(id, _)| *id);
    Ok(out.into_iter().map(|(_, l)| l).collect())
}
