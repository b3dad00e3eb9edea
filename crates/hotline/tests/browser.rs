//! The sandbox page in a real browser: headless Chromium driven through chromedriver.
//!
//! A user (Bruno, who has not written yet) writes to the bot on the left; a topic for him
//! appears in the team's forum on the right; an operator opens it and answers; the answer
//! reaches the user's chat; `/close` turns the topic ⬛. The final page is saved to
//! `docs/sandbox.png` for the README.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`).
//! Without them the test fails, unless `HOTLINE_SKIP_BROWSER=1` is set.

use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};
use hotline::sandbox::{self, Options};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// How long any one step of the flow may take.
const STEP: Duration = Duration::from_secs(30);

/// Finds an executable on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// chromedriver as a child process; killed when dropped (also when the test panics).
struct Driver {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Driver {
    fn start(binary: &Path, log: PathBuf) -> Result<Self> {
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(driver);
            }
            if let Some(status) = driver.child.try_wait()? {
                bail!(
                    "chromedriver exited early ({status}); log:\n{}",
                    driver.log_tail()
                );
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not listen on {addr} within 15s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` until it yields a value or `STEP` passes.
async fn until<T, F, Fut>(what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let started = Instant::now();
    let deadline = started + STEP;
    let mut last_error = None;
    loop {
        match probe().await {
            Ok(Some(v)) => {
                eprintln!("  {what}: {:?}", started.elapsed());
                return Ok(v);
            }
            Ok(None) => {}
            // The page re-renders lists, so an element can go stale between find and use.
            Err(e) => last_error = Some(e),
        }
        if Instant::now() > deadline {
            let why = last_error
                .map(|e| format!(" (last error: {e:#})"))
                .unwrap_or_default();
            bail!("timed out after {STEP:?} waiting for {what}{why}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Topics in `#topic-list` as (thread id, title).
async fn topics(c: &Client) -> Result<Vec<(String, String)>> {
    let v = c
        .execute(
            r##"return [...document.querySelectorAll("#topic-list .topic")]
                 .map((t) => [t.dataset.threadId, t.querySelector(".tname").textContent]);"##,
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(v)?)
}

/// Texts of the messages shown in `sel` (`#user-chat` or `#group-chat`).
async fn messages(c: &Client, sel: &str) -> Result<Vec<String>> {
    let v = c
        .execute(
            r##"return [...document.querySelectorAll(arguments[0] + " .msg[data-message-id]")]
                 .map((m) => m.textContent);"##,
            vec![json!(sel)],
        )
        .await?;
    Ok(serde_json::from_value(v)?)
}

/// Types `text` into a composer and presses its send button.
async fn send(c: &Client, input: &str, button: &str, text: &str) -> Result<()> {
    let field = c.find(Locator::Css(input)).await?;
    field.click().await?;
    field.send_keys(text).await?;
    c.find(Locator::Css(button)).await?.click().await?;
    Ok(())
}

async fn flow(c: &Client, page_url: &str, shot: &Path) -> Result<()> {
    c.goto(page_url).await?;
    until("the page to go live", || async {
        let live = c.find(Locator::Id("live")).await?.text().await?;
        Ok((live == "live").then_some(()))
    })
    .await?;

    // Bruno (no dialog yet) writes to the bot.
    let value = until("Bruno in #user-select", || async {
        let options = c.find_all(Locator::Css("#user-select option")).await?;
        for o in options {
            if o.text().await?.starts_with("Bruno") {
                return Ok(o.attr("value").await?);
            }
        }
        Ok(None)
    })
    .await?;
    c.find(Locator::Id("user-select"))
        .await?
        .select_by_value(&value)
        .await?;
    until("Bruno's empty chat", || async {
        let select = c.find(Locator::Id("user-select")).await?;
        let selected = select.prop("value").await?;
        Ok((selected.as_deref() == Some(value.as_str())
            && messages(c, "#user-chat").await?.is_empty())
        .then_some(()))
    })
    .await?;
    let question = "Hello! My parcel arrived damaged, what can I do?";
    send(c, "#user-input", "#user-send", question).await?;
    until("Bruno's message in #user-chat", || async {
        Ok(messages(c, "#user-chat")
            .await?
            .iter()
            .any(|m| m.contains(question))
            .then_some(()))
    })
    .await?;

    // Hotline opens a topic for him in the forum.
    let thread = until("a topic for Bruno in #topic-list", || async {
        Ok(topics(c)
            .await?
            .into_iter()
            .find(|(_, title)| title.contains("Bruno"))
            .map(|(id, _)| id))
    })
    .await?;
    let topic = format!("#topic-list .topic[data-thread-id=\"{thread}\"]");
    c.find(Locator::Css(&topic)).await?.click().await?;
    until("the topic to open", || async {
        let el = c.find(Locator::Css(&topic)).await?;
        if el.attr("aria-current").await?.as_deref() == Some("true") {
            return Ok(Some(()));
        }
        el.click().await?; // the list re-rendered under the first click
        Ok(None)
    })
    .await?;
    until("Bruno's message copied into his topic", || async {
        Ok(messages(c, "#group-chat")
            .await?
            .iter()
            .any(|m| m.contains(question))
            .then_some(()))
    })
    .await?;

    // An operator answers in the topic; the answer reaches Bruno.
    let answer = "Sorry about that! Please send a photo of the parcel and we will replace it.";
    send(c, "#operator-input", "#operator-send", answer).await?;
    until("the answer in #user-chat", || async {
        Ok(messages(c, "#user-chat")
            .await?
            .iter()
            .any(|m| m.contains(answer))
            .then_some(()))
    })
    .await?;

    // /close turns the topic ⬛.
    send(c, "#operator-input", "#operator-send", "/close").await?;
    until("⬛ in the topic title", || async {
        let t = topics(c).await?;
        Ok(t.iter()
            .any(|(id, title)| *id == thread && title.starts_with('⬛'))
            .then_some(()))
    })
    .await?;

    // Let the last render settle (the page re-renders on server events), then save it.
    until("⬛ in the topic header", || async {
        let header = c.find(Locator::Id("topic-header")).await?.text().await?;
        Ok(header.starts_with('⬛').then_some(()))
    })
    .await?;
    let png = c.screenshot().await?;
    if let Some(dir) = shot.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(shot, png).with_context(|| format!("writing {}", shot.display()))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_page_user_to_operator_and_close() {
    let Some(chromedriver) = which("chromedriver") else {
        if std::env::var("HOTLINE_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!(
                "browser test skipped (HOTLINE_SKIP_BROWSER=1): chromedriver is not installed"
            );
            return;
        }
        panic!(
            "chromedriver is not installed: install Chromium and its driver \
             (Debian/Ubuntu: `apt-get install chromium chromium-driver`), \
             or set HOTLINE_SKIP_BROWSER=1 to skip this test"
        );
    };
    let started = Instant::now();

    let sandbox = sandbox::start(Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        hotline_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: None,
        parallel: false,
    })
    .await
    .expect("sandbox starts");

    let tmp = tempfile::tempdir().expect("temp dir");
    let profile = tmp.path().join("profile");
    let driver = Driver::start(&chromedriver, tmp.path().join("chromedriver.log"))
        .expect("chromedriver starts");

    let mut chrome = json!({
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,900",
            format!("--user-data-dir={}", profile.display()),
        ]
    });
    if let Some(bin) = which("chromium") {
        chrome["binary"] = json!(bin);
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), chrome);
    // chromedriver speaks plain HTTP on localhost: no TLS stack needed.
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| {
            format!(
                "opening a Chromium session; chromedriver log:\n{}",
                driver.log_tail()
            )
        })
        .unwrap();
    eprintln!("browser ready after {:?}", started.elapsed());

    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/sandbox.png");
    let flow_started = Instant::now();
    let result = flow(&client, &sandbox.page_url, &shot).await;
    let page = if result.is_err() {
        client.source().await.unwrap_or_default()
    } else {
        String::new()
    };
    let _ = client.close().await;
    drop(driver);
    sandbox.hotline.stop().await;
    if let Err(e) = result {
        let tail: String = page
            .chars()
            .rev()
            .take(4000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!("{e:#}\n--- page source (tail) ---\n{tail}");
    }
    eprintln!(
        "flow took {:?}, total {:?}; screenshot: {}",
        flow_started.elapsed(),
        started.elapsed(),
        shot.display()
    );
}
