//! Tags and funnels (`/mark`): tag definitions, funnel stages, and tags on contacts.

use sqlx::{FromRow, Row};

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// A tag definition.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct Tag {
    /// Store id.
    pub id: i64,
    /// The name as the admin typed it (shown in listings).
    pub name: String,
    /// Lower-cased name: tags are looked up case-insensitively.
    pub key: String,
    /// Shown in topic titles after the status square.
    pub ticker: Option<String>,
    /// Key of the quick reply sent to the user when the tag is set.
    pub sends: Option<String>,
}

/// A contact carrying a tag, with its dialog's topic for links.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct TagMember {
    /// Contact store id.
    pub contact_id: i64,
    /// Telegram user id.
    pub user_id: i64,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: Option<String>,
    /// The contact's dialog, if any.
    pub dialog_id: Option<i64>,
    /// The dialog's topic, if it has one.
    pub thread_id: Option<i64>,
}

const TAG: &str = "id, name, key, ticker, sends";

store_methods! {
    /// Creates a tag; `None` when one with the same (case-insensitive) name exists.
    pub async fn create_tag(&self, connection: ConnectionId, name: &str, now: UnixMs) -> Option<Tag> => create_tag;
    /// A tag by name (case-insensitive).
    pub async fn tag_by_name(&self, connection: ConnectionId, name: &str) -> Option<Tag> => tag_by_name;
    /// Every tag of the connection with the number of contacts carrying it, by name.
    pub async fn tags_with_counts(&self, connection: ConnectionId) -> Vec<(Tag, i64)> => tags_with_counts;
    /// Sets or clears the ticker.
    pub async fn set_tag_ticker(&self, tag: i64, ticker: Option<&str>) -> () => set_tag_ticker;
    /// Sets or clears the quick reply sent when the tag is set.
    pub async fn set_tag_sends(&self, tag: i64, quick_reply: Option<&str>) -> () => set_tag_sends;
    /// Renames a tag; false when the new name is taken.
    pub async fn rename_tag(&self, connection: ConnectionId, tag: i64, name: &str) -> bool => rename_tag;
    /// Deletes a tag (and removes it from every contact).
    pub async fn delete_tag(&self, tag: i64) -> () => delete_tag;
    /// Replaces the funnel stages that setting `tag` removes.
    pub async fn set_tag_removes(&self, tag: i64, removes: &[i64]) -> () => set_tag_removes;
    /// The tags that setting `tag` removes.
    pub async fn tag_removes(&self, tag: i64) -> Vec<Tag> => tag_removes;
    /// Puts a tag on a contact; false when it was already there.
    pub async fn add_contact_tag(&self, contact: i64, tag: i64, now: UnixMs) -> bool => add_contact_tag;
    /// Takes a tag off a contact; false when it was not there.
    pub async fn remove_contact_tag(&self, contact: i64, tag: i64) -> bool => remove_contact_tag;
    /// A contact's tags in the order they were set.
    pub async fn contact_tags(&self, contact: i64) -> Vec<Tag> => contact_tags;
    /// The tickers of a contact's tags, in the order set (topic titles; primary-key lookup).
    pub async fn contact_tickers(&self, contact: i64) -> Vec<String> => contact_tickers;
    /// The contacts carrying a tag, with their topics, newest tagging first.
    pub async fn tag_members(&self, connection: ConnectionId, tag: i64, limit: i64) -> Vec<TagMember> => tag_members;
}

async fn create_tag(
    c: &mut Conn,
    connection: ConnectionId,
    name: &str,
    now: UnixMs,
) -> Result<Option<Tag>, StoreError> {
    let r = sqlx::query(
        "INSERT INTO tags (connection_id, name, key, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (connection_id, key) DO NOTHING",
    )
    .bind(connection.0)
    .bind(name)
    .bind(name.to_lowercase())
    .bind(now)
    .execute(&mut *c)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(None);
    }
    tag_by_name(c, connection, name).await
}

async fn tag_by_name(
    c: &mut Conn,
    connection: ConnectionId,
    name: &str,
) -> Result<Option<Tag>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {TAG} FROM tags WHERE connection_id = $1 AND key = $2"
    ))
    .bind(connection.0)
    .bind(name.to_lowercase())
    .fetch_optional(&mut *c)
    .await?)
}

async fn tags_with_counts(
    c: &mut Conn,
    connection: ConnectionId,
) -> Result<Vec<(Tag, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT t.id, t.name, t.key, t.ticker, t.sends, \
         (SELECT COUNT(*) FROM contact_tags ct WHERE ct.tag_id = t.id) AS n \
         FROM tags t WHERE t.connection_id = $1 ORDER BY t.key",
    )
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| Ok((Tag::from_row(r)?, r.try_get::<i64, _>("n")?)))
        .collect()
}

