//! Connection parameters (SPEC §3): typed, validated on parse, settable one by one from text.
//!
//! The same text syntax is used by the config file (string values), by `/set NAME VALUE`
//! in General and by the API, so [`Params::set`] is the single parser and [`Params::get`]
//! renders a value back in a form `set` accepts.

use std::collections::BTreeMap;
use std::fmt;

use super::keywords::Keywords;

/// Telegram's service account that forwards channel posts into linked groups.
pub const TELEGRAM_SERVICE_ID: i64 = 777000;

/// Default greeting; `{name}` is the user's first name.
pub const DEFAULT_WELCOME: &str =
    "Hello, {name}! Thanks for your message. Our team will answer here soon.";

/// Whether `text` (a WELCOME or REOPEN_MESSAGE value) is Hotline's built-in one, which is
/// not sent to the users of a bot connected through the gateway (it greets them itself).
pub fn is_builtin_greeting(text: Option<&str>) -> bool {
    matches!(text, Some(t) if t == DEFAULT_WELCOME || t == DEFAULT_REOPEN_MESSAGE)
}

/// What `check-config` says about a WELCOME value and the parallel connection: a text of
/// your own is sent on first contact to every new user, also to the users of a bot
/// connected through the gateway (the built-in greeting is not sent to them).
pub fn welcome_warning(welcome: &str) -> Option<String> {
    let w = welcome.trim();
    if w.is_empty() || w.eq_ignore_ascii_case("off") || is_builtin_greeting(Some(w)) {
        return None;
    }
    Some(
        "warning: WELCOME is your own text, so it is sent on first contact also to the users \
         of a bot connected through the gateway (the built-in greeting is not); set \
         WELCOME = OFF if your bot greets its users itself (docs/parallel-connection.md)"
            .to_string(),
    )
}

/// Most messages a `RECAP` may hold (one topic notice).
pub const MAX_RECAP: u32 = 50;

/// Highest `NEW_TOPICS_PER_HOUR` (more than Telegram lets one group create anyway).
pub const MAX_NEW_TOPICS_PER_HOUR: u32 = 10_000;

/// Default message to a user whose closed dialog reopens; `{name}` is the first name.
pub const DEFAULT_REOPEN_MESSAGE: &str = "Welcome back, {name}! Our team will answer here soon.";

/// Names of every parameter, in the order of SPEC §3 (used for listings and errors), then
/// Hotline's additions (`PROTECT_CONTENT`, closing and reopening messages, `RATING`, the
/// handover's `AUTO_HANDOVER`).
pub const PARAM_NAMES: &[&str] = &[
    "WELCOME",
    "SILENT_MODE",
    "AUTOCLOSE",
    "AUTO_INFO",
    "PRIVATE_KEYWORDS",
    "RESTRICTED_KEYWORDS",
    "WHITE_LIST",
    "IGNORE_CHATS",
    "INTERCEPT_EXTERNAL",
    "REPLY_ONLY",
    "LEAVE_CLOSED",
    "HIDE_INFO",
    "MASK_PATTERNS",
    "EXTENSIONS_ALLOWED",
    "WEBHOOKS",
    "PROTECT_CONTENT",
    "CLOSE_MESSAGE",
    "REOPEN_MESSAGE",
    "RATING",
    "AUTO_HANDOVER",
    "RECAP",
    "REMIND_AFTER",
    "NEW_TOPICS_PER_HOUR",
];

/// Events an outgoing webhook can subscribe to (SPEC §5). Custom commands are `/name`.
pub const WEBHOOK_EVENTS: &[&str] = &[
    "dialog_created",
    "dialog_reopened",
    "dialog_closed",
    "message_received",
    "message_sent",
    "message_intercepted",
    "contact_tagged",
    "broadcast_finished",
    "bot_paused",
    "bot_resumed",
    "dialog_assigned",
    "dialog_waiting",
];

/// A parameter could not be set; the message names the parameter and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ParamError {
    /// The parameter name as given (upper-cased).
    pub name: String,
    /// Human-readable reason, suitable to show to an admin in Telegram.
    pub message: String,
}

