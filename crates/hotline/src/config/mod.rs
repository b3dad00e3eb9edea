//! Configuration: one TOML file plus environment overrides, validated as a whole.
//!
//! Environment variables win over the file so that secrets and deployment-specific
//! values can stay out of it: `HOTLINE_DATABASE_URL`, `HOTLINE_HTTP_LISTEN` and
//! `HOTLINE_<NAME>_TOKEN` (connection name upper-cased, `-` as `_`). Every key and variable
//! is described in `docs/configuration.md`; [`keys`] lists them from these very structs, and
//! a test holds the document to that list.

pub mod keys;
mod keywords;
mod params;
mod targets;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::logging::LogFormat;
pub use keywords::{Keywords, KeywordsError, Term};
pub use params::{
    apply_overrides, is_builtin_greeting, welcome_warning, HideInfo, MaskPatterns, ParamError,
    Params, Webhook, DEFAULT_WELCOME, MAX_RECAP, PARAM_NAMES, TELEGRAM_SERVICE_ID, WEBHOOK_EVENTS,
};
pub use targets::{non_public, IpRange, WebhookTargets};

/// Default database: a SQLite file next to where the server runs.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://hotline.db";
/// Default public Bot API server.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
/// Default grace period of a rotated-out webhook signing secret (`webhooks.secret_grace_secs`).
pub const DEFAULT_SECRET_GRACE: Duration = Duration::from_secs(24 * 3600);

/// Compares secrets without an early exit (webhook secret tokens, gateway tokens).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A secret string (bot token, webhook secret) whose `Debug`/`Display` never reveal it,
/// so it can sit inside structs that get logged.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for the few places that must send it (URL building, headers).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What went wrong while loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file (or a `token_file`) could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown/mistyped keys.
    #[error("invalid config syntax: {0}")]
    Syntax(#[from] toml::de::Error),
    /// The file parsed but some values are wrong; every problem is listed.
    #[error("invalid configuration:\n{}", .0.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<ConfigIssue>),
}

/// One validation problem, located by connection and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The connection name (or index when the name itself is bad); `None` for top-level keys.
    pub connection: Option<String>,
    /// The field, e.g. `group_id` or `params.AUTOCLOSE`.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.connection {
            Some(c) => write!(f, "connection \"{c}\": {}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

/// Rate limits Telegram imposes, used by the outbox scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Messages per second across the whole bot.
    pub bot_per_second: u32,
    /// Messages per second into one private chat.
    pub private_per_second: u32,
    /// Messages per minute into one group (all topics share it).
    pub group_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            bot_per_second: 30,
            private_per_second: 1,
            group_per_minute: 20,
        }
    }
}

/// HTTP server settings (webhook intake, gateway, API, health) and the limits that keep
/// the port answering under a connection flood (docs/security.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the other instances on the same database reach this one (`http.advertise`): a
    /// base URL such as `http://10.0.0.5:8080`. Stored in the leases this instance holds, so
    /// a non-owner can forward a parallel bot's gateway calls to the owner. `None`: the
    /// bound listen address, unless it is unspecified (`0.0.0.0`, `[::]`), which no other
    /// machine can use (see [`HttpConfig::advertised`]).
    pub advertise: Option<String>,
    /// Time for a request's line and headers to arrive; a kept-alive connection waiting
    /// for its next request is closed after it too (`header_timeout_secs`).
    pub header_timeout: Duration,
    /// A request body must bring at least `body_min_rate` bytes per second, measured over
    /// windows of `body_window`: a stalled or dripping upload is cut, a 50 MB upload at
    /// any ordinary speed is not (`body_min_rate`, bytes per second).
    pub body_min_rate: u64,
    /// See [`HttpConfig::body_min_rate`] (`body_window_secs`).
    pub body_window: Duration,
    /// A connection on which nothing moves either way while no request is being handled
    /// (a client that stops reading its answer, an idle HTTP/2 connection) is closed after
    /// this (`idle_timeout_secs`).
    pub idle_timeout: Duration,
    /// Connections open at once; beyond it the connection that has waited longest
    /// without a request in progress is closed to make room (`max_connections`).
    pub max_connections: usize,
}

impl HttpConfig {
    /// The base URL other instances reach this one at, given the address the port was
    /// bound to (which resolves a port `0`): `http.advertise` when set, else `http://` and
    /// the bound address; `None` when neither can be used by another machine (bound to an
    /// unspecified address and no `http.advertise`).
    pub fn advertised(&self, bound: SocketAddr) -> Option<String> {
        if let Some(a) = &self.advertise {
            return Some(a.clone());
        }
        (!bound.ip().is_unspecified()).then(|| format!("http://{bound}"))
    }
}

