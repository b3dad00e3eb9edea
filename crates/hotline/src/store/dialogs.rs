//! Dialogs: a contact's topic and its status. One per (connection, contact), enforced by a
//! unique constraint so concurrent first messages can never create two topics.

use std::fmt;
use std::str::FromStr;

use sqlx::Row;

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// Dialog status, shown as a coloured square in the topic title and icon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DialogStatus {
    /// 🟪 the user wrote last.
    New,
    /// 🟨 the team answered; waiting for the user.
    Wait,
    /// ⬛ closed (topic closed).
    Closed,
}

impl DialogStatus {
    /// The square shown in the topic title.
    pub fn square(self) -> &'static str {
        match self {
            Self::New => "🟪",
            Self::Wait => "🟨",
            Self::Closed => "⬛",
        }
    }

    /// The database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Wait => "wait",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for DialogStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DialogStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "new" => Ok(Self::New),
            "wait" => Ok(Self::Wait),
            "closed" => Ok(Self::Closed),
            other => Err(format!("unknown dialog status \"{other}\"")),
        }
    }
}

/// A dialog row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    /// Store id (also the outbox fairness key for the group queue).
    pub id: i64,
    /// Owning connection.
    pub connection: ConnectionId,
    /// The contact this dialog is with.
    pub contact_id: i64,
    /// Forum topic id; `None` until created or after it was found deleted.
    pub thread_id: Option<i64>,
    /// Current status.
    pub status: DialogStatus,
    /// When the status last changed (auto-close counts from here).
    pub status_since: UnixMs,
    /// Whether the dialog passed the `PRIVATE_KEYWORDS` gate.
    pub activated: bool,
    /// Creation time.
    pub created_at: UnixMs,
    /// Last message either way.
    pub last_activity_at: UnixMs,
    /// The operator who handles it (`/take`, `/assign`, the API), if any.
    pub assignee: Option<i64>,
    /// The overflow group its topic lives in; `None` = the connection's primary group.
    pub group_id: Option<i64>,
}

const COLUMNS: &str =
    "id, connection_id, contact_id, thread_id, status, status_since, CAST(activated AS INTEGER) AS activated, created_at, last_activity_at, assignee, group_id";

pub(super) fn from_row(r: &super::DbRow) -> Result<Dialog, StoreError> {
    let status: String = r.try_get("status")?;
    Ok(Dialog {
        id: r.try_get("id")?,
        connection: ConnectionId(r.try_get("connection_id")?),
        contact_id: r.try_get("contact_id")?,
        thread_id: r.try_get("thread_id")?,
        status: status.parse().map_err(|message| StoreError::Corrupt {
            table: "dialogs",
            message,
        })?,
        status_since: r.try_get("status_since")?,
        activated: super::flag(r, "activated")?,
        created_at: r.try_get("created_at")?,
        last_activity_at: r.try_get("last_activity_at")?,
        assignee: r.try_get("assignee")?,
        group_id: r.try_get("group_id")?,
    })
}

