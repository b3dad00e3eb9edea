//! `parse_mode` as Telegram implements it: HTML and MarkdownV2 (and legacy Markdown)
//! parsed into plain text plus entities, with offsets in UTF-16 code units.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};

/// Length of a string in UTF-16 code units, the unit of every entity offset.
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Plain text and its entities after parsing.
pub struct Parsed {
    /// The text with markup removed.
    pub text: String,
    /// MessageEntity objects, ordered by offset.
    pub entities: Vec<Value>,
}

/// Parses `text` in `mode` ("HTML", "MarkdownV2", "Markdown"); other modes are an error.
pub fn parse(text: &str, mode: &str) -> ApiResult<Parsed> {
    match mode.to_ascii_lowercase().as_str() {
        "html" => parse_html(text),
        "markdownv2" => parse_markdown(text, true),
        "markdown" => parse_markdown(text, false),
        _ => Err(ApiError::bad_request(format!(
            "unsupported parse_mode \"{mode}\""
        ))),
    }
}

fn cant_parse(msg: String) -> ApiError {
    ApiError::bad_request(format!("can't parse entities: {msg}"))
}

struct Open {
    tag: String,
    kind: &'static str,
    start: usize,
    extra: Option<(&'static str, String)>,
}

fn entity(kind: &str, offset: usize, length: usize, extra: Option<(&str, String)>) -> Value {
    let mut e = json!({"type": kind, "offset": offset, "length": length});
    if let Some((k, v)) = extra {
        e[k] = Value::String(v);
    }
    e
}

fn finish(text: String, mut entities: Vec<Value>) -> Parsed {
    entities.retain(|e| e["length"].as_u64().unwrap_or(0) > 0);
    entities.sort_by_key(|e| {
        (
            e["offset"].as_u64(),
            std::cmp::Reverse(e["length"].as_u64()),
        )
    });
    Parsed { text, entities }
}

fn html_attr(tag_body: &str, name: &str) -> Option<String> {
    let idx = tag_body.find(&format!("{name}="))?;
    let rest = &tag_body[idx + name.len() + 1..];
    let (quote, rest) = match rest.chars().next()? {
        q @ ('"' | '\'') => (Some(q), &rest[1..]),
        _ => (None, rest),
    };
    let end = match quote {
        Some(q) => rest.find(q)?,
        None => rest.find(char::is_whitespace).unwrap_or(rest.len()),
    };
    Some(unescape_html(&rest[..end]))
}

fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn parse_html(src: &str) -> ApiResult<Parsed> {
    let mut text = String::new();
    let mut len16 = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    let mut entities = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < src.len() {
        let c = bytes[i];
        if c == b'<' {
            let end = src[i..]
                .find('>')
                .map(|e| i + e)
                .ok_or_else(|| cant_parse(format!("Unclosed start tag at byte offset {i}")))?;
            let body = &src[i + 1..end];
            if let Some(name) = body.strip_prefix('/') {
                let name = name.trim().to_ascii_lowercase();
                let open = stack.pop().filter(|o| o.tag == name).ok_or_else(|| {
                    cant_parse(format!(
                        "Unmatched end tag at byte offset {i}, expected \"</{name}>\""
                    ))
                })?;
                let mut e = entity(open.kind, open.start, len16 - open.start, None);
                if let Some((k, v)) = open.extra {
                    e[k] = Value::String(v);
                }
                // <pre><code class="language-x"> merges into one pre entity with a language.
                if open.kind == "code" && stack.last().is_some_and(|o| o.kind == "pre") {
                    if let Some(lang) = e.get("language").cloned() {
                        stack.last_mut().unwrap().extra =
                            lang.as_str().map(|l| ("language", l.to_string()));
                        i = end + 1;
                        continue;
                    }
                }
                entities.push(e);
            } else {
                let name: String = body
                    .split(|ch: char| ch.is_whitespace() || ch == '/')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let (kind, extra): (&'static str, Option<(&'static str, String)>) = match name
                    .as_str()
                {
                    "b" | "strong" => ("bold", None),
                    "i" | "em" => ("italic", None),
                    "u" | "ins" => ("underline", None),
                    "s" | "strike" | "del" => ("strikethrough", None),
                    "tg-spoiler" => ("spoiler", None),
                    "span" if html_attr(body, "class").as_deref() == Some("tg-spoiler") => {
                        ("spoiler", None)
                    }
                    "code" => (
                        "code",
                        html_attr(body, "class").and_then(|c| {
                            c.strip_prefix("language-")
                                .map(|l| ("language", l.to_string()))
                        }),
                    ),
                    "pre" => ("pre", None),
                    "blockquote" if body.contains("expandable") => ("expandable_blockquote", None),
                    "blockquote" => ("blockquote", None),
                    "a" => match html_attr(body, "href") {
                        Some(href) => ("text_link", Some(("url", href))),
                        None => ("text_link", None),
                    },
                    "tg-emoji" => (
                        "custom_emoji",
                        html_attr(body, "emoji-id").map(|id| ("custom_emoji_id", id)),
                    ),
                    _ => {
                        return Err(cant_parse(format!(
                            "Unsupported start tag \"{name}\" at byte offset {i}"
                        )))
                    }
                };
                stack.push(Open {
                    tag: name,
                    kind,
                    start: len16,
                    extra,
                });
            }
            i = end + 1;
        } else if c == b'&' {
            let semi = src[i..].find(';').map(|e| i + e);
            let decoded = semi.and_then(|semi| {
                let name = &src[i + 1..semi];
                let ch = match name {
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "amp" => Some('&'),
                    "quot" => Some('"'),
                    n if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16)
                        .ok()
                        .and_then(char::from_u32),
                    n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
                    _ => None,
                };
                ch.map(|ch| (ch, semi))
            });
            let (ch, next) = decoded.unwrap_or(('&', i));
            text.push(ch);
            len16 += ch.len_utf16();
            i = next + 1;
        } else {
            let ch = src[i..].chars().next().unwrap();
            text.push(ch);
            len16 += ch.len_utf16();
            i += ch.len_utf8();
        }
    }
    if let Some(open) = stack.pop() {
        return Err(cant_parse(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.tag
        )));
    }
    Ok(finish(text, entities))
}

