//! Segments: a small expression language over contacts, shared by `/send`, `/export` and the
//! API, compiled to a parameterised SQL `WHERE` clause so the database does the filtering.
//!
//! ```text
//! expr    := and ('|' and)*
//! and     := unary ('&' unary)*
//! unary   := '!' unary | '(' expr ')' | atom
//! atom    := TAG | tag:TAG | lang:CODE | blocked | banned | open | all
//!          | assignee:(@USERNAME | USER_ID | none)
//!          | (seen|last|first) (<|<=|>|>=|=) (N(h|d|w) | YYYY-MM-DD)
//! ```
//! `vip & !churned`, `(lead | trial) & lang:de`, `seen<7d` (wrote in the last 7 days),
//! `first>2026-01-01` (first seen after that day, in the connection's time zone),
//! `last>30d` (silent for more than 30 days). `seen` and `last` both mean the last message
//! (or the first contact when there was none). Tags are case-insensitive; an unknown tag is
//! an error, so a typo never silently selects nobody; so is an `assignee:@name` Hotline does
//! not know. Errors carry a 1-based position.

use std::collections::HashMap;
use std::fmt;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::store::UnixMs;

/// A parse or compile error, pointing at the offending place of the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentError {
    /// 1-based character position in the expression.
    pub pos: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at position {}: {}", self.pos, self.message)
    }
}

impl std::error::Error for SegmentError {}

impl SegmentError {
    fn at(pos: usize, message: impl Into<String>) -> Self {
        Self {
            pos,
            message: message.into(),
        }
    }

    /// The expression with a caret under the error, for monospaced display.
    pub fn pointer(&self, src: &str) -> String {
        format!("{src}\n{}^", " ".repeat(self.pos.saturating_sub(1)))
    }
}

