//! `hotline-bench relay`: end-to-end relay throughput and added latency, Hotline and the
//! emulator in one process with the emulator's limits and conformance checks off.
//!
//! Throughput: a burst of messages from many users; messages/s from the first send to the
//! last copy in the group. Latency: a paced run at a fraction of that throughput; time
//! from a user's message entering the emulator to its copy being created in the topic.

mod broadcast;
mod burst;
mod count;
mod gateway;
mod reports;
mod world;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use tg_emulator::control::Place;
use tg_emulator::Control;

/// The hotline binary's allocator, so Hotline runs here as it does in production.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Hotline benchmarks")]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Relay throughput and added latency (user → topic).
    Relay {
        /// Users writing at once.
        #[arg(long, default_value_t = 200)]
        users: usize,
        /// Messages in the throughput burst.
        #[arg(long, default_value_t = 20_000)]
        messages: usize,
        /// Messages in the paced latency run.
        #[arg(long, default_value_t = 5_000)]
        paced: usize,
        /// Pace of the latency run as a share of the measured throughput.
        #[arg(long, default_value_t = 0.5)]
        load: f64,
        /// Run on a fresh database (dropped afterwards) on this PostgreSQL server, e.g.
        /// postgres://postgres@127.0.0.1:5432/postgres, instead of a temporary SQLite file.
        #[arg(long)]
        postgres: Option<String>,
        /// Also count SQL statements per message, by statement (sqlx then logs each one,
        /// which costs time: throughput and latency of such a run are not comparable).
        #[arg(long)]
        count: bool,
    },
    /// A broadcast with the emulator's rate limits on: delivery rate and 429s.
    Broadcast {
        /// Contacts that receive it.
        #[arg(long, default_value_t = 10_000)]
        recipients: usize,
        /// The bot-wide limit, messages/s (Telegram: 30), in the emulator and Hotline.
        #[arg(long, default_value_t = 30)]
        rate: u32,
    },
    /// New users writing at once with Telegram's limits: how long the last one waits.
    Burst {
        /// New users, each writing one message.
        #[arg(long, default_value_t = 300)]
        users: usize,
        /// They write evenly over this many (Telegram's) seconds.
        #[arg(long, default_value_t = 60.0)]
        within: f64,
        /// Telegram's clock runs this many times faster, in the emulator and Hotline.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Backend groups of the connection (the first is `group_id`, the others its
        /// `overflow_groups`).
        #[arg(long, default_value_t = 1)]
        groups: usize,
    },
    /// The Bot API gateway against nginx: throughput, added latency, memory under a flood.
    Gateway {
        /// Users the bot sends to (each with an open dialog for the mirroring row).
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// Keep-alive connections, each with one request in flight.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Seconds measured per row.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Seconds of the sendMessage flood with mirroring on.
        #[arg(long, default_value_t = 30)]
        flood: u64,
    },
    /// `/stats 30d` and `/export` at scale: time and peak RSS, each in a fresh process.
    Reports {
        /// Contacts (one dialog each).
        #[arg(long, default_value_t = 100_000)]
        contacts: i64,
        /// Messages (user and operator alternating) over 90 days.
        #[arg(long, default_value_t = 1_000_000)]
        messages: i64,
    },
    /// (internal) One report for `reports`, in its own process.
    #[command(hide = true)]
    MeasureReport {
        #[arg(long)]
        db: String,
        #[arg(long)]
        what: String,
        #[arg(long)]
        now: i64,
    },
    /// (internal) The emulator for `gateway`, in its own process.
    #[command(hide = true)]
    ServeEmulator {
        #[arg(long)]
        users: usize,
    },
    /// (internal) Hotline for `gateway`, in its own process.
    #[command(hide = true)]
    ServeHotline {
        #[arg(long)]
        config: std::path::PathBuf,
    },
}

struct Setup {
    ctl: Control,
    bot: i64,
    group: i64,
    users: Vec<i64>,
    _world: world::Bench,
}

