//! `MASK_PATTERNS` matching: card numbers (Luhn-checked), phone numbers and e-mail
//! addresses are found in a text and hidden. Pure functions over text and entities, kept
//! in the domain so both the relay (group copies) and the recap (history before a
//! dialog) mask the same way without the domain depending on the relay.
//!
//! Masking replaces each hidden character by `•` of the same UTF-16 length, so entity
//! offsets stay valid without shifting; only the `email`/`phone_number` entities that
//! covered a masked span are dropped (they would point at dots).

use serde_json::{json, Value};

use crate::config::MaskPatterns;

/// The masking character.
const DOT: char = '•';

/// Masks `text`; `None` when nothing matched (the message can then be copied as is).
/// Returns the masked text and the entities to send with it.
pub fn mask_text(
    text: &str,
    entities: Option<&Value>,
    patterns: &MaskPatterns,
) -> Option<(String, Value)> {
    if !patterns.any() || text.is_empty() {
        return None;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut hide = vec![false; chars.len()];
    if patterns.cards {
        cards(&chars, &mut hide);
    }
    if patterns.phones {
        phones(&chars, &mut hide);
    }
    if patterns.emails {
        emails(&chars, &mut hide);
    }
    if !hide.iter().any(|h| *h) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut utf16 = Vec::with_capacity(chars.len() + 1);
    let mut pos = 0usize;
    for (c, h) in chars.iter().zip(&hide) {
        utf16.push(pos);
        pos += c.len_utf16();
        if *h {
            out.extend(std::iter::repeat_n(DOT, c.len_utf16()));
        } else {
            out.push(*c);
        }
    }
    let masked_at = |offset: usize, len: usize| {
        chars
            .iter()
            .enumerate()
            .any(|(i, _)| hide[i] && utf16[i] >= offset && utf16[i] - offset < len)
    };
    let kept: Vec<Value> = entities
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| {
            let sensitive = matches!(e["type"].as_str(), Some("email" | "phone_number"));
            let off = e["offset"].as_u64().unwrap_or(0) as usize;
            let len = e["length"].as_u64().unwrap_or(0) as usize;
            !(sensitive && masked_at(off, len))
        })
        .cloned()
        .collect();
    Some((out, Value::Array(kept)))
}

/// Masks the text or caption of a sendable item in place; true when something changed.
pub fn mask_item(item: &mut Value, patterns: &MaskPatterns) -> bool {
    for (field, ents) in [("text", "entities"), ("caption", "caption_entities")] {
        let Some(text) = item[field].as_str() else {
            continue;
        };
        if let Some((t, e)) = mask_text(text, item.get(ents), patterns) {
            item[field] = json!(t);
            item[ents] = e;
            return true;
        }
    }
    false
}

/// Masks an edit snapshot (text/caption fields) in place.
pub fn mask_snapshot(snapshot: &mut Value, patterns: &MaskPatterns) {
    mask_item(snapshot, patterns);
}

/// Whether the digits (most significant first) pass the Luhn checksum.
pub fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn boundary(chars: &[char], i: usize) -> bool {
    i == 0 || !chars[i - 1].is_alphanumeric()
}

/// Runs of digits joined by single spaces or dashes: 13–19 digits passing Luhn. The last
/// four digits stay visible.
fn cards(chars: &[char], hide: &mut [bool]) {
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || !boundary(chars, i) {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut digits = Vec::new();
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digits.push(j);
                j += 1;
            } else if matches!(chars[j], ' ' | '-')
                && chars.get(j + 1).is_some_and(char::is_ascii_digit)
            {
                j += 1;
            } else {
                break;
            }
        }
        let ends_clean = chars.get(j).is_none_or(|c| !c.is_alphanumeric());
        let values: Vec<u32> = digits
            .iter()
            .map(|k| chars[*k].to_digit(10).unwrap_or(0))
            .collect();
        if ends_clean && (13..=19).contains(&digits.len()) && luhn(&values) {
            for k in &digits[..digits.len() - 4] {
                hide[*k] = true;
            }
        }
        i = j.max(i + 1);
    }
}

