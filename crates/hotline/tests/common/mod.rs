//! The end-to-end harness: a tg-emulator and a Hotline on ephemeral ports, a temporary
//! database (SQLite, or PostgreSQL with `HOTLINE_TEST_DATABASE=postgres`, see
//! `hotline::store::testdb`), a bot that administers a forum group with an operator, and helpers
//! that act as users and operators and wait on transcripts with a deadline.
//!
//! Limits are Telegram's (30 messages/s per bot, 1/s per private chat, 20/min per group), in
//! the emulator and in Hotline alike, with both clocks [`TIME_SCALE`] times faster: the
//! dynamics of production (a burst of new dialogs queues behind the group's budget, a 429
//! pauses the bot) in a tenth of the time. A test that must not meet them says why with
//! [`spawn_app_unlimited`].

#![allow(dead_code)]

pub mod instances;

use std::path::Path;
use std::time::Duration;

use hotline::app::{self, Running, Tuning};
use hotline::config::Config;
use hotline::outbox::OutboxConfig;
use hotline::store::testdb::TestDatabase;
use serde_json::{json, Value};
use tg_emulator::control::Place;
use tg_emulator::{Control, Emulator};

/// How long a test waits for something before failing.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// A running emulator + Hotline.
pub struct TestApp {
    pub emu: Emulator,
    pub ctl: Control,
    pub bot: i64,
    pub token: String,
    pub group: i64,
    /// The connection's overflow groups ([`spawn_app_with_overflow`]), in config order.
    pub overflow: Vec<i64>,
    pub operator: i64,
    pub app: Option<Running>,
    pub config: Config,
    /// The clock scale of Hotline's limits, kept across restarts (see [`TIME_SCALE`]).
    pub scale: f64,
    pub dir: tempfile::TempDir,
    /// The database Hotline runs on (dropped last: after Hotline stopped).
    pub db: TestDatabase,
}

/// How many times faster than Telegram's the clock of the harness runs, in the emulator's
/// limits and in Hotline's alike: every window shrinks by it, the counts stay (20 messages
/// per 6 s per group, 1 per 100 ms per private chat, 30 per 100 ms per bot).
pub const TIME_SCALE: f64 = 10.0;

/// Telegram's limits, as the emulator of the harness enforces them (scaled by [`TIME_SCALE`]).
pub fn telegram_limits() -> tg_emulator::Limits {
    tg_emulator::Limits::telegram().scaled(TIME_SCALE)
}

/// Fast retries and Telegram's limits on the clock of the harness ([`TIME_SCALE`]).
pub fn test_tuning(config: &Config) -> Tuning {
    test_tuning_scaled(config, TIME_SCALE)
}

/// [`test_tuning`] with Hotline's clock `scale` times faster than Telegram's.
pub fn test_tuning_scaled(config: &Config, scale: f64) -> Tuning {
    let mut outbox = OutboxConfig::new(config.limits);
    outbox.backoff_base = Duration::from_millis(20);
    outbox.backoff_cap = Duration::from_millis(300);
    outbox.store_retry = Duration::from_millis(50);
    outbox.time_scale = scale;
    Tuning {
        outbox,
        autoclose_every: Duration::from_secs(3600),
        remind_every: Duration::from_secs(3600),
    }
}

/// The TOML of a one-connection config against `api_url`, on the SQLite file `db`.
pub fn config_toml(db: &Path, api_url: &str, token: &str, group: i64, params: &str) -> String {
    let url = format!("sqlite://{}", db.display());
    config_toml_url(&url, api_url, token, group, params)
}

/// The TOML of a one-connection config against `api_url`, on the database at `db_url`.
pub fn config_toml_url(
    db_url: &str,
    api_url: &str,
    token: &str,
    group: i64,
    params: &str,
) -> String {
    format!(
        r#"
database_url = "{db_url}"
[http]
listen = "127.0.0.1:0"
[limits]
bot_per_second = 30
private_per_second = 1
group_per_minute = 20
# The tests' webhook receivers listen on 127.0.0.1, refused unless allowed (SSRF guard).
[webhooks]
allow_ranges = ["127.0.0.0/8"]
[[connection]]
name = "support"
token = "{token}"
group_id = {group}
api_url = "{api_url}"
[connection.params]
{params}
"#
    )
}

