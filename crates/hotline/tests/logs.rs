//! Logs of the real binary in JSON mode: every line is one JSON object carrying the ids of the
//! work it belongs to (connection, update, intent, API key, gateway method), the version is
//! logged at start, and no token, API key or webhook secret appears anywhere in the output —
//! through start-up, a relay both ways, gateway calls with the token in the path, API calls
//! with a bearer key, and signed webhook deliveries.

mod cli_support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cli_support::{run_ok, says, text_of, wait_for, Proc, World};
use serde_json::{json, Value};
use tg_emulator::control::Place;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "7000042:LogSecretTokenPart-abc_XYZ";

/// A webhook receiver that answers 200 to everything; counts the POSTs it got.
fn receiver(world: &World) -> (String, Arc<AtomicUsize>) {
    let got = Arc::new(AtomicUsize::new(0));
    let count = got.clone();
    let listener = world
        .rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    world.rt.spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Read the head, then as much body as Content-Length says.
                loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let len = text[..head_end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= head_end + 4 + len {
                            break;
                        }
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, got)
}

#[test]
fn json_logs_are_one_object_per_line_with_ids_and_never_a_secret() {
    let world = World::start(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let (hook, delivered) = receiver(&world);
    let config = world.config(&format!(
        "[connection.params]\nWEBHOOKS = \"{hook} message_received\"\n"
    ));
    std::fs::write(dir.path().join("hotline.toml"), config).unwrap();

    // Secrets made before the start: an API key and the webhook signing secret.
    let key = run_ok(
        dir.path(),
        &[
            "api-key",
            "create",
            "--config",
            "hotline.toml",
            "--name",
            "ci",
        ],
    )
    .trim()
    .to_string();
    assert!(key.starts_with("hl_"), "{key}");
    let signing = run_ok(dir.path(), &["webhook-secret", "--config", "hotline.toml"])
        .trim()
        .to_string();
    assert!(signing.len() >= 16, "{signing}");

    let mut cmd = cli_support::hotline();
    cmd.args(["run", "--config", "hotline.toml", "--log-format", "json"])
        .current_dir(dir.path())
        // Everything Hotline and its libraries log, at every level.
        .env("RUST_LOG", "trace");
    let mut p = Proc::start(cmd);
    let running = p.wait_line("the running line", |l| l.contains("hotline is running"));
    let addr = serde_json::from_str::<Value>(&running).unwrap()["addr"]
        .as_str()
        .unwrap()
        .to_string();

    // A relay both ways.
    let ann = world.person("Ann");
    says(&world, ann, "hello from the json test");
    wait_for("Ann's topic", || world.topic_of("Ann").is_some());
    let thread = world.topic_of("Ann").unwrap();
    wait_for("Ann's message in her topic", || {
        world
            .ctl
            .topic_transcript(world.group, Some(thread))
            .iter()
            .any(|m| text_of(m).contains("hello from the json test"))
    });
    world
        .ctl
        .send(
            world.operator,
            Place::Group(world.group, Some(thread)),
            &json!({"text": "an answer for Ann"}),
        )
        .unwrap();
    wait_for("the answer in Ann's chat", || {
        world
            .ctl
            .private_transcript(world.bot, ann)
            .iter()
            .any(|m| text_of(m) == "an answer for Ann")
    });

    // The gateway, with the token in the path; an unknown token too.
    let (status, body) = world.get(&format!("http://{addr}/bot{TOKEN}/getMe"), None);
    assert_eq!(status, 200, "{body}");
    let (status, _) = world.get(&format!("http://{addr}/bot123:wrong/getMe"), None);
    assert_eq!(status, 401);
    // The API with the bearer key; a wrong key too.
    let (status, body) = world.get(&format!("http://{addr}/api/v1/contacts"), Some(&key));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Ann"), "{body}");
    let (status, _) = world.get(
        &format!("http://{addr}/api/v1/contacts"),
        Some("hl_not_a_key"),
    );
    assert_eq!(status, 401);
    // A signed webhook delivery went out.
    wait_for("the message_received webhook", || {
        delivered.load(Ordering::SeqCst) > 0
    });

    let (status, output) = p.stop();
    assert!(status.success(), "exit {status}:\n{output}");

    let secret_part = TOKEN.split_once(':').unwrap().1;
    for (what, secret) in [
        ("the bot token", secret_part),
        ("the API key", key.as_str()),
        ("the API key's secret part", &key[12..]),
        ("the webhook signing secret", signing.as_str()),
    ] {
        assert!(!output.contains(secret), "{what} leaked into the output");
    }
    assert!(!output.contains('\u{1b}'), "colour codes in piped output");

    let mut lines = Vec::new();
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        for field in ["timestamp", "level", "target"] {
            assert!(v[field].is_string(), "no {field}: {line}");
        }
        lines.push(v);
    }
    assert!(
        lines.len() > 50,
        "only {} lines at trace level",
        lines.len()
    );
    let with = |pred: &dyn Fn(&Value) -> bool| lines.iter().filter(|v| pred(v)).count();

    assert_eq!(
        with(&|v| v["version"] == env!("CARGO_PKG_VERSION") && v["command"] == "run"),
        1,
        "the version is logged once at start"
    );
    assert!(
        with(&|v| v["connection"] == "support" && v["update_id"].is_number()) > 0,
        "update processing carries connection and update_id"
    );
    assert!(
        with(&|v| v["connection"] == "support" && v["intent"].is_number()) > 0,
        "intent execution carries connection and intent"
    );
    assert!(
        with(&|v| v["message"] == "api request"
            && v["connection"] == "support"
            && v["key_id"].is_number()
            && v["route"] == "/api/v1/contacts"
            && v["status"] == 200)
            > 0,
        "API requests are logged with connection, key id, route and status"
    );
    assert!(
        with(&|v| v["message"] == "api request" && v["status"] == 401) > 0,
        "refused API requests are logged too"
    );
    assert!(
        with(&|v| v["message"] == "gateway call"
            && v["connection"] == "support"
            && v["method"] == "getMe")
            > 0,
        "gateway calls carry connection and method"
    );
    let levels: BTreeSet<&str> = lines.iter().filter_map(|v| v["level"].as_str()).collect();
    assert!(
        levels.contains("INFO") && levels.contains("TRACE"),
        "{levels:?}"
    );
}
