//! Failover (issue 14): three `hotline run` processes on one PostgreSQL database and one
//! Telegram, each on its own HTTP port with its own instance identity. During a 2,000-message
//! exchange both ways (users write, operators answer in the topics) the owner of the
//! connection is killed with SIGKILL: another instance takes the lease over within 10 s, no
//! message is lost either way, and duplicates stay within the calls in flight at the kill.
//! Then a rolling restart — each instance in turn stopped with SIGTERM and started again
//! while traffic goes on — loses nothing and repeats nothing (a clean stop finishes its
//! calls in flight and releases the lease).
//!
//! PostgreSQL only: on SQLite one process owns its database file by nature
//! (`tools/test.sh` runs this again with `HOTLINE_TEST_DATABASE=postgres`).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::instances::{
    counts, repeated_calls, topic_texts, topic_transcripts, Instance, IN_FLIGHT,
};
use common::{config_toml_url, db_pool, text_of, wait_until_for};
use hotline::store::testdb::{test_backend, TestDatabase};
use hotline::store::Backend;
use serde_json::json;
use sqlx::Row;
use tg_emulator::control::Place;
use tg_emulator::Control;
use tokio::time::Instant;

const INSTANCES: usize = 3;
const USERS: usize = 20;
/// Messages per user each way in the first phase: 20 × 50 × 2 = 2,000.
const PER_USER: usize = 50;
/// The bound on a take-over after the owner died.
const TAKE_OVER: Duration = Duration::from_secs(10);
/// Limits lifted in Hotline (the emulator enforces none here): pacing is tested elsewhere
/// (outbox, relay_content, group_budget); at Telegram's 1 message a second per private chat
/// the answers alone would take a minute, and this test is about what a failover loses or
/// repeats.
const NO_LIMITS: &str =
    "[limits]\nbot_per_second = 100000\nprivate_per_second = 100000\ngroup_per_minute = 100000\n";

/// The connection's lease as stored: holder, HTTP address, epoch.
#[derive(Debug, Clone, PartialEq)]
struct Lease {
    owner: String,
    address: String,
    epoch: i64,
}

impl Lease {
    /// The holder's process id (the instance id is `random@host:pid`).
    fn pid(&self) -> u32 {
        self.owner
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("an instance id with a pid: {}", self.owner))
    }
}

struct Cluster {
    instances: Vec<Instance>,
    ports: Vec<u16>,
    pool: sqlx::AnyPool,
    http: reqwest::Client,
}

impl Cluster {
    async fn lease(&self) -> Option<Lease> {
        let row = sqlx::query(
            "SELECT l.owner, l.address, l.epoch FROM connection_leases l \
             JOIN connections c ON c.id = l.connection_id WHERE c.name = $1",
        )
        .bind("support")
        .fetch_optional(&self.pool)
        .await
        .expect("reading the lease");
        row.map(|r| Lease {
            owner: r.get(0),
            address: r.get(1),
            epoch: r.get(2),
        })
    }

    /// Which instance holds the lease (by the pid in its instance id).
    async fn owner(&self) -> Option<(usize, Lease)> {
        let lease = self.lease().await?;
        let i = self
            .instances
            .iter()
            .position(|p| p.pid() == Some(lease.pid()))?;
        Some((i, lease))
    }

