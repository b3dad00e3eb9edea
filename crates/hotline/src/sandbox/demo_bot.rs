//! The demo bot of `hotline sandbox --parallel`: a bot with its own backend logic (a
//! menu with inline buttons and FAQ answers) that knows nothing about Hotline. It talks
//! to Hotline's Bot API gateway exactly as it would talk to Telegram, so the page shows
//! the parallel connection at work: its messages mirrored into topics as intercepted,
//! and the handover: "Talk to a human" (the button, or the word) calls the gateway's
//! `hotlineHandover`, so Hotline opens the topic and withholds the user's messages from the
//! bot — it stops answering while an operator has the dialog, and answers again after
//! `/close` (the sandbox runs with `AUTO_HANDOVER` on).

use std::time::Duration;

use serde_json::{json, Value};

use crate::shutdown::Shutdown;

/// The inline menu the bot shows.
fn menu() -> Value {
    json!({"inline_keyboard": [
        [{"text": "📦 Order status", "callback_data": "status"}, {"text": "💶 Prices", "callback_data": "prices"}],
        [{"text": "🙋 Talk to a human", "callback_data": "human"}],
        [{"text": "🌐 Website", "url": "https://example.com"}]
    ]})
}

/// What the bot says when it hands a user over to the team.
const CONNECTING: &str = "Connecting you with a person from our team…";

/// Whether a text asks for a person.
fn wants_human(text: &str) -> bool {
    let t = text.to_lowercase();
    t.contains("human") || t.contains("operator")
}

/// What the bot answers to a text, if anything.
fn answer(text: &str) -> Option<(String, Option<Value>)> {
    let t = text.to_lowercase();
    if t.starts_with("/start") || t.contains("menu") {
        return Some((
            "Welcome to the Demo Shop! I am a bot. What can I do for you?".into(),
            Some(menu()),
        ));
    }
    if wants_human(&t) {
        return Some((CONNECTING.into(), None));
    }
    if t.contains("price") || t.contains("cost") {
        return Some((
            "Shipping is €4.90, free from €50. Returns are free for 30 days.".into(),
            None,
        ));
    }
    if t.contains("order") || t.contains("status") {
        return Some((
            "Orders ship within 24 h; you get a tracking link by e-mail. Type /start for the menu."
                .into(),
            None,
        ));
    }
    Some((
        "I did not get that. Type /start for the menu, or write \"human\" to reach a person."
            .into(),
        None,
    ))
}

async fn call(http: &reqwest::Client, base: &str, method: &str, params: Value) -> Option<Value> {
    let r = http
        .post(format!("{base}/{method}"))
        .json(&params)
        .send()
        .await
        .ok()?;
    let v: Value = r.json().await.ok()?;
    v["ok"]
        .as_bool()
        .filter(|ok| *ok)
        .map(|_| v["result"].clone())
}

/// Runs the bot against `api_base` (`http://<hotline>/bot<token>`) until shutdown.
pub async fn run(api_base: String, mut shutdown: Shutdown) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap_or_default();
    let mut offset: Option<i64> = None;
    while !shutdown.is_shutdown() {
        let mut params = json!({"timeout": 25});
        if let Some(o) = offset {
            params["offset"] = json!(o);
        }
        let polled = tokio::select! {
            r = call(&http, &api_base, "getUpdates", params) => r,
            _ = shutdown.recv() => return,
        };
        let Some(Value::Array(updates)) = polled else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                _ = shutdown.recv() => return,
            }
        };
        for u in updates {
            offset = u["update_id"].as_i64().map(|id| id + 1);
            handle(&http, &api_base, &u).await;
        }
    }
}

async fn handle(http: &reqwest::Client, base: &str, u: &Value) {
    if let Some(msg) = u.get("message").filter(|m| m["chat"]["type"] == "private") {
        let chat = &msg["chat"]["id"];
        let text = msg["text"]
            .as_str()
            .or_else(|| msg["caption"].as_str())
            .unwrap_or("");
        if let Some((reply, markup)) = answer(text) {
            let mut p = json!({"chat_id": chat, "text": reply});
            if let Some(m) = markup {
                p["reply_markup"] = m;
            }
            call(http, base, "sendMessage", p).await;
        }
        if wants_human(text) {
            handover(http, base, chat).await;
        }
    } else if let Some(cb) = u.get("callback_query") {
        let data = cb["data"].as_str().unwrap_or("");
        let chat = &cb["message"]["chat"]["id"];
        let (toast, text) = match data {
            "status" => (
                "Looking it up…",
                "Your last order #1042 left our warehouse today 🚚",
            ),
            "prices" => (
                "Prices",
                "Shipping is €4.90, free from €50. Returns are free for 30 days.",
            ),
            "human" => ("One moment", CONNECTING),
            _ => ("One moment", "Type /start for the menu."),
        };
        call(
            http,
            base,
            "answerCallbackQuery",
            json!({"callback_query_id": cb["id"], "text": toast}),
        )
        .await;
        call(
            http,
            base,
            "sendMessage",
            json!({"chat_id": chat, "text": text}),
        )
        .await;
        if data == "human" {
            handover(http, base, chat).await;
        }
    }
}

/// Hands the user over to the team through the gateway's custom method: Hotline opens the
/// topic and stops giving this bot the user's messages until the dialog is closed.
async fn handover(http: &reqwest::Client, base: &str, chat: &Value) {
    if call(http, base, "hotlineHandover", json!({"chat_id": chat}))
        .await
        .is_none()
    {
        tracing::warn!("demo bot: hotlineHandover failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_menu_faq_and_fallback() {
        assert!(answer("/start").unwrap().1.is_some());
        assert!(answer("what are your prices?").unwrap().0.contains("€4.90"));
        assert!(answer("I want a human").unwrap().0.contains("person"));
        assert!(answer("blah").unwrap().0.contains("/start"));
    }
}