/// Reads `http.advertise`: `host:port` or an `http(s)://host:port` URL without a path;
/// returns the base URL (`http://` added when no scheme was given, no trailing slash).
fn parse_advertise(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let url = if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    };
    let bad = || format!("\"{s}\" is not an address like 10.0.0.5:8080 or http://hotline-1:8080");
    let uri: axum::http::Uri = url.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let path_ok = uri
        .path_and_query()
        .is_none_or(|p| p.as_str() == "/" || p.as_str().is_empty());
    match uri.authority() {
        Some(a) if scheme_ok && path_ok && !a.host().is_empty() && !a.as_str().contains('@') => {
            if a.host()
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_unspecified())
                || a.host() == "[::]"
            {
                return Err(format!(
                    "\"{s}\" is unspecified: other instances cannot reach it; give this host's address"
                ));
            }
            Ok(url)
        }
        _ => Err(bad()),
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            advertise: None,
            header_timeout: Duration::from_secs(10),
            body_min_rate: 8 * 1024,
            body_window: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

/// How updates arrive from Telegram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Long polling with `getUpdates` (default; works behind NAT).
    Polling,
    /// Telegram pushes to `url`; requests must carry `secret` in the secret-token header.
    Webhook {
        /// Public HTTPS URL registered with `setWebhook`.
        url: String,
        /// Value of `X-Telegram-Bot-Api-Secret-Token`.
        secret: Secret,
    },
}

/// A fixed UTC offset used to show times and interpret `/send at ...` for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeZone(pub time::UtcOffset);

impl TimeZone {
    /// Parses `UTC`, `Z`, `+03:00`, `-05:30`, `+3`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("utc") || s == "Z" || s.is_empty() {
            return Some(Self(time::UtcOffset::UTC));
        }
        let s = s.strip_prefix("UTC").unwrap_or(s);
        let (sign, rest) = match s.as_bytes().first()? {
            b'+' => (1i8, &s[1..]),
            b'-' => (-1i8, &s[1..]),
            _ => return None,
        };
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?),
            None => (rest.parse::<i8>().ok()?, 0),
        };
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        time::UtcOffset::from_hms(sign * h, sign * m, 0)
            .ok()
            .map(Self)
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, _) = self.0.as_hms();
        let sign = if self.0.is_negative() { '-' } else { '+' };
        write!(f, "{sign}{:02}:{:02}", h.abs(), m.abs())
    }
}

/// One validated connection: a bot, its backend group and its parameters.
#[derive(Clone, Debug)]
pub struct ConnectionConfig {
    /// Slug used in logs, the database and env variable names.
    pub name: String,
    /// The bot token (never printed).
    pub token: Secret,
    /// The forum supergroup where the team works (General notices, reports, broadcasts).
    pub group_id: i64,
    /// More forum supergroups for topics when the primary one's budget (Telegram's 20
    /// messages a minute per group) is used up: new dialogs go to the group with the least
    /// waiting work and stay there.
    pub overflow_groups: Vec<i64>,
    /// Bot API base URL without trailing slash.
    pub api_url: String,
    /// Polling or webhook.
    pub mode: Mode,
    /// Whether the gateway lets the parallel bot set a plain `http://` webhook on any port
    /// (its backend on an internal network). Off: Telegram's rule, HTTPS on 80/88/443/8443.
    pub gateway_plain_http_webhooks: bool,
    /// Offset for dates shown to the team.
    pub time_zone: TimeZone,
    /// Where outgoing webhooks may go (the server-wide `[webhooks]` table).
    pub webhook_targets: WebhookTargets,
    /// How long a rotated-out signing secret still signs (`webhooks.secret_grace_secs`).
    pub webhook_secret_grace: Duration,
    /// Parameters from the file (runtime `/set` overrides live in the store).
    pub params: Params,
}

/// The whole validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// sqlx connection URL: `sqlite://...` (the default) or `postgres://...`.
    pub database_url: String,
    /// HTTP server settings.
    pub http: HttpConfig,
    /// Telegram rate limits.
    pub limits: Limits,
    /// Log format from the file (`--log-format` and `HOTLINE_LOG_FORMAT` win); `None` = text.
    pub log_format: Option<LogFormat>,
    /// Where outgoing webhooks may go (`[webhooks]`; copied into every connection).
    pub webhook_targets: WebhookTargets,
    /// How long a rotated-out signing secret still signs (`webhooks.secret_grace_secs`).
    pub webhook_secret_grace: Duration,
    /// Connected bots.
    pub connections: Vec<ConnectionConfig>,
    /// The management bot through which owners add connections in Telegram
    /// (`[setup_bot]`, docs/setup-bot.md); `None` when the section is absent.
    pub setup_bot: Option<SetupBotConfig>,
}

