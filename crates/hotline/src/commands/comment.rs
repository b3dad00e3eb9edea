//! `/ text`: an internal comment, never sent to the user. So that nobody mistakes it for
//! an answer, Hotline marks it with ✍ (answers that reached the user get 👌).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::topics::{TopicError, Topics};
use crate::domain::Context;
use crate::outbox::{Action, Execute, Registry};
use crate::store::{Intent, StoreError, Tx};

/// The mark set on an internal comment.
pub const COMMENT_MARK: &str = "✍";

/// Mark an operator's message in the group as an internal comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkComment {
    /// The comment's message id in the group.
    pub message_id: i64,
}

impl Action for MarkComment {
    const KIND: &'static str = "mark_comment";
}

/// A comment was typed in a dialog topic: queue its mark (in the dialog's group queue,
/// so it follows the topic's order).
pub async fn run(
    ctx: &Context,
    tx: &mut Tx,
    dialog: i64,
    message_id: Option<i64>,
) -> Result<(), StoreError> {
    let Some(message_id) = message_id else {
        return Ok(());
    };
    ctx.to_group(tx, Some(dialog), &MarkComment { message_id })
        .await?;
    Ok(())
}

/// Sets the comment marks.
pub struct CommentExecutor(pub Topics);

/// Registers the comment mark's action.
pub fn register(registry: &mut Registry, topics: &Topics) {
    registry.register::<MarkComment, _>(Arc::new(CommentExecutor(topics.clone())));
}

impl Execute<MarkComment> for CommentExecutor {
    type Done = ();
    type Error = TopicError;

    async fn execute(&self, intent: &Intent, a: MarkComment) -> Result<(), TopicError> {
        let mark = json!([{"type": "emoji", "emoji": COMMENT_MARK}]);
        match self
            .0
            .tg
            // Queued into the comment's dialog: its target is the dialog's group.
            .set_message_reaction(intent.target_chat, a.message_id, mark)
            .await
        {
            Err(e) if e.is_retryable() => Err(e.into()),
            // Deleted meanwhile, or reactions are restricted in the group: only a mark.
            Err(e) => {
                tracing::debug!(error = %e, "comment mark not set");
                Ok(())
            }
            Ok(_) => Ok(()),
        }
    }
}
