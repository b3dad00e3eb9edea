//! Message links: which group message is the copy of which user message (either way), so
//! replies and edits find their counterpart. Executors collect the links of what they
//! sent in [`Links`] and record them with their intent's completion — the one way links
//! are written, so a retried intent never links twice.

use crate::store::{now_ms, ConnectionId, Direction, NewLink, StoreError, Tx};

/// Links made by one execution, recorded when its intent is marked done.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Links(Vec<NewLink>);

impl Links {
    /// No links.
    pub fn new() -> Self {
        Self::default()
    }

    /// Links `(user message, group message)` pairs of one dialog.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        dialog: i64,
        user_chat: i64,
        group_chat: i64,
        direction: Direction,
        kind: &str,
        pairs: impl IntoIterator<Item = (i64, i64)>,
    ) {
        for (user_message, group_message) in pairs {
            self.0.push(NewLink {
                dialog_id: dialog,
                user_chat_id: user_chat,
                user_message_id: user_message,
                group_chat_id: group_chat,
                group_message_id: group_message,
                direction,
                kind: kind.to_string(),
            });
        }
    }

    /// Whether nothing was linked.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Writes them in the completion's transaction (one statement for a whole burst).
    pub async fn record(self, tx: &mut Tx, connection: ConnectionId) -> Result<(), StoreError> {
        if self.0.is_empty() {
            return Ok(());
        }
        tx.insert_links(connection, &self.0, now_ms()).await
    }
}
