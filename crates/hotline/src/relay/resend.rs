//! Sending stored content again by `file_id`: quick replies (which must keep working after
//! their original is deleted) and masked group copies (copyMessage cannot change a text).
//! An item is the part of a message needed to send it: kind, file id, text or caption
//! with entities, or the fields of a location, venue, contact, dice or poll.

use serde_json::{json, Map, Value};

use super::execute::Executor;
use super::privacy;
use crate::domain::render::html;
use crate::store::{Direction, StoreError};
use crate::telegram::{Client, TgError};

fn store_err(e: StoreError) -> TgError {
    TgError::Transient(format!("store: {e}"))
}

/// Kinds that sendMediaGroup accepts.
const ALBUM_KINDS: &[&str] = &["photo", "video", "audio", "document"];

/// The sendable item of a message, or `None` for kinds that cannot be re-sent.
pub fn item(msg: &Value) -> Option<Value> {
    let kind = crate::domain::content::kind(msg);
    let mut out = Map::new();
    out.insert("type".into(), json!(kind));
    let copy = |out: &mut Map<String, Value>, fields: &[&str], from: &Value| {
        for f in fields {
            if let Some(v) = from.get(*f).filter(|v| !v.is_null()) {
                out.insert((*f).to_string(), v.clone());
            }
        }
    };
    match kind.as_str() {
        "text" => copy(&mut out, &["text", "entities"], msg),
        "photo" => {
            let id = msg["photo"].as_array()?.last()?["file_id"].clone();
            out.insert("file_id".into(), id);
        }
        "video" | "animation" | "audio" | "voice" | "document" | "video_note" | "sticker" => {
            out.insert("file_id".into(), msg[kind.as_str()]["file_id"].clone());
        }
        "location" => copy(&mut out, &["latitude", "longitude"], &msg["location"]),
        "venue" => {
            copy(
                &mut out,
                &["latitude", "longitude"],
                &msg["venue"]["location"],
            );
            copy(&mut out, &["title", "address"], &msg["venue"]);
        }
        "contact" => copy(
            &mut out,
            &["phone_number", "first_name", "last_name"],
            &msg["contact"],
        ),
        "dice" => copy(&mut out, &["emoji"], &msg["dice"]),
        "poll" => {
            copy(&mut out, &["question"], &msg["poll"]);
            let options: Vec<Value> = msg["poll"]["options"]
                .as_array()?
                .iter()
                .map(|o| json!({"text": o["text"]}))
                .collect();
            out.insert("options".into(), Value::Array(options));
        }
        _ => return None,
    }
    if out.get("file_id").is_some_and(|f| !f.is_string()) {
        return None;
    }
    if !matches!(kind.as_str(), "text" | "sticker" | "video_note" | "dice") {
        copy(&mut out, &["caption", "caption_entities"], msg);
    }
    Some(Value::Object(out))
}

/// Whether a list of items can go out as one album.
pub fn is_album(items: &[Value]) -> bool {
    (2..=10).contains(&items.len())
        && items
            .iter()
            .all(|i| ALBUM_KINDS.contains(&i["type"].as_str().unwrap_or("")))
}

/// The Bot API method and parameters that send one item to `chat`.
pub fn request(item: &Value, chat: i64, extra: &Value) -> (String, Value) {
    let kind = item["type"].as_str().unwrap_or("text");
    let mut p = json!({"chat_id": chat});
    let mut take = |fields: &[&str]| {
        for f in fields {
            if let Some(v) = item.get(*f) {
                p[*f] = v.clone();
            }
        }
    };
    let method = match kind {
        "text" => {
            take(&["text", "entities"]);
            "sendMessage".to_string()
        }
        "location" => {
            take(&["latitude", "longitude"]);
            "sendLocation".into()
        }
        "venue" => {
            take(&["latitude", "longitude", "title", "address"]);
            "sendVenue".into()
        }
        "contact" => {
            take(&["phone_number", "first_name", "last_name"]);
            "sendContact".into()
        }
        "dice" => {
            take(&["emoji"]);
            "sendDice".into()
        }
        "poll" => {
            take(&["question", "options"]);
            "sendPoll".into()
        }
        media => {
            take(&["caption", "caption_entities"]);
            p[media] = item["file_id"].clone();
            let mut m = String::from("send");
            for part in media.split('_') {
                let mut cs = part.chars();
                if let Some(f) = cs.next() {
                    m.push(f.to_ascii_uppercase());
                    m.extend(cs);
                }
            }
            m
        }
    };
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            p.insert(k.clone(), v.clone());
        }
    }
    (method, p)
}

