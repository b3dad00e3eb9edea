//! Tags and funnels, `/mark`. Admins define tags in General (`new`, `ticker`, `after`,
//! `sends`, `name`, `del`, listings); operators put them on the contact of a topic
//! (`/mark NAME`, `/mark del NAME`, `/mark`). Tickers show in topic titles; setting a tag
//! removes its funnel predecessors (`after`) and may send a quick reply (`sends`).

use serde_json::Value;

use super::say::message_link;
use super::{Command, Place, Spec, Who};
use crate::domain::render::html;
use crate::domain::slash::answer;
use crate::domain::slash::Parsed;
use crate::domain::topics::Title;
use crate::domain::Context;
use crate::store::StoreError;
use crate::store::{now_ms, Dialog, Tag, Tx};

/// The rows of this family: operators tag in a topic, admins define tags in General.
pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        name: "mark",
        aliases: &[],
        place: Place::Topic,
        who: Who::Operator,
        menu: "Tags: /mark NAME",
        help: "/mark NAME — tag the contact · /mark del NAME · /mark — its tags",
        parse: |p| Command::Mark(p.clone()),
    },
    Spec {
        name: "mark",
        aliases: &[],
        place: Place::General,
        who: Who::Admin,
        menu: "Tags: /mark NAME",
        help: "/mark — tags: /mark new NAME, /mark NAME ticker 🔥|after A,B|sends QUICKREPLY|name NEW, \
               /mark NAME lists its dialogs, /mark del NAME",
        parse: |p| Command::Mark(p.clone()),
    },
];

/// Longest tag or quick reply name.
const NAME_MAX: usize = 32;
/// Longest ticker, in characters (it shares the topic title with the name).
const TICKER_MAX: usize = 8;
/// How many dialogs `/mark NAME` lists.
const LIST_MAX: i64 = 50;

const ADMIN_USAGE: &str = "<b>Tags</b> (admins, in General)\n\
/mark — all tags with counts\n\
/mark new NAME — create a tag\n\
/mark NAME — the dialogs carrying it\n\
/mark NAME ticker 🔥 — shown in topic titles (CLEAR removes)\n\
/mark NAME after A,B — setting NAME removes A and B (CLEAR)\n\
/mark NAME sends QUICKREPLY — send a quick reply when set (CLEAR)\n\
/mark NAME name NEWNAME — rename · /mark del NAME — delete\n\
In a topic: /mark NAME, /mark del NAME, /mark.";

/// Checks a tag or quick reply name: a Latin letter, then letters, digits, `-`, `_`.
pub fn valid_name(name: &str, reserved: &[&str]) -> Result<(), String> {
    let ok = name.len() <= NAME_MAX
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(format!(
            "“{}” is not a valid name: start with a Latin letter, then letters, digits, - or _ (at most {NAME_MAX}).",
            html(name)
        ));
    }
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(format!(
            "“{}” is a reserved word; pick another name.",
            html(name)
        ));
    }
    Ok(())
}

fn is_clear(v: &str) -> bool {
    ["clear", "off", "none", "-"]
        .iter()
        .any(|c| v.eq_ignore_ascii_case(c))
}

/// `/mark` in General (admin forms; the dispatcher checked the author).
pub async fn general(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    cmd: &Parsed,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let words = cmd.words();
    let say = std::convert::identity::<String>;
    let text = match words.as_slice() {
        [] => say(list(ctx, tx).await?),
        ["new", name] => {
            if let Err(why) = valid_name(name, &["new", "del", "delete"]) {
                say(why)
            } else if tx
                .create_tag(ctx.connection, name, now_ms())
                .await?
                .is_some()
            {
                say(format!(
                    "🏷 Tag <b>{0}</b> created. In a topic: /mark {0}. Add a ticker: /mark {0} ticker 🔥",
                    html(name)
                ))
            } else {
                say(format!("Tag <b>{}</b> already exists.", html(name)))
            }
        }
        ["del" | "delete", name] => match tx.tag_by_name(ctx.connection, name).await? {
            Some(tag) => {
                let members = tx.tag_members(ctx.connection, tag.id, i64::MAX).await?;
                tx.delete_tag(tag.id).await?;
                if tag.ticker.is_some() {
                    retitle(ctx, tx, &members).await?;
                }
                say(format!(
                    "🗑 Tag <b>{}</b> deleted ({} contacts had it).",
                    html(&tag.name),
                    members.len()
                ))
            }
            None => say(unknown_tag(name)),
        },
        [name] => match tx.tag_by_name(ctx.connection, name).await? {
            Some(tag) => say(members(ctx, tx, &tag).await?),
            None => say(unknown_tag(name)),
        },
        [name, field, ..] => {
            let value = cmd
                .args
                .split_whitespace()
                .skip(2)
                .collect::<Vec<_>>()
                .join(" ");
            match tx.tag_by_name(ctx.connection, name).await? {
                None => say(unknown_tag(name)),
                Some(tag) => say(configure(ctx, tx, &tag, field, &value).await?),
            }
        }
    };
    answer(ctx, tx, None, reply_to, text).await
}

