//! Quick replies, `/say`: `/say NAME` as a reply saves the replied message (any content,
//! albums from a dialog topic within a day); `/say NAME` in a topic sends it to the user
//! (and shows it in the topic); `/say NAME fwd` forwards the original instead; `/say`
//! lists; `/say del NAME` deletes. In General only texts can be saved.
//!
//! What is stored is the content itself (file ids, text, entities), so a quick reply keeps
//! working after its original is deleted from the group.

use serde_json::Value;

use super::mark::valid_name;
use super::{Command, Place, Spec, Who};
use crate::domain::content;
use crate::domain::render::html;
use crate::domain::resend;
use crate::domain::slash::answer;
use crate::domain::slash::Parsed;
use crate::domain::Context;
use crate::store::StoreError;
use crate::store::{now_ms, Dialog, NewQuickReply, Tx, MEDIA_ITEMS_TTL_MS};

const USAGE: &str = "<b>Quick replies</b>\n\
/say NAME — as a reply to a message: save it (text, media, albums)\n\
/say NAME — in a dialog: send it to the user\n\
/say NAME fwd — forward the original instead of sending a copy\n\
/say — list · /say del NAME — delete";

/// The rows of this family: the same command sends in a topic, only saves in General.
pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        name: "say",
        aliases: &[],
        place: Place::Topic,
        who: Who::Operator,
        menu: "Quick replies: /say NAME",
        help: "/say NAME — send a quick reply (/say NAME fwd forwards it; reply to a message \
               with /say NAME to save it; /say lists)",
        parse: |p| Command::Say(p.clone()),
    },
    Spec {
        name: "say",
        aliases: &[],
        place: Place::General,
        who: Who::Operator,
        menu: "Quick replies: /say NAME",
        help: "/say — quick replies (reply to a text with /say NAME to save it; /say del NAME)",
        parse: |p| Command::Say(p.clone()),
    },
];

/// A `t.me` link to a message of the group (works for members).
pub fn message_link(group: i64, thread: Option<i64>, message: i64) -> String {
    let internal = (-group).to_string();
    let internal = internal
        .strip_prefix("100")
        .unwrap_or(&internal)
        .to_string();
    match thread {
        Some(t) => format!("https://t.me/c/{internal}/{t}/{message}"),
        None => format!("https://t.me/c/{internal}/{message}"),
    }
}

/// `/say` in a topic (`dialog`) or in General.
pub async fn run(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: Option<&Dialog>,
    cmd: &Parsed,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let here = dialog.map(|d| d.id);
    let words = cmd.words();
    let replied = content::explicit_reply(msg).map(|_| &msg["reply_to_message"]);
    match (words.as_slice(), replied) {
        ([], _) => list(ctx, tx, here, reply_to).await,
        (["del" | "delete"], _) => {
            answer(ctx, tx, here, reply_to, "Usage: /say del NAME".into()).await
        }
        (["del" | "delete", name], _) => {
            let text = if tx.delete_quick_reply(ctx.connection, name).await? {
                format!("🗑 Quick reply <b>{}</b> deleted.", html(name))
            } else {
                format!("No quick reply <b>{}</b>. /say lists them.", html(name))
            };
            answer(ctx, tx, here, reply_to, text).await
        }
        ([name], Some(original)) => save(ctx, tx, msg, here, name, original).await,
        ([name], None) | ([name, "fwd"], None) => {
            let Some(dialog) = dialog else {
                let text = "Quick replies are sent in a dialog topic: /say NAME there. \
                            Here, reply to a text with /say NAME to save it."
                    .to_string();
                return answer(ctx, tx, None, reply_to, text).await;
            };
            let by = msg["from"]["id"].as_i64();
            send(ctx, tx, dialog, name, words.len() == 2, reply_to, by).await
        }
        _ => answer(ctx, tx, here, reply_to, USAGE.into()).await,
    }
}

async fn list(
    ctx: &Context,
    tx: &mut Tx,
    here: Option<i64>,
    reply_to: Option<i64>,
) -> Result<(), StoreError> {
    let all = tx.quick_replies(ctx.connection).await?;
    if all.is_empty() {
        let text = format!("No quick replies yet.\n\n{USAGE}");
        return answer(ctx, tx, here, reply_to, text).await;
    }
    let mut text = String::from("<b>Quick replies</b>");
    for q in &all {
        let items = q.items.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let what = match items {
            [one] if one["type"] == "text" => {
                let t = one["text"].as_str().unwrap_or("");
                let short: String = t.chars().take(40).collect();
                let more = if t.chars().count() > 40 { "…" } else { "" };
                format!("“{}{more}”", html(&short))
            }
            [one] => html(one["type"].as_str().unwrap_or("message")),
            many => format!("album of {}", many.len()),
        };
        let link = message_link(
            q.source_chat,
            q.source_thread,
            q.source_ids.first().copied().unwrap_or(0),
        );
        text.push_str(&format!(
            "\n• <a href=\"{link}\">{}</a> — {what}",
            html(&q.name)
        ));
    }
    text.push_str("\n\n/say NAME in a dialog sends one.");
    answer(ctx, tx, here, reply_to, text).await
}

