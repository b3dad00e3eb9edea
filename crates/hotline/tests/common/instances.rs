//! Real `hotline run` processes for the crash and failover tests (`relay_crash.rs`,
//! `failover.rs`): started on a config file, killed with SIGKILL, stopped with SIGTERM,
//! frozen and thawed; and the accounting of what a kill lost or repeated in the emulator's
//! transcripts.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tg_emulator::{Control, Emulator};

/// The outbox runs at most this many calls at once (`OutboxConfig::new`'s default), so a
/// SIGKILL can leave at most this many calls done at Telegram but not yet recorded.
pub const IN_FLIGHT: usize = 8;

/// The emulator world of the process tests: the support bot, its operator and the forum
/// group where the bot is an administrator.
pub struct World {
    /// The emulator (stops when dropped).
    pub emu: Emulator,
    /// Its control handle.
    pub ctl: Control,
    /// The support bot's token.
    pub token: &'static str,
    /// The support bot's user id.
    pub bot: i64,
    /// The operator (the group's creator).
    pub op: i64,
    /// The forum group.
    pub group: i64,
}

/// Starts an emulator with the [`World`] the process tests share.
pub async fn world() -> World {
    let emu = Emulator::start_local().await.unwrap();
    let ctl = emu.control();
    let token = "7000001:test-token-support";
    let bot = ctl.add_bot(token, "support_bot", "Support").unwrap();
    let op = ctl.add_user("Olga", None, Some("olga"), Some("en"))["id"]
        .as_i64()
        .unwrap();
    let group = ctl.add_group("Support team", true, Some(op));
    ctl.add_admin_bot(group, bot).unwrap();
    World {
        emu,
        ctl,
        token,
        bot,
        op,
        group,
    }
}

/// One `hotline run` process, restartable on the same config and log file.
pub struct Instance {
    child: Option<tokio::process::Child>,
    /// Its configuration file.
    pub config: PathBuf,
    /// Where its stderr goes (appended across restarts).
    pub log: PathBuf,
    /// Extra environment (e.g. `HOTLINE_HTTP_LISTEN`), the same at every start.
    pub env: Vec<(String, String)>,
}

impl Instance {
    /// An instance not started yet.
    pub fn new(config: PathBuf, log: PathBuf) -> Self {
        Self {
            child: None,
            config,
            log,
            env: Vec::new(),
        }
    }

    /// Starts the process (again).
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hotline"));
        cmd.args(["run", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info,sqlx=warn")
            .env_remove("HOTLINE_HTTP_LISTEN")
            .env_remove("HOTLINE_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("hotline binary starts"));
    }

    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Whether the process runs (it has not exited since it was started).
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// SIGKILL, and waits for the process to be gone.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.start_kill().unwrap();
            let _ = c.wait().await;
        }
    }

    /// SIGTERM (a clean stop, as a service manager does) and waits up to `limit` for the
    /// exit; returns whether it exited 0.
    pub async fn terminate(&mut self, limit: Duration) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        self.signal_pid(c.id(), "TERM");
        match tokio::time::timeout(limit, c.wait()).await {
            Ok(status) => status.is_ok_and(|s| s.success()),
            Err(_) => {
                let _ = c.start_kill();
                let _ = c.wait().await;
                panic!(
                    "hotline did not stop within {limit:?} of SIGTERM (log: {})",
                    self.log.display()
                );
            }
        }
    }

    /// Sends a signal by name (`STOP`, `CONT`, …) to the running process.
    pub fn signal(&self, name: &str) {
        self.signal_pid(self.pid(), name);
    }

    fn signal_pid(&self, pid: Option<u32>, name: &str) {
        let pid = pid.expect("a running process").to_string();
        let ok = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{name} {pid}");
    }

    /// The log written so far (for a failure message).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The texts of each live topic whose title contains `name` (a kill during topic creation
/// may leave two).
pub fn topic_transcripts(ctl: &Control, group: i64, name: &str) -> Vec<Vec<String>> {
    ctl.topics(group)
        .iter()
        .filter(|t| t["is_deleted"] == false && t["name"].as_str().unwrap_or("").contains(name))
        .map(|t| {
            ctl.topic_transcript(group, t["message_thread_id"].as_i64())
                .iter()
                .map(super::text_of)
                .collect()
        })
        .collect()
}

/// Every text of the topics whose title contains `name`.
pub fn topic_texts(ctl: &Control, group: i64, name: &str) -> Vec<String> {
    topic_transcripts(ctl, group, name).concat()
}

/// Repeated calls in transcripts: a maximal run of consecutive messages (starting with
/// `prefix`) that were all seen before. A queue runs one call at a time, so a call that
/// Telegram executed twice (once before a kill, once after) shows as one such run, however
/// many messages it carried (a burst coalesced into one copyMessages carries up to 100).
pub fn repeated_calls(transcripts: &[Vec<String>], prefix: &str) -> usize {
    let mut seen = HashSet::new();
    let mut runs = 0;
    for t in transcripts {
        let mut in_run = false;
        for text in t.iter().filter(|t| t.starts_with(prefix)) {
            let repeated = !seen.insert(text.clone());
            if repeated && !in_run {
                runs += 1;
            }
            in_run = repeated;
        }
    }
    runs
}

/// How many times each text starting with `prefix` occurs.
pub fn counts(texts: &[String], prefix: &str) -> HashMap<String, usize> {
    let mut c = HashMap::new();
    for t in texts.iter().filter(|t| t.starts_with(prefix)) {
        *c.entry(t.clone()).or_default() += 1;
    }
    c
}
