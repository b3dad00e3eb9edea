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
    /// Telegram's limits (30/s per bot, 1/s per private chat, 20/min per group) unless
    /// the options above say otherwise.
    #[arg(long)]
    telegram_limits: bool,
    /// Run the limits' clock this many times faster (windows shrink, counts stay;
    /// retry_after is in the scaled world's seconds).
    #[arg(long)]
    time_scale: Option<f64>,
    /// Accept plain http:// webhook URLs on loopback hosts, on any port (Telegram
    /// requires HTTPS on 80, 88, 443 or 8443).
    #[arg(long)]
    allow_http_webhooks: bool,
    /// Deliver pushes for an HTTPS webhook host over plain HTTP to a local address, as
    /// a TLS-terminating proxy would: HOST:PORT=IP:PORT (repeatable).
    #[arg(long = "route-webhook", value_parser = parse_route)]
    routes: Vec<(String, SocketAddr)>,
}

fn parse_route(s: &str) -> Result<(String, SocketAddr), String> {
    let (from, to) = s
        .split_once('=')
        .ok_or("expected HOST:PORT=IP:PORT, e.g. hotline.test:8443=127.0.0.1:8080")?;
    let to = to.parse().map_err(|e| format!("{to}: {e}"))?;
    Ok((from.to_string(), to))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let base = if args.telegram_limits {
        Limits::telegram()
    } else {
        Limits::default()
    };
    let limits = Limits {
        bot_per_second: args.bot_per_second.or(base.bot_per_second),
        private_per_second: args.private_per_second.or(base.private_per_second),
        group_per_minute: args.group_per_minute.or(base.group_per_minute),
        time_scale: args.time_scale,
    };
    limits.validate().map_err(anyhow::Error::msg)?;
    let config = Config {
        limits,
        ..Config::default()
    };
    let emu = Emulator::start(args.listen, config)
        .await
        .context("starting the emulator")?;
    let control = emu.control();
    control.allow_http_webhooks(args.allow_http_webhooks);
    for (from, to) in &args.routes {
        control.route_webhook(from, *to);
    }
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
