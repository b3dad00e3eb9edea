//! The keyword syntax shared by `PRIVATE_KEYWORDS` and `RESTRICTED_KEYWORDS`.
//!
//! `"word1", "word2", ["word3", "word4"], ["word5", "~word6"]` means
//! word1 OR word2 OR (word3 AND word4) OR (word5 AND NOT word6). Matching is a
//! case-insensitive substring test, so `"operator"` also matches "Operator, please!".
//! `OFF` (any case) or an empty value clears the list.

use std::fmt;

/// One term of a group: a lower-cased needle, possibly negated with `~`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// The needle, already lower-cased so matching does not redo it per message.
    pub word: String,
    /// `~word`: the group matches only if the word is absent.
    pub negated: bool,
}

/// A parsed keyword expression: an OR of AND-groups.
///
/// Kept as a typed value (not the raw string) so a bad expression is rejected when it is
/// set, not when the first user message arrives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keywords {
    groups: Vec<Vec<Term>>,
}

/// Why a keyword expression was rejected; the message says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeywordsError(String);

impl Keywords {
    /// The empty expression (`OFF`): the relay treats it as "feature disabled".
    pub fn off() -> Self {
        Self::default()
    }

    /// True when no keyword is configured, so callers can tell "off" from "no match".
    pub fn is_off(&self) -> bool {
        self.groups.is_empty()
    }

    /// The OR-of-AND groups, for callers that want to explain a match.
    pub fn groups(&self) -> &[Vec<Term>] {
        &self.groups
    }

    /// Parses the keyword syntax. Bare words (without quotes) are accepted for convenience
    /// when typed by an admin in `/set`; quotes are needed only for commas, brackets or
    /// leading/trailing spaces.
    pub fn parse(input: &str) -> Result<Self, KeywordsError> {
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("off") {
            return Ok(Self::off());
        }
        let mut p = Parser {
            chars: trimmed.chars().collect(),
            pos: 0,
        };
        let mut groups = Vec::new();
        loop {
            p.skip_ws();
            if p.peek() == Some('[') {
                p.pos += 1;
                let mut group = Vec::new();
                loop {
                    p.skip_ws();
                    if p.peek() == Some(']') {
                        break;
                    }
                    group.push(p.term()?);
                    p.skip_ws();
                    match p.peek() {
                        Some(',') => p.pos += 1,
                        Some(']') => {}
                        Some(c) => {
                            return Err(p.err(&format!("expected ',' or ']' but found '{c}'")))
                        }
                        None => return Err(p.err("missing ']'")),
                    }
                }
                p.pos += 1; // ']'
                if group.is_empty() {
                    return Err(p.err("empty group []"));
                }
                if group.iter().all(|t| t.negated) {
                    // Allowed, but it matches nearly everything: keep it, it is the admin's call.
                }
                groups.push(group);
            } else {
                groups.push(vec![p.term()?]);
            }
            p.skip_ws();
            match p.peek() {
                None => break,
                Some(',') => {
                    p.pos += 1;
                    p.skip_ws();
                    if p.peek().is_none() {
                        break; // tolerate a trailing comma
                    }
                }
                Some(c) => return Err(p.err(&format!("expected ',' but found '{c}'"))),
            }
        }
        Ok(Self { groups })
    }

    /// Whether `text` matches the expression. An `OFF` expression matches nothing.
    pub fn matches(&self, text: &str) -> bool {
        if self.groups.is_empty() {
            return false;
        }
        let hay = text.to_lowercase();
        self.groups
            .iter()
            .any(|g| g.iter().all(|t| hay.contains(t.word.as_str()) != t.negated))
    }
}