/// The setup bot (`[setup_bot]`): its own token, who may talk to it, and the key that
/// encrypts the tokens of the connections it creates, so a copy of the database alone
/// does not hand out bots.
#[derive(Clone, Debug)]
pub struct SetupBotConfig {
    /// The management bot's token (never printed).
    pub token: Secret,
    /// Telegram user ids allowed to use it; everyone else is refused.
    pub owners: Vec<i64>,
    /// Bot API base URL without trailing slash (also used for the connections it creates).
    pub api_url: String,
    /// The 32-byte key of the stored tokens (`secret_key` or `HOTLINE_SECRET_KEY`).
    pub secret_key: SecretKey,
}

/// A 32-byte symmetric key whose `Debug` never reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    /// Reads 64 hexadecimal characters (`openssl rand -hex 32`).
    pub fn parse_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// Wraps raw key bytes (tests, the sandbox).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key bytes, for the cipher only.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    database_url: Option<String>,
    log_format: Option<LogFormat>,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    webhooks: RawWebhooks,
    #[serde(default, rename = "connection")]
    connections: Vec<RawConnection>,
    setup_bot: Option<RawSetupBot>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSetupBot {
    token: Option<String>,
    token_file: Option<PathBuf>,
    #[serde(default)]
    owners: Vec<i64>,
    api_url: Option<String>,
    secret_key: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<String>,
    advertise: Option<String>,
    header_timeout_secs: Option<i64>,
    body_min_rate: Option<i64>,
    body_window_secs: Option<i64>,
    idle_timeout_secs: Option<i64>,
    max_connections: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWebhooks {
    #[serde(default)]
    allow_ranges: Vec<String>,
    secret_grace_secs: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    name: String,
    token: Option<String>,
    token_file: Option<PathBuf>,
    group_id: Option<i64>,
    overflow_groups: Option<Vec<i64>>,
    api_url: Option<String>,
    mode: Option<String>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    gateway_plain_http_webhooks: Option<bool>,
    time_zone: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
}

impl Config {
    /// Loads a file, resolving relative `token_file` paths against its directory and
    /// applying overrides from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Self::parse(&text, base, |k| std::env::var(k).ok())
    }

    /// Parses TOML text with an explicit environment, so tests need not touch the process's.
    pub fn parse(
        text: &str,
        base_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text)?;
        let mut issues = Vec::new();
        let mut issue = |connection: Option<&str>, field: &str, message: String| {
            issues.push(ConfigIssue {
                connection: connection.map(str::to_string),
                field: field.to_string(),
                message,
            })
        };

        let database_url = env("HOTLINE_DATABASE_URL")
            .or(raw.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
        let supported = ["sqlite:", "postgres://", "postgresql://"];
        if !supported.iter().any(|p| database_url.starts_with(p)) {
            issue(
                None,
                "database_url",
                format!(
                    "unsupported database \"{}\" (sqlite: or postgres://)",
                    redact_url(&database_url)
                ),
            );
        }

        let mut http = HttpConfig::default();
        if let Some(s) = env("HOTLINE_HTTP_LISTEN").or_else(|| raw.http.listen.clone()) {
            match s.parse::<SocketAddr>() {
                Ok(listen) => http.listen = listen,
                Err(_) => issue(
                    None,
                    "http.listen",
                    format!("\"{s}\" is not an address like 127.0.0.1:8080"),
                ),
            }
        }
        if let Some(s) = env("HOTLINE_HTTP_ADVERTISE").or_else(|| raw.http.advertise.clone()) {
            match parse_advertise(&s) {
                Ok(a) => http.advertise = Some(a),
                Err(message) => issue(None, "http.advertise", message),
            }
        }
        let mut bounded =
            |field: &str, value: Option<i64>, range: std::ops::RangeInclusive<i64>| {
                let v = value?;
                if range.contains(&v) {
                    return Some(v as u64);
                }
                issue(
                    None,
                    field,
                    format!("{v} is out of range: {}–{}", range.start(), range.end()),
                );
                None
            };
        let secs = |v: Option<u64>, default: Duration| v.map_or(default, Duration::from_secs);
        let r = &raw.http;
        http.header_timeout = secs(
            bounded("http.header_timeout_secs", r.header_timeout_secs, 1..=600),
            http.header_timeout,
        );
        http.body_window = secs(
            bounded("http.body_window_secs", r.body_window_secs, 1..=3600),
            http.body_window,
        );
        http.idle_timeout = secs(
            bounded("http.idle_timeout_secs", r.idle_timeout_secs, 1..=86_400),
            http.idle_timeout,
        );
        if let Some(v) = bounded("http.body_min_rate", r.body_min_rate, 0..=1 << 30) {
            http.body_min_rate = v;
        }
        if let Some(v) = bounded("http.max_connections", r.max_connections, 16..=1_000_000) {
            http.max_connections = v as usize;
        }

        let mut webhook_targets = WebhookTargets::default();
        for r in &raw.webhooks.allow_ranges {
            match r.parse::<IpRange>() {
                Ok(range) => webhook_targets.allow.push(range),
                Err(e) => issue(None, "webhooks.allow_ranges", e),
            }
        }

        let webhook_secret_grace = match raw.webhooks.secret_grace_secs {
            None => DEFAULT_SECRET_GRACE,
            Some(v) if (0..=259_200).contains(&v) => Duration::from_secs(v as u64),
            Some(v) => {
                issue(
                    None,
                    "webhooks.secret_grace_secs",
                    format!("{v} is out of range: 0–259200 (72 h)"),
                );
                DEFAULT_SECRET_GRACE
            }
        };

        let l = raw.limits;
        for (field, v) in [
            ("limits.bot_per_second", l.bot_per_second),
            ("limits.private_per_second", l.private_per_second),
            ("limits.group_per_minute", l.group_per_minute),
        ] {
            if v == 0 {
                issue(None, field, "must be at least 1".into());
            }
        }

        let setup_bot = raw.setup_bot.map(|rs| {
            let field = |f: &str| format!("setup_bot.{f}");
            let token = resolve_token(
                "HOTLINE_SETUP_BOT_TOKEN",
                env("HOTLINE_SETUP_BOT_TOKEN"),
                rs.token,
                rs.token_file,
                base_dir,
            )
            .map_err(|(f, message)| issue(None, &field(f), message))
            .unwrap_or_default();
            if !token.is_empty() && !looks_like_token(&token) {
                issue(
                    None,
                    &field("token"),
                    "does not look like a bot token (expected <bot id>:<secret>)".into(),
                );
            }
            if rs.owners.is_empty() {
                issue(
                    None,
                    &field("owners"),
                    "missing: the Telegram user ids allowed to use the setup bot".into(),
                );
            } else if let Some(bad) = rs.owners.iter().find(|&&o| o <= 0) {
                issue(
                    None,
                    &field("owners"),
                    format!("{bad} is not a user id: user ids are positive"),
                );
            }
            let api_url = rs.api_url.unwrap_or_else(|| DEFAULT_API_URL.to_string());
            let api_url = api_url.trim_end_matches('/').to_string();
            match reqwest::Url::parse(&api_url) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                _ => issue(
                    None,
                    &field("api_url"),
                    format!("\"{api_url}\" is not an http(s) URL"),
                ),
            }
            let secret_key = match env("HOTLINE_SECRET_KEY").or(rs.secret_key) {
                None => {
                    issue(
                        None,
                        &field("secret_key"),
                        "missing: 64 hex characters (openssl rand -hex 32) in secret_key or \
                         HOTLINE_SECRET_KEY; it encrypts the stored bot tokens"
                            .into(),
                    );
                    None
                }
                Some(k) => {
                    let key = SecretKey::parse_hex(&k);
                    if key.is_none() {
                        // Never echo the value: it is a secret even when malformed.
                        issue(
                            None,
                            &field("secret_key"),
                            "must be 64 hexadecimal characters (32 bytes; openssl rand -hex 32)"
                                .into(),
                        );
                    }
                    key
                }
            };
            SetupBotConfig {
                token: Secret::new(token),
                owners: rs.owners,
                api_url,
                secret_key: secret_key.unwrap_or(SecretKey([0; 32])),
            }
        });

        if raw.connections.is_empty() && setup_bot.is_none() {
            issue(
                None,
                "connection",
                "at least one [[connection]] is required (or a [setup_bot] to add them in Telegram)"
                    .into(),
            );
        }

        let mut names = HashSet::new();
        let mut tokens: Vec<(String, String)> = Vec::new();
        let mut connections = Vec::new();
        for (i, rc) in raw.connections.into_iter().enumerate() {
            let label = if is_slug(&rc.name) {
                rc.name.clone()
            } else {
                format!("#{}", i + 1)
            };
            let c = Some(label.as_str());
            if !is_slug(&rc.name) {
                issue(c, "name", format!("\"{}\" must be 1-32 characters of a-z, 0-9, '-', '_', starting with a letter or digit", rc.name));
            } else if !names.insert(rc.name.clone()) {
                issue(c, "name", "duplicate connection name".into());
            }

            let env_key = format!(
                "HOTLINE_{}_TOKEN",
                rc.name.to_ascii_uppercase().replace('-', "_")
            );
            let token = resolve_token(&env_key, env(&env_key), rc.token, rc.token_file, base_dir)
                .map_err(|(f, message)| issue(c, f, message))
                .ok();
            if let Some(t) = &token {
                if !looks_like_token(t) {
                    issue(
                        c,
                        "token",
                        "does not look like a bot token (expected <bot id>:<secret>)".into(),
                    );
                } else if let Some((other, _)) = tokens.iter().find(|(_, o)| o == t) {
                    issue(
                        c,
                        "token",
                        format!(
                            "same bot as connection \"{other}\"; one bot can be connected once"
                        ),
                    );
                } else {
                    tokens.push((label.clone(), t.clone()));
                }
            }

            match rc.group_id {
                None => issue(
                    c,
                    "group_id",
                    "missing: the id of the forum supergroup (negative, e.g. -1001234567890)"
                        .into(),
                ),
                Some(g) if g >= 0 => issue(
                    c,
                    "group_id",
                    format!("{g} is not a group id: group ids are negative (e.g. -1001234567890)"),
                ),
                Some(_) => {}
            }
            let overflow_groups = rc.overflow_groups.unwrap_or_default();
            for (i, g) in overflow_groups.iter().enumerate() {
                if *g >= 0 {
                    issue(
                        c,
                        "overflow_groups",
                        format!("{g} is not a group id: group ids are negative"),
                    );
                } else if Some(*g) == rc.group_id || overflow_groups[..i].contains(g) {
                    issue(
                        c,
                        "overflow_groups",
                        format!("{g} is listed twice (group_id counts too)"),
                    );
                }
            }

            let api_url = rc.api_url.unwrap_or_else(|| DEFAULT_API_URL.to_string());
            let api_url = api_url.trim_end_matches('/').to_string();
            match reqwest::Url::parse(&api_url) {
                Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
                _ => issue(c, "api_url", format!("\"{api_url}\" is not an http(s) URL")),
            }

            let mode = match rc.mode.as_deref().unwrap_or("polling") {
                "polling" => {
                    if rc.webhook_secret.is_some() || rc.webhook_url.is_some() {
                        issue(
                            c,
                            "mode",
                            "webhook_url/webhook_secret are set but mode is \"polling\"".into(),
                        );
                    }
                    Mode::Polling
                }
                "webhook" => {
                    let url = rc.webhook_url.unwrap_or_default();
                    if !url.starts_with("https://") {
                        issue(
                            c,
                            "webhook_url",
                            "webhook mode needs the public https:// URL Telegram will call".into(),
                        );
                    }
                    let secret = rc.webhook_secret.unwrap_or_default();
                    if secret.is_empty()
                        || secret.len() > 256
                        || !secret
                            .chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
                    {
                        issue(
                            c,
                            "webhook_secret",
                            "webhook mode needs a secret of 1-256 characters A-Z a-z 0-9 _ -"
                                .into(),
                        );
                    }
                    Mode::Webhook {
                        url,
                        secret: Secret::new(secret),
                    }
                }
                other => {
                    issue(
                        c,
                        "mode",
                        format!("\"{other}\" is not \"polling\" or \"webhook\""),
                    );
                    Mode::Polling
                }
            };

            let tz_text = rc.time_zone.unwrap_or_else(|| "UTC".into());
            let time_zone = TimeZone::parse(&tz_text).unwrap_or_else(|| {
                issue(
                    c,
                    "time_zone",
                    format!("\"{tz_text}\" is not a UTC offset like +03:00 or UTC"),
                );
                TimeZone(time::UtcOffset::UTC)
            });

            let mut params = Params::default();
            for (k, v) in &rc.params {
                if let Err(e) = params.set_toml(k, v) {
                    issue(c, &format!("params.{}", k.to_ascii_uppercase()), e.message);
                }
            }

            connections.push(ConnectionConfig {
                name: rc.name,
                token: Secret::new(token.unwrap_or_default()),
                group_id: rc.group_id.unwrap_or_default(),
                overflow_groups,
                api_url,
                mode,
                gateway_plain_http_webhooks: rc.gateway_plain_http_webhooks.unwrap_or(false),
                time_zone,
                webhook_targets: webhook_targets.clone(),
                webhook_secret_grace,
                params,
            });
        }

        if !issues.is_empty() {
            return Err(ConfigError::Invalid(issues));
        }
        Ok(Config {
            database_url,
            http,
            limits: l,
            log_format: raw.log_format,
            webhook_targets,
            webhook_secret_grace,
            connections,
            setup_bot,
        })
    }
}

fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

/// A bot token from, in order, its environment variable, `token` or `token_file` (relative
/// to the configuration file), trimmed; on a problem, the field to blame and why. One rule
/// for `[[connection]]` and `[setup_bot]`, so both read their secrets the same way.
fn resolve_token(
    env_key: &str,
    from_env: Option<String>,
    inline: Option<String>,
    file: Option<PathBuf>,
    base_dir: &Path,
) -> Result<String, (&'static str, String)> {
    let token = match (from_env, inline, file) {
        (Some(t), _, _) => t,
        (None, Some(_), Some(_)) => {
            return Err(("token", "set either token or token_file, not both".into()))
        }
        (None, Some(t), None) => t,
        (None, None, Some(f)) => {
            let p = if f.is_absolute() { f } else { base_dir.join(f) };
            std::fs::read_to_string(&p)
                .map_err(|e| ("token_file", format!("cannot read {}: {e}", p.display())))?
        }
        (None, None, None) => {
            return Err((
                "token",
                format!("missing: set token, token_file or {env_key}"),
            ))
        }
    };
    Ok(token.trim().to_string())
}

/// `<digits>:<secret>`, the shape of every bot token. Checked so that a pasted chat id or
/// a path by mistake fails at start-up, not at the first API call.
pub fn looks_like_token(t: &str) -> bool {
    match t.split_once(':') {
        Some((id, rest)) => {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }
        None => false,
    }
}

