//! The sandbox page in a real browser: headless Chromium driven through chromedriver.
//!
//! At desktop width: a user (Bruno, who has not written yet) writes to the bot; a topic for
//! him appears in the team's forum; Olga opens it and answers; Bruno sends a picked file (a
//! document in his topic) and Olga a picked photo (it reaches Bruno); she saves a quick
//! reply in General with `/say NAME` and sends it in his topic with `/say NAME`; the `/`
//! menu lists the commands Hotline registered for her (an admin) and fewer for Max; the
//! `/stats` report is not mistaken for an intercepted message and its chart opens full
//! size; an internal comment is shown as such (and never reaches Bruno); `/close` turns the
//! topic ⬛. Then at 1000, 768 and 390 px: nothing overflows or overlaps; from 768 px one
//! pane shows at a time, inputs use 16 px and touch targets are 40 px; at 390 px the tabs
//! and the forum's back control work, and Olga answers from the phone. Screenshots go to
//! `docs/sandbox.png` (desktop) and `docs/sandbox-phone.png` for the README.
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

/// How long any one step of the flow may take (generous: the machine may be loaded).
const STEP: Duration = Duration::from_secs(60);

/// Olga's internal comment (`/ text`) in Bruno's topic.
const NOTE: &str = "replacement #1043 ordered, claim filed with the carrier";

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

/// Runs `script` in the page and reads its result as `T`.
async fn js<T: serde::de::DeserializeOwned>(
    c: &Client,
    script: &str,
    args: Vec<serde_json::Value>,
) -> Result<T> {
    Ok(serde_json::from_value(c.execute(script, args).await?)?)
}

/// Whether the element matching `css` is rendered (present, not `display: none` itself or
/// through an ancestor).
async fn shown(c: &Client, css: &str) -> Result<bool> {
    js(
        c,
        r##"const e = document.querySelector(arguments[0]);
           return !!e && e.getClientRects().length > 0;"##,
        vec![json!(css)],
    )
    .await
}

/// Waits until `css` is shown (or hidden, with `want` false).
async fn until_shown(c: &Client, css: &str, want: bool) -> Result<()> {
    let what = format!("{css} {}", if want { "shown" } else { "hidden" });
    until(&what, || async {
        Ok((shown(c, css).await? == want).then_some(()))
    })
    .await
}

/// Topics in `#topic-list` as (thread id, title).
async fn topics(c: &Client) -> Result<Vec<(String, String)>> {
    js(
        c,
        r##"return [...document.querySelectorAll("#topic-list .topic")]
             .map((t) => [t.dataset.threadId, t.querySelector(".tname").textContent]);"##,
        vec![],
    )
    .await
}

/// Texts of the messages shown in `sel` (`#user-chat` or `#group-chat`).
async fn messages(c: &Client, sel: &str) -> Result<Vec<String>> {
    js(
        c,
        r##"return [...document.querySelectorAll(arguments[0] + " .msg[data-message-id]")]
             .map((m) => m.textContent);"##,
        vec![json!(sel)],
    )
    .await
}

/// Waits until a message containing `text` shows in `sel`.
async fn until_message(c: &Client, sel: &str, text: &str) -> Result<()> {
    until(&format!("«{text}» in {sel}"), || async {
        Ok(messages(c, sel)
            .await?
            .iter()
            .any(|m| m.contains(text))
            .then_some(()))
    })
    .await
}

/// Waits until the open topic's header starts with the status square `square`.
async fn until_header(c: &Client, square: char) -> Result<()> {
    until(&format!("{square} in the topic header"), || async {
        let header = c.find(Locator::Id("topic-header")).await?.text().await?;
        Ok(header.starts_with(square).then_some(()))
    })
    .await
}

/// Types `text` into a composer and presses its send button.
async fn send(c: &Client, input: &str, button: &str, text: &str) -> Result<()> {
    let field = c.find(Locator::Css(input)).await?;
    field.click().await?;
    field.send_keys(text).await?;
    c.find(Locator::Css(button)).await?.click().await?;
    Ok(())
}

/// Opens a topic of the forum (`general` for General) and waits until it is shown.
async fn open_topic(c: &Client, thread: &str) -> Result<()> {
    let topic = format!("#topic-list .topic[data-thread-id=\"{thread}\"]");
    c.find(Locator::Css(&topic)).await?.click().await?;
    until(&format!("topic {thread} to open"), || async {
        let el = c.find(Locator::Css(&topic)).await?;
        if el.attr("aria-current").await?.as_deref() == Some("true")
            && shown(c, "#group-chat").await?
        {
            return Ok(Some(()));
        }
        el.click().await?; // the list re-rendered under the first click
        Ok(None)
    })
    .await
}