fn unknown_tag(name: &str) -> String {
    format!(
        "No tag <b>{0}</b>. Admins create it in General: /mark new {0}",
        html(name)
    )
}

async fn list(ctx: &Context, tx: &mut Tx) -> Result<String, StoreError> {
    let tags = tx.tags_with_counts(ctx.connection).await?;
    if tags.is_empty() {
        return Ok(format!("No tags yet.\n\n{ADMIN_USAGE}"));
    }
    let mut text = String::from("<b>Tags</b>");
    for (tag, n) in &tags {
        text.push_str(&format!("\n• {} — {n}", describe(ctx, tx, tag).await?));
    }
    Ok(text)
}

/// One tag's definition: name, ticker, funnel, quick reply.
async fn describe(_ctx: &Context, tx: &mut Tx, tag: &Tag) -> Result<String, StoreError> {
    let mut s = format!("<b>{}</b>", html(&tag.name));
    if let Some(t) = &tag.ticker {
        s.push_str(&format!(" {}", html(t)));
    }
    let removes = tx.tag_removes(tag.id).await?;
    if !removes.is_empty() {
        let names: Vec<String> = removes.iter().map(|t| html(&t.name)).collect();
        s.push_str(&format!(" (after {})", names.join(", ")));
    }
    if let Some(q) = &tag.sends {
        s.push_str(&format!(" → sends {}", html(q)));
    }
    Ok(s)
}

async fn members(ctx: &Context, tx: &mut Tx, tag: &Tag) -> Result<String, StoreError> {
    let list = tx.tag_members(ctx.connection, tag.id, LIST_MAX).await?;
    let head = describe(ctx, tx, tag).await?;
    if list.is_empty() {
        return Ok(format!("{head}: no dialogs carry it."));
    }
    let hide = ctx.params().hide_info;
    let mut text = format!("{head}:");
    for m in &list {
        let name = if hide.name {
            crate::domain::render::pseudonym(m.user_id)
        } else {
            match &m.last_name {
                Some(l) if !l.is_empty() => format!("{} {l}", m.first_name),
                _ => m.first_name.clone(),
            }
        };
        match m.thread_id {
            Some(t) => text.push_str(&format!(
                "\n• <a href=\"{}\">{}</a>",
                message_link(ctx.group_id, Some(t), t),
                html(&name)
            )),
            None => text.push_str(&format!("\n• {} (no topic)", html(&name))),
        }
    }
    if list.len() as i64 == LIST_MAX {
        text.push_str(&format!("\n(the latest {LIST_MAX})"));
    }
    Ok(text)
}

