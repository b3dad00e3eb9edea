//! What Hotline writes into the group: topic titles with the status square, the user
//! card, and short notices. Pure functions, so every wording is tested in one place.

use crate::config::HideInfo;
use crate::store::{Contact, DialogStatus};
pub use crate::telegram::html;

/// Telegram's limit for a topic name.
pub const TOPIC_NAME_MAX: usize = 128;

/// A stable pseudonym for a user (HIDE_INFO name): the same id always gives the same name.
pub fn pseudonym(user_id: i64) -> String {
    const ADJ: &[&str] = &[
        "Amber", "Blue", "Coral", "Dusty", "Emerald", "Golden", "Ivory", "Jade", "Lilac", "Misty",
        "Olive", "Rosy", "Silver", "Teal", "Violet", "Wild",
    ];
    const NOUN: &[&str] = &[
        "Fox", "Owl", "Lynx", "Otter", "Heron", "Panda", "Robin", "Seal", "Tiger", "Wolf", "Koala",
        "Finch", "Bison", "Crane", "Gecko", "Moth",
    ];
    let h = (user_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!(
        "{} {} {}",
        ADJ[(h >> 60) as usize % ADJ.len()],
        NOUN[(h >> 56) as usize % NOUN.len()],
        (h >> 40) % 1000
    )
}

/// The name Hotline writes in the group for a contact: a pseudonym under HIDE_INFO name.
pub fn shown_name(contact: &Contact, hide: &HideInfo) -> String {
    if hide.name {
        pseudonym(contact.user_id)
    } else {
        contact.display_name()
    }
}

/// The topic title: status square, tag tickers, then the name (or pseudonym), and
/// the bot's name when several connections share one group.
pub fn topic_title(
    status: DialogStatus,
    contact: &Contact,
    tickers: &[String],
    hide: &HideInfo,
    bot_label: Option<&str>,
    owner: Option<&str>,
) -> String {
    let name = if hide.name {
        pseudonym(contact.user_id)
    } else {
        contact.display_name()
    };
    let mut head = String::from(status.square());
    for t in tickers {
        head.push_str(t);
    }
    head.push(' ');
    // The owner and the label come after the name; a long name is cut, not them.
    let mut tail = String::new();
    if let Some(owner) = owner {
        tail.push_str(" → ");
        tail.push_str(&owner_short(owner));
    }
    if let Some(label) = bot_label {
        tail.push_str(" · ");
        tail.push_str(label);
    }
    let room = TOPIC_NAME_MAX.saturating_sub(head.chars().count() + tail.chars().count());
    if room >= 8 {
        format!("{head}{}{tail}", truncate_chars(name.trim(), room))
    } else {
        truncate_chars(&format!("{head}{}{tail}", name.trim()), TOPIC_NAME_MAX)
    }
}

/// The owner as the topic title shows it: the first word of the name, at most 16
/// characters (titles are short and shown in narrow lists).
pub fn owner_short(name: &str) -> String {
    let first = name.split_whitespace().next().unwrap_or("").trim();
    truncate_chars(if first.is_empty() { "?" } else { first }, 16)
}

/// Cuts a string to `max` characters, marking the cut with an ellipsis.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A `t.me` link to a topic of the group (works for its members), so a note can point
/// operators at a topic the bot can no longer post in.
pub fn topic_link(group: i64, thread: i64) -> String {
    let internal = (-group).to_string();
    let internal = internal.strip_prefix("100").unwrap_or(&internal);
    format!("https://t.me/c/{internal}/{thread}")
}

/// The card's line naming the dialog's owner (`/take`, `/assign`).
pub fn owner_line(name: &str) -> String {
    format!("🙋 Owner: <b>{}</b>", html(name))
}

/// The user card posted as a topic's first message (HTML).
pub fn user_card(contact: &Contact, hide: &HideInfo, connection_label: Option<&str>) -> String {
    let mut lines = Vec::new();
    let name = if hide.name {
        pseudonym(contact.user_id)
    } else {
        contact.display_name()
    };
    if hide.links {
        lines.push(format!("👤 <b>{}</b>", html(&name)));
    } else {
        lines.push(format!(
            "👤 <b><a href=\"tg://user?id={}\">{}</a></b>",
            contact.user_id,
            html(&name)
        ));
        if let Some(u) = &contact.username {
            lines.push(format!("@{}", html(u)));
        }
    }
    lines.push(format!("🆔 <code>{}</code>", contact.user_id));
    if let Some(l) = &contact.language_code {
        lines.push(format!("🌐 {}", html(l)));
    }
    if let Some(p) = &contact.start_param {
        lines.push(format!("🔗 /start <code>{}</code>", html(p)));
    }
    if let Some(c) = connection_label {
        lines.push(format!("🤖 {}", html(c)));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact() -> Contact {
        Contact {
            id: 1,
            user_id: 42,
            first_name: "Ann".into(),
            last_name: Some("Lee".into()),
            username: Some("ann".into()),
            language_code: Some("de".into()),
            first_seen_at: 0,
            last_message_at: None,
            start_param: Some("promo".into()),
            banned: false,
            blocked: false,
        }
    }

    #[test]
    fn title_has_square_tickers_and_name() {
        let t = topic_title(
            DialogStatus::New,
            &contact(),
            &["💎".into()],
            &HideInfo::default(),
            None,
            None,
        );
        assert_eq!(t, "🟪💎 Ann Lee");
        let t = topic_title(
            DialogStatus::Closed,
            &contact(),
            &[],
            &HideInfo::default(),
            Some("@shop_bot"),
            None,
        );
        assert_eq!(t, "⬛ Ann Lee · @shop_bot");
        let long = Contact {
            first_name: "N".repeat(200),
            ..contact()
        };
        let t = topic_title(
            DialogStatus::New,
            &long,
            &[],
            &HideInfo::default(),
            Some("@shop_bot"),
            Some("Maria Kowalska"),
        );
        assert!(t.ends_with("… → Maria · @shop_bot"), "{t}");
        assert_eq!(t.chars().count(), TOPIC_NAME_MAX);
    }

    #[test]
    fn pseudonyms_are_stable_and_hide_the_name() {
        let hide = HideInfo {
            name: true,
            ..Default::default()
        };
        let t = topic_title(
            DialogStatus::Wait,
            &contact(),
            &[],
            &hide,
            None,
            Some("Bob"),
        );
        assert!(t.ends_with(" → Bob"), "{t}");
        assert!(!t.contains("Ann"));
        assert_eq!(pseudonym(42), pseudonym(42));
        assert_ne!(pseudonym(42), pseudonym(43));
    }

    #[test]
    fn card_has_everything_and_respects_links() {
        let card = user_card(&contact(), &HideInfo::default(), Some("shop"));
        for part in [
            "Ann Lee",
            "@ann",
            "42",
            "de",
            "promo",
            "tg://user?id=42",
            "shop",
        ] {
            assert!(card.contains(part), "{part} missing in {card}");
        }
        let hide = HideInfo {
            links: true,
            ..Default::default()
        };
        let card = user_card(&contact(), &hide, None);
        assert!(!card.contains("@ann") && !card.contains("tg://"));
    }

    #[test]
    fn long_titles_are_cut() {
        let mut c = contact();
        c.first_name = "x".repeat(300);
        let t = topic_title(DialogStatus::New, &c, &[], &HideInfo::default(), None, None);
        assert_eq!(t.chars().count(), TOPIC_NAME_MAX);
    }
}