/// Why the tests of a bot behind the gateway lift the limits: their bots call like scripts,
/// without waiting out a 429, and share the bot's budget with Hotline's own sends (a
/// welcome, a copy) — the gateway passes Telegram's 429 through unchanged, as it should.
pub const GATEWAY_BOT_NO_RETRY: &str =
    "the test's bot behind the gateway calls without waiting out 429s";

/// Limits high enough never to matter, for [`spawn_app_unlimited`].
const NO_LIMITS: &str =
    "[limits]\nbot_per_second = 100000\nprivate_per_second = 100000\ngroup_per_minute = 100000\n";

/// Starts everything with default parameters.
pub async fn spawn_app() -> TestApp {
    spawn_app_with("").await
}

/// Starts everything; `params` is TOML for `[connection.params]`.
pub async fn spawn_app_with(params: &str) -> TestApp {
    spawn("", params, None).await.0
}

/// Starts everything with the limits lifted in the emulator and in Hotline. `why` is the
/// reason the test must not meet Telegram's limits (stated at the call, for the reader).
pub async fn spawn_app_unlimited(why: &str, params: &str) -> TestApp {
    spawn_unlimited_with_connection(why, "", params).await
}

/// [`spawn_app_unlimited`] with extra TOML keys for the `[[connection]]` table itself.
pub async fn spawn_unlimited_with_connection(why: &str, keys: &str, params: &str) -> TestApp {
    assert!(!why.is_empty(), "say why the test lifts Telegram's limits");
    spawn_edited(keys, params, None, false, 0, |t| {
        t.replace(
            "[limits]\nbot_per_second = 30\nprivate_per_second = 1\ngroup_per_minute = 20\n",
            NO_LIMITS,
        )
    })
    .await
    .0
}

/// Starts everything with extra TOML keys for the `[[connection]]` table itself.
pub async fn spawn_app_with_connection(keys: &str, params: &str) -> TestApp {
    spawn(keys, params, None).await.0
}

/// The shared builder: the emulator's world (bot "support", optionally a second bot
/// `extra = (token, username)` in the same group), the config (`keys` added to the first
/// `[[connection]]` table), and Hotline.
async fn spawn(keys: &str, params: &str, extra: Option<(&str, &str)>) -> (TestApp, Option<i64>) {
    spawn_edited(keys, params, extra, true, 0, |t| t).await
}

/// Starts everything with the server's default webhook policy: no `[webhooks]` allowance,
/// so receivers on 127.0.0.1 are refused.
pub async fn spawn_app_strict(params: &str) -> TestApp {
    spawn_edited("", params, None, true, 0, |t| {
        t.replace("[webhooks]\nallow_ranges = [\"127.0.0.0/8\"]\n", "")
    })
    .await
    .0
}

/// Starts everything with `n` more forum groups (the operator owns them, the bot
/// administers them) listed as the connection's `overflow_groups`.
pub async fn spawn_app_with_overflow(n: usize, params: &str) -> TestApp {
    spawn_edited("", params, None, true, n, |t| t).await.0
}

