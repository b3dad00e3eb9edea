//! `hotline-bench gateway`: the Bot API gateway's pass-through against nginx.
//!
//! Every party is its own process, so each one's CPU and memory are its own: the emulator
//! and Hotline are this binary re-run as children (`serve-emulator`, `serve-hotline`),
//! nginx is started with a generated configuration in a temporary directory (the
//! comparator, skipped when `/usr/sbin/nginx` or `nginx` on the PATH is missing), and this
//! process only generates load: `--connections` keep-alive HTTP/1.1 connections, each
//! sending its next request as soon as the previous answer arrived (a fixed concurrency),
//! alternating `getMe` and `sendMessage` to one of `--users` users.
//!
//! Rows, in one run: direct at the emulator, through nginx, through Hotline's gateway with
//! mirroring off (`INTERCEPT_EXTERNAL = false`) and on (every user has an open dialog, so
//! every sendMessage is mirrored into a topic). Then a flood: `--flood` seconds of
//! sendMessage only, mirroring on, sampling Hotline's RSS every 100 ms.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Bench parameters from the command line.
pub struct Opts {
    pub users: usize,
    pub connections: usize,
    pub seconds: u64,
    pub flood: u64,
}

/// Token of the bot behind the gateway with mirroring off (also used direct and via nginx).
const TOKEN_OFF: &str = "9100001:bench-mirror-off";
/// Token of the bot behind the gateway with mirroring on.
const TOKEN_ON: &str = "9100002:bench-mirror-on";

/// The emulator child's world, printed as one JSON line.
#[derive(serde::Serialize, serde::Deserialize)]
struct World {
    url: String,
    bot_off: i64,
    bot_on: i64,
    group_off: i64,
    group_on: i64,
    users: Vec<i64>,
}