async fn save(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    here: Option<i64>,
    name: &str,
    original: &Value,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    if let Err(why) = valid_name(name, &["del", "delete"]) {
        return answer(ctx, tx, here, reply_to, why).await;
    }
    let kind = content::kind(original);
    if here.is_none() && kind != "text" {
        let text = "In General only texts can be saved as quick replies. To save media or \
                    an album, reply to it with /say NAME in a dialog topic."
            .to_string();
        return answer(ctx, tx, None, reply_to, text).await;
    }
    let Some(id) = original["message_id"].as_i64() else {
        return Ok(());
    };
    let (items, ids) = if original["media_group_id"].is_string() {
        let group = msg["chat"]["id"].as_i64().unwrap_or(ctx.group_id);
        match album(ctx, tx, group, id).await? {
            Some(found) => found,
            None => {
                let text = "I could not find the rest of this album: albums can be saved \
                            within a day after they were sent in a dialog topic."
                    .to_string();
                return answer(ctx, tx, here, reply_to, text).await;
            }
        }
    } else {
        match resend::item(original) {
            Some(item) => (vec![item], vec![id]),
            None => {
                let text = format!(
                    "A {} message cannot be saved as a quick reply.",
                    html(&kind)
                );
                return answer(ctx, tx, here, reply_to, text).await;
            }
        }
    };
    let items = Value::Array(items);
    let n = ids.len();
    let q = NewQuickReply {
        name,
        items: &items,
        source_chat: msg["chat"]["id"].as_i64().unwrap_or(ctx.group_id),
        source_thread: here.and(msg["message_thread_id"].as_i64()),
        source_ids: &ids,
        created_by: msg["from"]["id"].as_i64().unwrap_or(0),
    };
    let replaced = tx.save_quick_reply(ctx.connection, &q, now_ms()).await?;
    let what = if n > 1 {
        format!("an album of {n}")
    } else {
        html(&kind)
    };
    let text = format!(
        "💾 Quick reply <b>{}</b> {} ({what}). Send it in a dialog with /say {}.",
        html(name),
        if replaced { "replaced" } else { "saved" },
        html(name)
    );
    answer(ctx, tx, here, reply_to, text).await
}

/// The items and group message ids of the album that group message `id` belongs to: an
/// operator's album (seen in the topic) or Hotline's copy of a user's album.
async fn album(
    ctx: &Context,
    tx: &mut Tx,
    group: i64,
    id: i64,
) -> Result<Option<(Vec<Value>, Vec<i64>)>, StoreError> {
    let since = now_ms() - MEDIA_ITEMS_TTL_MS;
    let own = tx.media_album(ctx.connection, group, id, since).await?;
    if own.len() > 1 {
        return Ok(Some(own.into_iter().map(|(i, v)| (v, i)).unzip()));
    }
    let Some(link) = tx.link_by_group_message(ctx.connection, group, id).await? else {
        return Ok(None);
    };
    let l = link.link;
    let originals = tx
        .media_album(ctx.connection, l.user_chat_id, l.user_message_id, since)
        .await?;
    if originals.len() < 2 {
        return Ok(None);
    }
    let mut items = Vec::new();
    let mut ids = Vec::new();
    for (user_message, item) in originals {
        let copy = tx
            .link_by_user_message(ctx.connection, l.user_chat_id, user_message)
            .await?;
        items.push(item);
        ids.push(copy.map_or(id, |c| c.link.group_message_id));
    }
    Ok(Some((items, ids)))
}

async fn send(
    ctx: &Context,
    tx: &mut Tx,
    dialog: &Dialog,
    name: &str,
    forward: bool,
    reply_to: Option<i64>,
    by: Option<i64>,
) -> Result<(), StoreError> {
    if ctx.send_quick_reply(tx, dialog, name, forward, by).await? {
        return Ok(());
    }
    let text = format!("No quick reply <b>{}</b>. /say lists them.", html(name));
    answer(ctx, tx, Some(dialog.id), reply_to, text).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_to_group_messages() {
        assert_eq!(
            message_link(-1001234567890, Some(5), 9),
            "https://t.me/c/1234567890/5/9"
        );
        assert_eq!(message_link(-1001, None, 2), "https://t.me/c/1/2");
    }
}