async fn spawn_edited(
    keys: &str,
    params: &str,
    extra: Option<(&str, &str)>,
    limited: bool,
    overflow_groups: usize,
    edit: impl FnOnce(String) -> String,
) -> (TestApp, Option<i64>) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("hotline=debug,tg_emulator=info")
        .with_test_writer()
        .try_init();
    let emu = Emulator::start_local().await.expect("emulator starts");
    if limited {
        emu.set_limits(telegram_limits());
    }
    let ctl = emu.control();
    let token = "7000001:test-token-support".to_string();
    let bot = ctl.add_bot(&token, "support_bot", "Support").unwrap();
    let owner = ctl.add_user("Olga", Some("Operator"), Some("olga"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    let group = ctl.add_group("Support team", true, Some(owner));
    ctl.add_admin_bot(group, bot).unwrap();
    let overflow: Vec<i64> = (0..overflow_groups)
        .map(|i| {
            let g = ctl.add_group(&format!("Support team {}", i + 2), true, Some(owner));
            ctl.add_admin_bot(g, bot).unwrap();
            g
        })
        .collect();
    let keys = if overflow.is_empty() {
        keys.to_string()
    } else {
        format!(
            "{keys}
overflow_groups = {overflow:?}"
        )
    };
    let keys = keys.as_str();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(Some(dir.path())).await;
    let mut toml = config_toml_url(db.url(), &emu.url(), &token, group, params).replacen(
        "[connection.params]",
        &format!("{keys}\n[connection.params]"),
        1,
    );
    let mut bot2 = None;
    if let Some((token2, username)) = extra {
        let id = ctl.add_bot(token2, username, username).unwrap();
        ctl.add_admin_bot(group, id).unwrap();
        toml.push_str(&format!(
            "\n[[connection]]\nname = \"second\"\ntoken = \"{token2}\"\ngroup_id = {group}\napi_url = \"{}\"\n",
            emu.url()
        ));
        bot2 = Some(id);
    }
    let toml = edit(toml);
    let config = Config::parse(&toml, dir.path(), |_| None).expect("valid config");
    let app = app::start(&config, test_tuning(&config))
        .await
        .expect("hotline starts");
    let t = TestApp {
        emu,
        ctl,
        bot,
        token,
        group,
        overflow,
        operator: owner,
        app: Some(app),
        config,
        scale: TIME_SCALE,
        dir,
        db,
    };
    (t, bot2)
}

impl TestApp {
    /// The running Hotline.
    pub fn app(&self) -> &Running {
        self.app.as_ref().expect("running")
    }

    /// Creates a person (who has not written yet).
    pub fn person(&self, first: &str) -> i64 {
        self.ctl
            .add_user(first, None, Some(&first.to_lowercase()), Some("en"))["id"]
            .as_i64()
            .unwrap()
    }

    /// A user sends content to the bot; returns the (first) message.
    pub fn user_sends(&self, user: i64, content: Value) -> Value {
        self.ctl
            .send(user, Place::Bot(self.bot), &content)
            .expect("user message accepted")
            .remove(0)
    }

    /// A user writes text to the bot.
    pub fn user_says(&self, user: i64, text: &str) -> Value {
        self.user_sends(user, json!({"text": text}))
    }

    /// The operator sends content in a topic.
    pub fn operator_sends(&self, thread: i64, content: Value) -> Value {
        self.ctl
            .send(
                self.operator,
                Place::Group(self.group, Some(thread)),
                &content,
            )
            .expect("operator message accepted")
            .remove(0)
    }

    /// The operator writes text in a topic.
    pub fn operator_says(&self, thread: i64, text: &str) -> Value {
        self.operator_sends(thread, json!({"text": text}))
    }

    /// The operator writes in General.
    pub fn operator_says_in_general(&self, text: &str) -> Value {
        self.ctl
            .send(
                self.operator,
                Place::Group(self.group, None),
                &json!({"text": text}),
            )
            .unwrap()
            .remove(0)
    }

    /// The user's chat with the bot.
    pub fn user_chat(&self, user: i64) -> Vec<Value> {
        self.ctl.private_transcript(self.bot, user)
    }

    /// A topic's messages (None = General).
    pub fn topic(&self, thread: Option<i64>) -> Vec<Value> {
        self.ctl.topic_transcript(self.group, thread)
    }

    /// The group's topics.
    pub fn topics(&self) -> Vec<Value> {
        self.ctl
            .topics(self.group)
            .into_iter()
            .filter(|t| t["is_deleted"] == false)
            .collect()
    }

    /// Topic info by thread id.
    pub fn topic_info(&self, thread: i64) -> Value {
        self.ctl
            .topics(self.group)
            .into_iter()
            .find(|t| t["message_thread_id"] == thread)
            .unwrap_or(Value::Null)
    }

    /// Waits until `f` is true, panicking with `what` after the deadline.
    pub async fn wait_until(&self, what: &str, f: impl Fn() -> bool) {
        wait_until(what, f).await
    }

    /// Waits until a topic's title starts with `prefix` (a status square: 🟪, 🟨, ⬛).
    pub async fn wait_title(&self, thread: i64, prefix: &str) {
        let title = || {
            self.topic_info(thread)["name"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        self.wait_until(&format!("topic {thread} titled {prefix}…"), || {
            title().starts_with(prefix)
        })
        .await
    }

    /// Waits for the user's topic and returns its thread id (the live topic whose name
    /// contains `name`).
    pub async fn wait_topic(&self, name: &str) -> i64 {
        let find = || {
            self.topics()
                .into_iter()
                .find(|t| t["name"].as_str().unwrap_or("").contains(name))
                .and_then(|t| t["message_thread_id"].as_i64())
        };
        self.wait_until(&format!("a topic for {name}"), || find().is_some())
            .await;
        let thread = find().unwrap();
        // Hotline records the topic right after creating it and posts into it only then:
        // a first non-service bot message means operators can write there.
        let ready = || {
            self.topic(Some(thread))
                .iter()
                .any(|m| m["from"]["is_bot"] == true && m.get("forum_topic_created").is_none())
        };
        self.wait_until(
            &format!("Hotline's first post in the topic of {name}"),
            ready,
        )
        .await;
        thread
    }

    /// Waits until a topic holds a message whose text or caption contains `needle`.
    pub async fn wait_in_topic(&self, thread: i64, needle: &str) -> Value {
        let find = || {
            self.topic(Some(thread))
                .into_iter()
                .find(|m| text_of(m).contains(needle))
        };
        self.wait_until(&format!("\"{needle}\" in topic {thread}"), || {
            find().is_some()
        })
        .await;
        find().unwrap()
    }

    /// Waits until the user's chat holds a message whose text or caption contains `needle`.
    pub async fn wait_in_user_chat(&self, user: i64, needle: &str) -> Value {
        let find = || {
            self.user_chat(user)
                .into_iter()
                .find(|m| text_of(m).contains(needle))
        };
        self.wait_until(&format!("\"{needle}\" in the chat of {user}"), || {
            find().is_some()
        })
        .await;
        find().unwrap()
    }

    /// Waits until the outbox has nothing pending or in flight: what Telegram shows is then
    /// also recorded (a copy's message link commits after Telegram answered the send, so
    /// a test that replies to a copy the moment it appears can be faster than that commit;
    /// a person is not).
    pub async fn outbox_settled(&self) {
        let pool = self.db_pool().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let open: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM outbox WHERE state IN ('pending', 'in_flight')",
            )
            .fetch_one(&pool)
            .await
            .expect("outbox count");
            if open == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the outbox did not settle: {open} intents open"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops Hotline (graceful).
    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }

    /// Starts Hotline again on the same database.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.app = Some(
            app::start(&self.config, test_tuning_scaled(&self.config, self.scale))
                .await
                .expect("hotline restarts"),
        );
    }

    /// Restarts Hotline with Telegram's limits (`self.config.limits` in Hotline, the
    /// emulator's own) on a clock `scale` times faster than Telegram's, in both.
    pub async fn restart_with_limits(&mut self, scale: f64) {
        self.stop().await;
        self.emu
            .set_limits(tg_emulator::Limits::telegram().scaled(scale));
        self.scale = scale;
        self.restart().await;
    }

    /// A second connection pool to Hotline's database (SQLite file or PostgreSQL database,
    /// whichever the suite runs on), for what a test injects and inspects. SQL through it
    /// must read the same on both engines (`$1` placeholders, no engine-specific functions).
    pub async fn db_pool(&self) -> sqlx::AnyPool {
        db_pool(self.db.url()).await
    }

    /// Fails the test if the emulator saw an answer or request that breaks the spec.
    pub fn assert_conformant(&self) {
        let v = self.emu.violations();
        assert!(
            v.is_empty(),
            "Bot API conformance violations:\n{}",
            v.join("\n")
        );
    }
}

