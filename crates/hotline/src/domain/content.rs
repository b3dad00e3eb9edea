//! Reading Telegram messages: what kind of content they carry, whether Telegram can
//! copy it, and what an edit changed. Messages stay raw JSON so nothing new is lost.

use serde_json::{json, Value};

/// Content kinds Hotline copies with copyMessage(s), in the order they are recognised.
pub const COPYABLE: &[&str] = &[
    "text",
    "photo",
    "video",
    "animation",
    "audio",
    "voice",
    "video_note",
    "document",
    "sticker",
    "venue",
    "location",
    "contact",
    "poll",
    "dice",
];

/// Fields of service messages: never relayed, never fatal.
const SERVICE: &[&str] = &[
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "pinned_message",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "general_forum_topic_hidden",
    "general_forum_topic_unhidden",
    "video_chat_scheduled",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_participants_invited",
    "write_access_allowed",
    "users_shared",
    "chat_shared",
    "boost_added",
    "chat_background_set",
    "proximity_alert_triggered",
    "connected_website",
    "chat_owner_left",
    "chat_owner_changed",
];

/// The message's content kind: one of [`COPYABLE`], `service`, or the first unknown
/// content field (so a placeholder can say what arrived).
pub fn kind(msg: &Value) -> String {
    if SERVICE.iter().any(|f| msg.get(*f).is_some()) {
        return "service".into();
    }
    if let Some(k) = COPYABLE.iter().find(|k| msg.get(**k).is_some()) {
        if *k == "poll" && msg["poll"]["type"] == "quiz" {
            return "quiz".into();
        }
        return (*k).to_string();
    }
    for k in [
        "story",
        "game",
        "invoice",
        "paid_media",
        "giveaway",
        "giveaway_winners",
        "checklist",
        "successful_payment",
    ] {
        if msg.get(k).is_some() {
            return k.to_string();
        }
    }
    "unknown".into()
}

/// Whether copyMessage works for this kind (else forward, or post a placeholder).
pub fn copyable(kind: &str) -> bool {
    COPYABLE.contains(&kind)
}

/// The text or caption of a message ("" when it has neither).
pub fn text(msg: &Value) -> &str {
    text_or_caption(msg).unwrap_or("")
}

/// The text or caption of a message, if it has one.
pub fn text_or_caption(msg: &Value) -> Option<&str> {
    msg["text"].as_str().or_else(|| msg["caption"].as_str())
}

/// Whether the message is an explicit reply (in forum topics Telegram also sets
/// `reply_to_message` to the topic's first message, which is not a reply).
pub fn explicit_reply(msg: &Value) -> Option<i64> {
    let replied = msg["reply_to_message"]["message_id"].as_i64()?;
    match msg["message_thread_id"].as_i64() {
        Some(thread) if msg["is_topic_message"] == true && replied == thread => None,
        _ => Some(replied),
    }
}

/// The `/start` payload of a deep link, if the message is one.
pub fn start_param(msg: &Value) -> Option<String> {
    let text = msg["text"].as_str()?;
    let rest = text.strip_prefix("/start")?;
    let payload = rest.strip_prefix(' ')?.trim();
    (!payload.is_empty()).then(|| payload.chars().take(64).collect())
}

/// The content fields an edit intent needs (text, caption, media), for mirroring.
pub fn edit_snapshot(msg: &Value) -> Value {
    let mut out = json!({});
    for f in [
        "text",
        "entities",
        "caption",
        "caption_entities",
        "photo",
        "video",
        "animation",
        "audio",
        "document",
    ] {
        if let Some(v) = msg.get(f) {
            out[f] = v.clone();
        }
    }
    out
}

/// An `InputMedia` for editMessageMedia built from a snapshot's media, or None.
pub fn input_media(snapshot: &Value) -> Option<Value> {
    for kind in ["photo", "video", "animation", "audio", "document"] {
        let Some(m) = snapshot.get(kind) else {
            continue;
        };
        let file_id = if kind == "photo" {
            m.as_array()?.last()?["file_id"].clone()
        } else {
            m["file_id"].clone()
        };
        let mut media = json!({"type": kind, "media": file_id});
        if let Some(c) = snapshot.get("caption") {
            media["caption"] = c.clone();
            if let Some(e) = snapshot.get("caption_entities") {
                media["caption_entities"] = e.clone();
            }
        }
        return Some(media);
    }
    None
}

/// Sender display name for notices.
pub fn sender_name(msg: &Value) -> String {
    let from = &msg["from"];
    let first = from["first_name"].as_str().unwrap_or("someone");
    match from["last_name"].as_str() {
        Some(l) => format!("{first} {l}"),
        None => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind(&json!({"text": "hi"})), "text");
        assert_eq!(kind(&json!({"photo": [], "caption": "c"})), "photo");
        assert_eq!(kind(&json!({"forum_topic_created": {}})), "service");
        assert_eq!(kind(&json!({"poll": {"type": "quiz"}})), "quiz");
        assert_eq!(kind(&json!({"story": {}})), "story");
        assert!(copyable("venue") && !copyable("quiz"));
    }

    #[test]
    fn topic_root_is_not_a_reply() {
        let m = json!({"message_thread_id": 5, "is_topic_message": true, "reply_to_message": {"message_id": 5}});
        assert_eq!(explicit_reply(&m), None);
        let m = json!({"message_thread_id": 5, "is_topic_message": true, "reply_to_message": {"message_id": 9}});
        assert_eq!(explicit_reply(&m), Some(9));
        assert_eq!(
            explicit_reply(&json!({"reply_to_message": {"message_id": 3}})),
            Some(3)
        );
    }

    #[test]
    fn start_payload() {
        assert_eq!(
            start_param(&json!({"text": "/start promo42"})).as_deref(),
            Some("promo42")
        );
        assert_eq!(start_param(&json!({"text": "/start"})), None);
        assert_eq!(start_param(&json!({"text": "/starter x"})), None);
    }

    #[test]
    fn media_for_edits() {
        let snap = edit_snapshot(
            &json!({"photo": [{"file_id": "a"}, {"file_id": "b"}], "caption": "x", "chat": {}}),
        );
        assert_eq!(
            input_media(&snap),
            Some(json!({"type": "photo", "media": "b", "caption": "x"}))
        );
    }
}