impl ParamError {
    fn new(name: &str, message: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            message: message.into(),
        }
    }
}

/// `HIDE_INFO` privacy switches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HideInfo {
    /// Topic titles become pseudonyms instead of the user's name.
    pub name: bool,
    /// No user card in the group; `/info` answers admins privately.
    pub card: bool,
    /// No usernames or profile links anywhere in the group.
    pub links: bool,
}

/// `MASK_PATTERNS`: which personal data is masked in the group copy of user messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaskPatterns {
    /// Payment card numbers.
    pub cards: bool,
    /// Phone numbers.
    pub phones: bool,
    /// E-mail addresses.
    pub emails: bool,
}

impl MaskPatterns {
    /// True when anything is masked, so the relay can skip the scan otherwise.
    pub fn any(&self) -> bool {
        self.cards || self.phones || self.emails
    }
}

/// One outgoing webhook: where to POST and which events to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// Absolute http(s) URL.
    pub url: String,
    /// Event names from [`WEBHOOK_EVENTS`], `/command` for custom commands, or `*` for all.
    pub events: Vec<String>,
}

impl Webhook {
    /// Whether this hook wants `event` (`*` subscribes to every standard event).
    pub fn wants(&self, event: &str) -> bool {
        self.events
            .iter()
            .any(|e| e == event || (e == "*" && !event.starts_with('/')))
    }
}

/// The typed parameters of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Greeting text; `None` when `OFF`.
    pub welcome: Option<String>,
    /// Hide processing errors from users.
    pub silent_mode: bool,
    /// Hours in 🟨 before auto-close; 0 = never.
    pub autoclose_hours: u32,
    /// Post the user card when a topic is created.
    pub auto_info: bool,
    /// Keywords that activate a dialog; off = every message activates.
    pub private_keywords: Keywords,
    /// Incoming messages matching these are not relayed.
    pub restricted_keywords: Keywords,
    /// Only these user/chat ids are relayed; empty = everyone.
    pub white_list: Vec<i64>,
    /// These ids are never relayed.
    pub ignore_chats: Vec<i64>,
    /// Mirror messages sent by the parallel bot backend.
    pub intercept_external: bool,
    /// Only explicit replies to a user message are sent to the user.
    pub reply_only: bool,
    /// New or returning dialogs stay closed and get no welcome.
    pub leave_closed: bool,
    /// Privacy switches.
    pub hide_info: HideInfo,
    /// Masking of personal data in group copies.
    pub mask_patterns: MaskPatterns,
    /// User ids allowed to run admin commands; empty = the group's administrators.
    pub extensions_allowed: Vec<i64>,
    /// Outgoing webhooks.
    pub webhooks: Vec<Webhook>,
    /// Group copies of user messages are sent with `protect_content` (no forwarding or
    /// saving by operators), for teams that handle sensitive data.
    pub protect_content: bool,
    /// Sent to the user when an operator closes the dialog (`/close`, the API); `None` = OFF.
    pub close_message: Option<String>,
    /// Sent instead of WELCOME when a closed dialog's user writes again; `None` = OFF.
    pub reopen_message: Option<String>,
    /// After an operator closes a dialog, ask the user for a 1–5 rating (inline buttons).
    pub rating: bool,
    /// The handover: pause the parallel bot for a user when an operator answers them, and
    /// give the user back to it when the dialog closes.
    pub auto_handover: bool,
    /// With PRIVATE_KEYWORDS: how many messages of the conversation before the trigger (the
    /// user's and the parallel bot's) open the topic as a recap; 0 = none.
    pub recap: u32,
    /// Minutes a dialog may wait for the team (🟪) before General gets a reminder naming
    /// its owner (once per waiting period); 0 = off.
    pub remind_after_minutes: u32,
    /// The spam gate: at most this many new topics per hour per connection; new contacts
    /// over it wait for `/admit` or the next hour's budget; 0 = off.
    pub new_topics_per_hour: u32,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            welcome: Some(DEFAULT_WELCOME.to_string()),
            silent_mode: false,
            autoclose_hours: 48,
            auto_info: true,
            private_keywords: Keywords::off(),
            restricted_keywords: Keywords::off(),
            white_list: Vec::new(),
            ignore_chats: vec![TELEGRAM_SERVICE_ID],
            intercept_external: true,
            reply_only: false,
            leave_closed: false,
            hide_info: HideInfo::default(),
            mask_patterns: MaskPatterns::default(),
            extensions_allowed: Vec::new(),
            webhooks: Vec::new(),
            protect_content: false,
            close_message: None,
            reopen_message: Some(DEFAULT_REOPEN_MESSAGE.to_string()),
            rating: false,
            auto_handover: false,
            recap: 0,
            remind_after_minutes: 0,
            new_topics_per_hour: 0,
        }
    }
}