    /// Waits until a running instance holds the lease at an epoch above `after` and
    /// returns it.
    async fn wait_owner(&self, after: i64, limit: Duration) -> (usize, Lease) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((i, l)) = self.owner().await {
                if l.epoch > after {
                    return (i, l);
                }
            }
            assert!(
                Instant::now() < deadline,
                "no instance took the lease over (epoch > {after}) within {limit:?}: {:?}",
                self.lease().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn get(&self, i: usize, path: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}{path}", self.ports[i]);
        let r = self.http.get(url).send().await.ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.unwrap_or_default()))
    }

    /// Waits until instance `i` answers `/ready` with 200 (owner or standby).
    async fn wait_ready(&mut self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((200, _)) = self.get(i, "/ready").await {
                return;
            }
            assert!(
                self.instances[i].running(),
                "instance {i} exited:\n{}",
                self.instances[i].log_text()
            );
            assert!(Instant::now() < deadline, "instance {i} not ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `hotline_lease_owned` of the connection as instance `i` reports it.
    async fn lease_gauge(&self, i: usize) -> Option<i64> {
        let (_, body) = self.get(i, "/metrics").await?;
        body.lines()
            .find(|l| l.starts_with("hotline_lease_owned{") && l.contains("\"support\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// The lease names a running instance, at its own address, whose `/metrics` says it
    /// owns the connection, while every other running instance says it does not.
    async fn assert_one_owner(&mut self, what: &str) -> usize {
        let (owner, lease) = self
            .owner()
            .await
            .unwrap_or_else(|| panic!("{what}: the lease names no running instance"));
        assert!(
            lease
                .address
                .ends_with(&format!("127.0.0.1:{}", self.ports[owner])),
            "{what}: the lease's address {} is the owner's",
            lease.address
        );
        // The gauge follows the lease within a renewal; wait for it rather than sample.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut gauges = Vec::new();
            for i in 0..self.instances.len() {
                gauges.push(if self.instances[i].running() {
                    self.lease_gauge(i).await.unwrap_or(0)
                } else {
                    0
                });
            }
            let expected: Vec<i64> = (0..self.instances.len())
                .map(|i| i64::from(i == owner))
                .collect();
            if gauges == expected {
                return owner;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: hotline_lease_owned per instance {gauges:?}, the lease names {owner}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Sends rounds of traffic until `stop` (or `rounds` rounds): in each round `r`, every user
/// writes one message `{u}{i:02}-m{r:02}` (from round `users_from` on: earlier ones were
/// sent already) and the operator answers once `{a}{i:02}-{r:02}` in each user's topic,
/// `pace` apart. Returns how many rounds were sent.
#[allow(clippy::too_many_arguments)]
async fn traffic(
    ctl: Control,
    bot: i64,
    group: i64,
    op: i64,
    users: Arc<Vec<i64>>,
    threads: Arc<Vec<i64>>,
    prefixes: (&'static str, &'static str),
    users_from: usize,
    rounds: usize,
    pace: Duration,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
) -> usize {
    let (u, a) = prefixes;
    let mut r = 0;
    while r < rounds && !stop.load(Ordering::SeqCst) {
        for (i, user) in users.iter().enumerate() {
            if r >= users_from {
                ctl.send(
                    *user,
                    Place::Bot(bot),
                    &json!({"text": format!("{u}{i:02}-m{r:02}")}),
                )
                .unwrap();
            }
            ctl.send(
                op,
                Place::Group(group, Some(threads[i])),
                &json!({"text": format!("{a}{i:02}-{r:02}")}),
            )
            .unwrap();
        }
        r += 1;
        sent.store(r, Ordering::SeqCst);
        tokio::time::sleep(pace).await; // the pace of the traffic, not a wait for a condition
    }
    r
}

/// Delivered messages: distinct user texts in the topics and answers in the private chats.
fn delivered(
    ctl: &Control,
    bot: i64,
    group: i64,
    users: &[i64],
    (u, a): (&str, &str),
) -> (usize, usize) {
    let mut inc = 0;
    let mut out = 0;
    for (i, user) in users.iter().enumerate() {
        inc += counts(
            &topic_texts(ctl, group, &format!("Fo{i:02}")),
            &format!("{u}{i:02}-m"),
        )
        .len();
        let answers: Vec<String> = ctl
            .private_transcript(bot, *user)
            .iter()
            .map(text_of)
            .collect();
        out += counts(&answers, &format!("{a}{i:02}-")).len();
    }
    (inc, out)
}

/// Every message of the phase arrived once at least; returns (duplicate messages,
/// repeated calls).
fn audit(
    ctl: &Control,
    bot: i64,
    group: i64,
    users: &[i64],
    (u, a): (&str, &str),
    rounds: usize,
) -> (usize, usize) {
    let mut duplicates = 0;
    let mut repeated = 0;
    for (i, user) in users.iter().enumerate() {
        let topics = topic_transcripts(ctl, group, &format!("Fo{i:02}"));
        let answers: Vec<String> = ctl
            .private_transcript(bot, *user)
            .iter()
            .map(text_of)
            .collect();
        let inc = counts(&topics.concat(), &format!("{u}{i:02}-m"));
        let out = counts(&answers, &format!("{a}{i:02}-"));
        assert_eq!(
            inc.len(),
            rounds,
            "user {i}: every message reached the topic"
        );
        assert_eq!(out.len(), rounds, "user {i}: every answer reached the user");
        duplicates += inc
            .values()
            .chain(out.values())
            .map(|n| n - 1)
            .sum::<usize>();
        repeated += repeated_calls(&topics, &format!("{u}{i:02}-m"));
        repeated += repeated_calls(&[answers], &format!("{a}{i:02}-"));
    }
    (duplicates, repeated)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_killed_or_restarted_loses_nothing() {
    if test_backend() != Backend::Postgres {
        eprintln!(
            "failover: skipped on SQLite (one process per database file); it runs in the \
             PostgreSQL half of tools/test.sh (HOTLINE_TEST_DATABASE=postgres)"
        );
        return;
    }
    let started = Instant::now();
    let common::instances::World {
        emu,
        ctl,
        token,
        bot,
        op,
        group,
    } = common::instances::world().await;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(Some(dir.path())).await;
    let config = dir.path().join("hotline.toml");
    std::fs::write(
        &config,
        config_toml_url(db.url(), &emu.url(), token, group, "").replace(
            "[limits]\nbot_per_second = 30\nprivate_per_second = 1\ngroup_per_minute = 20\n",
            NO_LIMITS,
        ),
    )
    .unwrap();
    let ports: Vec<u16> = (0..INSTANCES).map(|_| free_port()).collect();
    let instances = (0..INSTANCES)
        .map(|i| {
            let mut p = Instance::new(config.clone(), dir.path().join(format!("hotline-{i}.log")));
            p.env.push((
                "HOTLINE_HTTP_LISTEN".into(),
                format!("127.0.0.1:{}", ports[i]),
            ));
            p
        })
        .collect();
    let mut c = Cluster {
        instances,
        ports,
        pool: db_pool(db.url()).await,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
    };
    for i in 0..INSTANCES {
        c.instances[i].spawn();
    }
    for i in 0..INSTANCES {
        c.wait_ready(i).await;
    }
    c.wait_owner(0, Duration::from_secs(30)).await;
    c.assert_one_owner("at start").await;
    wait_until_for("the owner polling", Duration::from_secs(30), || {
        ctl.is_polling(bot)
    })
    .await;

    // Every user's first message opens their topic.
    let users: Vec<i64> = (0..USERS)
        .map(|i| {
            ctl.add_user(&format!("Fo{i:02}"), None, None, None)["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    for (i, u) in users.iter().enumerate() {
        ctl.send(
            *u,
            Place::Bot(bot),
            &json!({"text": format!("u{i:02}-m00")}),
        )
        .unwrap();
    }
    let thread_of = |i: usize| -> Option<i64> {
        ctl.topics(group)
            .iter()
            .find(|t| {
                t["is_deleted"] == false
                    && t["name"]
                        .as_str()
                        .unwrap_or("")
                        .contains(&format!("Fo{i:02}"))
            })
            .and_then(|t| t["message_thread_id"].as_i64())
    };
    wait_until_for("every user's topic", Duration::from_secs(60), || {
        (0..USERS).all(|i| {
            thread_of(i).is_some_and(|th| {
                ctl.topic_transcript(group, Some(th))
                    .iter()
                    .any(|m| text_of(m) == format!("u{i:02}-m00"))
            })
        })
    })
    .await;
    let threads: Arc<Vec<i64>> = Arc::new((0..USERS).map(|i| thread_of(i).unwrap()).collect());
    let users = Arc::new(users);

    // Phase 1: the rest of the 2,000 messages, paced over a few seconds so the traffic
    // goes on across the kill; user messages `u`, answers `a` (round 0's user messages
    // were sent above, its answers go now that the topics exist).
    let phase1 = ("u", "a");
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let sender = tokio::spawn(traffic(
        ctl.clone(),
        bot,
        group,
        op,
        users.clone(),
        threads.clone(),
        phase1,
        1,
        PER_USER,
        Duration::from_millis(80),
        stop.clone(),
        sent.clone(),
    ));
    // Kill the owner once a third of the traffic was sent and a hundred messages arrived.
    let progress = || delivered(&ctl, bot, group, &users, phase1);
    // Operator replies go first (the outbox's Reply lane), the copies into the topics
    // after them: whichever flows, the kill falls in the middle of the exchange.
    wait_until_for("traffic flowing", Duration::from_secs(120), || {
        let (i, o) = progress();
        sent.load(Ordering::SeqCst) >= PER_USER / 3 && i - USERS + o >= 100
    })
    .await;
    let (owner, before) = c.owner().await.expect("an owner");
    let at_kill = progress();
    c.instances[owner].kill().await;
    let killed = Instant::now();
    let (next, after) = c.wait_owner(before.epoch, Duration::from_secs(60)).await;
    let take_over = killed.elapsed();
    println!(
        "SIGKILL of instance {owner} (epoch {}) with {}/{} messages in and {}/{} answers out \
         delivered and {} of {PER_USER} rounds sent: instance {next} owns it at epoch {} \
         after {take_over:?}",
        before.epoch,
        at_kill.0,
        USERS * PER_USER,
        at_kill.1,
        USERS * PER_USER,
        sent.load(Ordering::SeqCst),
        after.epoch
    );
    assert_ne!(next, owner);
    assert!(
        take_over <= TAKE_OVER,
        "the take-over took {take_over:?} (at most {TAKE_OVER:?})"
    );
    assert!(
        at_kill.0 < USERS * PER_USER || at_kill.1 < USERS * PER_USER,
        "the kill must fall in the middle of the exchange"
    );
    // The killed instance comes back as a standby.
    c.instances[owner].spawn();
    c.wait_ready(owner).await;
    let rounds = sender.await.unwrap();
    assert_eq!(rounds, PER_USER);
    wait_until_for(
        "every phase-1 message delivered both ways",
        Duration::from_secs(120),
        || progress() == (USERS * PER_USER, USERS * PER_USER),
    )
    .await;
    c.assert_one_owner("after the kill").await;
    let (dup1, rep1) = audit(&ctl, bot, group, &users, phase1, PER_USER);
    println!("after the SIGKILL: {dup1} duplicate messages in {rep1} repeated calls");
    assert!(
        rep1 <= IN_FLIGHT,
        "{rep1} repeated calls ({dup1} messages) after one kill (at most {IN_FLIGHT} in flight)"
    );

    // Phase 2: a rolling restart while traffic goes on.
    let phase2 = ("v", "b");
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let sender = tokio::spawn(traffic(
        ctl.clone(),
        bot,
        group,
        op,
        users.clone(),
        threads.clone(),
        phase2,
        0,
        99,
        Duration::from_millis(150),
        stop.clone(),
        sent.clone(),
    ));
    let mut hand_overs = Vec::new();
    for i in 0..INSTANCES {
        let (owner, before) = c.owner().await.expect("an owner");
        let t = Instant::now();
        assert!(
            c.instances[i].terminate(Duration::from_secs(60)).await,
            "instance {i} exits 0 on SIGTERM:\n{}",
            c.instances[i].log_text()
        );
        if owner == i {
            let (next, _) = c.wait_owner(before.epoch, TAKE_OVER).await;
            hand_overs.push((i, next, t.elapsed()));
        }
        c.instances[i].spawn();
        c.wait_ready(i).await;
        c.assert_one_owner(&format!("after restarting instance {i}"))
            .await;
    }
    stop.store(true, Ordering::SeqCst);
    let rounds = sender.await.unwrap();
    println!(
        "rolling restart: {rounds} rounds of traffic; hand-overs (from, to, time): {hand_overs:?}"
    );
    assert!(!hand_overs.is_empty(), "the owner was among the restarted");
    let all = USERS * rounds;
    wait_until_for(
        "every phase-2 message delivered both ways",
        Duration::from_secs(120),
        || delivered(&ctl, bot, group, &users, phase2) == (all, all),
    )
    .await;
    let (dup2, rep2) = audit(&ctl, bot, group, &users, phase2, rounds);
    println!("rolling restart: {dup2} duplicate messages in {rep2} repeated calls");
    assert_eq!(
        rep2, 0,
        "a clean stop finishes its calls in flight: nothing is sent twice ({dup2} messages)"
    );
    let live_topics = ctl
        .topics(group)
        .iter()
        .filter(|t| t["is_deleted"] == false)
        .count();
    assert_eq!(live_topics, USERS, "one topic per user");
    for i in 0..INSTANCES {
        c.instances[i].terminate(Duration::from_secs(60)).await;
    }
    let v = emu.violations();
    assert!(v.is_empty(), "{v:?}");
    println!("failover test took {:?}", started.elapsed());
}
