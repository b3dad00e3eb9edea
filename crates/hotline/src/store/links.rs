//! Message links: which group (topic) message is the counterpart of which user-chat
//! message. Used for replies and edits both ways; indexed by each side.

use sqlx::Row;

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// Which way the message travelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// User → topic copy.
    Incoming,
    /// Operator → user.
    Outgoing,
    /// The parallel bot backend → user, mirrored into the topic.
    Intercepted,
}

impl Direction {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incoming => "incoming",
            Self::Outgoing => "outgoing",
            Self::Intercepted => "intercepted",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "incoming" => Ok(Self::Incoming),
            "outgoing" => Ok(Self::Outgoing),
            "intercepted" => Ok(Self::Intercepted),
            other => Err(StoreError::Corrupt {
                table: "message_links",
                message: format!("direction \"{other}\""),
            }),
        }
    }
}

/// A link to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLink {
    /// The dialog both messages belong to.
    pub dialog_id: i64,
    /// The user's private chat id.
    pub user_chat_id: i64,
    /// Message id in the user's chat.
    pub user_message_id: i64,
    /// The backend group id.
    pub group_chat_id: i64,
    /// Message id in the group.
    pub group_message_id: i64,
    /// Which way it went.
    pub direction: Direction,
    /// Content kind (`text`, `photo`, `album`, ...), used to choose how to sync edits.
    pub kind: String,
}

/// A stored link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageLink {
    /// Store id.
    pub id: i64,
    /// The link's data.
    pub link: NewLink,
    /// When it was recorded (edits are possible for 48 h after sending).
    pub created_at: UnixMs,
}

const COLUMNS: &str =
    "id, dialog_id, user_chat_id, user_message_id, group_chat_id, group_message_id, \
                       direction, kind, created_at";

fn from_row(r: &super::DbRow) -> Result<MessageLink, StoreError> {
    let dir: String = r.try_get("direction")?;
    Ok(MessageLink {
        id: r.try_get("id")?,
        created_at: r.try_get("created_at")?,
        link: NewLink {
            dialog_id: r.try_get("dialog_id")?,
            user_chat_id: r.try_get("user_chat_id")?,
            user_message_id: r.try_get("user_message_id")?,
            group_chat_id: r.try_get("group_chat_id")?,
            group_message_id: r.try_get("group_message_id")?,
            direction: Direction::parse(&dir)?,
            kind: r.try_get("kind")?,
        },
    })
}

store_methods! {
    /// Records a link (several links may share one side, e.g. an edit posted as a new reply).
    pub async fn insert_link(&self, connection: ConnectionId, link: &NewLink, now: UnixMs) -> i64 => insert_link;
    /// Records several links in one statement (the messages of one copyMessages call).
    pub async fn insert_links(&self, connection: ConnectionId, links: &[NewLink], now: UnixMs) -> () => insert_links;
    /// The latest link whose user-side message is (`chat`, `message_id`).
    pub async fn link_by_user_message(&self, connection: ConnectionId, chat: i64, message_id: i64) -> Option<MessageLink> => link_by_user_message;
    /// The latest link whose group-side message is (`chat`, `message_id`).
    pub async fn link_by_group_message(&self, connection: ConnectionId, chat: i64, message_id: i64) -> Option<MessageLink> => link_by_group_message;
}

async fn insert_link(
    c: &mut Conn,
    connection: ConnectionId,
    l: &NewLink,
    now: UnixMs,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO message_links (connection_id, dialog_id, user_chat_id, user_message_id, group_chat_id, \
         group_message_id, direction, kind, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(connection.0)
    .bind(l.dialog_id)
    .bind(l.user_chat_id)
    .bind(l.user_message_id)
    .bind(l.group_chat_id)
    .bind(l.group_message_id)
    .bind(l.direction.as_str())
    .bind(&l.kind)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

/// Links per multi-row statement (9 bind parameters each, far below every engine's limit).
const LINKS_PER_INSERT: usize = 100;

async fn insert_links(
    c: &mut Conn,
    connection: ConnectionId,
    links: &[NewLink],
    now: UnixMs,
) -> Result<(), StoreError> {
    for chunk in links.chunks(LINKS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 3 + 7 * i;
                format!(
                    "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, $2)",
                    b,
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO message_links (connection_id, dialog_id, user_chat_id, user_message_id, \
             group_chat_id, group_message_id, direction, kind, created_at) VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(connection.0).bind(now);
        for l in chunk {
            q = q
                .bind(l.dialog_id)
                .bind(l.user_chat_id)
                .bind(l.user_message_id)
                .bind(l.group_chat_id)
                .bind(l.group_message_id)
                .bind(l.direction.as_str())
                .bind(&l.kind);
        }
        q.execute(&mut *c).await?;
    }
    Ok(())
}

async fn link_by_user_message(
    c: &mut Conn,
    connection: ConnectionId,
    chat: i64,
    message_id: i64,
) -> Result<Option<MessageLink>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM message_links WHERE connection_id = $1 AND user_chat_id = $2 AND user_message_id = $3 \
         ORDER BY id DESC LIMIT 1"
    ))
    .bind(connection.0)
    .bind(chat)
    .bind(message_id)
    .fetch_optional(&mut *c)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

async fn link_by_group_message(
    c: &mut Conn,
    connection: ConnectionId,
    chat: i64,
    message_id: i64,
) -> Result<Option<MessageLink>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM message_links WHERE connection_id = $1 AND group_chat_id = $2 AND group_message_id = $3 \
         ORDER BY id DESC LIMIT 1"
    ))
    .bind(connection.0)
    .bind(chat)
    .bind(message_id)
    .fetch_optional(&mut *c)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;
    use crate::store::{ContactProfile, DialogStatus};

    #[tokio::test]
    async fn lookup_both_ways_latest_wins() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        let p = ContactProfile {
            user_id: 5,
            first_name: "u".into(),
            ..Default::default()
        };
        let contact = s.contact_wrote(conn, &p, None, 1).await.unwrap();
        let (d, _) = s
            .ensure_dialog(conn, contact.id, DialogStatus::New, 1)
            .await
            .unwrap();
        let link = |um, gm, direction| NewLink {
            dialog_id: d.id,
            user_chat_id: 5,
            user_message_id: um,
            group_chat_id: -100,
            group_message_id: gm,
            direction,
            kind: "text".into(),
        };
        s.insert_link(conn, &link(1, 10, Direction::Incoming), 1)
            .await
            .unwrap();
        s.insert_link(conn, &link(2, 11, Direction::Outgoing), 2)
            .await
            .unwrap();
        s.insert_link(conn, &link(1, 12, Direction::Incoming), 3)
            .await
            .unwrap();
        let a = s.link_by_user_message(conn, 5, 1).await.unwrap().unwrap();
        assert_eq!(a.link.group_message_id, 12);
        let b = s
            .link_by_group_message(conn, -100, 11)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (b.link.user_message_id, b.link.direction),
            (2, Direction::Outgoing)
        );
        assert!(s
            .link_by_group_message(conn, -100, 99)
            .await
            .unwrap()
            .is_none());
        // Foreign keys are on: a link to a missing dialog is refused.
        let mut bad = link(3, 13, Direction::Intercepted);
        bad.dialog_id = 9999;
        assert!(s.insert_link(conn, &bad, 4).await.is_err());
    }
}
