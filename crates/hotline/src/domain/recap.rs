//! `RECAP`: with `PRIVATE_KEYWORDS` gating, the user talks with the bot alone until a
//! trigger opens the dialog. Meanwhile the last `RECAP` messages both ways (the user's,
//! and what the parallel bot sent through the gateway) are remembered, and the topic that
//! opens starts with them, so operators know what led to it. `MASK_PATTERNS` applies
//! to the recap as to the relayed messages.

use serde_json::Value;

use super::render::{html, truncate_chars};
use super::{content, Context};
use crate::store::{StoreError, Tx, UnixMs};

/// Longest text kept per remembered message.
const LINE_MAX: usize = 300;

fn summary(msg: &Value) -> String {
    let text = content::text(msg);
    let kind = content::kind(msg);
    let body = match (kind.as_str(), text.is_empty()) {
        ("text", _) => text.to_string(),
        (k, true) => format!("[{k}]"),
        (k, false) => format!("[{k}] {text}"),
    };
    truncate_chars(&body, LINE_MAX)
}

impl Context {
    /// Remembers a message of `user`'s conversation before their dialog opened
    /// (`author`: `user` or `bot`); nothing when `RECAP` is 0.
    pub async fn remember_for_recap(
        &self,
        tx: &mut Tx,
        user: i64,
        author: &str,
        msg: &Value,
        now: UnixMs,
    ) -> Result<(), StoreError> {
        let keep = self.with_params(|p| p.recap);
        if keep == 0 {
            return Ok(());
        }
        tx.remember_recap(self.connection, user, author, &summary(msg), keep, now)
            .await
    }

    /// Posts the remembered conversation of `user` into the dialog's topic (queued now, so
    /// it comes before whatever the caller queues next) and forgets it.
    pub async fn post_recap(&self, tx: &mut Tx, dialog: i64, user: i64) -> Result<(), StoreError> {
        let lines = tx.take_recap(self.connection, user).await?;
        if lines.is_empty() {
            return Ok(());
        }
        let mask = self.with_params(|p| p.mask_patterns);
        let mut text = format!(
            "📜 <b>Before this dialog</b> (the last {} messages):",
            lines.len()
        );
        for l in &lines {
            let shown = super::mask::mask_text(&l.text, None, &mask)
                .map(|(t, _)| t)
                .unwrap_or_else(|| l.text.clone());
            let who = if l.author == "bot" { "🤖" } else { "👤" };
            text.push_str(&format!("\n{who} {}", html(&shown)));
        }
        self.notice(tx, Some(dialog), None, truncate_chars(&text, 4000))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summaries_name_the_kind() {
        assert_eq!(summary(&json!({"text": "hi"})), "hi");
        assert_eq!(
            summary(&json!({"photo": [], "caption": "look"})),
            "[photo] look"
        );
        assert_eq!(summary(&json!({"sticker": {}})), "[sticker]");
    }
}