/// Which contact time a comparison reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    /// First seen.
    First,
    /// Last message (or first seen when none).
    Last,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=`
    Eq,
}

/// The right side of a time comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeValue {
    /// An age: `7d` is "7 days ago".
    Ago(i64),
    /// A calendar day in the connection's time zone.
    Day(Date),
}

/// Whose dialogs `assignee:` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Nobody's: the contact's dialog has no owner (or there is no dialog).
    Nobody,
    /// A team member by user id.
    Id(i64),
    /// A team member by username (lower-cased, without `@`; `pos` for unknown-name errors).
    Username {
        /// Lower-cased username.
        name: String,
        /// Position of the name.
        pos: usize,
    },
}

/// A parsed segment expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Every contact.
    All,
    /// Carries the tag (lower-cased key; `pos` for unknown-tag errors).
    Tag {
        /// Lower-cased tag name.
        key: String,
        /// Position of the name.
        pos: usize,
    },
    /// Language code (prefix: `de` matches `de-AT`).
    Lang(String),
    /// A date or age comparison.
    Time(TimeField, Cmp, TimeValue),
    /// Blocked the bot.
    Blocked,
    /// Banned by the team.
    Banned,
    /// Has an open (activated, not closed) dialog.
    Open,
    /// The contact's dialog is owned by (`/take`, `/assign`) someone, or nobody.
    Assignee(Owner),
    /// Negation.
    Not(Box<Expr>),
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
}

/// What a segment compiles to: a SQL condition over contacts and its values (defined by
/// the store, which runs it).
pub use crate::store::{Bind, Compiled};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Word(String),
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, SegmentError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i + 1;
        let tok = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '&' => Tok::And,
            '|' => Tok::Or,
            '!' => Tok::Not,
            c if is_word_char(c) => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                out.push((pos, Tok::Word(chars[start..i].iter().collect())));
                continue;
            }
            c => return Err(SegmentError::at(pos, format!("unexpected “{c}”"))),
        };
        out.push((pos, tok));
        i += 1;
    }
    Ok(out)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '<' | '>' | '=' | '.' | '@')
}

/// How many conditions a segment may combine. Each is a condition in the SQL `WHERE`,
/// and databases bound an expression's depth (SQLite: 1000): a longer segment would fail
/// in the database instead of being refused with a clear message here.
pub const MAX_CONDITIONS: usize = 100;

/// How deeply `(` and `!` may nest. The parser and the compiler recurse once per level, so
/// a bound keeps `((((…` from exhausting the stack; no real segment comes close.
pub const MAX_DEPTH: usize = 32;

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(p, _)| *p)
    }

    fn or(&mut self) -> Result<Expr, SegmentError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, SegmentError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, SegmentError> {
        let pos = self.pos();
        if matches!(self.peek(), Some(Tok::Not | Tok::LParen)) {
            if self.depth == MAX_DEPTH {
                return Err(SegmentError::at(
                    pos,
                    format!("nested more than {MAX_DEPTH} levels deep"),
                ));
            }
            self.depth += 1;
            let e = self.nested(pos);
            self.depth -= 1;
            return e;
        }
        match self.toks.get(self.at).cloned() {
            Some((p, Tok::Word(w))) => {
                self.at += 1;
                atom(&w, p)
            }
            Some((_, Tok::RParen)) => Err(SegmentError::at(pos, "unexpected “)”")),
            Some((_, Tok::And | Tok::Or)) => Err(SegmentError::at(
                pos,
                "expected a tag or condition before the operator",
            )),
            _ => Err(SegmentError::at(pos, "expected a tag or condition")),
        }
    }

    /// `!unary` or `( expr )`, one level deeper (the current token is `!` or `(`).
    fn nested(&mut self, pos: usize) -> Result<Expr, SegmentError> {
        let negation = self.peek() == Some(&Tok::Not);
        self.at += 1;
        if negation {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        let e = self.or()?;
        if self.peek() != Some(&Tok::RParen) {
            return Err(SegmentError::at(
                self.pos(),
                format!("expected “)” to close the “(” at position {pos}"),
            ));
        }
        self.at += 1;
        Ok(e)
    }
}

/// Parses a segment expression.
pub fn parse(src: &str) -> Result<Expr, SegmentError> {
    let toks = lex(src)?;
    let end = src.chars().count() + 1;
    if toks.is_empty() {
        return Err(SegmentError::at(1, "empty segment"));
    }
    if let Some((pos, _)) = toks
        .iter()
        .filter(|(_, t)| matches!(t, Tok::Word(_)))
        .nth(MAX_CONDITIONS)
    {
        return Err(SegmentError::at(
            *pos,
            format!("more than {MAX_CONDITIONS} conditions"),
        ));
    }
    let mut p = Parser {
        toks,
        at: 0,
        end,
        depth: 0,
    };
    let e = p.or()?;
    if let Some((pos, t)) = p.toks.get(p.at) {
        let message = match t {
            Tok::RParen => "unexpected “)”".to_string(),
            _ => "expected “&” or “|” between conditions".to_string(),
        };
        return Err(SegmentError::at(*pos, message));
    }
    Ok(e)
}

fn valid_tag(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn atom(w: &str, pos: usize) -> Result<Expr, SegmentError> {
    let lower = w.to_lowercase();
    match lower.as_str() {
        "all" | "*" => return Ok(Expr::All),
        "blocked" => return Ok(Expr::Blocked),
        "banned" => return Ok(Expr::Banned),
        "open" => return Ok(Expr::Open),
        _ => {}
    }
    if let Some(code) = lower.strip_prefix("lang:") {
        let ok = !code.is_empty()
            && code.len() <= 12
            && code.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
        if !ok {
            return Err(SegmentError::at(
                pos + 5,
                "expected a language code like de or pt-br",
            ));
        }
        return Ok(Expr::Lang(code.to_string()));
    }
    if let Some(who) = lower.strip_prefix("assignee:") {
        return assignee_atom(who, pos + 9);
    }
    if let Some(name) = lower.strip_prefix("tag:") {
        if !valid_tag(name) {
            return Err(SegmentError::at(pos + 4, "expected a tag name"));
        }
        return Ok(Expr::Tag {
            key: name.to_string(),
            pos: pos + 4,
        });
    }
    for (prefix, field) in [
        ("seen", TimeField::Last),
        ("last", TimeField::Last),
        ("first", TimeField::First),
    ] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            if rest.starts_with(['<', '>', '=']) {
                return time_atom(field, rest, pos + prefix.len());
            }
        }
    }
    if w.contains(['<', '>', '=']) {
        return Err(SegmentError::at(
            pos,
            "comparisons work on seen, last and first (e.g. seen<7d)",
        ));
    }
    if lower.contains(':') {
        return Err(SegmentError::at(
            pos,
            format!("unknown condition “{w}” (lang:CODE, tag:NAME or assignee:@NAME)"),
        ));
    }
    if !valid_tag(&lower) {
        return Err(SegmentError::at(pos, format!("“{w}” is not a tag name")));
    }
    Ok(Expr::Tag { key: lower, pos })
}

/// `assignee:none`, `assignee:@username` or `assignee:USER_ID` (after the prefix at `pos`).
fn assignee_atom(who: &str, pos: usize) -> Result<Expr, SegmentError> {
    if who == "none" {
        return Ok(Expr::Assignee(Owner::Nobody));
    }
    if let Some(name) = who.strip_prefix('@') {
        let ok = !name.is_empty()
            && name.len() <= 32
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(SegmentError::at(pos + 1, "expected a username"));
        }
        return Ok(Expr::Assignee(Owner::Username {
            name: name.to_string(),
            pos: pos + 1,
        }));
    }
    match who.parse::<i64>() {
        Ok(id) if id > 0 => Ok(Expr::Assignee(Owner::Id(id))),
        _ => Err(SegmentError::at(
            pos,
            "expected @username, a user id or none (assignee:@olga, assignee:none)",
        )),
    }
}

fn time_atom(field: TimeField, rest: &str, pos: usize) -> Result<Expr, SegmentError> {
    let (cmp, value) = if let Some(v) = rest.strip_prefix("<=") {
        (Cmp::Le, v)
    } else if let Some(v) = rest.strip_prefix(">=") {
        (Cmp::Ge, v)
    } else if let Some(v) = rest.strip_prefix('<') {
        (Cmp::Lt, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (Cmp::Gt, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (Cmp::Eq, v)
    } else {
        return Err(SegmentError::at(pos, "expected <, <=, >, >= or ="));
    };
    let vpos = pos + (rest.len() - value.len());
    if value.is_empty() {
        return Err(SegmentError::at(
            vpos,
            "expected an age like 7d or a date like 2026-01-31",
        ));
    }
    if let Some(date) = parse_date(value) {
        return Ok(Expr::Time(field, cmp, TimeValue::Day(date)));
    }
    let Some(ms) = parse_age(value) else {
        return Err(SegmentError::at(
            vpos,
            format!("“{value}” is neither an age (30m, 12h, 7d, 4w) nor a date (YYYY-MM-DD)"),
        ));
    };
    if cmp == Cmp::Eq {
        return Err(SegmentError::at(
            vpos - 1,
            "= needs a date; use < or > with an age",
        ));
    }
    Ok(Expr::Time(field, cmp, TimeValue::Ago(ms)))
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    let mut it = s.splitn(3, '-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    if s.len() != 10 {
        return None;
    }
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

/// Parses an age or duration `45s`, `30m`, `12h`, `7d`, `4w` into milliseconds.
pub fn parse_age(s: &str) -> Option<i64> {
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let ms = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        'w' => 7 * 86_400_000,
        _ => return None,
    };
    // Checked before multiplying: `then_some` would compute `n * ms` first and overflow.
    (0..=100_000).contains(&n).then(|| n * ms)
}

/// Unix milliseconds of a day's midnight in `tz`.
pub fn day_start(day: Date, tz: UtcOffset) -> UnixMs {
    let t = PrimitiveDateTime::new(day, Time::MIDNIGHT).assume_offset(tz);
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The calendar day of `at` in `tz`.
pub fn day_of(at: UnixMs, tz: UtcOffset) -> Date {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(tz)
        .date()
}

/// The connection's names a segment refers to: lower-cased tag names and team members'
/// usernames, to their ids.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Tag name → tag id.
    pub tags: HashMap<String, i64>,
    /// Username (lower-cased, without `@`) → user id.
    pub operators: HashMap<String, i64>,
}

/// Compiles `expr` into a condition over `contacts c`. `names` resolves tags and
/// usernames (the connection's); `now` and `tz` resolve ages and dates; placeholders
/// start at `$base`.
pub fn compile(
    expr: &Expr,
    names: &Names,
    now: UnixMs,
    tz: UtcOffset,
    base: usize,
) -> Result<Compiled, SegmentError> {
    let mut c = Compiled {
        sql: String::new(),
        binds: Vec::new(),
    };
    let mut next = base;
    emit(expr, names, now, tz, &mut c, &mut next)?;
    Ok(c)
}

/// The usernames `expr` names team members by (`assignee:@name`), to look up before compiling.
fn usernames(expr: &Expr, out: &mut Vec<String>) {
    match expr {
        Expr::Assignee(Owner::Username { name, .. }) if !out.contains(name) => {
            out.push(name.clone());
        }
        Expr::Not(e) => usernames(e, out),
        Expr::And(a, b) | Expr::Or(a, b) => {
            usernames(a, out);
            usernames(b, out);
        }
        _ => {}
    }
}

fn bind(c: &mut Compiled, next: &mut usize, b: Bind) -> String {
    c.binds.push(b);
    let p = format!("${next}");
    *next += 1;
    p
}

fn emit(
    e: &Expr,
    names: &Names,
    now: UnixMs,
    tz: UtcOffset,
    c: &mut Compiled,
    next: &mut usize,
) -> Result<(), SegmentError> {
    match e {
        Expr::All => c.sql.push_str("1 = 1"),
        Expr::Blocked => c.sql.push_str("c.blocked"),
        Expr::Banned => c.sql.push_str("c.banned"),
        Expr::Open => c.sql.push_str(
            "EXISTS (SELECT 1 FROM dialogs d WHERE d.contact_id = c.id AND d.activated AND d.status <> 'closed')",
        ),
        Expr::Tag { key, pos } => {
            let Some(id) = names.tags.get(key) else {
                return Err(SegmentError::at(
                    *pos,
                    format!("no tag “{key}” (/mark lists the tags)"),
                ));
            };
            let p = bind(c, next, Bind::Int(*id));
            c.sql.push_str(&format!(
                "EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = {p})"
            ));
        }
        Expr::Assignee(owner) => {
            let id = match owner {
                Owner::Nobody => {
                    c.sql.push_str(
                        "NOT EXISTS (SELECT 1 FROM dialogs d WHERE d.contact_id = c.id AND d.assignee IS NOT NULL)",
                    );
                    return Ok(());
                }
                Owner::Id(id) => *id,
                Owner::Username { name, pos } => match names.operators.get(name) {
                    Some(id) => *id,
                    None => {
                        return Err(SegmentError::at(
                            *pos,
                            format!(
                                "no team member @{name} (Hotline knows a member once they wrote in the group)"
                            ),
                        ))
                    }
                },
            };
            let p = bind(c, next, Bind::Int(id));
            c.sql.push_str(&format!(
                "EXISTS (SELECT 1 FROM dialogs d WHERE d.contact_id = c.id AND d.assignee = {p})"
            ));
        }
        Expr::Lang(code) => {
            let exact = bind(c, next, Bind::Text(code.clone()));
            let prefix = bind(c, next, Bind::Text(format!("{code}-%")));
            c.sql.push_str(&format!(
                "(lower(coalesce(c.language_code, '')) = {exact} OR lower(coalesce(c.language_code, '')) LIKE {prefix})"
            ));
        }
        Expr::Time(field, cmp, value) => {
            let col = match field {
                TimeField::First => "c.first_seen_at",
                TimeField::Last => "coalesce(c.last_message_at, c.first_seen_at)",
            };
            match value {
                // `seen<7d`: less than 7 days ago, i.e. after now - 7d.
                TimeValue::Ago(ms) => {
                    let p = bind(c, next, Bind::Int(now - ms));
                    let op = match cmp {
                        Cmp::Lt => ">",
                        Cmp::Le => ">=",
                        Cmp::Gt => "<",
                        Cmp::Ge => "<=",
                        Cmp::Eq => unreachable!("rejected by the parser"),
                    };
                    c.sql.push_str(&format!("{col} {op} {p}"));
                }
                TimeValue::Day(day) => {
                    let start = day_start(*day, tz);
                    let end = start + 86_400_000;
                    let (op, at) = match cmp {
                        Cmp::Lt => ("<", start),
                        Cmp::Le => ("<", end),
                        Cmp::Gt => (">=", end),
                        Cmp::Ge => (">=", start),
                        Cmp::Eq => {
                            let a = bind(c, next, Bind::Int(start));
                            let b = bind(c, next, Bind::Int(end));
                            c.sql.push_str(&format!("({col} >= {a} AND {col} < {b})"));
                            return Ok(());
                        }
                    };
                    let p = bind(c, next, Bind::Int(at));
                    c.sql.push_str(&format!("{col} {op} {p}"));
                }
            }
        }
        Expr::Not(inner) => {
            c.sql.push_str("NOT (");
            emit(inner, names, now, tz, c, next)?;
            c.sql.push(')');
        }
        Expr::And(a, b) | Expr::Or(a, b) => {
            let op = if matches!(e, Expr::And(..)) {
                " AND "
            } else {
                " OR "
            };
            c.sql.push('(');
            emit(a, names, now, tz, c, next)?;
            c.sql.push_str(op);
            emit(b, names, now, tz, c, next)?;
            c.sql.push(')');
        }
    }
    Ok(())
}

/// Parses `src` and compiles it against the connection's tags (read from the store).
pub async fn resolve(
    store: &crate::store::Store,
    connection: crate::store::ConnectionId,
    src: &str,
    now: UnixMs,
    tz: UtcOffset,
    base: usize,
) -> Result<Result<Compiled, SegmentError>, crate::store::StoreError> {
    let expr = match parse(src) {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    let mut names = Names {
        tags: store.tag_keys(connection).await?,
        operators: HashMap::new(),
    };
    let mut wanted = Vec::new();
    usernames(&expr, &mut wanted);
    // One by one, as `/assign @name` finds them: the latest holder of a username.
    for name in wanted {
        if let Some(o) = store.operator_by_username(connection, &name).await? {
            names.operators.insert(name, o.user_id);
        }
    }
    Ok(compile(&expr, &names, now, tz, base))
}

/// [`resolve`] inside a transaction.
pub async fn resolve_tx(
    tx: &mut crate::store::Tx,
    connection: crate::store::ConnectionId,
    src: &str,
    now: UnixMs,
    tz: UtcOffset,
    base: usize,
) -> Result<Result<Compiled, SegmentError>, crate::store::StoreError> {
    let expr = match parse(src) {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    let mut names = Names {
        tags: tx.tag_keys(connection).await?,
        operators: HashMap::new(),
    };
    let mut wanted = Vec::new();
    usernames(&expr, &mut wanted);
    // One by one, as `/assign @name` finds them: the latest holder of a username.
    for name in wanted {
        if let Some(o) = tx.operator_by_username(connection, &name).await? {
            names.operators.insert(name, o.user_id);
        }
    }
    Ok(compile(&expr, &names, now, tz, base))
}

/// A segment error as HTML with a caret under the position.
pub fn segment_error(src: &str, e: &SegmentError) -> String {
    format!(
        "Segment error at position {}: {}\n<pre>{}</pre>",
        e.pos,
        crate::telegram::html(&e.message),
        crate::telegram::html(&e.pointer(src))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> SegmentError {
        parse(src).expect_err(src)
    }

    fn tag(k: &str, pos: usize) -> Expr {
        Expr::Tag { key: k.into(), pos }
    }

    #[test]
    fn precedence_and_grouping() {
        use Expr::*;
        assert_eq!(
            parse("vip & !churned").unwrap(),
            And(
                Box::new(tag("vip", 1)),
                Box::new(Not(Box::new(tag("churned", 8))))
            )
        );
        // & binds tighter than |.
        assert_eq!(
            parse("a | b & c").unwrap(),
            Or(
                Box::new(tag("a", 1)),
                Box::new(And(Box::new(tag("b", 5)), Box::new(tag("c", 9))))
            )
        );
        assert_eq!(
            parse("(lead | trial) & lang:DE").unwrap(),
            And(
                Box::new(Or(Box::new(tag("lead", 2)), Box::new(tag("trial", 9)))),
                Box::new(Lang("de".into()))
            )
        );
        assert_eq!(parse("!!open").unwrap(), Not(Box::new(Not(Box::new(Open)))));
        assert_eq!(parse("ALL").unwrap(), All);
        assert_eq!(parse("tag:open").unwrap(), tag("open", 5));
    }

    #[test]
    fn times() {
        use Expr::Time;
        assert_eq!(
            parse("seen<7d").unwrap(),
            Time(TimeField::Last, Cmp::Lt, TimeValue::Ago(7 * 86_400_000))
        );
        assert_eq!(
            parse("first>2026-01-01").unwrap(),
            Time(
                TimeField::First,
                Cmp::Gt,
                TimeValue::Day(parse_date("2026-01-01").unwrap())
            )
        );
        assert_eq!(
            parse("last>=12h").unwrap(),
            Time(TimeField::Last, Cmp::Ge, TimeValue::Ago(12 * 3_600_000))
        );
    }

    #[test]
    fn errors_point_at_the_position() {
        assert_eq!(err(""), SegmentError::at(1, "empty segment"));
        let e = err("vip & ");
        assert_eq!(e.pos, 7);
        assert!(e.message.contains("expected a tag"), "{e}");
        let e = err("(vip | lead");
        assert_eq!(e.pos, 12);
        assert!(e.message.contains("position 1"), "{e}");
        assert_eq!(err("vip lead").pos, 5);
        assert_eq!(err("vip & )").pos, 7);
        assert_eq!(err("vip)").pos, 4);
        assert_eq!(err("vip # x").pos, 5);
        assert_eq!(err("& vip").pos, 1);
        let e = err("lead & seen<7x");
        assert_eq!(e.pos, 13, "{e}");
        assert!(e.message.contains("7x"));
        assert_eq!(err("first=3d").pos, 6);
        assert_eq!(err("lang:").pos, 6);
        assert_eq!(err("colour:red").pos, 1);
        assert_eq!(err("age>3").pos, 1);
        assert_eq!(err("first>2026-02-30").pos, 7);
        assert_eq!(err("9lives").pos, 1);
        assert_eq!(
            err("vip & !churned)").pointer("vip & !churned)"),
            "vip & !churned)\n              ^"
        );
    }

    #[test]
    fn ages_are_bounded_before_they_are_multiplied() {
        assert_eq!(parse_age("106800000000d"), None);
        assert_eq!(parse_age("9223372036854775807w"), None);
        assert_eq!(parse_age("100000w"), Some(100_000 * 7 * 86_400_000));
        assert_eq!(parse_age("-1d"), None);
        assert!(parse("seen<106800000000d").is_err());
    }

    #[test]
    fn depth_and_size_are_bounded() {
        // Deep nesting is refused before it can exhaust the stack.
        for src in [
            "(".repeat(100_000),
            "!".repeat(100_000),
            "(!".repeat(50_000),
        ] {
            let e = err(&src);
            assert_eq!(e.pos, MAX_DEPTH + 1, "{}", e.message);
            assert!(e.message.contains("nested"), "{e}");
        }
        let deep = format!("{}vip{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(parse(&deep).unwrap(), tag("vip", MAX_DEPTH + 1));
        // A long chain would exceed the database's expression depth.
        let chain = vec!["vip"; MAX_CONDITIONS + 1].join("&");
        let e = err(&chain);
        assert!(e.message.contains("conditions"), "{e}");
        assert_eq!(e.pos, MAX_CONDITIONS * 4 + 1);
        assert!(parse(&vec!["vip"; MAX_CONDITIONS].join("&")).is_ok());
    }

    #[test]
    fn compiles_to_parameterised_sql() {
        let tags = Names {
            tags: HashMap::from([("vip".to_string(), 3), ("churned".to_string(), 4)]),
            operators: HashMap::from([("olga".to_string(), 77)]),
        };
        let now = 1_000_000_000_000;
        let c = compile(
            &parse("vip & !churned | seen<1d").unwrap(),
            &tags,
            now,
            UtcOffset::UTC,
            2,
        )
        .unwrap();
        assert_eq!(
            c.sql,
            "((EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = $2) AND NOT (EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = c.id AND ct.tag_id = $3))) OR coalesce(c.last_message_at, c.first_seen_at) > $4)"
        );
        assert_eq!(
            c.binds,
            vec![Bind::Int(3), Bind::Int(4), Bind::Int(now - 86_400_000)]
        );
        // Dates are days in the connection's time zone.
        let tz = UtcOffset::from_hms(3, 0, 0).unwrap();
        let c = compile(&parse("first=2026-01-02").unwrap(), &tags, now, tz, 1).unwrap();
        let midnight = 1_767_312_000_000 - 3 * 3_600_000; // 2026-01-02T00:00+03:00
        assert_eq!(
            c.binds,
            vec![Bind::Int(midnight), Bind::Int(midnight + 86_400_000)]
        );
        let e = compile(&parse("vip | gold").unwrap(), &tags, now, tz, 1).unwrap_err();
        assert_eq!(e.pos, 7);
        assert!(e.message.contains("no tag “gold”"));
        // Owners: by username (resolved to the id), by id, and nobody.
        let c = compile(
            &parse("assignee:@Olga | assignee:42 & !assignee:none").unwrap(),
            &tags,
            now,
            tz,
            1,
        )
        .unwrap();
        assert_eq!(
            c.sql,
            "(EXISTS (SELECT 1 FROM dialogs d WHERE d.contact_id = c.id AND d.assignee = $1) OR \
             (EXISTS (SELECT 1 FROM dialogs d WHERE d.contact_id = c.id AND d.assignee = $2) AND \
             NOT (NOT EXISTS (SELECT 1 FROM dialogs d WHERE d.contact_id = c.id AND d.assignee IS NOT NULL))))"
        );
        assert_eq!(c.binds, vec![Bind::Int(77), Bind::Int(42)]);
        let e = compile(&parse("vip & assignee:@bob").unwrap(), &tags, now, tz, 1).unwrap_err();
        assert_eq!(e.pos, 17, "{e}");
        assert!(e.message.contains("no team member @bob"), "{e}");
    }

    #[test]
    fn assignee_atoms() {
        use Expr::Assignee;
        assert_eq!(parse("assignee:none").unwrap(), Assignee(Owner::Nobody));
        assert_eq!(parse("ASSIGNEE:42").unwrap(), Assignee(Owner::Id(42)));
        assert_eq!(
            parse("vip & assignee:@Olga_K").unwrap(),
            Expr::And(
                Box::new(tag("vip", 1)),
                Box::new(Assignee(Owner::Username {
                    name: "olga_k".into(),
                    pos: 17
                }))
            )
        );
        for (src, pos) in [
            ("assignee:", 10),
            ("assignee:@", 11),
            ("assignee:@a-b", 11),
            ("assignee:-5", 10),
            ("assignee:olga", 10),
        ] {
            assert_eq!(err(src).pos, pos, "{src}");
        }
        assert!(err("vip@x").message.contains("not a tag name"));
    }
}
