//! `hotline sandbox`: the whole system offline in one process — the Telegram emulator
//! with a demo world (a bot, a forum group with two operators, a few users), Hotline
//! connected to it on SQLite, and the emulator's web page that shows a user's chat and
//! the team's forum side by side. Nothing in the page bypasses Hotline.

use std::net::SocketAddr;
use std::path::PathBuf;

mod demo_bot;

use serde_json::json;
use tg_emulator::control::Place;
use tg_emulator::{Control, Emulator};

use crate::app::{self, Running, StartError, Tuning};
use crate::config::Config;
use crate::shutdown::ShutdownTrigger;

/// Token of the demo bot (the emulator accepts any well-formed token).
pub const DEMO_TOKEN: &str = "5000001:sandbox-demo-token";
/// Token of the setup bot (docs/setup-bot.md), whose owner is Olga.
pub const SETUP_TOKEN: &str = "5000002:sandbox-setup-token";
/// Token of a second bot, not connected at start: Olga connects it through the setup bot
/// (it is @shop_demo_bot, already an administrator of the forum group "Shop team").
pub const SHOP_TOKEN: &str = "5000003:sandbox-shop-token";

/// Sandbox settings from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the emulator and its page listen.
    pub listen: SocketAddr,
    /// Where Hotline's HTTP port listens (webhooks, gateway, API).
    pub hotline_listen: SocketAddr,
    /// Directory of the SQLite database; a temporary one when absent.
    pub data_dir: Option<PathBuf>,
    /// Also start the demo bot backend connected through the gateway.
    pub parallel: bool,
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The emulator could not listen.
    #[error("emulator: {0}")]
    Emulator(std::io::Error),
    /// The data directory is unusable.
    #[error("data directory: {0}")]
    DataDir(std::io::Error),
    /// Hotline did not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The generated configuration was refused (a bug).
    #[error("configuration: {0}")]
    Config(String),
}

/// A running sandbox.
pub struct Sandbox {
    /// The emulator (Telegram).
    pub emulator: Emulator,
    /// Hotline.
    pub hotline: Running,
    /// The page to open.
    pub page_url: String,
    /// The page on Olga's chat with the setup bot.
    pub setup_url: String,
    /// Stops the demo bot when the sandbox is dropped.
    _demo_bot: ShutdownTrigger,
    /// Keeps a temporary data directory alive.
    _tmp: Option<tempfile::TempDir>,
}

/// The demo world's ids.
struct World {
    bot: i64,
    group: i64,
    alice: i64,
    olga: i64,
    setup: i64,
}

fn populate(ctl: &Control) -> World {
    let bot = ctl
        .add_bot(DEMO_TOKEN, "hotline_demo_bot", "Hotline Demo")
        .expect("demo bot");
    let olga = ctl.add_user("Olga", Some("Support"), Some("olga_support"), Some("en"))["id"]
        .as_i64()
        .unwrap_or(0);
    let max = ctl.add_user("Max", Some("Support"), Some("max_support"), Some("en"))["id"]
        .as_i64()
        .unwrap_or(0);
    let alice = ctl.add_user("Alice", Some("Smith"), Some("alice"), Some("en"))["id"]
        .as_i64()
        .unwrap_or(0);
    ctl.add_user("Bruno", None, Some("bruno"), Some("de"));
    ctl.add_user("Chen", Some("Wei"), None, Some("zh"));
    let group = ctl.add_group("Support team", true, Some(olga));
    let _ = ctl.set_member(group, max, "member", json!({}));
    let _ = ctl.add_admin_bot(group, bot);
    // The setup bot's world: the management bot and a bot to connect through it, with a
    // forum group of its own that Olga owns.
    let setup = ctl
        .add_bot(SETUP_TOKEN, "hotline_setup_bot", "Hotline Setup")
        .expect("setup bot");
    // Already an administrator of its forum (the page cannot promote a bot): the setup
    // bot finds the group from that membership update as soon as the token is stored.
    if let Ok(shop) = ctl.add_bot(SHOP_TOKEN, "shop_demo_bot", "Shop Demo") {
        let shop_group = ctl.add_group("Shop team", true, Some(olga));
        let _ = ctl.add_admin_bot(shop_group, shop);
    }
    World {
        bot,
        group,
        alice,
        olga,
        setup,
    }
}

