//! The relay's outbox actions. They name Hotline-level work, not Bot API calls: "copy these
//! user messages into dialog D" is resolved when it runs (D's topic at that moment,
//! created first if missing), so a deleted topic or a restart between deciding and doing
//! never sends anything to the wrong place. Executed by [`super::execute::RelayExecutor`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::outbox::Action;

/// Copy messages of the user's chat into the dialog's topic (one call for an album or a
/// burst).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyIn {
    /// Dialog id.
    pub dialog: i64,
    /// Message ids in the user's chat; empty means "the album batch of this intent".
    pub ids: Vec<i64>,
    /// The topic message to reply to (the copy of what the user replied to).
    pub reply_to: Option<i64>,
    /// Content kind, for the link (`text`, `photo`, `album`...).
    pub kind: String,
    /// Forward instead of copy (for kinds Telegram cannot copy).
    pub forward: bool,
}

impl Action for CopyIn {
    const KIND: &'static str = "copy_in";
}

/// Copy an operator's topic messages to the user (one call for an album).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyOut {
    /// Dialog id.
    pub dialog: i64,
    /// Message ids in the group; empty means "the album batch of this intent".
    pub ids: Vec<i64>,
    /// The user-chat message to reply to.
    pub reply_to: Option<i64>,
    /// Content kind.
    pub kind: String,
}

impl Action for CopyOut {
    const KIND: &'static str = "copy_out";
}

/// Mirror an edit of a user message onto its topic copy. The copy is looked up when this
/// runs: queued behind the copy itself, it finds it even for a very quick edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditIn {
    /// Dialog id.
    pub dialog: i64,
    /// The user's message id.
    pub user_message: i64,
    /// The edited message's content fields (text/caption/media).
    pub content: Value,
}

impl Action for EditIn {
    const KIND: &'static str = "edit_in";
}

/// Mirror an operator's edit onto the user's copy (looked up when this runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditOut {
    /// Dialog id.
    pub dialog: i64,
    /// The operator's message in the group.
    pub group_message: i64,
    /// The edited message's content fields.
    pub content: Value,
}

impl Action for EditOut {
    const KIND: &'static str = "edit_out";
}

/// Send user content into the topic by file id instead of copying it (MASK_PATTERNS:
/// copyMessage cannot change a text). Linked like a copy, so replies and edits work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendIn {
    /// Dialog id.
    pub dialog: i64,
    /// The user's message ids; empty means "the album batch of this intent", whose items
    /// are read from the recent album items and masked when this runs.
    pub ids: Vec<i64>,
    /// The items to send (already masked), one per id.
    pub items: Vec<Value>,
    /// The topic message to reply to.
    pub reply_to: Option<i64>,
    /// Content kind, for the link.
    pub kind: String,
}

impl Action for SendIn {
    const KIND: &'static str = "send_in";
}