impl fmt::Display for Keywords {
    /// Renders the canonical form, which [`Keywords::parse`] reads back unchanged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.groups.is_empty() {
            return f.write_str("OFF");
        }
        let quote = |t: &Term| {
            let mut s = String::from("\"");
            if t.negated {
                s.push('~');
            }
            for c in t.word.chars() {
                if c == '"' || c == '\\' {
                    s.push('\\');
                }
                s.push(c);
            }
            s.push('"');
            s
        };
        let parts: Vec<String> = self
            .groups
            .iter()
            .map(|g| {
                if g.len() == 1 {
                    quote(&g[0])
                } else {
                    format!("[{}]", g.iter().map(quote).collect::<Vec<_>>().join(", "))
                }
            })
            .collect();
        f.write_str(&parts.join(", "))
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn err(&self, msg: &str) -> KeywordsError {
        KeywordsError(format!("keywords: {msg} at position {}", self.pos + 1))
    }

    /// A quoted string (with `\"` and `\\` escapes) or a bare word up to `,` / `]`.
    fn term(&mut self) -> Result<Term, KeywordsError> {
        self.skip_ws();
        let mut negated = false;
        if self.peek() == Some('~') {
            negated = true;
            self.pos += 1;
        }
        let raw = match self.peek() {
            Some('"') => {
                self.pos += 1;
                let mut s = String::new();
                loop {
                    match self.peek() {
                        None => return Err(self.err("unterminated quote")),
                        Some('"') => {
                            self.pos += 1;
                            break;
                        }
                        Some('\\') => {
                            self.pos += 1;
                            match self.peek() {
                                Some(c) => {
                                    s.push(c);
                                    self.pos += 1;
                                }
                                None => return Err(self.err("unterminated quote")),
                            }
                        }
                        Some(c) => {
                            s.push(c);
                            self.pos += 1;
                        }
                    }
                }
                s
            }
            Some('[') => return Err(self.err("nested '[' is not allowed")),
            Some(',') | Some(']') | None => return Err(self.err("expected a word")),
            _ => {
                let mut s = String::new();
                while let Some(c) = self.peek() {
                    if c == ',' || c == ']' || c == '[' || c == '"' {
                        break;
                    }
                    s.push(c);
                    self.pos += 1;
                }
                s.trim_end().to_string()
            }
        };
        let (word, negated) = match raw.strip_prefix('~') {
            Some(rest) if !negated => (rest.to_string(), true),
            _ => (raw, negated),
        };
        if word.trim().is_empty() {
            return Err(self.err("empty word"));
        }
        Ok(Term {
            word: word.to_lowercase(),
            negated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let k = Keywords::parse(r#""word1", "word2", ["word3", "word4"], ["word5", "~word6"]"#)
            .unwrap();
        assert!(k.matches("this has WORD1"));
        assert!(k.matches("word2"));
        assert!(!k.matches("word3 only"));
        assert!(k.matches("word4 and Word3"));
        assert!(k.matches("word5 alone"));
        assert!(!k.matches("word5 with word6"));
        assert!(!k.matches("nothing"));
    }

    #[test]
    fn off_and_empty() {
        assert!(Keywords::parse("OFF").unwrap().is_off());
        assert!(Keywords::parse(" off ").unwrap().is_off());
        assert!(Keywords::parse("").unwrap().is_off());
        assert!(!Keywords::off().matches("anything"));
        assert_eq!(Keywords::off().to_string(), "OFF");
    }

    #[test]
    fn bare_words_and_unicode_case() {
        let k = Keywords::parse("operator, /help, [Оператор, ~бот]").unwrap();
        assert!(k.matches("Need an OPERATOR"));
        assert!(k.matches("/help"));
        assert!(k.matches("позовите ОПЕРАТОРА"));
        assert!(!k.matches("оператор или бот"));
    }

    #[test]
    fn round_trip() {
        let src = r#""a b", ["c", "~d"], "q\"uote""#;
        let k = Keywords::parse(src).unwrap();
        let again = Keywords::parse(&k.to_string()).unwrap();
        assert_eq!(k, again);
        assert_eq!(k.to_string(), r#""a b", ["c", "~d"], "q\"uote""#);
    }

    #[test]
    fn errors_are_clear() {
        for bad in [
            r#""open"#,
            "[a, b",
            "[]",
            "a, [b, [c]]",
            r#""""#,
            "a b \"c\"",
        ] {
            let e = Keywords::parse(bad).unwrap_err();
            assert!(e.to_string().starts_with("keywords:"), "{bad}: {e}");
        }
    }
}