const RESERVED_V2: &str = "_*[]()~`>#+-=|{}.!";

fn parse_markdown(src: &str, v2: bool) -> ApiResult<Parsed> {
    let mut text = String::new();
    let mut len16 = 0usize;
    let mut entities = Vec::new();
    // (marker, kind, start offset, byte position of the marker)
    let mut open: Vec<(&'static str, &'static str, usize, usize)> = Vec::new();
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut k = 0;
    let at = |k: usize, s: &str| src[chars.get(k).map_or(src.len(), |c| c.0)..].starts_with(s);
    while k < chars.len() {
        let (pos, ch) = chars[k];
        if ch == '\\' && k + 1 < chars.len() {
            let next = chars[k + 1].1;
            if v2 || "_*`[".contains(next) {
                text.push(next);
                len16 += next.len_utf16();
                k += 2;
                continue;
            }
        }
        if ch == '`' {
            let fence = at(k, "```");
            let marker = if fence { "```" } else { "`" };
            let start_k = k + marker.len();
            let mut j = start_k;
            let mut body = String::new();
            loop {
                if j >= chars.len() {
                    let kind = if fence { "Pre" } else { "Code" };
                    return Err(cant_parse(format!(
                        "Can't find end of {kind} entity at byte offset {pos}"
                    )));
                }
                if at(j, marker) {
                    break;
                }
                if chars[j].1 == '\\' && v2 && j + 1 < chars.len() {
                    j += 1;
                }
                body.push(chars[j].1);
                j += 1;
            }
            let mut language = None;
            if fence {
                if let Some(nl) = body.find('\n') {
                    let first = body[..nl].trim().to_string();
                    if !first.is_empty() && !first.contains(' ') {
                        language = Some(("language", first));
                    }
                    body = body[nl + 1..].to_string();
                }
            }
            let start = len16;
            text.push_str(&body);
            len16 += utf16_len(&body);
            entities.push(entity(
                if fence { "pre" } else { "code" },
                start,
                len16 - start,
                language,
            ));
            k = j + marker.len();
            continue;
        }
        if ch == '[' {
            // Link text up to the matching ']' then '(url)'.
            open.push(("]", "text_link", len16, pos));
            k += 1;
            continue;
        }
        if ch == ']' && open.last().is_some_and(|o| o.0 == "]") {
            let (_, _, start, _) = open.pop().unwrap();
            if at(k + 1, "(") {
                let rest = &src[chars[k + 1].0 + 1..];
                let close = rest.find(')').ok_or_else(|| {
                    cant_parse(format!("Can't find end of a URL at byte offset {pos}"))
                })?;
                let url = rest[..close].replace("\\)", ")").replace("\\\\", "\\");
                entities.push(entity(
                    "text_link",
                    start,
                    len16 - start,
                    Some(("url", url)),
                ));
                let end_byte = chars[k + 1].0 + 1 + close + 1;
                while k < chars.len() && chars[k].0 < end_byte {
                    k += 1;
                }
            } else {
                k += 1;
            }
            continue;
        }
        let marker: Option<(&'static str, &'static str)> = if v2 {
            if at(k, "||") {
                Some(("||", "spoiler"))
            } else if at(k, "__") {
                Some(("__", "underline"))
            } else {
                match ch {
                    '*' => Some(("*", "bold")),
                    '_' => Some(("_", "italic")),
                    '~' => Some(("~", "strikethrough")),
                    _ => None,
                }
            }
        } else {
            match ch {
                '*' => Some(("*", "bold")),
                '_' => Some(("_", "italic")),
                _ => None,
            }
        };
        if let Some((m, kind)) = marker {
            if let Some(idx) = open.iter().rposition(|o| o.0 == m) {
                let (_, kind, start, _) = open.remove(idx);
                entities.push(entity(kind, start, len16 - start, None));
            } else {
                open.push((m, kind, len16, pos));
            }
            k += m.chars().count();
            continue;
        }
        if v2 && RESERVED_V2.contains(ch) {
            return Err(cant_parse(format!(
                "Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )));
        }
        text.push(ch);
        len16 += ch.len_utf16();
        k += 1;
    }
    if let Some((_, kind, _, pos)) = open.pop() {
        let name = match kind {
            "bold" => "Bold",
            "italic" => "Italic",
            "underline" => "Underline",
            "strikethrough" => "Strikethrough",
            "spoiler" => "Spoiler",
            _ => "TextUrl",
        };
        return Err(cant_parse(format!(
            "Can't find end of {name} entity at byte offset {pos}"
        )));
    }
    Ok(finish(text, entities))
}

/// Entities Telegram detects by itself in text it receives from users:
/// bot commands, @mentions, #hashtags and URLs.
pub fn detect(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut off16 = 0usize;
    let mut at_word_start = true;
    let mut iter = text.char_indices().peekable();
    while let Some((i, ch)) = iter.next() {
        if at_word_start && matches!(ch, '/' | '@' | '#') {
            let rest = &text[i + 1..];
            let word_len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || (ch == '/' && c == '@')))
                .unwrap_or(rest.len());
            if word_len > 0 {
                let kind = match ch {
                    '/' => "bot_command",
                    '@' => "mention",
                    _ => "hashtag",
                };
                let word = &text[i..i + 1 + word_len];
                out.push(json!({"type": kind, "offset": off16, "length": utf16_len(word)}));
                off16 += utf16_len(word);
                while iter.peek().is_some_and(|(j, _)| *j < i + 1 + word_len) {
                    iter.next();
                }
                at_word_start = false;
                continue;
            }
        }
        if at_word_start && (text[i..].starts_with("http://") || text[i..].starts_with("https://"))
        {
            let len = text[i..]
                .find(char::is_whitespace)
                .unwrap_or(text.len() - i);
            let word = &text[i..i + len];
            out.push(json!({"type": "url", "offset": off16, "length": utf16_len(word)}));
            off16 += utf16_len(word);
            while iter.peek().is_some_and(|(j, _)| *j < i + len) {
                iter.next();
            }
            at_word_start = false;
            continue;
        }
        at_word_start = ch.is_whitespace() || "([{,;".contains(ch);
        off16 += ch.len_utf16();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_nested_and_utf16() {
        let p = parse(
            "<b>bold <i>😀it</i></b> &lt;x&gt; <a href=\"https://t.me\">l</a>",
            "HTML",
        )
        .unwrap();
        assert_eq!(p.text, "bold 😀it <x> l");
        assert_eq!(p.entities[0], json!({"type":"bold","offset":0,"length":9}));
        assert_eq!(
            p.entities[1],
            json!({"type":"italic","offset":5,"length":4})
        );
        assert_eq!(
            p.entities[2],
            json!({"type":"text_link","offset":14,"length":1,"url":"https://t.me"})
        );
    }

    #[test]
    fn html_errors_use_telegram_texts() {
        let e = parse("<foo>x</foo>", "HTML").err().unwrap();
        assert_eq!(
            e.description,
            "Bad Request: can't parse entities: Unsupported start tag \"foo\" at byte offset 0"
        );
        let e = parse("<b>x", "HTML").err().unwrap();
        assert!(e
            .description
            .contains("Can't find end tag corresponding to start tag \"b\""));
    }

    #[test]
    fn html_pre_with_language() {
        let p = parse("<pre><code class=\"language-rust\">fn</code></pre>", "HTML").unwrap();
        assert_eq!(
            p.entities,
            vec![json!({"type":"pre","offset":0,"length":2,"language":"rust"})]
        );
    }

    #[test]
    fn markdown_v2() {
        let p = parse(
            "*b* _i_ __u__ ~s~ ||sp|| `c` [t](http://x) \\.",
            "MarkdownV2",
        )
        .unwrap();
        assert_eq!(p.text, "b i u s sp c t .");
        let kinds: Vec<&str> = p
            .entities
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "bold",
                "italic",
                "underline",
                "strikethrough",
                "spoiler",
                "code",
                "text_link"
            ]
        );
        let e = parse("end.", "MarkdownV2").err().unwrap();
        assert_eq!(
            e.description,
            "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'"
        );
        assert!(parse("*open", "MarkdownV2").is_err());
    }

    #[test]
    fn detects_commands_and_mentions() {
        let e = detect("/start abc @bob #tag https://x.y");
        let kinds: Vec<&str> = e.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["bot_command", "mention", "hashtag", "url"]);
        assert_eq!(e[0]["length"], 6);
    }
}
