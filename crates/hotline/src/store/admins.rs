//! The backend group's administrators, cached so that role checks (the default
//! `EXTENSIONS_ALLOWED`) are decided from the store without calling Telegram.

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

store_methods! {
    /// Replaces the cached administrators with a fresh getChatAdministrators answer.
    pub async fn replace_group_admins(&self, connection: ConnectionId, admins: &[(i64, String)], now: UnixMs) -> () => replace_group_admins;
    /// Records one member's new status (from a `chat_member` update).
    pub async fn set_group_member_status(&self, connection: ConnectionId, user_id: i64, status: &str, now: UnixMs) -> () => set_group_member_status;
    /// Whether the user is a cached administrator (or the creator).
    pub async fn is_group_admin(&self, connection: ConnectionId, user_id: i64) -> bool => is_group_admin;
}

async fn replace_group_admins(
    c: &mut Conn,
    connection: ConnectionId,
    admins: &[(i64, String)],
    now: UnixMs,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM group_admins WHERE connection_id = $1")
        .bind(connection.0)
        .execute(&mut *c)
        .await?;
    for (user, status) in admins {
        set_group_member_status(c, connection, *user, status, now).await?;
    }
    Ok(())
}

async fn set_group_member_status(
    c: &mut Conn,
    connection: ConnectionId,
    user_id: i64,
    status: &str,
    now: UnixMs,
) -> Result<(), StoreError> {
    if matches!(status, "creator" | "administrator") {
        sqlx::query(
            "INSERT INTO group_admins (connection_id, user_id, status, refreshed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (connection_id, user_id) DO UPDATE SET status = excluded.status, refreshed_at = excluded.refreshed_at",
        )
        .bind(connection.0)
        .bind(user_id)
        .bind(status)
        .bind(now)
        .execute(&mut *c)
        .await?;
    } else {
        sqlx::query("DELETE FROM group_admins WHERE connection_id = $1 AND user_id = $2")
            .bind(connection.0)
            .bind(user_id)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

async fn is_group_admin(
    c: &mut Conn,
    connection: ConnectionId,
    user_id: i64,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM group_admins WHERE connection_id = $1 AND user_id = $2",
    )
    .bind(connection.0)
    .bind(user_id)
    .fetch_one(&mut *c)
    .await?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use crate::store::testutil::temp_store;

    #[tokio::test]
    async fn admin_cache() {
        let (s, _d) = temp_store().await;
        let c = s.ensure_connection("a").await.unwrap();
        s.replace_group_admins(c, &[(1, "creator".into()), (2, "administrator".into())], 1)
            .await
            .unwrap();
        assert!(s.is_group_admin(c, 2).await.unwrap());
        s.set_group_member_status(c, 2, "member", 2).await.unwrap();
        assert!(!s.is_group_admin(c, 2).await.unwrap());
        s.set_group_member_status(c, 3, "administrator", 2)
            .await
            .unwrap();
        s.replace_group_admins(c, &[(1, "creator".into())], 3)
            .await
            .unwrap();
        assert!(s.is_group_admin(c, 1).await.unwrap() && !s.is_group_admin(c, 3).await.unwrap());
    }
}