/// Starts the emulator, the demo world and Hotline.
pub async fn start(options: Options) -> Result<Sandbox, SandboxError> {
    let emulator = Emulator::start(options.listen, tg_emulator::Config::default())
        .await
        .map_err(SandboxError::Emulator)?;
    let ctl = emulator.control();
    let world = populate(&ctl);
    let (dir, tmp) = match options.data_dir {
        Some(d) => {
            std::fs::create_dir_all(&d).map_err(SandboxError::DataDir)?;
            (d, None)
        }
        None => {
            let t = tempfile::tempdir().map_err(SandboxError::DataDir)?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let toml = format!(
        r#"
database_url = "sqlite://{db}"
[http]
listen = "{listen}"
[[connection]]
name = "demo"
token = "{token}"
group_id = {group}
api_url = "{api}"
# A local demo: bots under test may take plain-http webhooks next to Hotline.
gateway_plain_http_webhooks = true
[connection.params]
{params}
[setup_bot]
token = "{setup_token}"
owners = [{olga}]
api_url = "{api}"
secret_key = "{secret_key}"
"#,
        setup_token = SETUP_TOKEN,
        olga = world.olga,
        secret_key = setup_key(&dir)?,
        db = dir.join("sandbox.db").display(),
        listen = options.hotline_listen,
        token = DEMO_TOKEN,
        group = world.group,
        api = emulator.url(),
        params = if options.parallel {
            // The demo bot talks alone until the user asks for a human.
            "WELCOME = \"You are now talking to a person from the team.\"\nPRIVATE_KEYWORDS = '\"human\", \"operator\"'\nAUTO_HANDOVER = true\nRECAP = 10"
        } else {
            "WELCOME = \"Hi {name}! This is the Hotline demo: a person from the team will answer here.\""
        },
    );
    let config =
        Config::parse(&toml, &dir, |_| None).map_err(|e| SandboxError::Config(e.to_string()))?;
    let hotline = app::start(&config, Tuning::for_config(&config)).await?;
    let (trigger, shutdown) = ShutdownTrigger::new();
    if options.parallel {
        let api = format!("http://{}/bot{}", hotline.addr, DEMO_TOKEN);
        tokio::spawn(demo_bot::run(api, shutdown));
    }
    // A first message so the page is not empty.
    let first = if options.parallel {
        "/start"
    } else {
        "Hi! Where is my order #1042?"
    };
    let _ = ctl.send(
        world.alice,
        Place::Bot(world.bot),
        &json!({ "text": first }),
    );
    let page_url = format!(
        "{}/?user={}&operator={}",
        emulator.url(),
        world.alice,
        world.olga
    );
    let setup_url = format!(
        "{}/?user={}&bot={}",
        emulator.url(),
        world.olga,
        world.setup
    );
    Ok(Sandbox {
        emulator,
        hotline,
        page_url,
        setup_url,
        _demo_bot: trigger,
        _tmp: tmp,
    })
}

/// The key of the setup bot's stored tokens: kept in the data directory, so a sandbox
/// started again on the same `--data-dir` opens the tokens it stored.
fn setup_key(dir: &std::path::Path) -> Result<String, SandboxError> {
    use rand::RngCore;
    let path = dir.join("setup.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if crate::config::SecretKey::parse_hex(&text).is_some() {
            return Ok(text.trim().to_string());
        }
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = hex::encode(bytes);
    std::fs::write(&path, &key).map_err(SandboxError::DataDir)?;
    Ok(key)
}

/// `hotline sandbox`: creates a key for the demo connection and prints it with the API's
/// address, so the API (and schemathesis) can be tried at once.
pub async fn print_sandbox_key(running: &Running) {
    let Some(c) = running.connections.first() else {
        return;
    };
    match crate::api::auth::create_key(&running.store, c.ctx.connection, "sandbox", "sandbox").await
    {
        Ok(k) => crate::outln!("REST API: http://{}/api/v1 (key: {})", running.addr, k.key),
        Err(e) => eprintln!("sandbox: no API key: {e}"),
    }
}