/// InputMedia objects for an album of items.
pub fn input_media(items: &[Value]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| {
                let mut m = json!({"type": i["type"], "media": i["file_id"]});
                for f in ["caption", "caption_entities"] {
                    if let Some(v) = i.get(f) {
                        m[f] = v.clone();
                    }
                }
                m
            })
            .collect(),
    )
}

/// Sends items to `chat` (one album, or one message per item); returns the new message
/// ids in item order. `extra` goes with every call (thread, protect_content); `reply` only
/// with the first.
pub async fn send_items(
    tg: &Client,
    chat: i64,
    items: &[Value],
    extra: &Value,
    reply: Option<i64>,
) -> Result<Vec<i64>, TgError> {
    let mut first = extra.clone();
    if let Some(r) = reply {
        first["reply_parameters"] = json!({"message_id": r, "allow_sending_without_reply": true});
    }
    if is_album(items) {
        let sent = tg.send_media_group(chat, input_media(items), first).await?;
        return Ok(sent.into_iter().map(|m| m.message_id).collect());
    }
    let mut ids = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let (method, params) = request(item, chat, if n == 0 { &first } else { extra });
        let sent = tg.call(&method, params).await?;
        ids.push(sent["message_id"].as_i64().unwrap_or(0));
    }
    Ok(ids)
}

/// Where a quick reply or masked copy came from, for the link kind.
fn kind_of(items: &[Value]) -> String {
    if items.len() > 1 {
        "album".into()
    } else {
        items
            .first()
            .and_then(|i| i["type"].as_str())
            .unwrap_or("text")
            .to_string()
    }
}

