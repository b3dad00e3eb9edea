//! Contacts: end users known to a connection.

use sqlx::FromRow;

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// Profile fields taken from Telegram's `User` on every message, so names stay current.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactProfile {
    /// Telegram user id.
    pub user_id: i64,
    /// First name (always present in Telegram).
    pub first_name: String,
    /// Last name.
    pub last_name: Option<String>,
    /// Username without `@`.
    pub username: Option<String>,
    /// IETF language tag from the client.
    pub language_code: Option<String>,
}

/// A contact row.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct Contact {
    /// Store id (used by dialogs and links).
    pub id: i64,
    /// Telegram user id.
    pub user_id: i64,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: Option<String>,
    /// Username, lower-cased, without `@`.
    pub username: Option<String>,
    /// Language tag.
    pub language_code: Option<String>,
    /// When the contact first wrote.
    pub first_seen_at: UnixMs,
    /// When the contact last wrote.
    pub last_message_at: Option<UnixMs>,
    /// The `/start` deep-link parameter of the first visit.
    pub start_param: Option<String>,
    /// Banned with `/ban`: messages ignored.
    #[sqlx(try_from = "super::Flag")]
    pub banned: bool,
    /// The user blocked the bot (cleared when they write again).
    #[sqlx(try_from = "super::Flag")]
    pub blocked: bool,
}

impl Contact {
    /// "First Last", what Telegram shows as the user's name.
    pub fn display_name(&self) -> String {
        match &self.last_name {
            Some(l) if !l.is_empty() => format!("{} {l}", self.first_name),
            _ => self.first_name.clone(),
        }
    }
}

const COLUMNS: &str =
    "id, user_id, first_name, last_name, username, language_code, first_seen_at, \
                       last_message_at, start_param, CAST(banned AS INTEGER) AS banned, CAST(blocked AS INTEGER) AS blocked";

store_methods! {
    /// The relay's hot path in one statement: creates or refreshes the contact from a
    /// message's sender, records that they wrote at `now` and clears `blocked` (they can
    /// be reached again). `start_param` is kept only from the first visit.
    pub async fn contact_wrote(&self, connection: ConnectionId, profile: &ContactProfile, start_param: Option<&str>, now: UnixMs) -> Contact => contact_wrote;
    /// Looks a contact up by Telegram user id.
    pub async fn contact_by_user(&self, connection: ConnectionId, user_id: i64) -> Option<Contact> => contact_by_user;
    /// Looks a contact up by store id.
    pub async fn contact(&self, id: i64) -> Option<Contact> => contact;
    /// Looks a contact up by username (`@` optional, case-insensitive).
    pub async fn contact_by_username(&self, connection: ConnectionId, username: &str) -> Option<Contact> => contact_by_username;
    /// Sets or clears the ban mark.
    pub async fn set_contact_banned(&self, id: i64, banned: bool) -> () => set_contact_banned;
    /// Sets or clears the blocked-the-bot mark.
    pub async fn set_contact_blocked(&self, id: i64, blocked: bool) -> () => set_contact_blocked;
}

async fn contact_by_user(
    c: &mut Conn,
    connection: ConnectionId,
    user_id: i64,
) -> Result<Option<Contact>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM contacts WHERE connection_id = $1 AND user_id = $2"
    ))
    .bind(connection.0)
    .bind(user_id)
    .fetch_optional(&mut *c)
    .await?)
}

async fn contact(c: &mut Conn, id: i64) -> Result<Option<Contact>, StoreError> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM contacts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *c)
            .await?,
    )
}

async fn contact_by_username(
    c: &mut Conn,
    connection: ConnectionId,
    username: &str,
) -> Result<Option<Contact>, StoreError> {
    let u = username.trim().trim_start_matches('@').to_lowercase();
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM contacts WHERE connection_id = $1 AND username = $2 ORDER BY id DESC LIMIT 1"
    ))
    .bind(connection.0)
    .bind(u)
    .fetch_optional(&mut *c)
    .await?)
}

async fn set_contact_banned(c: &mut Conn, id: i64, banned: bool) -> Result<(), StoreError> {
    sqlx::query("UPDATE contacts SET banned = $2 WHERE id = $1")
        .bind(id)
        .bind(banned)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn set_contact_blocked(c: &mut Conn, id: i64, blocked: bool) -> Result<(), StoreError> {
    sqlx::query("UPDATE contacts SET blocked = $2 WHERE id = $1")
        .bind(id)
        .bind(blocked)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn contact_wrote(
    c: &mut Conn,
    connection: ConnectionId,
    p: &ContactProfile,
    start_param: Option<&str>,
    now: UnixMs,
) -> Result<Contact, StoreError> {
    let username = p
        .username
        .as_deref()
        .map(|u| u.trim_start_matches('@').to_lowercase());
    let sql = format!(
        "INSERT INTO contacts (connection_id, user_id, first_name, last_name, username, language_code, \
         first_seen_at, start_param, last_message_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7) \
         ON CONFLICT (connection_id, user_id) DO UPDATE SET first_name = excluded.first_name, \
         last_name = excluded.last_name, username = excluded.username, \
         language_code = COALESCE(excluded.language_code, contacts.language_code), \
         last_message_at = excluded.last_message_at, blocked = FALSE RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as::<_, Contact>(&sql)
        .bind(connection.0)
        .bind(p.user_id)
        .bind(&p.first_name)
        .bind(&p.last_name)
        .bind(&username)
        .bind(&p.language_code)
        .bind(now)
        .bind(start_param)
        .fetch_one(&mut *c)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;

    fn profile(id: i64, name: &str) -> ContactProfile {
        ContactProfile {
            user_id: id,
            first_name: name.into(),
            username: Some(format!("@{name}X")),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn contact_wrote_keeps_first_visit_refreshes_names_and_clears_blocked() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        let a = s
            .contact_wrote(conn, &profile(1, "ann"), Some("ad42"), 1000)
            .await
            .unwrap();
        assert_eq!(a.start_param.as_deref(), Some("ad42"));
        assert_eq!(a.username.as_deref(), Some("annx"));
        assert_eq!((a.first_seen_at, a.last_message_at), (1000, Some(1000)));
        s.set_contact_banned(a.id, true).await.unwrap();
        s.set_contact_blocked(a.id, true).await.unwrap();
        let mut p = profile(1, "anna");
        p.last_name = Some("Lee".into());
        let b = s
            .contact_wrote(conn, &p, Some("other"), 2000)
            .await
            .unwrap();
        assert_eq!(b.id, a.id);
        assert_eq!(b.display_name(), "anna Lee");
        assert_eq!(
            b.start_param.as_deref(),
            Some("ad42"),
            "the first visit's payload stays"
        );
        assert_eq!((b.first_seen_at, b.last_message_at), (1000, Some(2000)));
        assert!(
            b.banned && !b.blocked,
            "writing clears blocked, never banned"
        );
        assert_eq!(
            s.contact_by_username(conn, "@AnnaX")
                .await
                .unwrap()
                .unwrap()
                .id,
            a.id
        );
        assert!(s.contact_by_user(conn, 2).await.unwrap().is_none());
        // Same user id under another connection is another contact.
        let other = s.ensure_connection("d").await.unwrap();
        let o = s
            .contact_wrote(other, &profile(1, "ann"), None, 1)
            .await
            .unwrap();
        assert_ne!(o.id, a.id);
    }
}