impl Params {
    /// Parses and sets one parameter from its text form (`/set NAME VALUE`, API, config).
    /// The name is case-insensitive. On error nothing changes.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
        let name = name.trim().to_ascii_uppercase();
        let n = name.as_str();
        let v = value.trim();
        match n {
            "WELCOME" => self.welcome = parse_welcome(n, value)?,
            "SILENT_MODE" => self.silent_mode = parse_bool(n, v)?,
            "AUTOCLOSE" => {
                self.autoclose_hours = if is_off(v) {
                    0
                } else {
                    v.parse::<u32>()
                        .ok()
                        .filter(|h| *h <= 24 * 365)
                        .ok_or_else(|| {
                            ParamError::new(
                                n,
                                format!("expected whole hours from 0 (never) to 8760, got \"{v}\""),
                            )
                        })?
                }
            }
            "AUTO_INFO" => self.auto_info = parse_bool(n, v)?,
            "PRIVATE_KEYWORDS" => {
                self.private_keywords =
                    Keywords::parse(v).map_err(|e| ParamError::new(n, e.to_string()))?
            }
            "RESTRICTED_KEYWORDS" => {
                self.restricted_keywords =
                    Keywords::parse(v).map_err(|e| ParamError::new(n, e.to_string()))?
            }
            "WHITE_LIST" => self.white_list = parse_ids(n, v)?,
            "IGNORE_CHATS" => self.ignore_chats = parse_ids(n, v)?,
            "INTERCEPT_EXTERNAL" => self.intercept_external = parse_bool(n, v)?,
            "REPLY_ONLY" => self.reply_only = parse_bool(n, v)?,
            "LEAVE_CLOSED" => self.leave_closed = parse_bool(n, v)?,
            "HIDE_INFO" => self.hide_info = parse_hide_info(n, v)?,
            "MASK_PATTERNS" => self.mask_patterns = parse_mask(n, v)?,
            "EXTENSIONS_ALLOWED" => {
                self.extensions_allowed = if v.eq_ignore_ascii_case("admins") {
                    Vec::new()
                } else {
                    parse_ids(n, v)?
                }
            }
            "WEBHOOKS" => self.webhooks = parse_webhooks(n, v)?,
            "PROTECT_CONTENT" => self.protect_content = parse_bool(n, v)?,
            "CLOSE_MESSAGE" => self.close_message = parse_welcome(n, value)?,
            "REOPEN_MESSAGE" => self.reopen_message = parse_welcome(n, value)?,
            "RATING" => self.rating = parse_bool(n, v)?,
            "AUTO_HANDOVER" => self.auto_handover = parse_bool(n, v)?,
            "REMIND_AFTER" => {
                self.remind_after_minutes = if is_off(v) {
                    0
                } else {
                    v.parse::<u32>()
                        .ok()
                        .filter(|m| *m <= 60 * 24 * 30)
                        .ok_or_else(|| {
                            ParamError::new(
                                n,
                                format!(
                                    "expected whole minutes from 0 (off) to 43200, got \"{v}\""
                                ),
                            )
                        })?
                }
            }
            "NEW_TOPICS_PER_HOUR" => {
                self.new_topics_per_hour = if is_off(v) {
                    0
                } else {
                    v.parse::<u32>()
                        .ok()
                        .filter(|m| *m <= MAX_NEW_TOPICS_PER_HOUR)
                        .ok_or_else(|| {
                            ParamError::new(
                                n,
                                format!("expected a number of topics from 0 (off) to {MAX_NEW_TOPICS_PER_HOUR}, got \"{v}\""),
                            )
                        })?
                }
            }
            "RECAP" => {
                self.recap = if is_off(v) {
                    0
                } else {
                    v.parse::<u32>()
                        .ok()
                        .filter(|m| *m <= MAX_RECAP)
                        .ok_or_else(|| {
                            ParamError::new(
                                n,
                                format!("expected a number of messages from 0 (off) to {MAX_RECAP}, got \"{v}\""),
                            )
                        })?
                }
            }
            _ => {
                return Err(ParamError::new(
                    n,
                    format!("unknown parameter; known: {}", PARAM_NAMES.join(", ")),
                ))
            }
        }
        Ok(())
    }

    /// Renders one parameter in the text form [`Params::set`] accepts, or `None` for an
    /// unknown name.
    pub fn get(&self, name: &str) -> Option<String> {
        let onoff = |b: bool| if b { "on" } else { "off" }.to_string();
        let ids = |v: &[i64]| {
            if v.is_empty() {
                "OFF".to_string()
            } else {
                v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            }
        };
        Some(match name.trim().to_ascii_uppercase().as_str() {
            "WELCOME" => self.welcome.clone().unwrap_or_else(|| "OFF".to_string()),
            "SILENT_MODE" => onoff(self.silent_mode),
            "AUTOCLOSE" => self.autoclose_hours.to_string(),
            "AUTO_INFO" => onoff(self.auto_info),
            "PRIVATE_KEYWORDS" => self.private_keywords.to_string(),
            "RESTRICTED_KEYWORDS" => self.restricted_keywords.to_string(),
            "WHITE_LIST" => ids(&self.white_list),
            "IGNORE_CHATS" => ids(&self.ignore_chats),
            "INTERCEPT_EXTERNAL" => onoff(self.intercept_external),
            "REPLY_ONLY" => onoff(self.reply_only),
            "LEAVE_CLOSED" => onoff(self.leave_closed),
            "HIDE_INFO" => {
                let h = self.hide_info;
                let parts: Vec<&str> = [(h.name, "name"), (h.card, "card"), (h.links, "links")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, s)| *s)
                    .collect();
                if parts.is_empty() {
                    "OFF".to_string()
                } else {
                    parts.join(", ")
                }
            }
            "MASK_PATTERNS" => {
                let m = self.mask_patterns;
                let parts: Vec<&str> = [
                    (m.cards, "cards"),
                    (m.phones, "phones"),
                    (m.emails, "emails"),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, s)| *s)
                .collect();
                if parts.is_empty() {
                    "OFF".to_string()
                } else {
                    parts.join(", ")
                }
            }
            "EXTENSIONS_ALLOWED" if self.extensions_allowed.is_empty() => "admins".to_string(),
            "EXTENSIONS_ALLOWED" => ids(&self.extensions_allowed),
            "WEBHOOKS" => {
                if self.webhooks.is_empty() {
                    "OFF".to_string()
                } else {
                    self.webhooks
                        .iter()
                        .map(|w| format!("{} {}", w.url, w.events.join(",")))
                        .collect::<Vec<_>>()
                        .join("; ")
                }
            }
            "PROTECT_CONTENT" => onoff(self.protect_content),
            "CLOSE_MESSAGE" => self
                .close_message
                .clone()
                .unwrap_or_else(|| "OFF".to_string()),
            "REOPEN_MESSAGE" => self
                .reopen_message
                .clone()
                .unwrap_or_else(|| "OFF".to_string()),
            "RATING" => onoff(self.rating),
            "AUTO_HANDOVER" => onoff(self.auto_handover),
            "RECAP" => self.recap.to_string(),
            "REMIND_AFTER" => self.remind_after_minutes.to_string(),
            "NEW_TOPICS_PER_HOUR" => self.new_topics_per_hour.to_string(),
            _ => return None,
        })
    }

    /// Every parameter with its rendered value, in SPEC order (for `check-config`, `/set`).
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        PARAM_NAMES
            .iter()
            .map(|n| (*n, self.get(n).unwrap_or_default()))
            .collect()
    }

    /// Sets a parameter from a TOML value of the config file. Native TOML types are
    /// accepted where natural (booleans, integers, arrays, a table for `WEBHOOKS`) and
    /// converted to the text form so that there is one parser.
    pub fn set_toml(&mut self, name: &str, value: &toml::Value) -> Result<(), ParamError> {
        let upper = name.trim().to_ascii_uppercase();
        let text = toml_to_text(&upper, value)?;
        self.set(&upper, &text)
    }

    /// The greeting for a user, with `{name}` substituted; `None` when `WELCOME` is off.
    pub fn welcome_for(&self, first_name: &str) -> Option<String> {
        self.welcome
            .as_ref()
            .map(|w| w.replace("{name}", first_name))
    }

    /// The closing message for a user, with `{name}` substituted; `None` when OFF.
    pub fn close_message_for(&self, first_name: &str) -> Option<String> {
        self.close_message
            .as_ref()
            .map(|w| w.replace("{name}", first_name))
    }

    /// The reopening message for a user, with `{name}` substituted; `None` when OFF.
    pub fn reopen_message_for(&self, first_name: &str) -> Option<String> {
        self.reopen_message
            .as_ref()
            .map(|w| w.replace("{name}", first_name))
    }

    /// Whether `id` may be relayed under `WHITE_LIST` and `IGNORE_CHATS`.
    pub fn admits(&self, id: i64) -> bool {
        (self.white_list.is_empty() || self.white_list.contains(&id))
            && !self.ignore_chats.contains(&id)
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.entries() {
            writeln!(f, "{name} = {value}")?;
        }
        Ok(())
    }
}

