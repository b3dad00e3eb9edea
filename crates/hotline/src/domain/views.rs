//! The public JSON shape of a contact and a dialog: what the REST API answers and what
//! webhook events carry, so both always describe them the same way.

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::{Contact, Dialog};

/// A contact.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactView {
    /// Telegram user id (the contact's id in this API).
    pub user_id: i64,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: Option<String>,
    /// Username without `@`, lower-cased.
    pub username: Option<String>,
    /// Language code from the Telegram client.
    pub language_code: Option<String>,
    /// Unix ms of the first message.
    pub first_seen_at: i64,
    /// Unix ms of the last message.
    pub last_message_at: Option<i64>,
    /// `/start` deep-link parameter of the first visit.
    pub start_param: Option<String>,
    /// Messages are ignored.
    pub banned: bool,
    /// The user blocked the bot.
    pub blocked: bool,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        Self {
            user_id: c.user_id,
            first_name: c.first_name,
            last_name: c.last_name,
            username: c.username,
            language_code: c.language_code,
            first_seen_at: c.first_seen_at,
            last_message_at: c.last_message_at,
            start_param: c.start_param,
            banned: c.banned,
            blocked: c.blocked,
        }
    }
}

/// A dialog.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DialogView {
    /// Dialog id.
    pub id: i64,
    /// The contact's Telegram user id.
    pub user_id: i64,
    /// `new` (🟪 user wrote last), `wait` (🟨 waiting for the user) or `closed` (⬛).
    #[schema(example = "new")]
    pub status: String,
    /// Unix ms of the last status change.
    pub status_since: i64,
    /// Forum topic id in the backend group, when it exists.
    pub thread_id: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms of the last message either way.
    pub last_activity_at: i64,
    /// The owner's Telegram user id (`/take`, `/assign`, `POST /dialogs/{id}/assign`).
    pub assignee_id: Option<i64>,
}

impl DialogView {
    /// The view of `d`, whose contact is `user_id`.
    pub fn new(d: Dialog, user_id: i64) -> Self {
        Self {
            id: d.id,
            user_id,
            status: d.status.as_str().to_string(),
            status_since: d.status_since,
            thread_id: d.thread_id,
            created_at: d.created_at,
            last_activity_at: d.last_activity_at,
            assignee_id: d.assignee,
        }
    }
}
