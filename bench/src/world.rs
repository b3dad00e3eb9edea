//! The world every benchmark starts from: an emulator without conformance checks (its
//! server task runs for the whole process), a bot
//! administering a forum group, and Hotline connected to it on a temporary SQLite file, or on
//! a fresh database on a PostgreSQL server (`--postgres URL`, see [`POSTGRES`]).

use std::sync::OnceLock;

use hotline::app::{self, Running, Tuning};
use hotline::config::Config;
use hotline::store::testdb::TestDatabase;
use tg_emulator::{Control, Emulator};

/// A running emulator + Hotline pair.
pub struct Bench {
    /// Acting as people and reading transcripts.
    pub ctl: Control,
    /// The bot's id.
    pub bot: i64,
    /// The forum group's id.
    pub group: i64,
    /// The connection's overflow groups ([`start_groups`]).
    pub overflow: Vec<i64>,
    /// The group's owner, an operator who can run admin commands.
    pub operator: i64,
    /// Hotline.
    pub hotline: Running,
    /// Holds the database.
    pub _dir: tempfile::TempDir,
    /// The PostgreSQL database, dropped with the bench.
    pub _db: Option<TestDatabase>,
}

/// The PostgreSQL server (a URL whose role may create databases) the benchmarks run on,
/// each in a fresh database; unset: a temporary SQLite file.
pub static POSTGRES: OnceLock<String> = OnceLock::new();

/// Starts the pair. `limits` and `params` are TOML lines for `[limits]` and
/// `[connection.params]`; `prepare` runs on the emulator before Hotline starts.
pub async fn start(
    token: &str,
    limits: &str,
    params: &str,
    prepare: impl FnOnce(&Emulator),
) -> Bench {
    start_scaled(token, limits, params, 1.0, prepare).await
}

/// [`start`] with Hotline's limits on a clock `scale` times faster (the emulator's limits
/// are `prepare`'s to scale alike).
pub async fn start_scaled(
    token: &str,
    limits: &str,
    params: &str,
    scale: f64,
    prepare: impl FnOnce(&Emulator),
) -> Bench {
    start_groups(token, limits, params, scale, 1, prepare).await
}

/// [`start_scaled`] with `groups` forum groups: the first is `group_id`, the others the
/// connection's `overflow_groups`.
pub async fn start_groups(
    token: &str,
    limits: &str,
    params: &str,
    scale: f64,
    groups: usize,
    prepare: impl FnOnce(&Emulator),
) -> Bench {
    let config = tg_emulator::Config {
        check_conformance: false,
        ..Default::default()
    };
    let emu = Emulator::start(([127, 0, 0, 1], 0).into(), config)
        .await
        .expect("emulator");
    prepare(&emu);
    let ctl = emu.control();
    let bot = ctl.add_bot(token, "bench_bot", "Bench").unwrap();
    let op = ctl.add_user("Olga", None, None, None)["id"]
        .as_i64()
        .unwrap();
    let group = ctl.add_group("Bench", true, Some(op));
    ctl.add_admin_bot(group, bot).unwrap();
    let overflow: Vec<i64> = (1..groups.max(1))
        .map(|i| {
            let g = ctl.add_group(&format!("Bench {}", i + 1), true, Some(op));
            ctl.add_admin_bot(g, bot).unwrap();
            g
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let db = match POSTGRES.get() {
        Some(server) => Some(TestDatabase::create_postgres(server).await),
        None => None,
    };
    let url = match &db {
        Some(db) => db.url().to_string(),
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
    };
    let toml = format!(
        "database_url = \"{url}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[limits]\n{limits}\n\
         [[connection]]\nname = \"bench\"\ntoken = \"{token}\"\ngroup_id = {group}\napi_url = \"{api}\"\n\
         overflow_groups = {overflow:?}\n[connection.params]\n{params}\n",
        api = emu.url(),
    );
    let config = Config::parse(&toml, dir.path(), |_| None).expect("config");
    let mut tuning = Tuning::for_config(&config);
    tuning.outbox.time_scale = scale;
    let hotline = app::start(&config, tuning).await.expect("hotline");
    Bench {
        ctl,
        bot,
        group,
        overflow,
        operator: op,
        hotline,
        _dir: dir,
        _db: db,
    }
}