/// Picks who writes in the group. The picker is a native select laid over the avatar
/// (invisible to WebDriver's clicks), so it is set as a person's choice would set it.
async fn choose_operator(c: &Client, id: &str) -> Result<()> {
    js::<()>(
        c,
        r##"const s = document.getElementById("operator-select");
           s.value = arguments[0];
           s.dispatchEvent(new Event("change", { bubbles: true }));"##,
        vec![json!(id)],
    )
    .await
}

/// The `/` menu of the operator's composer as typed with a lone `/`: its commands.
async fn operator_menu(c: &Client) -> Result<Vec<String>> {
    let input = c.find(Locator::Id("operator-input")).await?;
    input.clear().await?;
    input.send_keys("/").await?;
    let menu = until("the / menu", || async {
        let names: Vec<String> = js(
            c,
            r##"const m = document.getElementById("operator-menu");
               return m.hidden ? [] : [...m.querySelectorAll(".cname")].map((e) => e.textContent);"##,
            vec![],
        )
        .await?;
        Ok((!names.is_empty()).then_some(names))
    })
    .await?;
    input.clear().await?;
    input.send_keys(" ").await?; // an input event: the cleared composer closes the menu
    input.clear().await?;
    Ok(menu)
}

/// Sets the page's viewport (not the window) to `w` × `h` CSS pixels.
async fn viewport(c: &Client, w: i64, h: i64) -> Result<()> {
    c.set_window_size(w as u32, h as u32).await?;
    until(&format!("a {w}×{h} viewport"), || async {
        let (iw, ih): (i64, i64) = js(c, "return [innerWidth, innerHeight];", vec![]).await?;
        if (iw, ih) == (w, h) {
            return Ok(Some(()));
        }
        let (ow, oh) = c.get_window_size().await?;
        let (ow, oh) = (ow as i64 + w - iw, oh as i64 + h - ih);
        c.set_window_size(ow.max(1) as u32, oh.max(1) as u32)
            .await?;
        Ok(None)
    })
    .await
}

/// What breaks a layout, as a list of findings (empty = fine): horizontal overflow of the
/// page or of a visible box, and labels or controls overlapping in the bars; with `touch`
/// also inputs under 16 px (phones zoom into them) and touch targets under 40 px.
async fn layout_problems(c: &Client, touch: bool) -> Result<Vec<String>> {
    js(
        c,
        r##"
        const touch = arguments[0];
        const out = [];
        const visible = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
        const name = (e) => e.id ? "#" + e.id : e.tagName.toLowerCase() + "." + [...e.classList].join(".");
        if (document.documentElement.scrollWidth > innerWidth) out.push(`page ${document.documentElement.scrollWidth}px wide in ${innerWidth}px`);
        for (const e of document.querySelectorAll(".pane, .chat-header, .toolbar, .messages, .composer, .composer-extra, .attach-row, .topic-header, #topic-list, #switch, #topbar")) {
          if (visible(e) && e.scrollWidth > e.clientWidth + 1) out.push(`${name(e)} overflows: ${e.scrollWidth} > ${e.clientWidth}`);
        }
        for (const e of touch ? document.querySelectorAll("input:not([type=file]):not([type=checkbox]), textarea, select") : []) {
          if (visible(e) && parseFloat(getComputedStyle(e).fontSize) < 16) out.push(`${name(e)} font ${getComputedStyle(e).fontSize}`);
        }
        for (const e of touch ? document.querySelectorAll("button, select, input:not([type=file]), textarea, [role=tab]") : []) {
          if (!visible(e) || e.closest(".sr-only") || e.closest(".messages a")) continue;
          const target = e.type === "checkbox" ? e.closest("label") || e : e;
          const r = target.getBoundingClientRect();
          if (r.width < 40 || r.height < 40) out.push(`${name(e)} target ${Math.round(r.width)}×${Math.round(r.height)}`);
        }
        // Labels and controls in the bars: a control counts whole, other elements by their text.
        const items = (root) => [...root.querySelectorAll("*")].filter((e) => {
          if (!visible(e) || e.closest(".sr-only") || parseFloat(getComputedStyle(e).opacity) === 0) return false;
          if (e.parentElement.closest("button, select, label.as")) return false;
          return e.matches("button, select, input, textarea, label.as") || (e.children.length === 0 && e.textContent.trim() !== "");
        });
        for (const root of document.querySelectorAll("#topbar, #switch, .chat-header, .toolbar, .topic-header, .composer, .composer-extra, .attach-row")) {
          if (!visible(root)) continue;
          const list = items(root).map((e) => [e, e.getBoundingClientRect()]);
          for (let i = 0; i < list.length; i++) for (let j = i + 1; j < list.length; j++) {
            const [a, ra] = list[i], [b, rb] = list[j];
            if (a.contains(b) || b.contains(a)) continue;
            const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
            const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
            if (w > 1 && h > 1) out.push(`${name(a)} overlaps ${name(b)}`);
          }
        }
        return out;"##,
        vec![json!(touch)],
    )
    .await
}