async fn setup(users: usize) -> Setup {
    let limits =
        "bot_per_second = 1000000\nprivate_per_second = 1000000\ngroup_per_minute = 100000000";
    let w = world::start(
        "9000001:bench-token",
        limits,
        "WELCOME = \"OFF\"\nAUTO_INFO = false",
        |_| {},
    )
    .await;
    let ctl = w.ctl.clone();
    let users: Vec<i64> = (0..users)
        .map(|i| {
            ctl.add_user(&format!("U{i}"), None, None, None)["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    Setup {
        ctl,
        bot: w.bot,
        group: w.group,
        users,
        _world: w,
    }
}

/// Collects the creation time of every message the bot copies into the group.
fn watch(ctl: &Control, group: i64) -> tokio::sync::mpsc::UnboundedReceiver<(i64, Instant)> {
    let mut rx = ctl.subscribe();
    let (tx, out) = tokio::sync::mpsc::unbounded_channel();
    let chat = group.to_string();
    tokio::spawn(async move {
        while let Ok(ev) = rx.recv().await {
            let now = Instant::now();
            let copy = matches!(ev["method"].as_str(), Some("copyMessage" | "copyMessages"));
            if copy && ev["chat"].as_str() == Some(chat.as_str()) {
                for id in ev["message_ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_i64)
                {
                    let _ = tx.send((id, now));
                }
            }
        }
    });
    out
}

async fn collect(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(i64, Instant)>,
    n: usize,
    limit: Duration,
) -> HashMap<i64, Instant> {
    let mut seen = HashMap::new();
    let deadline = tokio::time::Instant::now() + limit;
    while seen.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((id, t))) => {
                seen.insert(id, t);
            }
            _ => break,
        }
    }
    seen
}

/// Sends `n` messages round-robin, `interval` apart (zero = a burst); returns send times by text.
async fn send(s: &Setup, tag: &str, n: usize, interval: Duration) -> HashMap<String, Instant> {
    let mut sent = HashMap::new();
    let start = Instant::now();
    for k in 0..n {
        if !interval.is_zero() {
            let due = start + interval * k as u32;
            let now = Instant::now();
            if due > now {
                tokio::time::sleep(due - now).await;
            }
        }
        let text = format!("{tag}-{k}");
        let u = s.users[k % s.users.len()];
        sent.insert(text.clone(), Instant::now());
        s.ctl
            .send(u, Place::Bot(s.bot), &json!({"text": text}))
            .expect("send");
    }
    sent
}

/// How [`settle`] ended.
struct Settled {
    /// When the process was found idle, after the call.
    after: Duration,
    /// CPU seconds of the idle window itself (not the burst's).
    idle_cpu: f64,
}

/// Waits until the process is idle — at most one clock tick of CPU (10 ms) over 200 ms,
/// both cores together — or 10 s have passed: the paced run measures the latency at its
/// own load, not while the burst's tail drains (its first messages met 6–12 ms then).
async fn settle() -> Settled {
    let start = Instant::now();
    loop {
        let c0 = cpu_seconds();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let used = cpu_seconds() - c0;
        if used <= 0.0101 || start.elapsed() > Duration::from_secs(10) {
            return Settled {
                after: start.elapsed(),
                idle_cpu: used,
            };
        }
    }
}