fn is_off(v: &str) -> bool {
    v.is_empty()
        || ["off", "none", "no", "false", "0", "-"]
            .iter()
            .any(|o| v.eq_ignore_ascii_case(o))
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ParamError> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "enable" | "enabled" => Ok(true),
        "off" | "false" | "no" | "0" | "disable" | "disabled" => Ok(false),
        _ => Err(ParamError::new(
            name,
            format!("expected on or off, got \"{v}\""),
        )),
    }
}

fn parse_welcome(name: &str, raw: &str) -> Result<Option<String>, ParamError> {
    let v = raw.trim();
    if v.is_empty() {
        return Err(ParamError::new(
            name,
            "empty text; use OFF to disable the greeting",
        ));
    }
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if v.chars().count() > 4000 {
        return Err(ParamError::new(
            name,
            "longer than 4000 characters (Telegram's limit is 4096)",
        ));
    }
    // Only `{name}` is a placeholder; catch typos like `{first_name}` at set time.
    let mut rest = v;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if &after[..close] == "name" => rest = &after[close + 1..],
            Some(close) => {
                return Err(ParamError::new(
                    name,
                    format!(
                        "unknown placeholder {{{}}}; only {{name}} is supported",
                        &after[..close]
                    ),
                ))
            }
            None => {
                return Err(ParamError::new(
                    name,
                    "unclosed '{'; only {name} is supported",
                ))
            }
        }
    }
    Ok(Some(v.to_string()))
}