/// Calls the Bot API at `url` (a method URL: Telegram, the emulator or Hotline's gateway)
/// as a well-behaved bot does: a 429 is waited out for its `retry_after` (on the clock of
/// the harness, [`TIME_SCALE`]) and the call made again, until [`DEADLINE`]. Returns the
/// final answer.
pub async fn bot_call(url: &str, params: &Value) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let answer: Value = reqwest::Client::new()
            .post(url)
            .json(params)
            .send()
            .await
            .expect("the Bot API answers")
            .json()
            .await
            .expect("a JSON answer");
        let Some(secs) = answer["parameters"]["retry_after"].as_u64() else {
            return answer;
        };
        let wait = Duration::from_secs(secs).div_f64(TIME_SCALE);
        assert!(
            tokio::time::Instant::now() + wait < deadline,
            "still 429 at the deadline: {answer}"
        );
        tokio::time::sleep(wait).await;
    }
}

/// Text or caption of a message.
pub fn text_of(m: &Value) -> String {
    m["text"]
        .as_str()
        .or_else(|| m["caption"].as_str())
        .unwrap_or("")
        .to_string()
}

/// Waits until `f` is true (polling a few ms apart), panicking with `what` after the deadline.
pub async fn wait_until(what: &str, f: impl Fn() -> bool) {
    wait_until_for(what, DEADLINE, f).await
}

