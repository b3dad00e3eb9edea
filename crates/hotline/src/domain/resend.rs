//! Sending stored content again by `file_id`: quick replies (which must keep working after
//! their original is deleted) and masked group copies (copyMessage cannot change a text).
//! An item is the part of a message needed to send it: kind, file id, text or caption
//! with entities, or the fields of a location, venue, contact, dice or poll.

use serde_json::{json, Map, Value};

use crate::telegram::{Client, TgError};

/// Kinds that sendMediaGroup accepts.
const ALBUM_KINDS: &[&str] = &["photo", "video", "audio", "document"];

/// The sendable item of a message, or `None` for kinds that cannot be re-sent.
pub fn item(msg: &Value) -> Option<Value> {
    let kind = super::content::kind(msg);
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

/// The link kind of sent items: `album`, or the one item's type.
pub fn kind_of(items: &[Value]) -> String {
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

/// Forwards messages (one call; albums stay albums); returns the new ids.
pub async fn forward_ids(
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
