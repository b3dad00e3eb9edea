//! The team's members as they last wrote (names for `/stats`, cards and titles; usernames
//! for `/assign @username`), and dialog ownership queries.

use sqlx::Row;

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// A team member Hotline has seen write in the group (or found among the administrators).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    /// Telegram user id.
    pub user_id: i64,
    /// First (and last) name.
    pub name: String,
    /// Lower-cased username without `@`.
    pub username: Option<String>,
}

/// Open dialogs of one assignee (`None`: nobody's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssigneeLoad {
    /// The operator, or `None` for unassigned dialogs.
    pub assignee: Option<i64>,
    /// Open dialogs (🟪 and 🟨).
    pub open: i64,
    /// Of them, waiting for the team (🟪).
    pub waiting: i64,
}

fn from_row(r: &super::DbRow) -> Result<Operator, StoreError> {
    Ok(Operator {
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        username: r.try_get("username")?,
    })
}

store_methods! {
    /// Stores a team member's name and username when new or changed; false when they were
    /// already stored so (nothing written: it runs for every message a member writes).
    pub async fn remember_operator(&self, connection: ConnectionId, user_id: i64, name: &str, username: Option<&str>, now: UnixMs) -> bool => remember_operator;
    /// A team member by user id.
    pub async fn operator(&self, connection: ConnectionId, user_id: i64) -> Option<Operator> => operator;
    /// A team member by username (case-insensitive, with or without `@`).
    pub async fn operator_by_username(&self, connection: ConnectionId, username: &str) -> Option<Operator> => operator_by_username;
    /// Every known team member.
    pub async fn operators(&self, connection: ConnectionId) -> Vec<Operator> => operators;
    /// Sets (or clears) a dialog's owner; false when it already was that.
    pub async fn assign_dialog(&self, id: i64, assignee: Option<i64>) -> bool => assign_dialog;
    /// Open dialogs per assignee, most first.
    pub async fn assignee_loads(&self, connection: ConnectionId) -> Vec<AssigneeLoad> => assignee_loads;
    /// Records the reminder of a dialog waiting for the team; false when it is no longer
    /// waiting or was already reminded in this waiting period.
    pub async fn mark_reminded(&self, id: i64) -> bool => mark_reminded;
}

async fn remember_operator(
    c: &mut Conn,
    connection: ConnectionId,
    user_id: i64,
    name: &str,
    username: Option<&str>,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let username = username.map(|u| u.trim_start_matches('@').to_lowercase());
    // A read first: the name rarely changes, and an upsert would write (and on PostgreSQL
    // lock the row) in the deciding transaction of every operator message. `seen_at` is
    // therefore when this name or username was first seen, which is what `/assign @name`
    // needs to pick the latest holder of a username that changed hands.
    if let Some(known) = operator(c, connection, user_id).await? {
        if known.name == name && known.username == username {
            return Ok(false);
        }
    }
    sqlx::query(
        "INSERT INTO operators (connection_id, user_id, name, username, seen_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (connection_id, user_id) DO UPDATE SET name = excluded.name, \
         username = excluded.username, seen_at = excluded.seen_at",
    )
    .bind(connection.0)
    .bind(user_id)
    .bind(name)
    .bind(username)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(true)
}