async fn configure(
    ctx: &Context,
    tx: &mut Tx,
    tag: &Tag,
    field: &str,
    value: &str,
) -> Result<String, StoreError> {
    let name = html(&tag.name);
    if value.is_empty() {
        return Ok(ADMIN_USAGE.into());
    }
    match field.to_ascii_lowercase().as_str() {
        "ticker" => {
            let ticker = (!is_clear(value)).then(|| value.to_string());
            if ticker
                .as_ref()
                .is_some_and(|t| t.chars().count() > TICKER_MAX)
            {
                return Ok(format!(
                    "A ticker is at most {TICKER_MAX} characters (an emoji or a short text)."
                ));
            }
            tx.set_tag_ticker(tag.id, ticker.as_deref()).await?;
            let members = tx.tag_members(ctx.connection, tag.id, i64::MAX).await?;
            retitle(ctx, tx, &members).await?;
            Ok(match ticker {
                Some(t) => format!("🏷 <b>{name}</b> shows {} in topic titles.", html(&t)),
                None => format!("🏷 <b>{name}</b> has no ticker now."),
            })
        }
        "after" => {
            if is_clear(value) {
                tx.set_tag_removes(tag.id, &[]).await?;
                return Ok(format!("🏷 Setting <b>{name}</b> removes no other tag now."));
            }
            let mut ids = Vec::new();
            let mut names = Vec::new();
            for part in value.split([',', ' ']).filter(|p| !p.is_empty()) {
                match tx.tag_by_name(ctx.connection, part).await? {
                    Some(t) if t.id == tag.id => {
                        return Ok(format!("<b>{name}</b> cannot come after itself."))
                    }
                    Some(t) => {
                        ids.push(t.id);
                        names.push(html(&t.name));
                    }
                    None => return Ok(unknown_tag(part)),
                }
            }
            tx.set_tag_removes(tag.id, &ids).await?;
            Ok(format!(
                "🏷 Funnel: setting <b>{name}</b> removes {}.",
                names.join(", ")
            ))
        }
        "sends" => {
            if is_clear(value) {
                tx.set_tag_sends(tag.id, None).await?;
                return Ok(format!("🏷 <b>{name}</b> sends nothing now."));
            }
            if tx.quick_reply(ctx.connection, value).await?.is_none() {
                return Ok(format!(
                    "No quick reply <b>{}</b>. /say lists them.",
                    html(value)
                ));
            }
            tx.set_tag_sends(tag.id, Some(value)).await?;
            Ok(format!(
                "🏷 Setting <b>{name}</b> sends the quick reply <b>{}</b> to the user.",
                html(value)
            ))
        }
        "name" | "rename" => {
            if let Err(why) = valid_name(value, &["new", "del", "delete"]) {
                return Ok(why);
            }
            if !tx.rename_tag(ctx.connection, tag.id, value).await? {
                return Ok(format!("Tag <b>{}</b> already exists.", html(value)));
            }
            Ok(format!("🏷 <b>{name}</b> is now <b>{}</b>.", html(value)))
        }
        _ => Ok(format!(
            "Unknown setting “{}”: use ticker, after, sends or name.\n\n{ADMIN_USAGE}",
            html(field)
        )),
    }
}

/// Topic titles follow tickers: retitles the dialogs of these contacts.
async fn retitle(
    ctx: &Context,
    tx: &mut Tx,
    members: &[crate::store::TagMember],
) -> Result<(), StoreError> {
    for m in members {
        if let (Some(dialog), Some(_)) = (m.dialog_id, m.thread_id) {
            ctx.to_group(tx, Some(dialog), &Title { dialog }).await?;
        }
    }
    Ok(())
}

/// `/mark` in a dialog topic.
pub async fn topic(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: &Dialog,
    cmd: &Parsed,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let here = Some(dialog.id);
    let contact = dialog.contact_id;
    let text = match cmd.words().as_slice() {
        [] => {
            let tags = tx.contact_tags(contact).await?;
            if tags.is_empty() {
                "No tags. /mark NAME sets one.".to_string()
            } else {
                let names: Vec<String> = tags
                    .iter()
                    .map(|t| match &t.ticker {
                        Some(k) => format!("{} <b>{}</b>", html(k), html(&t.name)),
                        None => format!("<b>{}</b>", html(&t.name)),
                    })
                    .collect();
                format!("🏷 Tags: {}", names.join(", "))
            }
        }
        ["new", ..] => "Tags are created by admins in General: /mark new NAME".to_string(),
        ["del" | "delete", name] => match tx.tag_by_name(ctx.connection, name).await? {
            None => unknown_tag(name),
            Some(tag) => {
                if ctx.untag(tx, dialog, &tag).await? {
                    format!("🏷 <b>{}</b> removed.", html(&tag.name))
                } else {
                    format!("This contact has no tag <b>{}</b>.", html(&tag.name))
                }
            }
        },
        [name] => match tx.tag_by_name(ctx.connection, name).await? {
            None => unknown_tag(name),
            Some(tag) => ctx.tag(tx, dialog, &tag, msg["from"]["id"].as_i64()).await?.describe(&tag.name),
        },
        _ => "Usage here: /mark NAME — set a tag · /mark del NAME — remove it · /mark — this contact's tags".to_string(),
    };
    answer(ctx, tx, here, reply_to, text).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("vip", &[]).is_ok());
        assert!(valid_name("Lead-2_b", &[]).is_ok());
        assert!(valid_name("2fast", &[]).is_err());
        assert!(valid_name("épée", &[]).is_err());
        assert!(valid_name("a b", &[]).is_err());
        assert!(valid_name("NEW", &["new"]).is_err());
        assert!(valid_name(&"a".repeat(33), &[]).is_err());
    }
}
