//! Running the real `hotline` binary in tests: one-shot commands, and long-running ones
//! (`run`, `sandbox`) whose output is collected line by line while they run, waited on
//! with a deadline and stopped with SIGTERM like a service manager would.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hotline::store::testdb::{test_backend, TestDatabase};
use hotline::store::Backend;
use serde_json::json;
use tg_emulator::{Control, Emulator};

/// How long a test waits for the binary before failing.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The binary under test.
pub fn hotline() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hotline"));
    // The tests decide the environment; nothing from the caller's shell leaks in.
    for var in [
        "HOTLINE_CONFIG",
        "HOTLINE_LOG_FORMAT",
        "HOTLINE_DATABASE_URL",
        "HOTLINE_HTTP_LISTEN",
        "RUST_LOG",
        "NO_COLOR",
    ] {
        c.env_remove(var);
    }
    c
}

/// Runs a one-shot command to its end (killed and failed after [`DEADLINE`]).
pub fn finish(mut cmd: Command, what: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hotline starts");
    let read = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = from.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Runs `hotline ARGS` in `dir` to its end.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = hotline();
    cmd.args(args).current_dir(dir);
    finish(cmd, &format!("hotline {}", args.join(" ")))
}

/// Fails the test unless the command succeeded; returns its stdout.
pub fn success(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Runs `hotline ARGS` in `dir`, requires success and returns its stdout.
pub fn run_ok(dir: &Path, args: &[&str]) -> String {
    success(&run(dir, args), &format!("hotline {}", args.join(" ")))
}

/// A long-running `hotline` process with its output collected as it comes.
pub struct Proc {
    child: Child,
    /// Lines of stdout so far.
    pub stdout: Arc<Mutex<Vec<String>>>,
    /// Lines of stderr so far.
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `cmd` with piped output.
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hotline starts");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits until a line of stdout or stderr satisfies `f` and returns it; fails the test
    /// if the process exits first or the deadline passes.
    pub fn wait_line(&mut self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let found = {
                let out = self.stdout.lock().unwrap();
                let err = self.stderr.lock().unwrap();
                out.iter().chain(err.iter()).find(|l| f(l)).cloned()
            };
            if let Some(line) = found {
                return line;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "hotline exited ({status}) before {what}:\n{}",
                    self.output()
                );
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("hotline did not stop on SIGTERM:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The readers finish once the pipes close.
        let deadline = Instant::now() + DEADLINE;
        while Arc::strong_count(&self.stdout) + Arc::strong_count(&self.stderr) > 2
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        (status, self.output())
    }

    /// Everything written so far, stdout then stderr.
    pub fn output(&self) -> String {
        let out = self.stdout.lock().unwrap().join("\n");
        let err = self.stderr.lock().unwrap().join("\n");
        format!("{out}\n{err}")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(from: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            match line {
                Ok(l) => sink.lock().unwrap().push(l),
                Err(_) => break,
            }
        }
    });
    lines
}

/// A Telegram emulator with a bot that administers a forum group owned by an operator,
/// running on its own runtime so that tests can be plain threads that wait by polling.
pub struct World {
    pub emu: Emulator,
    pub ctl: Control,
    pub token: String,
    pub bot: i64,
    pub group: i64,
    pub operator: i64,
    /// The suite's PostgreSQL database (`HOTLINE_TEST_DATABASE=postgres`); on SQLite the
    /// database is a file next to the config.
    pub db: Option<TestDatabase>,
    /// Declared last: dropped after the emulator.
    pub rt: tokio::runtime::Runtime,
}

impl World {
    /// Starts the emulator with the bot `token`.
    pub fn start(token: &str) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emu = rt
            .block_on(Emulator::start_local())
            .expect("emulator starts");
        let ctl = emu.control();
        let bot = ctl.add_bot(token, "support_bot", "Support").unwrap();
        let operator = ctl.add_user("Olga", Some("Operator"), Some("olga"), Some("en"))["id"]
            .as_i64()
            .unwrap();
        let group = ctl.add_group("Support team", true, Some(operator));
        ctl.add_admin_bot(group, bot).unwrap();
        let db = match test_backend() {
            Backend::Postgres => Some(rt.block_on(TestDatabase::create(None))),
            Backend::Sqlite => None,
        };
        Self {
            db,
            emu,
            ctl,
            token: token.to_string(),
            bot,
            group,
            operator,
            rt,
        }
    }

    /// An HTTP request to Hotline (or anyone): `GET url` with optional bearer key; returns
    /// the status and body.
    pub fn get(&self, url: &str, bearer: Option<&str>) -> (u16, String) {
        self.rt.block_on(async {
            let mut req = reqwest::Client::new().get(url);
            if let Some(key) = bearer {
                req = req.bearer_auth(key);
            }
            let resp = req.send().await.expect("request sent");
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        })
    }

    /// A one-connection `hotline.toml` for this world on the suite's database (the file
    /// `hotline.db` next to it, or the world's PostgreSQL database), an ephemeral HTTP port,
    /// and `extra` appended (e.g. `[connection.params]`).
    pub fn config(&self, extra: &str) -> String {
        let url = self.db.as_ref().map_or("sqlite://hotline.db", |d| d.url());
        self.config_on(url, extra)
    }

    /// [`Self::config`] on the SQLite file `hotline.db` whatever the suite's database.
    pub fn config_sqlite(&self, extra: &str) -> String {
        self.config_on("sqlite://hotline.db", extra)
    }

    fn config_on(&self, database_url: &str, extra: &str) -> String {
        format!(
            "database_url = \"{database_url}\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
             [webhooks]\nallow_ranges = [\"127.0.0.0/8\"]\n\n\
             [[connection]]\nname = \"support\"\ntoken = \"{}\"\ngroup_id = {}\napi_url = \"{}\"\n{extra}",
            self.token,
            self.group,
            self.emu.url()
        )
    }

    /// A new person who can write to the bot.
    pub fn person(&self, first: &str) -> i64 {
        self.ctl
            .add_user(first, None, Some(&first.to_lowercase()), Some("en"))["id"]
            .as_i64()
            .unwrap()
    }

    /// The live topic whose title contains `name`, if any.
    pub fn topic_of(&self, name: &str) -> Option<i64> {
        self.ctl
            .topics(self.group)
            .into_iter()
            .find(|t| t["is_deleted"] == false && t["name"].as_str().unwrap_or("").contains(name))
            .and_then(|t| t["message_thread_id"].as_i64())
    }
}

/// Waits (blocking, polling) until `f` is true.
pub fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Text or caption of a message.
pub fn text_of(m: &serde_json::Value) -> String {
    m["text"]
        .as_str()
        .or_else(|| m["caption"].as_str())
        .unwrap_or("")
        .to_string()
}

/// A message from `who` to the bot.
pub fn says(world: &World, who: i64, text: &str) {
    world
        .ctl
        .send(
            who,
            tg_emulator::control::Place::Bot(world.bot),
            &json!({ "text": text }),
        )
        .expect("message accepted");
}
