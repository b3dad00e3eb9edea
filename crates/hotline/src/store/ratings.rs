//! Satisfaction ratings (`RATING`): a request is recorded when an operator closes a
//! dialog, the user's button press sets its score; `/stats`, the API and `/export` read them.

use sqlx::Row;

use super::{store_methods, Conn, ConnectionId, StoreError, UnixMs};

/// One rating request and, once the user answered, its score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    /// Store id (carried in the buttons' callback data).
    pub id: i64,
    /// The rated dialog.
    pub dialog_id: i64,
    /// Who closed the dialog (None: closed through the API).
    pub operator_id: Option<i64>,
    /// When the question was asked.
    pub asked_at: UnixMs,
    /// 1–5, None until the user answers.
    pub score: Option<i64>,
    /// When the user answered.
    pub rated_at: Option<UnixMs>,
}

fn from_row(r: &super::DbRow) -> Result<Rating, StoreError> {
    Ok(Rating {
        id: r.try_get("id")?,
        dialog_id: r.try_get("dialog_id")?,
        operator_id: r.try_get("operator_id")?,
        asked_at: r.try_get("asked_at")?,
        score: r.try_get("score")?,
        rated_at: r.try_get("rated_at")?,
    })
}

const COLUMNS: &str = "id, dialog_id, operator_id, asked_at, score, rated_at";

store_methods! {
    /// Records a rating request for a dialog closed by `operator`; returns its id.
    pub async fn ask_rating(&self, connection: ConnectionId, dialog: i64, operator: Option<i64>, now: UnixMs) -> i64 => ask_rating;
    /// Sets the score of request `id` of `dialog`; returns the request as it was before
    /// (None when no such request exists for that dialog).
    pub async fn rate(&self, id: i64, dialog: i64, score: i64, now: UnixMs) -> Option<Rating> => rate;
    /// Answered ratings whose answer falls in `[from, to)`.
    pub async fn ratings_between(&self, connection: ConnectionId, from: UnixMs, to: UnixMs) -> Vec<Rating> => ratings_between;
    /// The latest answered rating of a dialog.
    pub async fn last_rating(&self, dialog: i64) -> Option<Rating> => last_rating;
}

async fn ask_rating(
    c: &mut Conn,
    connection: ConnectionId,
    dialog: i64,
    operator: Option<i64>,
    now: UnixMs,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO dialog_ratings (connection_id, dialog_id, operator_id, asked_at) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(connection.0)
    .bind(dialog)
    .bind(operator)
    .bind(now)
    .fetch_one(&mut *c)
    .await?)
}

async fn rate(
    c: &mut Conn,
    id: i64,
    dialog: i64,
    score: i64,
    now: UnixMs,
) -> Result<Option<Rating>, StoreError> {
    let before = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM dialog_ratings WHERE id = $1 AND dialog_id = $2"
    ))
    .bind(id)
    .bind(dialog)
    .fetch_optional(&mut *c)
    .await?;
    let Some(before) = before else {
        return Ok(None);
    };
    sqlx::query("UPDATE dialog_ratings SET score = $1, rated_at = $2 WHERE id = $3")
        .bind(score)
        .bind(now)
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(Some(from_row(&before)?))
}

async fn ratings_between(
    c: &mut Conn,
    connection: ConnectionId,
    from: UnixMs,
    to: UnixMs,
) -> Result<Vec<Rating>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM dialog_ratings \
         WHERE connection_id = $1 AND score IS NOT NULL AND rated_at >= $2 AND rated_at < $3 \
         ORDER BY rated_at, id"
    ))
    .bind(connection.0)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

async fn last_rating(c: &mut Conn, dialog: i64) -> Result<Option<Rating>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM dialog_ratings WHERE dialog_id = $1 AND score IS NOT NULL \
         ORDER BY id DESC LIMIT 1"
    ))
    .bind(dialog)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

#[cfg(test)]
mod tests {
    use crate::store::testutil::temp_store;
    use crate::store::{ContactProfile, DialogStatus};

    #[tokio::test]
    async fn ask_rate_read() {
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        let p = ContactProfile {
            user_id: 5,
            first_name: "Ann".into(),
            last_name: None,
            username: None,
            language_code: None,
        };
        let contact = s.contact_wrote(conn, &p, None, 1).await.unwrap();
        let (d, _) = s
            .ensure_dialog(conn, contact.id, DialogStatus::New, 1)
            .await
            .unwrap();
        let id = s.ask_rating(conn, d.id, Some(42), 10).await.unwrap();
        assert!(s.last_rating(d.id).await.unwrap().is_none());
        assert!(s.rate(id, d.id + 1, 5, 20).await.unwrap().is_none());
        let before = s.rate(id, d.id, 4, 20).await.unwrap().unwrap();
        assert_eq!(before.score, None);
        let r = s.last_rating(d.id).await.unwrap().unwrap();
        assert_eq!(
            (r.score, r.operator_id, r.rated_at),
            (Some(4), Some(42), Some(20))
        );
        assert_eq!(s.ratings_between(conn, 0, 21).await.unwrap().len(), 1);
        assert!(s.ratings_between(conn, 21, 30).await.unwrap().is_empty());
    }
}
