//! `tg-emulator`: a local Telegram Bot API server.
//!
//! ```text
//! tg-emulator --listen 127.0.0.1:8081 --bot 123456:secret=support_bot \
//!             --user Alice --forum "Support team"
//! ```

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use serde_json::json;
use tg_emulator::{Config, Emulator, Limits};

/// A local Telegram Bot API emulator for tests and demos.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Bots to create, as TOKEN or TOKEN=username (repeatable).
    #[arg(long = "bot")]
    bots: Vec<String>,
    /// People to create, by first name (repeatable).
    #[arg(long = "user")]
    users: Vec<String>,
    /// A forum supergroup to create with every bot as an administrator.
    #[arg(long)]
    forum: Option<String>,
    /// Messages per second per bot before 429 (off when absent).
    #[arg(long)]
    bot_per_second: Option<u32>,
    /// Messages per second per private chat before 429.
    #[arg(long)]
    private_per_second: Option<u32>,
    /// Messages per minute per group before 429.
    #[arg(long)]
    group_per_minute: Option<u32>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let config = Config {
        limits: Limits {
            bot_per_second: args.bot_per_second,
            private_per_second: args.private_per_second,
            group_per_minute: args.group_per_minute,
        },
        ..Config::default()
    };
    let emu = Emulator::start(args.listen, config)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let control = emu.control();
    let mut bots = Vec::new();
    for spec in &args.bots {
        let (token, username) = spec.split_once('=').unwrap_or((spec, "emulated_bot"));
        let id = control
            .add_bot(token, username, username)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        bots.push(id);
        println!("bot {id} @{username}");
    }
    let mut people = Vec::new();
    for name in &args.users {
        let user = control.add_user(name, None, Some(&name.to_lowercase()), Some("en"));
        println!("user {} {name}", user["id"]);
        people.push(user["id"].as_i64().unwrap_or(0));
    }
    if let Some(title) = &args.forum {
        let group = control.add_group(title, true, people.first().copied());
        for p in people.iter().skip(1) {
            control
                .set_member(group, *p, "member", json!({}))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        for b in &bots {
            control
                .add_admin_bot(group, *b)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        println!("forum {group} {title}");
    }
    println!("tg-emulator listening on {}", emu.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