/// CPU seconds this process has used (user + system), from /proc (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    match (f.get(11), f.get(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn relay(users: usize, messages: usize, paced: usize, load: f64, count: bool) {
    let s = setup(users).await;
    println!(
        "database: {}",
        if world::POSTGRES.get().is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let mut rx = watch(&s.ctl, s.group);
    // Warm-up: one message per user creates every topic.
    send(&s, "warm", users, Duration::ZERO).await;
    let warm = collect(&mut rx, users, Duration::from_secs(300)).await;
    assert_eq!(warm.len(), users, "warm-up copies");

    let t0 = Instant::now();
    let cpu0 = cpu_seconds();
    let counters = count::start();
    send(&s, "burst", messages, Duration::ZERO).await;
    let burst = collect(&mut rx, messages, Duration::from_secs(600)).await;
    count::report("burst", counters, burst.len(), count);
    let last = burst.values().max().copied().unwrap_or(t0);
    let secs = last.duration_since(t0).as_secs_f64();
    let throughput = burst.len() as f64 / secs;
    println!(
        "throughput: {} messages from {users} users in {secs:.2} s = {throughput:.0} messages/s",
        burst.len()
    );
    // The burst's own tail (outbox completions and links, the log's checkpoint) goes on
    // after its last copy: counted in its CPU, and out of the paced run's way.
    let settled = settle().await;
    let cpu = cpu_seconds() - cpu0 - settled.idle_cpu;
    println!(
        "cpu: {cpu:.2} s for the burst and its tail, settled {:.2} s after the last copy (emulator and Hotline in one process) = {:.0} messages per CPU-second",
        settled.after.as_secs_f64(),
        burst.len() as f64 / cpu
    );

    let rate = (throughput * load).max(1.0);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let counters = count::start();
    let sent = send(&s, "paced", paced, interval).await;
    let copies = collect(&mut rx, paced, Duration::from_secs(600)).await;
    count::report("paced", counters, copies.len(), count);
    let texts: HashMap<i64, String> = s
        .ctl
        .transcript(0, Place::Group(s.group, None))
        .iter()
        .filter_map(|m| Some((m["message_id"].as_i64()?, m["text"].as_str()?.to_string())))
        .collect();
    // Per paced message: when it was sent (ms after the first send) and its latency (ms).
    let first = sent.values().min().copied().unwrap_or(t0);
    let mut rows: Vec<(f64, f64)> = copies
        .iter()
        .filter_map(|(id, at)| {
            let sent_at = sent.get(texts.get(id)?)?;
            Some((
                sent_at.duration_since(first).as_secs_f64() * 1000.0,
                at.duration_since(*sent_at).as_secs_f64() * 1000.0,
            ))
        })
        .collect();
    // Diagnostics: the rows in send order, to see when stalls happen.
    if let Ok(path) = std::env::var("HOTLINE_BENCH_LATENCIES") {
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        let text: String = rows
            .iter()
            .map(|(s, l)| format!("{s:.1} {l:.2}\n"))
            .collect();
        let _ = std::fs::write(path, text);
    }
    let mut lat: Vec<f64> = rows.iter().map(|(_, l)| *l).collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "latency at {rate:.0} messages/s ({:.0}% of throughput, {} samples): p50 {:.1} ms, p99 {:.1} ms",
        load * 100.0,
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99)
    );
    println!("target 5000 messages/s: ratio {:.2}", throughput / 5000.0);
}

#[tokio::main]
async fn main() {
    match Cli::parse().what {
        What::Relay {
            users,
            messages,
            paced,
            load,
            postgres,
            count,
        } => {
            if let Some(server) = postgres {
                let _ = world::POSTGRES.set(server);
            }
            if count {
                count::install();
            } else if let Ok(filter) = std::env::var("RUST_LOG") {
                // Diagnostics: Hotline's own log lines, e.g. `hotline::sqlite_checkpoint=debug`.
                tracing_subscriber::fmt()
                    .with_env_filter(filter)
                    .with_writer(std::io::stderr)
                    .init();
            }
            relay(users, messages, paced, load, count).await
        }
        What::Broadcast { recipients, rate } => broadcast::broadcast(recipients, rate).await,
        What::Burst {
            users,
            within,
            scale,
            groups,
        } => burst::burst(users, within, scale, groups).await,
        What::Gateway {
            users,
            connections,
            seconds,
            flood,
        } => {
            gateway::gateway(gateway::Opts {
                users,
                connections,
                seconds,
                flood,
            })
            .await
        }
        What::Reports { contacts, messages } => reports::run(contacts, messages).await,
        What::MeasureReport { db, what, now } => reports::measure(&db, &what, now).await,
        What::ServeEmulator { users } => gateway::serve_emulator(users).await,
        What::ServeHotline { config } => gateway::serve_hotline(&config).await,
    }
}