async fn set_tag_ticker(c: &mut Conn, tag: i64, ticker: Option<&str>) -> Result<(), StoreError> {
    sqlx::query("UPDATE tags SET ticker = $2 WHERE id = $1")
        .bind(tag)
        .bind(ticker)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn set_tag_sends(c: &mut Conn, tag: i64, sends: Option<&str>) -> Result<(), StoreError> {
    sqlx::query("UPDATE tags SET sends = $2 WHERE id = $1")
        .bind(tag)
        .bind(sends.map(str::to_lowercase))
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn rename_tag(
    c: &mut Conn,
    connection: ConnectionId,
    tag: i64,
    name: &str,
) -> Result<bool, StoreError> {
    let taken: Option<i64> =
        sqlx::query_scalar("SELECT id FROM tags WHERE connection_id = $1 AND key = $2")
            .bind(connection.0)
            .bind(name.to_lowercase())
            .fetch_optional(&mut *c)
            .await?;
    if taken.is_some_and(|id| id != tag) {
        return Ok(false);
    }
    sqlx::query("UPDATE tags SET name = $2, key = $3 WHERE id = $1")
        .bind(tag)
        .bind(name)
        .bind(name.to_lowercase())
        .execute(&mut *c)
        .await?;
    Ok(true)
}

async fn delete_tag(c: &mut Conn, tag: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM tags WHERE id = $1")
        .bind(tag)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn set_tag_removes(c: &mut Conn, tag: i64, removes: &[i64]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM tag_removes WHERE tag_id = $1")
        .bind(tag)
        .execute(&mut *c)
        .await?;
    for r in removes {
        sqlx::query(
            "INSERT INTO tag_removes (tag_id, removes_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(tag)
        .bind(r)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

async fn tag_removes(c: &mut Conn, tag: i64) -> Result<Vec<Tag>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT t.id, t.name, t.key, t.ticker, t.sends FROM tag_removes r \
         JOIN tags t ON t.id = r.removes_id WHERE r.tag_id = $1 ORDER BY t.key",
    )
    .bind(tag)
    .fetch_all(&mut *c)
    .await?)
}

async fn add_contact_tag(
    c: &mut Conn,
    contact: i64,
    tag: i64,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "INSERT INTO contact_tags (contact_id, tag_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(contact)
    .bind(tag)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

async fn remove_contact_tag(c: &mut Conn, contact: i64, tag: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("DELETE FROM contact_tags WHERE contact_id = $1 AND tag_id = $2")
        .bind(contact)
        .bind(tag)
        .execute(&mut *c)
        .await?;
    Ok(r.rows_affected() > 0)
}

async fn contact_tags(c: &mut Conn, contact: i64) -> Result<Vec<Tag>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT t.id, t.name, t.key, t.ticker, t.sends FROM contact_tags ct \
         JOIN tags t ON t.id = ct.tag_id WHERE ct.contact_id = $1 ORDER BY ct.created_at, t.id",
    )
    .bind(contact)
    .fetch_all(&mut *c)
    .await?)
}

async fn contact_tickers(c: &mut Conn, contact: i64) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT t.ticker FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id \
         WHERE ct.contact_id = $1 AND t.ticker IS NOT NULL ORDER BY ct.created_at, t.id",
    )
    .bind(contact)
    .fetch_all(&mut *c)
    .await?)
}

async fn tag_members(
    c: &mut Conn,
    connection: ConnectionId,
    tag: i64,
    limit: i64,
) -> Result<Vec<TagMember>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT k.id AS contact_id, k.user_id, k.first_name, k.last_name, \
         d.id AS dialog_id, d.thread_id FROM contact_tags ct \
         JOIN contacts k ON k.id = ct.contact_id \
         LEFT JOIN dialogs d ON d.connection_id = $1 AND d.contact_id = k.id \
         WHERE ct.tag_id = $2 ORDER BY ct.created_at DESC LIMIT $3",
    )
    .bind(connection.0)
    .bind(tag)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?)
}

#[cfg(test)]
mod tests {
    use crate::store::testutil::temp_store;
    use crate::store::ContactProfile;

    #[tokio::test]
    async fn tags_funnels_and_tickers() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("a").await.unwrap();
        let p = ContactProfile {
            user_id: 5,
            first_name: "Ann".into(),
            ..Default::default()
        };
        let ann = s.contact_wrote(conn, &p, None, 1).await.unwrap();
        let lead = s.create_tag(conn, "Lead", 1).await.unwrap().unwrap();
        assert!(s.create_tag(conn, "LEAD", 1).await.unwrap().is_none());
        let paid = s.create_tag(conn, "paid", 1).await.unwrap().unwrap();
        s.set_tag_ticker(lead.id, Some("🔵")).await.unwrap();
        s.set_tag_removes(paid.id, &[lead.id]).await.unwrap();
        assert_eq!(s.tag_removes(paid.id).await.unwrap()[0].key, "lead");
        assert!(s.add_contact_tag(ann.id, lead.id, 2).await.unwrap());
        assert!(!s.add_contact_tag(ann.id, lead.id, 3).await.unwrap());
        assert_eq!(s.contact_tickers(ann.id).await.unwrap(), vec!["🔵"]);
        let counts = s.tags_with_counts(conn).await.unwrap();
        assert_eq!((counts[0].0.key.as_str(), counts[0].1), ("lead", 1));
        assert_eq!(
            s.tag_members(conn, lead.id, 10).await.unwrap()[0].user_id,
            5
        );
        assert!(!s.rename_tag(conn, lead.id, "Paid").await.unwrap());
        assert!(s.rename_tag(conn, lead.id, "Prospect").await.unwrap());
        assert!(s.tag_by_name(conn, "prospect").await.unwrap().is_some());
        s.delete_tag(lead.id).await.unwrap();
        assert!(s.contact_tags(ann.id).await.unwrap().is_empty());
    }
}