store_methods! {
    /// The contact's dialog, created with `status` if absent. Returns it and whether it
    /// was created now; under concurrency exactly one caller sees `true`.
    pub async fn ensure_dialog(&self, connection: ConnectionId, contact_id: i64, status: DialogStatus, now: UnixMs) -> (Dialog, bool) => ensure_dialog;
    /// A dialog and its contact in one query (every intent execution needs both).
    pub async fn dialog_with_contact(&self, id: i64) -> Option<(Dialog, super::Contact)> => dialog_with_contact;
    /// Looks a dialog up by id.
    pub async fn dialog(&self, id: i64) -> Option<Dialog> => dialog;
    /// The dialog of a contact.
    pub async fn dialog_for_contact(&self, connection: ConnectionId, contact_id: i64) -> Option<Dialog> => dialog_for_contact;
    /// The dialog whose topic is `thread_id` in `group`, or was before it broke (routing
    /// operator messages: people keep writing in a broken topic). Thread ids repeat across
    /// groups; a dialog without a stored group lives in `primary`.
    pub async fn dialog_by_thread(&self, connection: ConnectionId, primary: i64, group: i64, thread_id: i64) -> Option<Dialog> => dialog_by_thread;
    /// Puts a dialog in an overflow group (`None`: the primary group).
    pub async fn set_dialog_group(&self, id: i64, group: Option<i64>) -> () => set_dialog_group;
    /// Records the topic id (or `None` when the topic was found deleted).
    pub async fn set_dialog_thread(&self, id: i64, thread_id: Option<i64>) -> () => set_dialog_thread;
    /// Remembers `thread_id` as a broken former topic of `dialog` (it stays routable).
    pub async fn add_previous_topic(&self, connection: ConnectionId, thread_id: i64, dialog: i64, now: UnixMs) -> () => add_previous_topic;
    /// Whether `thread_id` is a broken former topic of some dialog.
    pub async fn is_previous_topic(&self, connection: ConnectionId, thread_id: i64) -> bool => is_previous_topic;
    /// Changes the status from `from` to `status`; false (nothing written) when the dialog
    /// is not in `from` (any more) or already in `status`, so the caller records exactly
    /// the change that happened.
    pub async fn set_dialog_status(&self, id: i64, from: DialogStatus, status: DialogStatus, now: UnixMs) -> bool => set_dialog_status;
    /// Marks the dialog as having passed the keyword gate.
    pub async fn set_dialog_activated(&self, id: i64, activated: bool) -> () => set_dialog_activated;
    /// Records activity without changing the status.
    pub async fn touch_dialog(&self, id: i64, now: UnixMs) -> () => touch_dialog;
    /// Closes a dialog only while it is 🟨 since before `before` (AUTOCLOSE's guard: a
    /// user who wrote meanwhile keeps it open). Returns whether it closed.
    pub async fn close_if_waiting(&self, id: i64, before: UnixMs, now: UnixMs) -> bool => close_if_waiting;
    /// Dialogs with a topic in 🟪 since before `before` and not reminded of in this waiting
    /// period, oldest first: REMIND_AFTER's candidates.
    pub async fn dialogs_to_remind(&self, connection: ConnectionId, before: UnixMs, limit: i64) -> Vec<Dialog> => dialogs_to_remind;
    /// Ids of the dialogs that are open and have a topic (retitling them all at once).
    pub async fn open_dialogs_with_topic(&self, connection: ConnectionId) -> Vec<i64> => open_dialogs_with_topic;
    /// Dialogs in 🟨 since before `before`, oldest first: the auto-close candidates.
    pub async fn dialogs_waiting_since(&self, connection: ConnectionId, before: UnixMs, limit: i64) -> Vec<Dialog> => dialogs_waiting_since;
}

async fn ensure_dialog(
    c: &mut Conn,
    connection: ConnectionId,
    contact_id: i64,
    status: DialogStatus,
    now: UnixMs,
) -> Result<(Dialog, bool), StoreError> {
    let created = sqlx::query(
        "INSERT INTO dialogs (connection_id, contact_id, status, status_since, created_at, last_activity_at) \
         VALUES ($1, $2, $3, $4, $4, $4) ON CONFLICT (connection_id, contact_id) DO NOTHING",
    )
    .bind(connection.0)
    .bind(contact_id)
    .bind(status.as_str())
    .bind(now)
    .execute(&mut *c)
    .await?
    .rows_affected()
        == 1;
    let d = dialog_for_contact(c, connection, contact_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt {
            table: "dialogs",
            message: format!("dialog of contact {contact_id} vanished after insert"),
        })?;
    Ok((d, created))
}

async fn dialog(c: &mut Conn, id: i64) -> Result<Option<Dialog>, StoreError> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM dialogs WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

async fn dialog_for_contact(
    c: &mut Conn,
    connection: ConnectionId,
    contact_id: i64,
) -> Result<Option<Dialog>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM dialogs WHERE connection_id = $1 AND contact_id = $2"
    ))
    .bind(connection.0)
    .bind(contact_id)
    .fetch_optional(&mut *c)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

async fn set_dialog_group(c: &mut Conn, id: i64, group: Option<i64>) -> Result<(), StoreError> {
    sqlx::query("UPDATE dialogs SET group_id = $2 WHERE id = $1")
        .bind(id)
        .bind(group)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn dialog_by_thread(
    c: &mut Conn,
    connection: ConnectionId,
    primary: i64,
    group: i64,
    thread_id: i64,
) -> Result<Option<Dialog>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM dialogs WHERE connection_id = $1 AND COALESCE(group_id, $3) = $4 \
         AND (thread_id = $2 OR id IN \
         (SELECT dialog_id FROM previous_topics WHERE connection_id = $1 AND thread_id = $2)) \
         LIMIT 1"
    ))
    .bind(connection.0)
    .bind(thread_id)
    .bind(primary)
    .bind(group)
    .fetch_optional(&mut *c)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