/// `serve-emulator`: the emulator with checks and limits off and the bench's world.
pub async fn serve_emulator(users: usize) {
    let config = tg_emulator::Config {
        check_conformance: false,
        ..Default::default()
    };
    let emu = tg_emulator::Emulator::start(([127, 0, 0, 1], 0).into(), config)
        .await
        .expect("emulator");
    let ctl = emu.control();
    let op = ctl.add_user("Olga", None, None, None)["id"]
        .as_i64()
        .unwrap();
    let mut bots = Vec::new();
    for (token, name) in [(TOKEN_OFF, "bench_off_bot"), (TOKEN_ON, "bench_on_bot")] {
        let bot = ctl.add_bot(token, name, "Bench").unwrap();
        let group = ctl.add_group(name, true, Some(op));
        ctl.add_admin_bot(group, bot).unwrap();
        bots.push((bot, group));
    }
    let users: Vec<i64> = (0..users)
        .map(|i| {
            ctl.add_user(&format!("U{i}"), None, None, None)["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    // Every user starts both bots (a bot cannot write first); Hotline picks these up when
    // it starts, and each user gets a dialog and a topic.
    for u in &users {
        for (bot, _) in &bots {
            ctl.send(
                *u,
                tg_emulator::control::Place::Bot(*bot),
                &json!({"text": "/start"}),
            )
            .unwrap();
        }
    }
    let world = World {
        url: emu.url(),
        bot_off: bots[0].0,
        group_off: bots[0].1,
        bot_on: bots[1].0,
        group_on: bots[1].1,
        users,
    };
    println!("{}", serde_json::to_string(&world).unwrap());
    std::future::pending::<()>().await;
}

/// `serve-hotline`: Hotline from a configuration file, printing its address.
/// With `HOTLINE_BENCH_COUNT` set, SQL statements and write transactions are counted
/// between two SIGUSR1s (`bench/callgrind-gateway.sh … count`), printed to stderr per call
/// of `HOTLINE_BENCH_COUNT` calls.
pub async fn serve_hotline(config: &Path) {
    if let Some(calls) = std::env::var("HOTLINE_BENCH_COUNT")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        crate::count::install();
        let mut usr1 =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
                .expect("SIGUSR1");
        tokio::spawn(async move {
            usr1.recv().await;
            let from = crate::count::start();
            eprintln!("counting");
            usr1.recv().await;
            eprint!(
                "{}",
                crate::count::report_text("gateway window", from, calls, true)
            );
        });
    }
    let config = hotline::config::Config::load(config).expect("config");
    let running = hotline::app::start(&config, hotline::app::Tuning::for_config(&config))
        .await
        .expect("hotline starts");
    println!("{}", running.addr);
    std::future::pending::<()>().await;
}

/// A child process that printed one line when ready.
struct Proc {
    child: Child,
    line: String,
}

async fn spawn_self(args: &[&str]) -> Proc {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("child starts");
    let out = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .await
        .expect("child ready");
    Proc {
        child,
        line: line.trim().to_string(),
    }
}

/// Resident memory of a process in MB (Linux).
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU seconds a process used (user + system), from /proc (Linux).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match (f.get(11), f.get(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// Context switches (voluntary and not) of every thread of `pid` so far: a wake-up per
/// hand-off between threads shows here, whatever the load.
fn context_switches(pid: u32) -> f64 {
    let mut n = 0u64;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        n += status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
            .sum::<u64>();
    }
    n as f64
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// nginx as a plain keep-alive reverse proxy to the emulator; `None` when not installed.
/// It runs in a process group of its own, killed whole when dropped: killing the master
/// alone left its workers running.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

fn nginx_binary() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/sbin/nginx");
    if fixed.exists() {
        return Some(fixed);
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("nginx"))
        .find(|p| p.exists())
}

async fn start_nginx(upstream: &str) -> Option<Nginx> {
    let bin = nginx_binary()?;
    let dir = tempfile::tempdir().ok()?;
    let port = free_port();
    let up = upstream.trim_start_matches("http://");
    let d = dir.path().display();
    let conf = format!(
        "worker_processes auto;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
           upstream emulator {{ server {up}; keepalive 256; keepalive_requests 100000000; keepalive_timeout 300s; }}\n\
           server {{\n    listen 127.0.0.1:{port};\n    client_max_body_size 64m;\n    keepalive_requests 100000000;\n    keepalive_timeout 300s;\n\
             location / {{\n      proxy_pass http://emulator;\n      proxy_http_version 1.1;\n\
               proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n"
    );
    let path = dir.path().join("nginx.conf");
    std::fs::write(&path, conf).ok()?;
    let child = Command::new(bin)
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().ok()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if Instant::now() > deadline {
            eprintln!("nginx did not start; see {}/error.log", d);
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some(Nginx {
        child,
        addr,
        _dir: dir,
    })
}

/// What one load run measured.
struct Measured {
    requests: usize,
    errors: usize,
    secs: f64,
    lat_ms: Vec<f64>,
    /// CPU seconds of the proxy process(es) over the run.
    proxy_cpu: f64,
    /// Context switches of the proxy process(es) over the run.
    proxy_switches: f64,
}

impl Measured {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.secs
    }
    fn pct(&self, p: f64) -> f64 {
        if self.lat_ms.is_empty() {
            return f64::NAN;
        }
        self.lat_ms[((self.lat_ms.len() as f64 - 1.0) * p).round() as usize]
    }
}

/// Which requests a run sends.
#[derive(Clone, Copy)]
enum Mix {
    /// getMe and sendMessage alternately.
    Both,
    /// sendMessage only.
    Send,
}

/// `connections` keep-alive connections to `addr`, each sending its next request when
/// the previous answer arrived, for `secs` (after a one-second warm-up that is not counted).
async fn load(
    addr: SocketAddr,
    token: &str,
    users: &[i64],
    connections: usize,
    secs: f64,
    mix: Mix,
    pids: &[u32],
) -> Measured {
    let warm = Duration::from_secs(1);
    let start = Instant::now();
    let measure_from = start + warm;
    let end = measure_from + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let token = token.to_string();
        let users = users.to_vec();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let io = hyper_util::rt::TokioIo::new(stream);
            let (mut send, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let (mut n, mut errors, mut lat) = (0usize, 0usize, Vec::new());
            let mut k = c;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let user = users[k % users.len()];
                let send_message = matches!(mix, Mix::Send) || k % 2 == 1;
                k += connections;
                let req = if send_message {
                    let body = json!({"chat_id": user, "text": format!("bench {k}")}).to_string();
                    hyper::Request::post(format!("/bot{token}/sendMessage"))
                        .header("host", "bench")
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(body)))
                } else {
                    hyper::Request::get(format!("/bot{token}/getMe"))
                        .header("host", "bench")
                        .body(Full::new(Bytes::new()))
                }
                .unwrap();
                if send.ready().await.is_err() {
                    errors += 1;
                    break;
                }
                let ok = match send.send_request(req).await {
                    Ok(resp) => {
                        let status = resp.status();
                        resp.into_body().collect().await.is_ok() && status.is_success()
                    }
                    Err(_) => false,
                };
                let done = Instant::now();
                if now >= measure_from {
                    if ok {
                        n += 1;
                        lat.push(done.duration_since(now).as_secs_f64() * 1000.0);
                    } else {
                        errors += 1;
                    }
                }
            }
            (n, errors, lat)
        }));
    }
    tokio::time::sleep_until((measure_from).into()).await;
    let cpu0: f64 = pids.iter().map(|p| cpu_seconds(*p)).sum();
    let switches0: f64 = pids.iter().map(|p| context_switches(*p)).sum();
    let mut m = Measured {
        requests: 0,
        errors: 0,
        secs,
        lat_ms: Vec::new(),
        proxy_cpu: 0.0,
        proxy_switches: 0.0,
    };
    let mut cpu_at_end = None;
    for t in tasks {
        let (n, e, lat) = t.await.expect("load task");
        if cpu_at_end.is_none() {
            cpu_at_end = Some(pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>());
            m.proxy_switches = pids.iter().map(|p| context_switches(*p)).sum::<f64>() - switches0;
        }
        m.requests += n;
        m.errors += e;
        m.lat_ms.extend(lat);
    }
    m.proxy_cpu = cpu_at_end.unwrap_or(cpu0) - cpu0;
    m.lat_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    m
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{nproc} × {cpu}")
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Limits that never bind: setting up (a topic per user) and the unpaced mirroring row.
const LIFTED: &str =
    "bot_per_second = 1000000\nprivate_per_second = 1000000\ngroup_per_minute = 100000000";

/// Hotline as a child with one connection: `limits` for `[limits]` (empty: Telegram's),
/// `params` for `[connection.params]`. The database is `{dir}/{name}.db`, kept across
/// restarts with other settings.
async fn start_hotline(
    dir: &Path,
    name: &str,
    world: &World,
    (token, group): (&str, i64),
    limits: &str,
    params: &str,
) -> (Proc, SocketAddr) {
    let toml = format!(
        "database_url = \"sqlite://{db}\"\n[http]\nlisten = \"127.0.0.1:0\"\n[limits]\n{limits}\n\
         [[connection]]\nname = \"{name}\"\ntoken = \"{token}\"\ngroup_id = {group}\napi_url = \"{api}\"\n\
         [connection.params]\nWELCOME = \"OFF\"\nAUTO_INFO = false\n{params}\n",
        db = dir.join(format!("{name}.db")).display(),
        api = world.url,
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).expect("config written");
    let p = spawn_self(&["serve-hotline", "--config", path.to_str().unwrap()]).await;
    let addr = p.line.parse().expect("hotline address");
    (p, addr)
}

/// Waits until the journal of the Hotline at `db` is empty (every mirror decided) and,
/// with `outbox`, its outbox too (every copy sent); returns the seconds it took.
async fn settle(db: &Path, outbox: bool) -> f64 {
    let started = Instant::now();
    let store = hotline::store::Store::open(&format!("sqlite://{}", db.display()))
        .await
        .expect("the bench database");
    let conn = store.ensure_connection("on").await.expect("connection");
    let deadline = started + Duration::from_secs(900);
    loop {
        let journal = store.journaled_calls(conn, 1).await.map_or(1, |c| c.len());
        let queued = if outbox {
            store
                .outbox_stats(conn)
                .await
                .map_or(1, |s| s.pending + s.in_flight)
        } else {
            0
        };
        if journal == 0 && queued == 0 || Instant::now() > deadline {
            store.close().await;
            return started.elapsed().as_secs_f64();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until Hotline created a topic for each of `n` users (their `/start` relayed).
async fn wait_topics(world: &World, group: i64, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let v: Value = reqwest::get(format!("{}/control/topics?chat_id={group}", world.url))
            .await
            .expect("control")
            .json()
            .await
            .expect("topics");
        if v["result"].as_array().map_or(0, Vec::len) >= n {
            return;
        }
        assert!(Instant::now() < deadline, "topics were not created");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn row(name: &str, m: &Measured, base: &Measured, nginx: Option<&Measured>) {
    let vs_nginx = nginx.map_or("—".to_string(), |n| format!("{:.2}×", m.rps() / n.rps()));
    println!(
        "| {name} | {:.0} | {vs_nginx} | {:.2} | {:.2} | +{:.2} / +{:.2} | {:.2} | {:.2} | {} |",
        m.rps(),
        m.pct(0.5),
        m.pct(0.99),
        m.pct(0.5) - base.pct(0.5),
        m.pct(0.99) - base.pct(0.99),
        if m.proxy_cpu.is_nan() || m.requests == 0 {
            f64::NAN
        } else {
            m.proxy_cpu / m.requests as f64 * 1e6
        },
        if m.requests == 0 {
            f64::NAN
        } else {
            m.proxy_switches / m.requests as f64
        },
        m.errors
    );
}

/// Runs every row, then the flood.
pub async fn gateway(o: Opts) {
    println!("machine: {}; load average before: {}", machine(), loadavg());
    println!(
        "load: {} keep-alive connections, one request in flight each, getMe/sendMessage alternating over {} users, {} s per row after 1 s of warm-up",
        o.connections, o.users, o.seconds
    );
    let emu = spawn_self(&["serve-emulator", "--users", &o.users.to_string()]).await;
    let world: World = serde_json::from_str(&emu.line).expect("world");
    let emu_addr: SocketAddr = world.url.trim_start_matches("http://").parse().unwrap();
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |addr: SocketAddr, token: &'static str, pids: Vec<u32>, mix: Mix, secs: u64| {
        let users = world.users.clone();
        async move { load(addr, token, &users, o.connections, secs as f64, mix, &pids).await }
    };
    let mut rows: Vec<(&str, Measured)> = Vec::new();

    rows.push((
        "direct to the emulator",
        run(emu_addr, TOKEN_OFF, vec![], Mix::Both, o.seconds).await,
    ));
    match start_nginx(&world.url).await {
        Some(n) => {
            let pids = nginx_pids(&n).await;
            rows.push((
                "nginx (reverse proxy)",
                run(n.addr, TOKEN_OFF, pids, Mix::Both, o.seconds).await,
            ));
        }
        None => println!("nginx is not installed: its row is skipped"),
    }

    let off_bot = (TOKEN_OFF, world.group_off);
    let (off, addr) = start_hotline(
        dir.path(),
        "off",
        &world,
        off_bot,
        LIFTED,
        "INTERCEPT_EXTERNAL = false",
    )
    .await;
    wait_topics(&world, world.group_off, world.users.len()).await;
    let pid = off.child.id().unwrap_or(0);
    rows.push((
        "Hotline gateway, mirroring off",
        run(addr, TOKEN_OFF, vec![pid], Mix::Both, o.seconds).await,
    ));
    drop(off);

    // Mirroring on: every user has a dialog and a topic, so every sendMessage is mirrored.
    // First with every copy sent at once (the limits lifted), then waiting until the
    // mirror backlog is gone.
    let on_bot = (TOKEN_ON, world.group_on);
    let (on, addr) = start_hotline(dir.path(), "on", &world, on_bot, LIFTED, "").await;
    wait_topics(&world, world.group_on, world.users.len()).await;
    let pid = on.child.id().unwrap_or(0);
    rows.push((
        "Hotline gateway, mirroring on, copies unpaced",
        run(addr, TOKEN_ON, vec![pid], Mix::Both, o.seconds).await,
    ));
    let db = dir.path().join("on.db");
    let took = settle(&db, true).await;
    println!("mirroring on, copies unpaced: every decision taken and every copy sent {took:.1} s after the row");
    drop(on);
    // The same database under Telegram's limits: copies go out at 20/min per group, as
    // they would; the gateway's own work (journal, decisions) is all there.
    let (on, addr) = start_hotline(dir.path(), "on", &world, on_bot, "", "").await;
    let pid = on.child.id().unwrap_or(0);
    rows.push((
        "Hotline gateway, mirroring on, Telegram's limits",
        run(addr, TOKEN_ON, vec![pid], Mix::Both, o.seconds).await,
    ));
    let took = settle(&db, false).await;
    println!("mirroring on, Telegram's limits: every decision taken {took:.1} s after the row");

    println!();
    println!("| path | requests/s | vs nginx | p50 ms | p99 ms | added p50 / p99 ms vs direct | proxy CPU µs/request | proxy context switches/request | errors |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let nginx = rows
        .iter()
        .find(|(n, _)| n.starts_with("nginx"))
        .map(|(_, m)| m);
    for (name, m) in &rows {
        row(name, m, &rows[0].1, nginx);
    }
    println!("load average after the rows: {}", loadavg());

    // The flood: sendMessage only, mirroring on, Telegram's limits; Hotline's memory
    // sampled every 100 ms.
    println!();
    let rss0 = rss_mb(pid);
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let p2 = peak.clone();
    let sampler = tokio::spawn(async move {
        loop {
            let kb = (rss_mb(pid) * 1024.0) as u64;
            p2.fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let flood = run(addr, TOKEN_ON, vec![pid], Mix::Send, o.flood).await;
    sampler.abort();
    let max = peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0;
    println!(
        "flood: {} s of sendMessage only, mirroring on: {:.0} requests/s ({} answered, {} errors, p99 {:.1} ms); Hotline RSS {:.0} MB before, peak {:.0} MB, {:.0} MB after; load average after: {}",
        o.flood,
        flood.rps(),
        flood.requests,
        flood.errors,
        flood.pct(0.99),
        rss0,
        max,
        rss_mb(pid),
        loadavg()
    );
    let took = settle(&db, false).await;
    println!("flood: every decision taken {took:.1} s after it");
    drop(on);
}

/// The master and its workers (children of the master), once the workers are up.
async fn nginx_pids(n: &Nginx) -> Vec<u32> {
    let master = n.child.id().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut pids = vec![master];
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if ppid == Some(master) {
                pids.push(pid);
            }
        }
        if pids.len() > 1 || Instant::now() > deadline {
            return pids;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