fn parse_ids(name: &str, v: &str) -> Result<Vec<i64>, ParamError> {
    if is_off(v) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in v
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        let id = part.parse::<i64>().map_err(|_| {
            ParamError::new(
                name,
                format!("\"{part}\" is not a numeric Telegram id (use OFF to clear)"),
            )
        })?;
        if id == 0 {
            return Err(ParamError::new(name, "0 is not a Telegram id"));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn parse_hide_info(name: &str, v: &str) -> Result<HideInfo, ParamError> {
    let mut h = HideInfo::default();
    if is_off(v) {
        return Ok(h);
    }
    for part in v.split([',', ' ']).filter(|p| !p.is_empty()) {
        match part.to_ascii_lowercase().as_str() {
            "name" | "names" => h.name = true,
            "card" | "cards" => h.card = true,
            "links" | "link" => h.links = true,
            "all" => {
                h = HideInfo {
                    name: true,
                    card: true,
                    links: true,
                }
            }
            _ => {
                return Err(ParamError::new(
                    name,
                    format!("unknown item \"{part}\"; use any of name, card, links, all, or OFF"),
                ))
            }
        }
    }
    Ok(h)
}

fn parse_mask(name: &str, v: &str) -> Result<MaskPatterns, ParamError> {
    let mut m = MaskPatterns::default();
    if is_off(v) {
        return Ok(m);
    }
    for part in v.split([',', ' ']).filter(|p| !p.is_empty()) {
        match part.to_ascii_lowercase().as_str() {
            "cards" | "card" => m.cards = true,
            "phones" | "phone" => m.phones = true,
            "emails" | "email" => m.emails = true,
            "on" | "all" | "true" | "yes" => {
                m = MaskPatterns {
                    cards: true,
                    phones: true,
                    emails: true,
                }
            }
            _ => {
                return Err(ParamError::new(
                    name,
                    format!(
                        "unknown item \"{part}\"; use any of cards, phones, emails, all, or OFF"
                    ),
                ))
            }
        }
    }
    Ok(m)
}

/// `URL event,event; URL2 *` — entries separated by `;` or new lines.
fn parse_webhooks(name: &str, v: &str) -> Result<Vec<Webhook>, ParamError> {
    if is_off(v) {
        return Ok(Vec::new());
    }
    let mut out: Vec<Webhook> = Vec::new();
    for entry in v
        .split([';', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (url, events) = entry.split_once(char::is_whitespace).ok_or_else(|| {
            ParamError::new(
                name,
                format!("\"{entry}\": expected \"URL event1,event2\" (or \"URL *\")"),
            )
        })?;
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| ParamError::new(name, format!("\"{url}\" is not a valid URL: {e}")))?;
        if parsed.scheme() != "https" && parsed.scheme() != "http" {
            return Err(ParamError::new(
                name,
                format!("\"{url}\" must be an http(s) URL"),
            ));
        }
        let mut evs = Vec::new();
        for ev in events
            .split([',', ' '])
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let known = ev == "*"
                || WEBHOOK_EVENTS.contains(&ev)
                || (ev.len() > 1
                    && ev.starts_with('/')
                    && ev[1..]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_'));
            if !known {
                return Err(ParamError::new(
                    name,
                    format!(
                        "unknown event \"{ev}\"; use *, /command or one of {}",
                        WEBHOOK_EVENTS.join(", ")
                    ),
                ));
            }
            evs.push(ev.to_string());
        }
        if evs.is_empty() {
            return Err(ParamError::new(name, format!("\"{url}\" has no events")));
        }
        if out.iter().any(|w| w.url == url) {
            return Err(ParamError::new(name, format!("\"{url}\" is listed twice")));
        }
        out.push(Webhook {
            url: url.to_string(),
            events: evs,
        });
    }
    Ok(out)
}

fn toml_to_text(name: &str, value: &toml::Value) -> Result<String, ParamError> {
    use toml::Value as T;
    let scalar = |v: &T| -> Result<String, ParamError> {
        match v {
            T::String(s) => Ok(s.clone()),
            T::Integer(i) => Ok(i.to_string()),
            T::Boolean(b) => Ok(if *b { "on" } else { "off" }.to_string()),
            other => Err(ParamError::new(
                name,
                format!("unexpected {} value", other.type_str()),
            )),
        }
    };
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    match (name, value) {
        ("PRIVATE_KEYWORDS" | "RESTRICTED_KEYWORDS", T::Array(items)) => {
            if items.is_empty() {
                return Ok("OFF".into());
            }
            let mut parts = Vec::new();
            for item in items {
                match item {
                    T::String(s) => parts.push(quote(s)),
                    T::Array(group) => {
                        let words: Result<Vec<String>, ParamError> = group
                            .iter()
                            .map(|w| match w {
                                T::String(s) => Ok(quote(s)),
                                _ => Err(ParamError::new(
                                    name,
                                    "keyword groups must contain strings",
                                )),
                            })
                            .collect();
                        parts.push(format!("[{}]", words?.join(", ")));
                    }
                    _ => {
                        return Err(ParamError::new(
                            name,
                            "keywords must be strings or arrays of strings",
                        ))
                    }
                }
            }
            Ok(parts.join(", "))
        }
        ("WEBHOOKS", T::Table(t)) => {
            let mut entries = Vec::new();
            for (url, evs) in t {
                let evs = match evs {
                    T::Array(a) => a
                        .iter()
                        .map(scalar)
                        .collect::<Result<Vec<_>, _>>()?
                        .join(","),
                    other => scalar(other)?,
                };
                entries.push(format!("{url} {evs}"));
            }
            Ok(if entries.is_empty() {
                "OFF".into()
            } else {
                entries.join("; ")
            })
        }
        (_, T::Array(items)) => {
            if items.is_empty() {
                return Ok("OFF".into());
            }
            Ok(items
                .iter()
                .map(scalar)
                .collect::<Result<Vec<_>, _>>()?
                .join(", "))
        }
        (_, other) => scalar(other),
    }
}

/// Applies a list of `(NAME, value)` overrides (e.g. persisted by `/set`) on top of `self`,
/// reporting the ones that no longer parse instead of failing the whole connection.
pub fn apply_overrides(
    params: &mut Params,
    overrides: &BTreeMap<String, String>,
) -> Vec<ParamError> {
    overrides
        .iter()
        .filter_map(|(k, v)| params.set(k, v).err())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_spec() {
        let p = Params::default();
        assert_eq!(p.autoclose_hours, 48);
        assert!(p.auto_info && p.intercept_external);
        assert!(!p.silent_mode && !p.reply_only && !p.leave_closed);
        assert_eq!(p.ignore_chats, vec![777000]);
        assert!(p.private_keywords.is_off());
        assert!(p.welcome.as_deref().unwrap().contains("{name}"));
        assert!(p.admits(42) && !p.admits(777000));
        assert_eq!(p.get("EXTENSIONS_ALLOWED").unwrap(), "admins");
    }

    #[test]
    fn new_topics_per_hour_is_a_bounded_count() {
        let mut p = Params::default();
        assert_eq!(p.new_topics_per_hour, 0, "off by default");
        p.set("NEW_TOPICS_PER_HOUR", "20").unwrap();
        assert_eq!(p.new_topics_per_hour, 20);
        p.set("NEW_TOPICS_PER_HOUR", "off").unwrap();
        assert_eq!(p.new_topics_per_hour, 0);
        for bad in ["many", "-1", "10001"] {
            let e = p.set("NEW_TOPICS_PER_HOUR", bad).unwrap_err();
            assert!(e.message.contains("0 (off) to 10000"), "{bad}: {e}");
        }
    }

    #[test]
    fn set_get_round_trip_every_param() {
        let mut p = Params::default();
        let cases = [
            ("welcome", "Hi {name}!"),
            ("SILENT_MODE", "on"),
            ("AUTOCLOSE", "0"),
            ("AUTO_INFO", "off"),
            ("PRIVATE_KEYWORDS", r#""operator", ["help", "~bot"]"#),
            ("RESTRICTED_KEYWORDS", r#""spam""#),
            ("WHITE_LIST", "1, 2, -1003"),
            ("IGNORE_CHATS", "OFF"),
            ("INTERCEPT_EXTERNAL", "off"),
            ("REPLY_ONLY", "on"),
            ("LEAVE_CLOSED", "on"),
            ("HIDE_INFO", "name, links"),
            ("MASK_PATTERNS", "cards, emails"),
            ("PROTECT_CONTENT", "on"),
            ("CLOSE_MESSAGE", "Bye {name}!"),
            ("REOPEN_MESSAGE", "OFF"),
            ("RATING", "on"),
            ("AUTO_HANDOVER", "on"),
            ("RECAP", "10"),
            ("NEW_TOPICS_PER_HOUR", "2"),
            ("EXTENSIONS_ALLOWED", "42"),
            (
                "WEBHOOKS",
                "https://a.example/h dialog_created,/ticket; http://b.example *",
            ),
        ];
        for (n, v) in cases {
            p.set(n, v).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
        for n in PARAM_NAMES {
            let rendered = p.get(n).unwrap();
            let mut q = p.clone();
            q.set(n, &rendered)
                .unwrap_or_else(|e| panic!("{n} = {rendered}: {e}"));
            assert_eq!(q, p, "{n} did not round-trip via {rendered}");
        }
        assert_eq!(p.get("WELCOME").unwrap(), "Hi {name}!");
        assert_eq!(p.welcome_for("Ann").unwrap(), "Hi Ann!");
        assert_eq!(p.get("IGNORE_CHATS").unwrap(), "OFF");
        assert!(p.webhooks[0].wants("/ticket") && !p.webhooks[0].wants("dialog_closed"));
        assert!(p.webhooks[1].wants("dialog_closed") && !p.webhooks[1].wants("/x"));
        assert!(p.admits(1) && !p.admits(5));
    }

    #[test]
    fn welcome_warning_only_for_a_text_of_your_own() {
        assert!(welcome_warning(DEFAULT_WELCOME).is_none());
        assert!(welcome_warning("OFF").is_none());
        assert!(welcome_warning("Hi {name}!")
            .unwrap()
            .contains("users of a bot connected through the gateway"));
    }

    #[test]
    fn errors_name_the_parameter() {
        let mut p = Params::default();
        let before = p.clone();
        for (n, v, needle) in [
            ("AUTOCLOSE", "soon", "whole hours"),
            ("SILENT_MODE", "maybe", "on or off"),
            ("WHITE_LIST", "1, bob", "\"bob\""),
            ("WELCOME", "Hi {first}", "{first}"),
            ("WELCOME", "  ", "OFF"),
            ("HIDE_INFO", "face", "face"),
            ("WEBHOOKS", "ftp://x y", "http"),
            ("WEBHOOKS", "https://x nope", "nope"),
            ("PRIVATE_KEYWORDS", "[a", "]"),
            ("NOPE", "1", "unknown parameter"),
        ] {
            let e = p.set(n, v).unwrap_err();
            assert_eq!(e.name, n);
            assert!(e.to_string().contains(needle), "{n}={v}: {e}");
        }
        assert_eq!(p, before, "failed sets must not change anything");
    }

    #[test]
    fn toml_native_values() {
        let t: toml::Table = toml::from_str(
            r#"
            SILENT_MODE = true
            AUTOCLOSE = 12
            PRIVATE_KEYWORDS = ["operator", ["word5", "~word6"]]
            WHITE_LIST = [1, 2]
            HIDE_INFO = ["card"]
            WEBHOOKS = { "https://h.example/x" = ["dialog_created", "dialog_closed"] }
            "#,
        )
        .unwrap();
        let mut p = Params::default();
        for (k, v) in &t {
            p.set_toml(k, v).unwrap();
        }
        assert!(p.silent_mode);
        assert_eq!(p.autoclose_hours, 12);
        assert!(p.private_keywords.matches("OPERATOR pls"));
        assert!(!p.private_keywords.matches("word5 word6"));
        assert_eq!(p.white_list, vec![1, 2]);
        assert!(p.hide_info.card && !p.hide_info.name);
        assert_eq!(
            p.webhooks[0].events,
            vec!["dialog_created", "dialog_closed"]
        );
    }

    #[test]
    fn overrides_report_bad_entries() {
        let mut p = Params::default();
        let mut o = BTreeMap::new();
        o.insert("AUTOCLOSE".to_string(), "5".to_string());
        o.insert("SILENT_MODE".to_string(), "perhaps".to_string());
        let errs = apply_overrides(&mut p, &o);
        assert_eq!(p.autoclose_hours, 5);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].name, "SILENT_MODE");
    }
}