async fn add_previous_topic(
    c: &mut Conn,
    connection: ConnectionId,
    thread_id: i64,
    dialog: i64,
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO previous_topics (connection_id, thread_id, dialog_id, replaced_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (connection_id, thread_id) DO NOTHING",
    )
    .bind(connection.0)
    .bind(thread_id)
    .bind(dialog)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn is_previous_topic(
    c: &mut Conn,
    connection: ConnectionId,
    thread_id: i64,
) -> Result<bool, StoreError> {
    Ok(
        sqlx::query("SELECT 1 FROM previous_topics WHERE connection_id = $1 AND thread_id = $2")
            .bind(connection.0)
            .bind(thread_id)
            .fetch_optional(&mut *c)
            .await?
            .is_some(),
    )
}

async fn set_dialog_thread(
    c: &mut Conn,
    id: i64,
    thread_id: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE dialogs SET thread_id = $2 WHERE id = $1")
        .bind(id)
        .bind(thread_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn set_dialog_status(
    c: &mut Conn,
    id: i64,
    from: DialogStatus,
    status: DialogStatus,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE dialogs SET status = $2, status_since = $3, last_activity_at = $3 \
         WHERE id = $1 AND status = $4 AND status <> $2",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(now)
    .bind(from.as_str())
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

async fn set_dialog_activated(c: &mut Conn, id: i64, activated: bool) -> Result<(), StoreError> {
    sqlx::query("UPDATE dialogs SET activated = $2 WHERE id = $1")
        .bind(id)
        .bind(activated)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn touch_dialog(c: &mut Conn, id: i64, now: UnixMs) -> Result<(), StoreError> {
    sqlx::query("UPDATE dialogs SET last_activity_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *c)
        .await?;
    Ok(())
}

async fn close_if_waiting(
    c: &mut Conn,
    id: i64,
    before: UnixMs,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE dialogs SET status = 'closed', status_since = $3, last_activity_at = $3 \
         WHERE id = $1 AND status = 'wait' AND status_since < $2",
    )
    .bind(id)
    .bind(before)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

async fn dialogs_waiting_since(
    c: &mut Conn,
    connection: ConnectionId,
    before: UnixMs,
    limit: i64,
) -> Result<Vec<Dialog>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM dialogs WHERE connection_id = $1 AND status = 'wait' AND status_since < $2 \
         ORDER BY status_since LIMIT $3"
    ))
    .bind(connection.0)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

async fn dialogs_to_remind(
    c: &mut Conn,
    connection: ConnectionId,
    before: UnixMs,
    limit: i64,
) -> Result<Vec<Dialog>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM dialogs WHERE connection_id = $1 AND status = 'new' AND status_since < $2 \
         AND thread_id IS NOT NULL AND (reminded_at IS NULL OR reminded_at <> status_since) \
         ORDER BY status_since LIMIT $3"
    ))
    .bind(connection.0)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

async fn open_dialogs_with_topic(
    c: &mut Conn,
    connection: ConnectionId,
) -> Result<Vec<i64>, StoreError> {
    let rows = sqlx::query(
        "SELECT id FROM dialogs WHERE connection_id = $1 AND status <> 'closed' AND thread_id IS NOT NULL ORDER BY id",
    )
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

async fn dialog_with_contact(
    c: &mut Conn,
    id: i64,
) -> Result<Option<(Dialog, super::Contact)>, StoreError> {
    let row = sqlx::query(
        "SELECT d.id, d.connection_id, d.contact_id, d.thread_id, d.status, d.status_since, CAST(d.activated AS INTEGER) AS activated, \
         d.created_at, d.last_activity_at, d.assignee, d.group_id, c.user_id AS c_user_id, c.first_name AS c_first_name, \
         c.last_name AS c_last_name, c.username AS c_username, c.language_code AS c_language_code, \
         c.first_seen_at AS c_first_seen_at, c.last_message_at AS c_last_message_at, \
         c.start_param AS c_start_param, CAST(c.banned AS INTEGER) AS c_banned, CAST(c.blocked AS INTEGER) AS c_blocked \
         FROM dialogs d JOIN contacts c ON c.id = d.contact_id WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let d = from_row(&r)?;
    let contact = super::Contact {
        id: d.contact_id,
        user_id: r.try_get("c_user_id")?,
        first_name: r.try_get("c_first_name")?,
        last_name: r.try_get("c_last_name")?,
        username: r.try_get("c_username")?,
        language_code: r.try_get("c_language_code")?,
        first_seen_at: r.try_get("c_first_seen_at")?,
        last_message_at: r.try_get("c_last_message_at")?,
        start_param: r.try_get("c_start_param")?,
        banned: super::flag(&r, "c_banned")?,
        blocked: super::flag(&r, "c_blocked")?,
    };
    Ok(Some((d, contact)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;
    use crate::store::ContactProfile;

    #[tokio::test]
    async fn one_dialog_per_contact_even_concurrently() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        let p = ContactProfile {
            user_id: 7,
            first_name: "u".into(),
            ..Default::default()
        };
        let contact = s.contact_wrote(conn, &p, None, 1).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = s.begin().await.unwrap();
                let r = tx
                    .ensure_dialog(conn, contact.id, DialogStatus::New, 10 + i)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                r
            }));
        }
        let mut created = 0;
        let mut ids = std::collections::HashSet::new();
        for t in tasks {
            let (d, c) = t.await.unwrap();
            created += c as i32;
            ids.insert(d.id);
        }
        assert_eq!(created, 1);
        assert_eq!(ids.len(), 1);
    }

    #[tokio::test]
    async fn status_thread_and_autoclose_scan() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        let mut dialogs = Vec::new();
        for uid in 1..=3 {
            let p = ContactProfile {
                user_id: uid,
                first_name: "u".into(),
                ..Default::default()
            };
            let contact = s.contact_wrote(conn, &p, None, 1).await.unwrap();
            let (d, created) = s
                .ensure_dialog(conn, contact.id, DialogStatus::New, 100)
                .await
                .unwrap();
            assert!(created);
            assert_eq!(d.status, DialogStatus::New);
            dialogs.push(d);
        }
        s.set_dialog_thread(dialogs[0].id, Some(55)).await.unwrap();
        assert_eq!(
            s.dialog_by_thread(conn, -1, -1, 55)
                .await
                .unwrap()
                .unwrap()
                .id,
            dialogs[0].id
        );
        // A topic id belongs to one dialog per group of a connection.
        assert!(s.set_dialog_thread(dialogs[1].id, Some(55)).await.is_err());
        // In an overflow group the same thread id is another topic.
        s.set_dialog_group(dialogs[2].id, Some(-2)).await.unwrap();
        s.set_dialog_thread(dialogs[2].id, Some(55)).await.unwrap();
        assert_eq!(
            s.dialog_by_thread(conn, -1, -2, 55)
                .await
                .unwrap()
                .unwrap()
                .id,
            dialogs[2].id
        );
        assert_eq!(
            s.dialog_by_thread(conn, -1, -1, 55)
                .await
                .unwrap()
                .unwrap()
                .id,
            dialogs[0].id
        );
        s.set_dialog_thread(dialogs[2].id, None).await.unwrap();
        assert!(s
            .set_dialog_status(dialogs[0].id, DialogStatus::New, DialogStatus::Wait, 200)
            .await
            .unwrap());
        assert!(!s
            .set_dialog_status(dialogs[0].id, DialogStatus::Wait, DialogStatus::Wait, 300)
            .await
            .unwrap());
        assert!(s
            .set_dialog_status(dialogs[1].id, DialogStatus::New, DialogStatus::Wait, 400)
            .await
            .unwrap());
        let due = s.dialogs_waiting_since(conn, 350, 10).await.unwrap();
        assert_eq!(
            due.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![dialogs[0].id]
        );
        assert_eq!(due[0].status_since, 200);
        s.set_dialog_activated(dialogs[2].id, true).await.unwrap();
        assert!(s.dialog(dialogs[2].id).await.unwrap().unwrap().activated);
        s.set_dialog_thread(dialogs[0].id, None).await.unwrap();
        assert!(s
            .dialog_by_thread(conn, -1, -1, 55)
            .await
            .unwrap()
            .is_none());
        // A broken topic stays routable to its dialog after the dialog moves on.
        s.set_dialog_thread(dialogs[0].id, Some(56)).await.unwrap();
        s.add_previous_topic(conn, 56, dialogs[0].id, 500)
            .await
            .unwrap();
        s.set_dialog_thread(dialogs[0].id, Some(57)).await.unwrap();
        assert!(s.is_previous_topic(conn, 56).await.unwrap());
        assert!(!s.is_previous_topic(conn, 57).await.unwrap());
        for thread in [56, 57] {
            assert_eq!(
                s.dialog_by_thread(conn, -1, -1, thread)
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
                dialogs[0].id
            );
        }
        assert_eq!(DialogStatus::Closed.square(), "⬛");
    }
}