/// [`wait_until`] with an explicit deadline, for load tests.
pub async fn wait_until_for(what: &str, limit: Duration, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !f() {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Two connections (two bots) sharing one forum group.
pub struct TwoBots {
    pub t: TestApp,
    pub bot2: i64,
}

/// Starts two connections that share the group: "support" (`t.bot`) and a shop bot (`bot2`).
pub async fn spawn_two_bots() -> TwoBots {
    let (t, bot2) = spawn("", "", Some(("7000002:test-token-shop", "shop_bot"))).await;
    TwoBots {
        t,
        bot2: bot2.expect("second bot"),
    }
}

/// A connection pool to the database at `url` through sqlx's Any driver.
pub async fn db_pool(url: &str) -> sqlx::AnyPool {
    hotline::store::install_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test database: {e}"))
}

/// What a test trigger does when it fires.
pub enum TriggerAction<'a> {
    /// Fails the statement that fired it (and so the writer's transaction) with this text.
    Fail(&'a str),
    /// Runs this statement (it may use `NEW.` and `OLD.` columns).
    Run(&'a str),
}

/// Creates the row trigger `name` (`on`: e.g. `BEFORE UPDATE OF state ON outbox`) that does
/// `action` for rows where `when` holds (SQL that may use `NEW.`/`OLD.` and subqueries), on
/// either engine: tests inject faults and concurrent writes this way, production code has no
/// test hooks.
pub async fn create_trigger(
    pool: &sqlx::AnyPool,
    name: &str,
    on: &str,
    when: &str,
    action: TriggerAction<'_>,
) {
    let url_is_pg = pool
        .connect_options()
        .database_url
        .scheme()
        .starts_with("postgres");
    let sql: Vec<String> = if url_is_pg {
        let act = match action {
            TriggerAction::Fail(msg) => format!("RAISE EXCEPTION '{msg}'"),
            TriggerAction::Run(sql) => sql.to_string(),
        };
        // PostgreSQL's WHEN takes no subqueries: the condition goes into the function.
        vec![
            format!(
                "CREATE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS $f$ \
                 BEGIN IF {when} THEN {act}; END IF; RETURN NEW; END $f$"
            ),
            format!("CREATE TRIGGER {name} {on} FOR EACH ROW EXECUTE FUNCTION {name}_fn()"),
        ]
    } else {
        let act = match action {
            TriggerAction::Fail(msg) => format!("SELECT RAISE(ABORT, '{msg}')"),
            TriggerAction::Run(sql) => sql.to_string(),
        };
        vec![format!(
            "CREATE TRIGGER {name} {on} WHEN {when} BEGIN {act}; END"
        )]
    };
    for q in sql {
        sqlx::query(&q)
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
    }
}
