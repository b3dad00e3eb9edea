//! Parsing `/command@bot args` the way Telegram clients send commands, and the one way a
//! command answers. In the domain layer because every feature that owns a command
//! (broadcast, export, stats, the API's admin commands) needs them, while the command
//! dispatcher (`commands`) sits above those features.

use crate::domain::Context;
use crate::store::{StoreError, Tx};

/// A command as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Lower-cased name without the slash.
    pub name: String,
    /// The `@bot` suffix, if any (lower-cased, without `@`).
    pub bot: Option<String>,
    /// Everything after the name, trimmed.
    pub args: String,
}

impl Parsed {
    /// Whitespace-separated arguments.
    pub fn words(&self) -> Vec<&str> {
        self.args.split_whitespace().collect()
    }

    /// Whether the command is for this bot (no suffix, or this bot's username).
    pub fn is_for(&self, username: &str) -> bool {
        self.bot
            .as_deref()
            .is_none_or(|b| b.eq_ignore_ascii_case(username))
    }
}

/// What a topic message starting with `/` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slash {
    /// `/ text`: an internal comment, never sent.
    Comment,
    /// A command.
    Command(Parsed),
}

/// Parses a message text; `None` when it is not a command or comment.
pub fn parse(text: &str) -> Option<Slash> {
    let rest = text.strip_prefix('/')?;
    if rest.is_empty() || rest.starts_with(char::is_whitespace) {
        return Some(Slash::Comment);
    }
    let (head, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let (name, bot) = match head.split_once('@') {
        Some((n, b)) => (n, Some(b.to_lowercase())),
        None => (head, None),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some(Slash::Command(Parsed {
        name: name.to_lowercase(),
        bot,
        args: args.to_string(),
    }))
}

/// Answers in the same place the command was typed.
pub async fn answer(
    ctx: &Context,
    tx: &mut Tx,
    dialog: Option<i64>,
    reply_to: Option<i64>,
    text: String,
) -> Result<(), StoreError> {
    ctx.notice(tx, dialog, reply_to, text).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_comments_and_text() {
        assert_eq!(parse("/ note to self"), Some(Slash::Comment));
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("/path/to/file"), None);
        let Some(Slash::Command(c)) = parse("/Close@Shop_Bot  now ") else {
            panic!()
        };
        assert_eq!(
            (c.name.as_str(), c.bot.as_deref(), c.args.as_str()),
            ("close", Some("shop_bot"), "now")
        );
        assert!(c.is_for("shop_bot") && !c.is_for("other_bot"));
    }
}