impl Executor {
    /// Runs [`Intent::SendIn`](super::Intent::SendIn): masked user content into the topic.
    pub(super) async fn send_in(
        &self,
        intent_id: i64,
        dialog: i64,
        ids: &[i64],
        items: &[Value],
        reply_to: Option<i64>,
        kind: &str,
    ) -> Result<(), TgError> {
        let (_, contact) = self.load(dialog).await?;
        let user = contact.user_id;
        let params = self.ctx.params();
        let (ids, items) = if ids.is_empty() {
            let ids = self.batch(intent_id, &[]).await?;
            let Some(first) = ids.first() else {
                return Ok(());
            };
            let album = self
                .store
                .media_album(self.ctx.connection, user, *first, 0)
                .await
                .map_err(store_err)?;
            let mut pairs = Vec::new();
            for (id, mut item) in album.into_iter().filter(|(id, _)| ids.contains(id)) {
                privacy::mask_item(&mut item, &params.mask_patterns);
                pairs.push((id, item));
            }
            pairs.into_iter().unzip()
        } else {
            (ids.to_vec(), items.to_vec())
        };
        if ids.is_empty() || ids.len() != items.len() {
            return Ok(());
        }
        let protect = params.protect_content;
        let sent = self
            .in_topic(dialog, |thread| {
                let items = &items;
                async move {
                    let mut extra = json!({"message_thread_id": thread});
                    if protect {
                        extra["protect_content"] = json!(true);
                    }
                    send_items(&self.tg, self.ctx.group_id, items, &extra, reply_to).await
                }
            })
            .await;
        match sent {
            Ok((_, copies)) => {
                for (u, g) in ids.iter().zip(copies) {
                    self.link(dialog, user, *u, g, Direction::Incoming, kind)
                        .await?;
                }
                Ok(())
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => {
                tracing::warn!(dialog, error = %e, "masked user content could not be posted");
                let text = format!(
                    "⚠️ The user sent a {kind} message; it could not be shown here: {}",
                    html(&e.to_string())
                );
                self.notice(dialog, &text, None).await
            }
        }
    }

    /// Runs [`Intent::SendOut`](super::Intent::SendOut): a quick reply to the user, then
    /// the same content in the topic, linked so replies and edits work.
    pub(super) async fn send_out(
        &self,
        dialog: i64,
        name: &str,
        items: &[Value],
        forward: Option<&(i64, Vec<i64>)>,
    ) -> Result<(), TgError> {
        let (_, contact) = self.load(dialog).await?;
        let user = contact.user_id;
        let group = self.ctx.group_id;
        let to_user = match forward {
            Some((chat, ids)) => forward_ids(&self.tg, user, *chat, ids, json!({})).await,
            None => send_items(&self.tg, user, items, &json!({}), None).await,
        };
        let user_ids = match to_user {
            Ok(ids) => ids,
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) if e.is_blocked() => {
                self.store
                    .set_contact_blocked(contact.id, true)
                    .await
                    .map_err(store_err)?;
                let text = format!(
                    "⛔ Quick reply <b>{}</b> not delivered: the user blocked the bot.",
                    html(name)
                );
                return self.notice(dialog, &text, None).await;
            }
            Err(e) => {
                let why = if forward.is_some() {
                    format!(
                        "{} (was the original deleted? /say {} sends a copy)",
                        e, name
                    )
                } else {
                    e.to_string()
                };
                let text = format!(
                    "⚠️ Quick reply <b>{}</b> not delivered: {}",
                    html(name),
                    html(&why)
                );
                return self.notice(dialog, &text, None).await;
            }
        };
        // The user has it: never retry from here on, or they would get it twice.
        let shown = self
            .in_topic(dialog, |thread| async move {
                let extra = json!({"message_thread_id": thread});
                match forward {
                    Some((chat, ids)) => forward_ids(&self.tg, group, *chat, ids, extra).await,
                    None => send_items(&self.tg, group, items, &extra, None).await,
                }
            })
            .await;
        match shown {
            Ok((_, group_ids)) => {
                let kind = kind_of(items);
                for (g, u) in group_ids.iter().zip(&user_ids) {
                    self.link(dialog, user, *u, *g, Direction::Outgoing, &kind)
                        .await?;
                }
                if let Some(g) = group_ids.first() {
                    let mark = json!([{"type": "emoji", "emoji": super::execute::DELIVERED}]);
                    if let Err(e) = self.tg.set_message_reaction(group, *g, mark).await {
                        tracing::debug!(error = %e, "delivered mark not set");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(dialog, error = %e, "quick reply sent but not shown in the topic");
            }
        }
        Ok(())
    }

    /// Runs [`Intent::Direct`](super::Intent::Direct).
    pub(super) async fn direct(
        &self,
        user: i64,
        text: &str,
        dialog: Option<i64>,
        reply_to: Option<i64>,
    ) -> Result<(), TgError> {
        let extra = json!({"parse_mode": "HTML", "link_preview_options": {"is_disabled": true}});
        let outcome = match self.tg.send_message(user, text, extra).await {
            Ok(_) => "📬 Sent to you in your private chat with the bot.".to_string(),
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => format!(
                "⚠️ I cannot write to you privately ({}). Open a chat with @{} and press Start, then try again.",
                html(&e.to_string()),
                html(&self.ctx.bot.username)
            ),
        };
        match dialog {
            Some(d) => self.notice(d, &outcome, reply_to).await,
            None => self.post(None, &outcome, reply_to).await.map(|_| ()),
        }
    }
}

/// Forwards messages (one call; albums stay albums); returns the new ids.
async fn forward_ids(
    tg: &Client,
    chat: i64,
    from: i64,
    ids: &[i64],
    extra: Value,
) -> Result<Vec<i64>, TgError> {
    if ids.len() == 1 {
        return Ok(vec![
            tg.forward_message(chat, from, ids[0], extra)
                .await?
                .message_id,
        ]);
    }
    Ok(tg
        .forward_messages(chat, from, ids, extra)
        .await?
        .into_iter()
        .map(|m| m.message_id)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_from_messages() {
        let photo = json!({"message_id": 1, "photo": [{"file_id": "s"}, {"file_id": "L"}],
            "caption": "c", "caption_entities": [{"type": "bold", "offset": 0, "length": 1}]});
        let i = item(&photo).unwrap();
        assert_eq!(i["file_id"], "L");
        assert_eq!(i["caption"], "c");
        let (m, p) = request(&i, 5, &json!({"message_thread_id": 3}));
        assert_eq!(m, "sendPhoto");
        assert_eq!(
            (p["photo"].clone(), p["message_thread_id"].clone()),
            (json!("L"), json!(3))
        );
        let vn = item(&json!({"video_note": {"file_id": "v"}})).unwrap();
        assert_eq!(request(&vn, 1, &json!({})).0, "sendVideoNote");
        let t = item(&json!({"text": "hi", "entities": []})).unwrap();
        assert_eq!(request(&t, 1, &json!({})).1["text"], "hi");
        assert!(item(&json!({"invoice": {}})).is_none());
        assert!(is_album(&[i.clone(), i.clone()]) && !is_album(&[i.clone(), t]));
        assert_eq!(input_media(&[i])[0]["media"], "L");
    }
}
