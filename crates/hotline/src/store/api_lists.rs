//! Paged listings for the REST API: contacts and dialogs of a connection, by id cursor
//! (keyset pagination: each page is an index range scan, however many rows exist).

use super::{
    dialogs, store_methods, Conn, ConnectionId, Contact, Dialog, DialogStatus, StoreError,
};

/// Filters of a contact listing; `None` = any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactFilter {
    /// Only banned (true) or not banned (false) contacts.
    pub banned: Option<bool>,
    /// Only contacts who blocked the bot (true) or did not (false).
    pub blocked: Option<bool>,
    /// Only this language code.
    pub language: Option<String>,
    /// Name or username containing this text (case-insensitive).
    pub query: Option<String>,
}

store_methods! {
    /// Contacts with id > `after`, by id, at most `limit`.
    pub async fn list_contacts(&self, connection: ConnectionId, filter: &ContactFilter, after: i64, limit: i64) -> Vec<Contact> => list_contacts;
    /// Dialogs with id > `after` (optionally of one status), by id, at most `limit`.
    pub async fn list_dialogs(&self, connection: ConnectionId, status: Option<DialogStatus>, after: i64, limit: i64) -> Vec<Dialog> => list_dialogs;
}

async fn list_contacts(
    c: &mut Conn,
    connection: ConnectionId,
    f: &ContactFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<Contact>, StoreError> {
    let like = f.query.as_ref().map(|q| {
        let escaped = q
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    Ok(sqlx::query_as(
        "SELECT id, user_id, first_name, last_name, username, language_code, first_seen_at, \
         last_message_at, start_param, CAST(banned AS INTEGER) AS banned, CAST(blocked AS INTEGER) AS blocked FROM contacts \
         WHERE connection_id = $1 AND id > $2 \
         AND ($3 IS NULL OR banned = $3) AND ($4 IS NULL OR blocked = $4) \
         AND ($5 IS NULL OR language_code = $5) \
         AND ($6 IS NULL OR lower(first_name || ' ' || COALESCE(last_name, '') || ' ' || COALESCE(username, '')) LIKE $6 ESCAPE '\\') \
         ORDER BY id LIMIT $7",
    )
    .bind(connection.0)
    .bind(after)
    .bind(f.banned)
    .bind(f.blocked)
    .bind(&f.language)
    .bind(like)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?)
}

async fn list_dialogs(
    c: &mut Conn,
    connection: ConnectionId,
    status: Option<DialogStatus>,
    after: i64,
    limit: i64,
) -> Result<Vec<Dialog>, StoreError> {
    sqlx::query(
        "SELECT id, connection_id, contact_id, thread_id, status, status_since, CAST(activated AS INTEGER) AS activated, created_at, \
         last_activity_at, assignee, group_id FROM dialogs WHERE connection_id = $1 AND id > $2 AND ($3 IS NULL OR status = $3) \
         ORDER BY id LIMIT $4",
    )
    .bind(connection.0)
    .bind(after)
    .bind(status.map(|s| s.as_str()))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(dialogs::from_row)
    .collect()
}

impl super::Store {
    /// Contacts matching a compiled segment (placeholders from `$4`) with id > `after`,
    /// by id, at most `limit`.
    pub async fn list_contacts_in_segment(
        &self,
        connection: ConnectionId,
        segment: &super::Compiled,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Contact>, StoreError> {
        let sql = format!(
            "SELECT c.id, c.user_id, c.first_name, c.last_name, c.username, c.language_code, \
             c.first_seen_at, c.last_message_at, c.start_param, CAST(c.banned AS INTEGER) AS banned, CAST(c.blocked AS INTEGER) AS blocked FROM contacts c \
             WHERE c.connection_id = $1 AND c.id > $2 AND ({}) ORDER BY c.id LIMIT $3",
            segment.sql
        );
        let mut q = sqlx::query_as::<_, Contact>(&sql)
            .bind(connection.0)
            .bind(after)
            .bind(limit);
        for b in &segment.binds {
            q = match b {
                super::Bind::Int(v) => q.bind(*v),
                super::Bind::Text(t) => q.bind(t.as_str()),
            };
        }
        let mut c = self.conn().await?;
        Ok(q.fetch_all(&mut *c).await?)
    }
}
