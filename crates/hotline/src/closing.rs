//! Closing well: when an operator closes a dialog (`/close`, the API's close), the user
//! gets `CLOSE_MESSAGE` and, with `RATING` on, a 1–5 question with inline buttons. The
//! answer is recorded per dialog and per operator who closed it (`dialog_ratings`), told
//! in the topic, and read by `/stats`, the API and `/export`. AUTOCLOSE closes silently.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::domain::render::{html, shown_name};
use crate::domain::topics::{Say, TopicError, Topics};
use crate::domain::Context;
use crate::outbox::{Action, Execute, Lane, Registry};
use crate::store::{now_ms, Dialog, DialogStatus, Intent, StoreError, Tx};

/// Callback data prefix of the rating buttons: `hlrate:<rating id>:<score>`.
pub const CALLBACK_PREFIX: &str = "hlrate:";

/// The question sent with the buttons.
pub const QUESTION: &str = "How did we do? Please rate our help from 1 (poor) to 5 (great).";

/// Closes `dialog` on behalf of the team: ⬛, then (only when it really closed now) the
/// closing message and the rating question. `operator` is who closed it (None: the API).
pub async fn close_by_team(
    ctx: &Context,
    tx: &mut Tx,
    dialog: &Dialog,
    operator: Option<i64>,
) -> Result<bool, StoreError> {
    let now = now_ms();
    if !ctx
        .set_status(tx, dialog, DialogStatus::Closed, now)
        .await?
    {
        return Ok(false);
    }
    let Some(contact) = tx.contact(dialog.contact_id).await? else {
        return Ok(true);
    };
    if contact.blocked {
        return Ok(true);
    }
    let params = ctx.params();
    let user = contact.user_id;
    if let Some(text) = params.close_message_for(&contact.first_name) {
        let say = Say {
            dialog: dialog.id,
            text: html(&text),
        };
        ctx.to_user(tx, user, Some(dialog.id), &say).await?;
    }
    if params.rating {
        let rating = tx
            .ask_rating(ctx.connection, dialog.id, operator, now)
            .await?;
        let ask = AskRating {
            dialog: dialog.id,
            rating,
        };
        ctx.to_user(tx, user, Some(dialog.id), &ask).await?;
    }
    Ok(true)
}

/// Send the rating question with buttons 1–5 to a dialog's user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AskRating {
    /// The dialog (for its contact's chat).
    pub dialog: i64,
    /// The rating request (`dialog_ratings.id`), carried in the callback data.
    pub rating: i64,
}

impl Action for AskRating {
    const KIND: &'static str = "ask_rating";
}

/// Answer a rating button press: the toast, and the question replaced by the thanks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingAnswer {
    /// callback_query id.
    pub callback: String,
    /// The user's chat.
    pub chat: i64,
    /// The question message (its buttons go).
    pub message_id: Option<i64>,
    /// The score given; None when the press was not accepted.
    pub score: Option<i64>,
}

impl Action for RatingAnswer {
    const KIND: &'static str = "rating_answer";
}

/// Runs the rating actions.
pub struct RatingExecutor(pub Topics);

/// Registers the closing feature's actions.
pub fn register(registry: &mut Registry, topics: &Topics) {
    let ex = Arc::new(RatingExecutor(topics.clone()));
    registry
        .register::<AskRating, _>(ex.clone())
        .register::<RatingAnswer, _>(ex);
}

/// The inline keyboard of a rating request.
pub fn keyboard(rating: i64) -> Value {
    let row: Vec<Value> = (1..=5)
        .map(|n| json!({"text": n.to_string(), "callback_data": format!("{CALLBACK_PREFIX}{rating}:{n}")}))
        .collect();
    json!({"inline_keyboard": [row]})
}

/// Stars for a score, e.g. `★★★★☆`.
pub fn stars(score: i64) -> String {
    let s = score.clamp(0, 5) as usize;
    format!("{}{}", "★".repeat(s), "☆".repeat(5 - s))
}