/// Asserts the layout at the current width is sound (see [`layout_problems`]).
async fn assert_layout(c: &Client, state: &str, touch: bool) -> Result<()> {
    let problems = layout_problems(c, touch).await?;
    if !problems.is_empty() {
        bail!("layout at {state}: {}", problems.join("; "));
    }
    Ok(())
}

async fn save_png(c: &Client, path: &Path) -> Result<()> {
    let png = c.screenshot().await?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
}

/// The desktop part: the main flow, a comment, a photo, a quick reply, the menu, /stats.
async fn desktop(c: &Client, page_url: &str, files: &Files, shot: &Path) -> Result<String> {
    viewport(c, 1280, 800).await?;
    c.goto(page_url).await?;
    until("the page to go live", || async {
        let live = c.find(Locator::Id("live")).await?.text().await?;
        Ok((live == "live").then_some(()))
    })
    .await?;
    assert_layout(c, "1280 px", false).await?;

    // Bruno (no dialog yet) writes to the bot.
    let bruno = until("Bruno in #user-select", || async {
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
        .select_by_value(&bruno)
        .await?;
    until("Bruno's empty chat", || async {
        let select = c.find(Locator::Id("user-select")).await?;
        let selected = select.prop("value").await?;
        Ok((selected.as_deref() == Some(bruno.as_str())
            && messages(c, "#user-chat").await?.is_empty())
        .then_some(()))
    })
    .await?;
    let question = "Hello! My parcel arrived damaged, what can I do?";
    send(c, "#user-input", "#user-send", question).await?;
    until_message(c, "#user-chat", question).await?;

    // Hotline opens a topic for him in the forum.
    let thread = until("a topic for Bruno in #topic-list", || async {
        Ok(topics(c)
            .await?
            .into_iter()
            .find(|(_, title)| title.contains("Bruno"))
            .map(|(id, _)| id))
    })
    .await?;
    open_topic(c, &thread).await?;
    until_message(c, "#group-chat", question).await?;

    // Olga answers; the answer reaches Bruno.
    let answer = "Sorry about that! I am sending you a prepaid return label.";
    send(c, "#operator-input", "#operator-send", answer).await?;
    until_message(c, "#user-chat", answer).await?;

    // Bruno picks a file and sends it; it arrives in his topic as a document.
    c.find(Locator::Id("user-file"))
        .await?
        .send_keys(&files.receipt.display().to_string())
        .await?;
    until_shown(c, "#upload-form", true).await?;
    if shown(c, "#upload-as-photo").await? {
        bail!("a PDF is offered as a photo");
    }
    c.find(Locator::Id("upload-send")).await?.click().await?;
    until_shown(c, "#upload-form", false).await?;
    until("Bruno's receipt in his topic", || async {
        let names: Vec<String> = js(
            c,
            r##"return [...document.querySelectorAll("#group-chat .doc-name")].map((d) => d.textContent);"##,
            vec![],
        )
        .await?;
        Ok(names.iter().any(|n| n == "receipt.pdf").then_some(()))
    })
    .await?;

    // Olga picks a photo and sends it with a caption; Bruno receives the photo.
    let caption = "Your return label: print it and stick it on the parcel.";
    c.find(Locator::Id("operator-input"))
        .await?
        .send_keys(caption)
        .await?;
    c.find(Locator::Id("operator-file"))
        .await?
        .send_keys(&files.photo.display().to_string())
        .await?;
    until_shown(c, "#upload-form", true).await?;
    c.find(Locator::Id("upload-send")).await?.click().await?;
    until_shown(c, "#upload-form", false).await?;
    until("the photo in Bruno's chat", || async {
        let loaded: bool = js(
            c,
            r##"return [...document.querySelectorAll("#user-chat .msg")].some((m) =>
                 m.querySelector(".tile.photo.loaded img") && m.textContent.includes(arguments[0]));"##,
            vec![json!(caption)],
        )
        .await?;
        Ok(loaded.then_some(()))
    })
    .await?;

    // A quick reply: saved in General with `/say hours` as a reply, sent in the topic.
    open_topic(c, "general").await?;
    let hours = "We are open Monday to Friday, 9:00–18:00. Replacements ship the same day.";
    send(c, "#operator-input", "#operator-send", hours).await?;
    until_message(c, "#group-chat", hours).await?;
    until("a reply to the hours text", || async {
        let target: Option<String> = js(
            c,
            r##"const m = [...document.querySelectorAll("#group-chat .msg")].find((m) => m.textContent.includes(arguments[0]));
               return m ? m.dataset.messageId : null;"##,
            vec![json!(hours)],
        )
        .await?;
        let Some(id) = target else { return Ok(None) };
        c.find(Locator::Css(&format!("#group-chat .msg[data-message-id=\"{id}\"] .text")))
            .await?
            .click()
            .await?;
        Ok(shown(c, "#operator-mode").await?.then_some(()))
    })
    .await?;
    send(c, "#operator-input", "#operator-send", "/say hours").await?;
    until_message(c, "#group-chat", "Quick reply hours saved").await?;
    open_topic(c, &thread).await?;
    send(c, "#operator-input", "#operator-send", "/say hours").await?;
    until_message(c, "#user-chat", hours).await?;

    // The `/` menu: the commands Hotline registered for this chat, per operator.
    let olga_menu = operator_menu(c).await?;
    for cmd in ["/close", "/say", "/stats"] {
        if !olga_menu.iter().any(|m| m == cmd) {
            bail!("{cmd} missing from the admin's / menu: {olga_menu:?}");
        }
    }
    let olga: String = js(
        c,
        r##"return document.getElementById("operator-select").value;"##,
        vec![],
    )
    .await?;
    let max: String = js(
        c,
        r##"return [...document.querySelectorAll("#operator-select option")].find((o) => o.textContent.startsWith("Max")).value;"##,
        vec![],
    )
    .await?;
    choose_operator(c, &max).await?;
    let max_menu = until("Max's / menu without admin commands", || async {
        let menu = operator_menu(c).await?;
        Ok((!menu.iter().any(|m| m == "/stats")).then_some(menu))
    })
    .await?;
    if !max_menu.iter().any(|m| m == "/close") {
        bail!("/close missing from a member's / menu: {max_menu:?}");
    }
    choose_operator(c, &olga).await?;

    // /stats: Hotline's report is its own message, not an intercepted one; the chart
    // opens full size and closes with Escape.
    open_topic(c, "general").await?;
    send(c, "#operator-input", "#operator-send", "/stats").await?;
    until_message(c, "#group-chat", "Team stats").await?;
    let (report, marked): (String, bool) = js(
        c,
        r##"const m = [...document.querySelectorAll("#group-chat .msg")].find((m) => m.textContent.includes("Team stats"));
           return [m.textContent, m.classList.contains("intercepted") || !!m.querySelector(".tag-intercepted")];"##,
        vec![],
    )
    .await?;
    if !report.contains("intercepted") || marked {
        bail!("the /stats report (which counts intercepted messages) must not be marked intercepted: marked={marked}, {report}");
    }
    until("the chart loaded", || async {
        Ok(shown(c, "#group-chat .tile.photo.loaded img")
            .await?
            .then_some(()))
    })
    .await?;
    c.find(Locator::Css("#group-chat .tile.photo.loaded img"))
        .await?
        .click()
        .await?;
    until("the chart full size", || async {
        let big: bool = js(
            c,
            r##"const i = document.getElementById("lightbox-img");
               return !document.getElementById("lightbox").hidden && i.complete && i.naturalWidth > 0;"##,
            vec![],
        )
        .await?;
        Ok(big.then_some(()))
    })
    .await?;
    c.active_element()
        .await?
        .send_keys(&char::from(fantoccini::key::Key::Escape).to_string())
        .await?;
    until_shown(c, "#lightbox", false).await?;

    open_topic(c, &thread).await?;
    // An internal comment is marked as such in the topic (and never reaches Bruno: checked at the end).
    send(c, "#operator-input", "#operator-send", &format!("/ {NOTE}")).await?;
    until("the comment marked internal", || async {
        let marked: Vec<String> = js(
            c,
            r##"return [...document.querySelectorAll("#group-chat .msg.internal")].map((m) => m.textContent);"##,
            vec![],
        )
        .await?;
        Ok(marked
            .iter()
            .any(|m| m.contains(NOTE) && m.to_lowercase().contains("not sent to the user"))
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
    until_header(c, '⬛').await?;
    assert_layout(c, "1280 px, end of the flow", false).await?;
    save_png(c, shot).await?;
    Ok(thread)
}

/// The phone part (390 px): one pane at a time, and Olga answers from the phone.
async fn phone(c: &Client, thread: &str, shot: &Path) -> Result<()> {
    // On the way down: both panes at 1000 px, one pane (with touch sizes) from 768 px.
    viewport(c, 1000, 760).await?;
    if !shown(c, "#user-pane").await? || !shown(c, "#group-pane").await? {
        bail!("at 1000 px both panes show");
    }
    assert_layout(c, "1000 px", false).await?;
    viewport(c, 768, 1000).await?;
    assert_layout(c, "768 px", true).await?;
    viewport(c, 390, 844).await?;
    until_shown(c, "#switch", true).await?;
    if !shown(c, "#user-pane").await? || shown(c, "#group-pane").await? {
        bail!("at 390 px the user's chat shows alone");
    }
    assert_layout(c, "390 px, user's chat", true).await?;

    // The tab switches to the forum: its topic list, or a topic with a back control.
    c.find(Locator::Id("tab-group")).await?.click().await?;
    until_shown(c, "#group-pane", true).await?;
    until_shown(c, "#user-pane", false).await?;
    if shown(c, ".topic-view").await? {
        c.find(Locator::Id("topic-back")).await?.click().await?;
    }
    until_shown(c, "#topic-list", true).await?;
    until_shown(c, ".topic-view", false).await?;
    assert_layout(c, "390 px, topic list", true).await?;
    c.find(Locator::Css(&format!(
        "#topic-list .topic[data-thread-id=\"{thread}\"]"
    )))
    .await?
    .click()
    .await?;
    until_shown(c, ".topic-view", true).await?;
    until_shown(c, "#topic-list", false).await?;
    until_shown(c, "#topic-back", true).await?;
    assert_layout(c, "390 px, topic", true).await?;

    // Olga answers from the phone; the user's tab counts the new message.
    let answer = "Good news: your replacement ships today 📦";
    send(c, "#operator-input", "#operator-send", answer).await?;
    until_message(c, "#group-chat", answer).await?;
    until_shown(c, "#unread-user", true).await?;
    until_header(c, '🟨').await?;
    assert_layout(c, "390 px, after answering", true).await?;
    save_png(c, shot).await?;

    // Back on the user's tab, the answer is there.
    c.find(Locator::Id("tab-user")).await?.click().await?;
    until_shown(c, "#user-pane", true).await?;
    until_shown(c, "#group-pane", false).await?;
    until_message(c, "#user-chat", answer).await?;
    until_shown(c, "#unread-user", false).await?;
    let bruno_sees = messages(c, "#user-chat").await?;
    if bruno_sees.iter().any(|m| m.contains(NOTE)) {
        bail!("the internal comment reached the user: {bruno_sees:?}");
    }
    assert_layout(c, "390 px, the answer in the user's chat", true).await?;
    Ok(())
}

/// Files the flow picks in the page.
struct Files {
    /// A photo Olga sends (a return label).
    photo: PathBuf,
    /// A document Bruno sends.
    receipt: PathBuf,
}

async fn flow(c: &Client, page_url: &str, files: &Files, docs: &Path) -> Result<()> {
    let thread = desktop(c, page_url, files, &docs.join("sandbox.png")).await?;
    phone(c, &thread, &docs.join("sandbox-phone.png")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_page_desktop_flow_quick_reply_and_phone_layout() {
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
            "--hide-scrollbars",
            "--window-size=1280,800",
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

    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = manifest.join("../../docs");
    let receipt = tmp.path().join("receipt.pdf");
    std::fs::write(&receipt, "%PDF-1.4\n% receipt for order #1042\n").expect("receipt written");
    let files = Files {
        photo: manifest.join("tests/fixtures/return-label.png"),
        receipt,
    };
    let flow_started = Instant::now();
    let result = flow(&client, &sandbox.page_url, &files, &docs).await;
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
        "flow took {:?}, total {:?}; screenshots in {}",
        flow_started.elapsed(),
        started.elapsed(),
        docs.display()
    );
}