async fn operator(
    c: &mut Conn,
    connection: ConnectionId,
    user_id: i64,
) -> Result<Option<Operator>, StoreError> {
    sqlx::query(
        "SELECT user_id, name, username FROM operators WHERE connection_id = $1 AND user_id = $2",
    )
    .bind(connection.0)
    .bind(user_id)
    .fetch_optional(&mut *c)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

async fn operator_by_username(
    c: &mut Conn,
    connection: ConnectionId,
    username: &str,
) -> Result<Option<Operator>, StoreError> {
    sqlx::query(
        "SELECT user_id, name, username FROM operators WHERE connection_id = $1 AND username = $2 \
         ORDER BY seen_at DESC LIMIT 1",
    )
    .bind(connection.0)
    .bind(username.trim_start_matches('@').to_lowercase())
    .fetch_optional(&mut *c)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

async fn operators(c: &mut Conn, connection: ConnectionId) -> Result<Vec<Operator>, StoreError> {
    sqlx::query(
        "SELECT user_id, name, username FROM operators WHERE connection_id = $1 ORDER BY user_id",
    )
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

async fn assign_dialog(c: &mut Conn, id: i64, assignee: Option<i64>) -> Result<bool, StoreError> {
    // User ids are positive, so 0 stands for "nobody" in the comparison.
    let r = sqlx::query(
        "UPDATE dialogs SET assignee = $2 WHERE id = $1 AND COALESCE(assignee, 0) <> $3",
    )
    .bind(id)
    .bind(assignee)
    .bind(assignee.unwrap_or(0))
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

async fn assignee_loads(
    c: &mut Conn,
    connection: ConnectionId,
) -> Result<Vec<AssigneeLoad>, StoreError> {
    sqlx::query(
        "SELECT assignee, COUNT(*) AS open, SUM(CASE WHEN status = 'new' THEN 1 ELSE 0 END) AS waiting \
         FROM dialogs WHERE connection_id = $1 AND status <> 'closed' AND thread_id IS NOT NULL \
         GROUP BY assignee ORDER BY open DESC, assignee",
    )
    .bind(connection.0)
    .fetch_all(&mut *c)
    .await?
    .iter()
    .map(|r| {
        Ok(AssigneeLoad {
            assignee: r.try_get("assignee")?,
            open: r.try_get("open")?,
            waiting: r.try_get("waiting")?,
        })
    })
    .collect()
}

async fn mark_reminded(c: &mut Conn, id: i64) -> Result<bool, StoreError> {
    // `reminded_at` holds the start of the waiting period reminded of: no clock compared.
    let r = sqlx::query(
        "UPDATE dialogs SET reminded_at = status_since WHERE id = $1 AND status = 'new' \
         AND (reminded_at IS NULL OR reminded_at <> status_since)",
    )
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use crate::store::testutil::temp_store;
    use crate::store::{ContactProfile, DialogStatus};

    #[tokio::test]
    async fn names_assignment_loads_and_reminders() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        assert!(s
            .remember_operator(conn, 5, "Ann", Some("@AnnOps"), 1)
            .await
            .unwrap());
        // Unchanged: nothing written.
        assert!(!s
            .remember_operator(conn, 5, "Ann", Some("annops"), 2)
            .await
            .unwrap());
        assert!(s
            .remember_operator(conn, 5, "Ann B", Some("AnnOps"), 3)
            .await
            .unwrap());
        assert!(s
            .remember_operator(conn, 5, "Ann B", None, 4)
            .await
            .unwrap());
        assert!(s
            .remember_operator(conn, 5, "Ann B", Some("AnnOps"), 5)
            .await
            .unwrap());
        // A username that changed hands goes to its latest holder.
        assert!(s
            .remember_operator(conn, 8, "Bea", Some("annops"), 6)
            .await
            .unwrap());
        assert_eq!(
            s.operator_by_username(conn, "annops")
                .await
                .unwrap()
                .unwrap()
                .user_id,
            8
        );
        assert!(s
            .remember_operator(conn, 8, "Bea", Some("bea"), 7)
            .await
            .unwrap());
        let ann = s
            .operator_by_username(conn, "@annops")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((ann.user_id, ann.name.as_str()), (5, "Ann B"));
        assert_eq!(s.operators(conn).await.unwrap().len(), 2);
        assert!(s.operator(conn, 6).await.unwrap().is_none());

        let p = ContactProfile {
            user_id: 7,
            first_name: "u".into(),
            ..Default::default()
        };
        let contact = s.contact_wrote(conn, &p, None, 1).await.unwrap();
        let (d, _) = s
            .ensure_dialog(conn, contact.id, DialogStatus::New, 10)
            .await
            .unwrap();
        s.set_dialog_thread(d.id, Some(99)).await.unwrap();
        assert_eq!(d.assignee, None);
        assert!(s.assign_dialog(d.id, Some(5)).await.unwrap());
        assert!(!s.assign_dialog(d.id, Some(5)).await.unwrap());
        assert_eq!(s.dialog(d.id).await.unwrap().unwrap().assignee, Some(5));
        let loads = s.assignee_loads(conn).await.unwrap();
        assert_eq!(loads.len(), 1);
        assert_eq!(
            (loads[0].assignee, loads[0].open, loads[0].waiting),
            (Some(5), 1, 1)
        );
        let (dc, _) = s.dialog_with_contact(d.id).await.unwrap().unwrap();
        assert_eq!(dc.assignee, Some(5));
        assert_eq!(
            s.list_dialogs(conn, None, 0, 10).await.unwrap()[0].assignee,
            Some(5)
        );

        // Once per waiting period.
        assert!(s.mark_reminded(d.id).await.unwrap());
        assert!(!s.mark_reminded(d.id).await.unwrap());
        let due = s.dialogs_to_remind(conn, 100, 10).await.unwrap();
        assert!(due.is_empty());
        assert!(s
            .set_dialog_status(d.id, DialogStatus::New, DialogStatus::Wait, 40)
            .await
            .unwrap());
        assert!(!s.mark_reminded(d.id).await.unwrap());
        assert!(s
            .set_dialog_status(d.id, DialogStatus::Wait, DialogStatus::New, 50)
            .await
            .unwrap());
        assert_eq!(s.dialogs_to_remind(conn, 100, 10).await.unwrap().len(), 1);
        assert!(s.dialogs_to_remind(conn, 50, 10).await.unwrap().is_empty());
        assert!(s.mark_reminded(d.id).await.unwrap());
        assert!(s.assign_dialog(d.id, None).await.unwrap());
        assert_eq!(s.assignee_loads(conn).await.unwrap()[0].assignee, None);
        assert_eq!(s.open_dialogs_with_topic(conn).await.unwrap(), vec![d.id]);
    }
}