/// Hides a password in a database URL before it goes into an error message or
/// `check-config`'s output (a PostgreSQL URL may carry one).
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456:ABC-def_ghi";

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://hotline:s3cret@db:5432/hotline"),
            "postgres://hotline:***@db:5432/hotline"
        );
        assert_eq!(redact_url("sqlite://hotline.db"), "sqlite://hotline.db");
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("."), |_| None)
    }

    fn issues(text: &str) -> Vec<ConfigIssue> {
        match parse(text) {
            Err(ConfigError::Invalid(v)) => v,
            other => panic!("expected validation issues, got {other:?}"),
        }
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(&format!(
            "[[connection]]\nname = \"support\"\ntoken = \"{TOKEN}\"\ngroup_id = -100123\n"
        ))
        .unwrap();
        assert_eq!(c.database_url, "sqlite://hotline.db");
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.limits, Limits::default());
        let conn = &c.connections[0];
        assert_eq!(conn.api_url, "https://api.telegram.org");
        assert_eq!(conn.mode, Mode::Polling);
        assert_eq!(conn.time_zone.to_string(), "+00:00");
        assert_eq!(conn.params, Params::default());
        assert_eq!(conn.token.expose(), TOKEN);
    }

    #[test]
    fn full_config() {
        let text = format!(
            r#"
            database_url = "sqlite:///var/lib/hotline/h.db"
            [http]
            listen = "0.0.0.0:9000"
            header_timeout_secs = 5
            body_min_rate = 0
            max_connections = 100
            [limits]
            bot_per_second = 25
            group_per_minute = 15
            [[connection]]
            name = "shop-1"
            token = "{TOKEN}"
            group_id = -1001
            api_url = "http://127.0.0.1:8081/"
            mode = "webhook"
            webhook_url = "https://hl.example/tg/shop-1"
            webhook_secret = "s3cr3t_-"
            time_zone = "-05:30"
            [connection.params]
            AUTOCLOSE = 0
            PRIVATE_KEYWORDS = ["operator"]
            "#
        );
        let c = parse(&text).unwrap();
        assert_eq!(c.http.header_timeout, Duration::from_secs(5));
        assert_eq!(c.http.body_min_rate, 0);
        assert_eq!(c.http.max_connections, 100);
        assert_eq!(c.http.idle_timeout, HttpConfig::default().idle_timeout);
        assert_eq!(c.limits.bot_per_second, 25);
        assert_eq!(c.limits.private_per_second, 1);
        assert_eq!(c.limits.group_per_minute, 15);
        let conn = &c.connections[0];
        assert_eq!(conn.api_url, "http://127.0.0.1:8081");
        assert!(
            matches!(&conn.mode, Mode::Webhook { url, .. } if url == "https://hl.example/tg/shop-1")
        );
        assert_eq!(conn.time_zone.to_string(), "-05:30");
        assert_eq!(conn.params.autoclose_hours, 0);
        assert!(conn.params.private_keywords.matches("Operator!"));
    }

    #[test]
    fn env_overrides_and_token_sources() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tok"), format!("{TOKEN}\n")).unwrap();
        let text = "[[connection]]\nname = \"a-b\"\ngroup_id = -1\n\n[[connection]]\nname = \"c\"\ntoken_file = \"tok\"\ngroup_id = -2\n";
        let c = Config::parse(text, dir.path(), |k| match k {
            "HOTLINE_A_B_TOKEN" => Some("999:zzz".into()),
            "HOTLINE_DATABASE_URL" => Some("sqlite::memory:".into()),
            "HOTLINE_HTTP_LISTEN" => Some("127.0.0.1:1".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.connections[0].token.expose(), "999:zzz");
        assert_eq!(c.connections[1].token.expose(), TOKEN);
        assert_eq!(c.database_url, "sqlite::memory:");
        assert_eq!(c.http.listen.port(), 1);
    }

    #[test]
    fn overflow_groups_are_more_group_ids() {
        let ok = format!(
            "[[connection]]\nname = \"s\"\ntoken = \"{TOKEN}\"\ngroup_id = -1\noverflow_groups = [-2, -3]\n"
        );
        let c = Config::parse(&ok, Path::new("."), |_| None).unwrap();
        assert_eq!(c.connections[0].overflow_groups, vec![-2, -3]);
        for bad in ["[-2, 7]", "[-2, -2]", "[-1]"] {
            let text = format!(
                "[[connection]]\nname = \"s\"\ntoken = \"{TOKEN}\"\ngroup_id = -1\noverflow_groups = {bad}\n"
            );
            let v = issues(&text);
            assert!(
                v.iter().any(|i| i.field == "overflow_groups"),
                "{bad}: {v:?}"
            );
        }
    }

    #[test]
    fn validation_names_connection_and_field() {
        let text = format!(
            r#"
            [[connection]]
            name = "dup"
            token = "{TOKEN}"
            group_id = 5
            [[connection]]
            name = "dup"
            group_id = -1
            mode = "webhook"
            time_zone = "Mars/Olympus"
            [connection.params]
            AUTOCLOSE = "soon"
            [[connection]]
            name = "Bad Name"
            token = "{TOKEN}"
            group_id = -3
            "#
        );
        let v = issues(&text);
        let has = |conn: &str, field: &str| {
            v.iter()
                .any(|i| i.connection.as_deref() == Some(conn) && i.field == field)
        };
        assert!(has("dup", "group_id"), "{v:?}");
        assert!(has("dup", "name"));
        assert!(has("dup", "token"));
        assert!(has("dup", "webhook_url"));
        assert!(has("dup", "webhook_secret"));
        assert!(has("dup", "time_zone"));
        assert!(has("dup", "params.AUTOCLOSE"));
        assert!(has("#3", "name"));
        assert!(
            has("#3", "token"),
            "same token twice must be rejected: {v:?}"
        );
        let msg = ConfigError::Invalid(v).to_string();
        assert!(
            msg.contains("connection \"dup\": group_id: 5 is not a group id"),
            "{msg}"
        );
    }

    #[test]
    fn the_advertised_address_is_a_base_url_others_can_reach() {
        for (given, base) in [
            ("10.0.0.5:8080", "http://10.0.0.5:8080"),
            ("http://hotline-1:8080/", "http://hotline-1:8080"),
            ("https://h.example.com", "https://h.example.com"),
            ("[fd00::5]:8080", "http://[fd00::5]:8080"),
        ] {
            assert_eq!(parse_advertise(given).as_deref(), Ok(base), "{given}");
        }
        for bad in [
            "0.0.0.0:8080",
            "http://[::]:8080",
            "ftp://h:1",
            "h:1/x",
            "http://u@h:1",
            "",
        ] {
            assert!(parse_advertise(bad).is_err(), "{bad}");
        }
        let mut h = HttpConfig::default();
        let any: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(h.advertised(any), None);
        assert_eq!(
            h.advertised(local).as_deref(),
            Some("http://127.0.0.1:9000")
        );
        h.advertise = Some("http://10.0.0.5:9000".into());
        assert_eq!(h.advertised(any).as_deref(), Some("http://10.0.0.5:9000"));
        let v = issues(&format!(
            "[http]\nadvertise = \"0.0.0.0:1\"\n\
             [[connection]]\nname = \"s\"\ntoken = \"{TOKEN}\"\ngroup_id = -1\n"
        ));
        assert_eq!(v[0].field, "http.advertise", "{v:?}");
    }

    #[test]
    fn http_limits_are_bounded() {
        let v = issues(&format!(
            "[http]\nheader_timeout_secs = 0\nmax_connections = 9223372036854775807\n\
             idle_timeout_secs = -1\nbody_window_secs = 99999\nbody_min_rate = -5\n\
             [[connection]]\nname = \"s\"\ntoken = \"{TOKEN}\"\ngroup_id = -1\n"
        ));
        let fields: Vec<&str> = v.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "http.header_timeout_secs",
                "http.body_window_secs",
                "http.idle_timeout_secs",
                "http.body_min_rate",
                "http.max_connections"
            ],
            "{v:?}"
        );
    }

    #[test]
    fn unknown_keys_and_empty_config_rejected() {
        assert!(matches!(parse("nonsense = 1"), Err(ConfigError::Syntax(_))));
        let v = issues("");
        assert_eq!(v[0].field, "connection");
    }

    #[test]
    fn token_never_printed() {
        let c = parse(&format!(
            "[[connection]]\nname = \"s\"\ntoken = \"{TOKEN}\"\ngroup_id = -1\n"
        ))
        .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("ABC-def"), "{dbg}");
        assert_eq!(format!("{}", c.connections[0].token), "***");
        let bad = issues(
            "[[connection]]\nname = \"s\"\ntoken = \"123:secret-but-has space\"\ngroup_id = -1\n",
        );
        assert!(!format!("{bad:?}").contains("secret-but"));
    }

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn setup_bot_alone_is_enough_and_keeps_its_secrets() {
        let c = parse(&format!(
            "[setup_bot]\ntoken = \"{TOKEN}\"\nowners = [42]\nsecret_key = \"{KEY}\"\n"
        ))
        .unwrap();
        assert!(c.connections.is_empty());
        let s = c.setup_bot.as_ref().unwrap();
        assert_eq!(s.owners, [42]);
        assert_eq!(s.api_url, DEFAULT_API_URL);
        assert_eq!(s.token.expose(), TOKEN);
        assert_eq!(s.secret_key.expose()[1], 0x11);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("ABC-def") && !dbg.contains("aabbcc"), "{dbg}");

        let from_env = Config::parse("[setup_bot]\nowners = [7]\n", Path::new("."), |k| match k {
            "HOTLINE_SETUP_BOT_TOKEN" => Some("5:env".into()),
            "HOTLINE_SECRET_KEY" => Some(KEY.to_uppercase()),
            _ => None,
        })
        .unwrap();
        assert_eq!(from_env.setup_bot.unwrap().token.expose(), "5:env");
    }

    #[test]
    fn setup_bot_problems_are_listed_without_the_key() {
        let v = issues("[setup_bot]\nowners = [0]\nsecret_key = \"not-hex-SECRETVALUE\"\napi_url = \"ftp://x\"\n");
        let fields: Vec<&str> = v.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "setup_bot.token",
                "setup_bot.owners",
                "setup_bot.api_url",
                "setup_bot.secret_key"
            ],
            "{v:?}"
        );
        assert!(!format!("{v:?}").contains("SECRETVALUE"));
        let v = issues(&format!("[setup_bot]\ntoken = \"{TOKEN}\"\n"));
        let fields: Vec<&str> = v.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            ["setup_bot.owners", "setup_bot.secret_key"],
            "{v:?}"
        );
    }

    #[test]
    fn time_zones() {
        assert_eq!(TimeZone::parse("+03:00").unwrap().to_string(), "+03:00");
        assert_eq!(TimeZone::parse("UTC+3").unwrap().to_string(), "+03:00");
        assert_eq!(TimeZone::parse("-09:30").unwrap().to_string(), "-09:30");
        assert_eq!(TimeZone::parse("Z").unwrap().to_string(), "+00:00");
        assert!(TimeZone::parse("+25:00").is_none());
        assert!(TimeZone::parse("Europe/Paris").is_none());
    }
}
