//! Classification of Bot API failures, which drives the outbox's retry policy and the
//! relay's handling of known conditions (blocked user, deleted topic, ...).

/// A failed Bot API call. Messages never contain the bot token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TgError {
    /// 429: the bot must pause every call for this many seconds.
    #[error("too many requests: retry after {0} s")]
    RetryAfter(u64),
    /// Network failure, timeout or 5xx: the same call may succeed later.
    #[error("transient error: {0}")]
    Transient(String),
    /// Telegram refused the call; repeating it would fail the same way.
    #[error("telegram error {code}: {description}")]
    Permanent {
        /// `error_code` (HTTP-like: 400, 401, 403, 409...).
        code: i64,
        /// Telegram's `description`, e.g. "Bad Request: message thread not found".
        description: String,
        /// `parameters.migrate_to_chat_id` when a group became a supergroup.
        migrate_to_chat_id: Option<i64>,
    },
    /// Telegram answered `ok` but the result did not have the expected shape (or a stored
    /// intent could not be decoded). Not retried: the same input gives the same answer.
    #[error("unexpected response: {0}")]
    Decode(String),
}

impl TgError {
    /// A permanent error with just code and description.
    pub fn permanent(code: i64, description: impl Into<String>) -> Self {
        Self::Permanent {
            code,
            description: description.into(),
            migrate_to_chat_id: None,
        }
    }

    /// Whether retrying later can help (429 and transient failures).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RetryAfter(_) | Self::Transient(_))
    }

    fn description_has(&self, needle: &str) -> bool {
        match self {
            Self::Permanent { description, .. } => {
                description.to_ascii_lowercase().contains(needle)
            }
            _ => false,
        }
    }

    fn code(&self) -> Option<i64> {
        match self {
            Self::Permanent { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// 403 "Forbidden: bot was blocked by the user" (also a deactivated user, who cannot
    /// be reached either).
    pub fn is_blocked(&self) -> bool {
        self.code() == Some(403)
            && (self.description_has("bot was blocked by the user")
                || self.description_has("user is deactivated"))
    }

    /// "Bad Request: message thread not found": the topic was deleted (or General's id was
    /// passed).
    pub fn is_thread_not_found(&self) -> bool {
        self.description_has("message thread not found")
    }

    /// "Bad Request: TOPIC_CLOSED": the topic must be reopened first.
    pub fn is_topic_closed(&self) -> bool {
        self.description_has("topic_closed")
    }

    /// "TOPIC_NOT_MODIFIED": the topic already has that name, icon or state.
    pub fn is_topic_not_modified(&self) -> bool {
        self.description_has("topic_not_modified")
    }

    /// "message is not modified": an edit that changes nothing; treat as success.
    pub fn is_not_modified(&self) -> bool {
        self.description_has("message is not modified")
    }

    /// "message can't be edited": too old (48 h) or a kind that cannot be edited.
    pub fn is_message_cant_be_edited(&self) -> bool {
        self.description_has("message can't be edited")
    }

    /// "message to edit not found": the copy was deleted.
    pub fn is_message_to_edit_not_found(&self) -> bool {
        self.description_has("message to edit not found")
    }

    /// "message to reply not found" (older servers: "replied message not found").
    pub fn is_reply_not_found(&self) -> bool {
        self.description_has("message to reply not found")
            || self.description_has("replied message not found")
            || self.description_has("message to be replied not found")
    }

    /// "chat not found" (wrong group id, or the bot was removed).
    pub fn is_chat_not_found(&self) -> bool {
        self.description_has("chat not found")
    }

    /// 401: the token is invalid or revoked; nothing will work for this bot.
    pub fn is_unauthorized(&self) -> bool {
        self.code() == Some(401)
    }

    /// The new supergroup id when a group was upgraded.
    pub fn migrate_to_chat_id(&self) -> Option<i64> {
        match self {
            Self::Permanent {
                migrate_to_chat_id, ..
            } => *migrate_to_chat_id,
            _ => None,
        }
    }
}

/// The outcome label of a Bot API result.
pub fn outcome_of<T>(r: &Result<T, TgError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(TgError::RetryAfter(_)) => "429".into(),
        Err(TgError::Transient(_)) => "transient".into(),
        Err(TgError::Permanent { code, .. }) => code.to_string(),
        Err(TgError::Decode(_)) => "decode".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates() {
        assert!(TgError::permanent(403, "Forbidden: bot was blocked by the user").is_blocked());
        assert!(!TgError::permanent(400, "Forbidden: bot was blocked by the user").is_blocked());
        assert!(
            TgError::permanent(400, "Bad Request: message thread not found").is_thread_not_found()
        );
        assert!(TgError::permanent(400, "Bad Request: TOPIC_CLOSED").is_topic_closed());
        assert!(TgError::permanent(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same").is_not_modified());
        assert!(
            TgError::permanent(400, "Bad Request: message can't be edited")
                .is_message_cant_be_edited()
        );
        assert!(
            TgError::permanent(400, "Bad Request: message to edit not found")
                .is_message_to_edit_not_found()
        );
        assert!(
            TgError::permanent(400, "Bad Request: message to reply not found").is_reply_not_found()
        );
        assert!(TgError::permanent(401, "Unauthorized").is_unauthorized());
        let m = TgError::Permanent {
            code: 400,
            description: "Bad Request: group chat was upgraded to a supergroup chat".into(),
            migrate_to_chat_id: Some(-100123),
        };
        assert_eq!(m.migrate_to_chat_id(), Some(-100123));
        assert!(
            TgError::RetryAfter(3).is_retryable() && TgError::Transient("x".into()).is_retryable()
        );
        assert!(!m.is_retryable() && !TgError::Decode("x".into()).is_retryable());
        assert!(!TgError::Transient("message thread not found".into()).is_thread_not_found());
    }
}