impl Execute<AskRating> for RatingExecutor {
    type Done = ();
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, a: AskRating) -> Result<(), TopicError> {
        let ex = &self.0;
        let Some(d) = ex.store.dialog(a.dialog).await? else {
            return Ok(());
        };
        let Some(c) = ex.store.contact(d.contact_id).await? else {
            return Ok(());
        };
        let extra = json!({"reply_markup": keyboard(a.rating)});
        match ex.tg.send_message(c.user_id, QUESTION, extra).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_retryable() => Err(e.into()),
            Err(e) if e.is_blocked() => Ok(ex.store.set_contact_blocked(c.id, true).await?),
            Err(e) => {
                tracing::warn!(dialog = a.dialog, error = %e, "rating question not sent");
                Ok(())
            }
        }
    }
}

impl Execute<RatingAnswer> for RatingExecutor {
    type Done = ();
    type Error = TopicError;

    async fn execute(&self, _intent: &Intent, a: RatingAnswer) -> Result<(), TopicError> {
        let tg = &self.0.tg;
        let toast = match a.score {
            Some(s) => format!("Thank you! {}", stars(s)),
            None => "This rating is no longer available.".to_string(),
        };
        let r = tg
            .call(
                "answerCallbackQuery",
                json!({"callback_query_id": a.callback, "text": toast}),
            )
            .await;
        match r {
            // A query older than Telegram keeps cannot be answered any more.
            Err(e) if !e.is_retryable() => {}
            r => {
                r?;
            }
        }
        if let (Some(score), Some(id)) = (a.score, a.message_id) {
            let text = format!("Thank you for your rating: {}", stars(score));
            // Without reply_markup the buttons go: one rating per close.
            if let Err(e) = tg.edit_message_text(a.chat, id, &text, json!({})).await {
                if e.is_retryable() {
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }
}

/// A `callback_query` whose data is a rating button; false when it is not one (the
/// caller then tries the other features). Only the dialog's own user can rate it.
pub async fn on_callback(ctx: &Context, tx: &mut Tx, q: &Value) -> Result<bool, StoreError> {
    let Some(data) = q["data"]
        .as_str()
        .and_then(|d| d.strip_prefix(CALLBACK_PREFIX))
    else {
        return Ok(false);
    };
    let (Some(callback), Some(from)) = (q["id"].as_str(), q["from"]["id"].as_i64()) else {
        return Ok(true);
    };
    let chat = q["message"]["chat"]["id"].as_i64().unwrap_or(from);
    let parsed = data
        .split_once(':')
        .and_then(|(id, s)| Some((id.parse::<i64>().ok()?, s.parse::<i64>().ok()?)))
        .filter(|(_, s)| (1..=5).contains(s));
    let mut accepted = None;
    if let Some((rating, score)) = parsed {
        if let Some(contact) = tx.contact_by_user(ctx.connection, from).await? {
            if let Some(d) = tx.dialog_for_contact(ctx.connection, contact.id).await? {
                if let Some(before) = tx.rate(rating, d.id, score, now_ms()).await? {
                    accepted = Some(score);
                    let name = html(&shown_name(&contact, &ctx.params().hide_info));
                    let text = match before.score {
                        Some(old) if old != score => format!(
                            "⭐ {name} changed their rating: {} → {} ({score}/5)",
                            stars(old),
                            stars(score)
                        ),
                        Some(_) => String::new(),
                        None => format!("⭐ {name} rated the help {} ({score}/5)", stars(score)),
                    };
                    if !text.is_empty() {
                        ctx.notice(tx, Some(d.id), None, text).await?;
                    }
                }
            }
        }
    }
    let answer = RatingAnswer {
        callback: callback.to_string(),
        chat,
        message_id: q["message"]["message_id"].as_i64(),
        score: accepted,
    };
    ctx.enqueue(tx, answer.to(chat, Lane::Reply), 0).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_and_stars() {
        let k = keyboard(7);
        assert_eq!(k["inline_keyboard"][0][4]["callback_data"], "hlrate:7:5");
        assert_eq!(stars(4), "★★★★☆");
    }
}
