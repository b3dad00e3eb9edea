//! What the relay asks the outbox to do. Intents name Hotline-level actions, not Bot API
//! calls: "copy these user messages into dialog D" is resolved when it runs (D's topic
//! at that moment, created first if missing), so a deleted topic or a restart between
//! deciding and doing never sends anything to the wrong place.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One durable action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Intent {
    /// Copy messages of the user's chat into the dialog's topic (one call for an album).
    CopyIn {
        /// Dialog id.
        dialog: i64,
        /// Message ids in the user's chat; empty means "the album batch of this intent".
        ids: Vec<i64>,
        /// The topic message to reply to (the copy of what the user replied to).
        reply_to: Option<i64>,
        /// Content kind, for the link (`text`, `photo`, `album`...).
        kind: String,
        /// Forward instead of copy (for kinds Telegram cannot copy).
        forward: bool,
    },
    /// Copy an operator's topic messages to the user (one call for an album).
    CopyOut {
        /// Dialog id.
        dialog: i64,
        /// Message ids in the group; empty means "the album batch of this intent".
        ids: Vec<i64>,
        /// The user-chat message to reply to.
        reply_to: Option<i64>,
        /// Content kind.
        kind: String,
    },
    /// Post the user card into the topic.
    Card {
        /// Dialog id.
        dialog: i64,
    },
    /// Post a notice (HTML) into a dialog's topic, or General when `dialog` is None.
    Notice {
        /// Dialog id.
        dialog: Option<i64>,
        /// HTML text.
        text: String,
        /// The group message to reply to, if any.
        reply_to: Option<i64>,
    },
    /// Send a text (HTML) to a user, e.g. WELCOME or an error.
    Say {
        /// Dialog id (for its contact's chat).
        dialog: i64,
        /// HTML text.
        text: String,
    },
    /// Bring the topic title and icon in line with the dialog's status and tags.
    Title {
        /// Dialog id.
        dialog: i64,
    },
    /// Close or reopen the topic to match the dialog's status.
    TopicState {
        /// Dialog id.
        dialog: i64,
    },
    /// Mirror an edit of a user message onto its topic copy. The copy is looked up when
    /// this runs: queued behind the copy itself, it finds it even for a very quick edit.
    EditIn {
        /// Dialog id.
        dialog: i64,
        /// The user's message id.
        user_message: i64,
        /// The edited message's content fields (text/caption/media).
        content: Value,
    },
    /// Mirror an operator's edit onto the user's copy (looked up when this runs).
    EditOut {
        /// Dialog id.
        dialog: i64,
        /// The operator's message in the group.
        group_message: i64,
        /// The edited message's content fields.
        content: Value,
    },
    /// Mirror what the parallel bot sent to the user into the topic (see `gateway::mirror`).
    Mirror {
        /// Dialog id.
        dialog: i64,
        /// What to mirror.
        mirror: crate::gateway::mirror::Mirror,
    },
    /// An action of the REST API or a custom command's answer (see `api::send`).
    Api {
        /// Dialog id; None for General.
        dialog: Option<i64>,
        /// What to do.
        action: crate::api::send::ApiAction,
    },
    /// Send user content into the topic by file id instead of copying it (MASK_PATTERNS:
    /// copyMessage cannot change a text). Linked like a copy, so replies and edits work.
    SendIn {
        /// Dialog id.
        dialog: i64,
        /// The user's message ids; empty means "the album batch of this intent", whose
        /// items are read from the recent album items and masked when this runs.
        ids: Vec<i64>,
        /// The items to send (already masked), one per id.
        items: Vec<Value>,
        /// The topic message to reply to.
        reply_to: Option<i64>,
        /// Content kind, for the link.
        kind: String,
    },
    /// Send a quick reply to the user and show it in the topic (`/say`, `/mark ... sends`).
    SendOut {
        /// Dialog id.
        dialog: i64,
        /// The quick reply's name (for notices).
        name: String,
        /// Items to send by file id (resolved when decided, so a later `/say del` or a
        /// deleted original does not matter).
        items: Vec<Value>,
        /// Forward these `(chat, message ids)` instead (`/say NAME fwd`).
        forward: Option<(i64, Vec<i64>)>,
    },
    /// Broadcast work: deliveries, the progress message, reports, exports, stats (see
    /// `crate::broadcast`). Enqueued directly with its own lane and target.
    Broadcast {
        /// What to do.
        op: crate::broadcast::Op,
    },
    /// A private message from the bot to a team member (`/info` under HIDE_INFO card);
    /// whether it arrived is told where the command was typed.
    Direct {
        /// The team member's user id (their private chat with the bot).
        user: i64,
        /// HTML text.
        text: String,
        /// The dialog whose topic gets the outcome; None = General.
        dialog: Option<i64>,
        /// The command message to reply to.
        reply_to: Option<i64>,
    },
}

impl Intent {
    /// The dialog the intent concerns (its fairness key in the group queue).
    pub fn dialog(&self) -> Option<i64> {
        match self {
            Intent::CopyIn { dialog, .. }
            | Intent::CopyOut { dialog, .. }
            | Intent::Card { dialog }
            | Intent::Say { dialog, .. }
            | Intent::Title { dialog }
            | Intent::TopicState { dialog }
            | Intent::EditIn { dialog, .. }
            | Intent::EditOut { dialog, .. }
            | Intent::Mirror { dialog, .. }
            | Intent::SendIn { dialog, .. }
            | Intent::SendOut { dialog, .. } => Some(*dialog),
            Intent::Api { dialog, .. } => *dialog,
            Intent::Broadcast { .. } => None,
            Intent::Notice { dialog, .. } | Intent::Direct { dialog, .. } => *dialog,
        }
    }

    /// Whether it is delivered to the user (else into the group).
    pub fn to_user(&self) -> bool {
        if let Intent::Api { action, .. } = self {
            return action.to_user();
        }
        matches!(
            self,
            Intent::CopyOut { .. }
                | Intent::Say { .. }
                | Intent::EditOut { .. }
                | Intent::SendOut { .. }
                | Intent::Direct { .. }
        )
    }
}