/// Phone numbers: an optional `+`, then digits with spaces, dashes, dots or brackets;
/// 8–15 digits with `+`, 10–15 without. The last two digits stay visible.
fn phones(chars: &[char], hide: &mut [bool]) {
    let mut i = 0;
    while i < chars.len() {
        let starts =
            (chars[i] == '+' || chars[i] == '(' || chars[i].is_ascii_digit()) && boundary(chars, i);
        if !starts {
            i += 1;
            continue;
        }
        let plus = chars[i] == '+';
        let mut j = i + usize::from(plus);
        let mut digits = Vec::new();
        while j < chars.len() {
            let c = chars[j];
            if c.is_ascii_digit() {
                digits.push(j);
            } else if !matches!(c, ' ' | '-' | '.' | '(' | ')') {
                break;
            }
            j += 1;
        }
        let last = digits.last().copied().unwrap_or(i);
        let ends_clean = chars.get(last + 1).is_none_or(|c| !c.is_alphanumeric());
        let range = if plus { 8..=15 } else { 10..=15 };
        if ends_clean && range.contains(&digits.len()) && !hide[digits[0]] {
            for k in &digits[..digits.len() - 2] {
                hide[*k] = true;
            }
            i = last + 1;
        } else {
            // Skip the whole run: its tail is not a phone number on its own.
            i = j.max(i + 1);
        }
    }
}

/// E-mail addresses: the first character of the local part and the top-level domain stay.
fn emails(chars: &[char], hide: &mut [bool]) {
    let local_char = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let domain_char = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    for at in 0..chars.len() {
        if chars[at] != '@' {
            continue;
        }
        let mut start = at;
        while start > 0 && local_char(chars[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < chars.len() && domain_char(chars[end]) {
            end += 1;
        }
        while end > at + 1 && chars[end - 1] == '.' {
            end -= 1;
        }
        if start == at || end == at + 1 {
            continue;
        }
        let domain: String = chars[at + 1..end].iter().collect();
        let Some(dot) = domain.rfind('.') else {
            continue;
        };
        let tld = &domain[dot + 1..];
        if tld.chars().count() < 2 || !tld.chars().all(char::is_alphabetic) || dot == 0 {
            continue;
        }
        let tld_start = end - tld.chars().count() - 1;
        for (k, h) in hide.iter_mut().enumerate().take(tld_start).skip(start + 1) {
            if k != at {
                *h = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> MaskPatterns {
        MaskPatterns {
            cards: true,
            phones: true,
            emails: true,
        }
    }

    fn m(s: &str) -> String {
        mask_text(s, None, &all()).map_or(s.to_string(), |(t, _)| t)
    }

    #[test]
    fn absurd_entity_offsets_do_not_overflow() {
        let ents = json!([{"type": "email", "offset": 9, "length": u64::MAX}]);
        let (t, e) = mask_text("write to a@b.co", Some(&ents), &all()).unwrap();
        assert_eq!(t, m("write to a@b.co"));
        assert_eq!(e, json!([]), "the masked e-mail's entity is dropped");
    }

    #[test]
    fn cards_are_luhn_checked() {
        assert_eq!(
            m("card 4111 1111 1111 1111 ok"),
            "card •••• •••• •••• 1111 ok"
        );
        assert_eq!(m("4539578763621486"), "••••••••••••1486");
        // Same shape, wrong checksum: an order number, not a card.
        assert_eq!(m("order 4111 1111 1111 1112"), "order 4111 1111 1111 1112");
        assert_eq!(m("1234567812345678"), "1234567812345678");
    }

    #[test]
    fn phones_and_emails() {
        assert_eq!(m("call +1 (555) 123-4567"), "call +• (•••) •••-••67");
        assert_eq!(
            m("mail john.doe@example.com."),
            "mail j•••••••@•••••••.com."
        );
        assert_eq!(m("on 2024-01-15 at 10:30"), "on 2024-01-15 at 10:30");
        assert_eq!(m("nothing here @ all"), "nothing here @ all");
    }

    #[test]
    fn only_enabled_patterns_and_entities_keep_offsets() {
        let only_mail = MaskPatterns {
            emails: true,
            ..Default::default()
        };
        assert!(mask_text("+1 555 123 4567", None, &only_mail).is_none());
        let ents = json!([{"type": "bold", "offset": 0, "length": 2},
            {"type": "email", "offset": 6, "length": 7}]);
        let (t, e) = mask_text("🙂 hi a@b.io", Some(&ents), &only_mail).unwrap();
        assert_eq!(t, "🙂 hi a@•.io");
        assert_eq!(
            t.encode_utf16().count(),
            "🙂 hi a@b.io".encode_utf16().count()
        );
        assert_eq!(e, json!([{"type": "bold", "offset": 0, "length": 2}]));
    }

    #[test]
    fn items_are_masked_in_place() {
        let mut item = json!({"type": "photo", "file_id": "f", "caption": "a@example.org"});
        assert!(mask_item(&mut item, &all()));
        assert_eq!(item["caption"], "a@•••••••.org");
        let mut plain = json!({"type": "text", "text": "hello"});
        assert!(!mask_item(&mut plain, &all()));
    }
}
