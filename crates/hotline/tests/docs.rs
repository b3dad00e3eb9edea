//! The documentation against the code.
//!
//! - Every `hotline` command line shown in README.md and docs/*.md — in fenced `sh` blocks
//!   (`hotline …`, `./target/release/hotline …`, `cargo run … -p hotline -- …`) and in inline
//!   code that starts with `hotline ` and gives options — runs as written, in document order, in one directory
//!   holding the `hotline.toml` the docs use (pointed at a local Telegram emulator). Commands
//!   that run until stopped (`run`, `sandbox`) are started, checked for readiness and stopped
//!   with SIGTERM. Lines run through `sudo` are deployment steps for a real server and not run.
//! - docs/configuration.md lists every key the file accepts and every variable the parser
//!   reads — both taken from the code — and no key the code does not accept, with the
//!   defaults the code uses and examples the parser accepts.
//! - Every TOML example in the docs parses.

mod cli_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use cli_support::{Proc, World};
use hotline::config::{keys, Config, Mode, Params, TimeZone, PARAM_NAMES};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// README.md, then docs/*.md by name: (file name, text).
fn documents() -> Vec<(String, String)> {
    let mut docs = vec![root().join("README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs.into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// A fenced block: its info string and lines.
struct Block {
    info: String,
    lines: Vec<String>,
}

/// Fenced blocks, and the text outside them.
fn split_fences(text: &str) -> (Vec<Block>, String) {
    let mut blocks = Vec::new();
    let mut prose = String::new();
    let mut current: Option<Block> = None;
    for line in text.lines() {
        let fence = line.trim_start().starts_with("```");
        match (&mut current, fence) {
            (None, true) => {
                current = Some(Block {
                    info: line.trim_start().trim_start_matches('`').trim().to_string(),
                    lines: Vec::new(),
                })
            }
            (Some(_), true) => blocks.push(current.take().unwrap()),
            (Some(b), false) => b.lines.push(line.to_string()),
            (None, false) => {
                prose.push_str(line);
                prose.push('\n');
            }
        }
    }
    (blocks, prose)
}

/// Shell lines of a block: continuations joined, prompts, comments and a trailing `&` removed.
fn shell_lines(block: &Block) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in &block.lines {
        let line = line.trim_end();
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let mut l = strip_comment(&pending).trim().to_string();
        pending.clear();
        if let Some(rest) = l.strip_prefix("$ ") {
            l = rest.to_string();
        }
        if let Some(rest) = l.strip_suffix('&') {
            l = rest.trim().to_string();
        }
        if !l.is_empty() {
            out.push(l);
        }
    }
    out
}

/// Cuts a `#` comment that starts after whitespace, outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// Words of a simple shell line (quotes group, no expansion).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

/// The arguments of a line that runs the hotline binary, if it is one.
fn hotline_args(line: &str) -> Option<Vec<String>> {
    let w = words(line);
    let first = w.first()?;
    let args = if first == "hotline" || first.ends_with("target/release/hotline") {
        w[1..].to_vec()
    } else if first == "cargo"
        && w.get(1).is_some_and(|s| s == "run")
        && w.windows(2).any(|p| p[0] == "-p" && p[1] == "hotline")
    {
        let dashes = w.iter().position(|s| s == "--")?;
        w[dashes + 1..].to_vec()
    } else {
        return None;
    };
    for meta in ["$(", "`", "|", ">", "<", "&&", ";"] {
        assert!(
            !line.contains(meta),
            "documented command uses shell syntax ({meta}); show a plain command line: {line}"
        );
    }
    Some(args)
}

/// Inline code spans in prose that are command lines: they start with `hotline ` and give
/// options (a bare `hotline backup` names a command, it is not a line to copy).
fn inline_commands(prose: &str) -> Vec<String> {
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("hotline ") && s.contains(" --"))
        .map(str::to_string)
        .collect()
}

/// Every documented command, in document order, deduplicated: (where, arguments).
fn documented_commands() -> Vec<(String, Vec<String>)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (name, text) in documents() {
        let (blocks, prose) = split_fences(&text);
        let mut lines = Vec::new();
        for b in blocks
            .iter()
            .filter(|b| matches!(b.info.as_str(), "sh" | "bash" | "shell" | "console"))
        {
            lines.extend(shell_lines(b));
        }
        lines.extend(inline_commands(&prose));
        for line in lines {
            if let Some(args) = hotline_args(&line) {
                if seen.insert(args.clone()) {
                    out.push((format!("{name}: {line}"), args));
                }
            }
        }
    }
    out
}

#[test]
fn every_documented_command_line_runs() {
    let commands = documented_commands();
    let all: Vec<String> = commands.iter().map(|(_, a)| a.join(" ")).collect();
    // The extraction itself is checked: these forms are in the docs and must be found.
    for expected in [
        "sandbox",
        "run --config hotline.toml",
        "check-config --config hotline.toml",
        "api-key create --config hotline.toml --name ci",
        "backup --config hotline.toml --to hotline-backup.db",
        "restore --config hotline.toml --from hotline-backup.db",
        "--version",
    ] {
        assert!(
            all.iter().any(|c| c == expected),
            "{expected:?} not found in {all:#?}"
        );
    }

    let world = World::start("7000077:docs-test-token");
    let dir = tempfile::tempdir().unwrap();
    // SQLite whatever the suite's database: the documented command lines include `hotline
    // backup --to hotline-backup.db` and `restore`, which copy a SQLite file and refuse a
    // PostgreSQL database by design (pg_dump/pg_restore do that; tests/backup.rs covers it).
    std::fs::write(dir.path().join("hotline.toml"), world.config_sqlite("")).unwrap();
    for (place, args) in &commands {
        let started = Instant::now();
        let mut cmd = cli_support::hotline();
        cmd.args(args)
            .current_dir(dir.path())
            // The sandbox's fixed default ports could be taken on a shared machine.
            .env("HOTLINE_SANDBOX_LISTEN", "127.0.0.1:0")
            .env("HOTLINE_SANDBOX_HOTLINE_LISTEN", "127.0.0.1:0");
        match args.first().map(String::as_str) {
            Some("run") => serve(&world, cmd, place, Ready::Run),
            Some("sandbox") => serve(&world, cmd, place, Ready::Sandbox),
            _ => {
                cli_support::success(&cli_support::finish(cmd, place), place);
            }
        }
        println!("ok ({} ms): {place}", started.elapsed().as_millis());
    }
}

enum Ready {
    Run,
    Sandbox,
}

/// Starts a command that serves until stopped, checks that it answers, and stops it.
fn serve(world: &World, cmd: Command, place: &str, ready: Ready) {
    let mut p = Proc::start(cmd);
    let url = match ready {
        Ready::Run => {
            let line = p.wait_line(place, |l| l.contains("hotline is running"));
            format!("http://{}/health", field(&line, "addr"))
        }
        Ready::Sandbox => {
            let line = p.wait_line(place, |l| l.contains("Hotline sandbox is running: open "));
            line.split("open ").nth(1).unwrap().trim().to_string()
        }
    };
    let (status, body) = world.get(&url, None);
    assert_eq!(status, 200, "{place}: {url} answered {status}: {body}");
    let (status, output) = p.stop();
    assert!(
        status.success(),
        "{place}: exit {status} on SIGTERM:\n{output}"
    );
    assert!(
        !output.contains('\u{1b}'),
        "{place}: colour codes in output that is not a terminal:\n{output}"
    );
}

/// A field of a log line, text (`addr=…`) or JSON (`"addr":"…"`).
fn field(line: &str, name: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
        return v[name].as_str().unwrap_or_default().to_string();
    }
    let start = line.find(&format!("{name}=")).expect("field in the line") + name.len() + 1;
    line[start..].split_whitespace().next().unwrap().to_string()
}

/// docs/configuration.md: which keys each section documents, with the row's cells.
struct Reference {
    /// Dotted file key → cells after the key (default, meaning, example).
    keys: BTreeMap<String, Vec<String>>,
    /// Environment variables in the Environment section.
    env: BTreeSet<String>,
}

fn reference() -> Reference {
    let text = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let (_, prose) = split_fences(&text);
    enum Section {
        Keys(String),
        Env,
        Other,
    }
    let mut section = Section::Other;
    let mut r = Reference {
        keys: BTreeMap::new(),
        env: BTreeSet::new(),
    };
    for line in prose.lines() {
        if line.starts_with('#') {
            section = if line.contains("Top level") {
                Section::Keys(String::new())
            } else if line.contains("Environment") {
                Section::Env
            } else if let Some(table) = line
                .split('`')
                .nth(1)
                .map(|t| t.trim_matches(|c| c == '[' || c == ']'))
            {
                Section::Keys(format!("{table}."))
            } else {
                Section::Other
            };
            continue;
        }
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect();
        let Some(key) = cells
            .first()
            .filter(|c| line.starts_with("| `") && c.ends_with('`'))
            .map(|c| c.trim_matches('`').to_string())
        else {
            continue;
        };
        match &section {
            Section::Keys(prefix) => {
                r.keys.insert(format!("{prefix}{key}"), cells[1..].to_vec());
            }
            Section::Env => {
                r.env.insert(key);
            }
            Section::Other => {}
        }
    }
    r
}

/// An environment with a distinct valid token for every connection (so examples that keep
/// tokens out of the file parse) and nothing else.
fn token_env(key: &str) -> Option<String> {
    let id: u64 = key.bytes().map(u64::from).sum();
    key.ends_with("_TOKEN")
        .then(|| format!("{}:example-token", 100_000 + id))
}

fn parse(text: &str) -> Result<Config, hotline::config::ConfigError> {
    Config::parse(text, Path::new("."), token_env)
}

const CONNECTION: &str = "[[connection]]\nname = \"support\"\ngroup_id = -1001\n";

/// The text of a cell without its backticks.
fn code(cell: &str) -> &str {
    cell.trim().trim_matches('`')
}

#[test]
fn configuration_reference_lists_every_key_with_its_default() {
    let r = reference();
    let code_keys: BTreeSet<String> = keys::file_keys().into_iter().collect();
    let documented: BTreeSet<String> = r.keys.keys().cloned().collect();
    let missing: Vec<_> = code_keys.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "keys the code accepts but docs/configuration.md does not describe: {missing:?}"
    );
    let stale: Vec<_> = documented.difference(&code_keys).collect();
    assert!(
        stale.is_empty(),
        "keys docs/configuration.md describes but the code does not accept: {stale:?}"
    );
    for var in keys::env_keys() {
        assert!(
            r.env.contains(&var),
            "{var} is read by the parser but not in the Environment section"
        );
    }

    // Defaults: what a minimal file gives, compared with the "default" column.
    let c = parse(CONNECTION).unwrap();
    let conn = &c.connections[0];
    let default = |key: &str| code(&r.keys[key][0]).to_string();
    assert_eq!(default("database_url"), c.database_url);
    assert_eq!(
        default("log_format"),
        c.log_format.unwrap_or_default().name()
    );
    assert_eq!(default("http.listen"), c.http.listen.to_string());
    let h = &c.http;
    for (key, value) in [
        ("header_timeout_secs", h.header_timeout.as_secs()),
        ("body_min_rate", h.body_min_rate),
        ("body_window_secs", h.body_window.as_secs()),
        ("idle_timeout_secs", h.idle_timeout.as_secs()),
        ("max_connections", h.max_connections as u64),
    ] {
        assert_eq!(default(&format!("http.{key}")), value.to_string(), "{key}");
    }
    assert_eq!(
        default("limits.bot_per_second"),
        c.limits.bot_per_second.to_string()
    );
    assert_eq!(
        default("limits.private_per_second"),
        c.limits.private_per_second.to_string()
    );
    assert_eq!(
        default("limits.group_per_minute"),
        c.limits.group_per_minute.to_string()
    );
    assert_eq!(default("connection.api_url"), conn.api_url);
    assert_eq!(
        default("connection.gateway_plain_http_webhooks"),
        conn.gateway_plain_http_webhooks.to_string()
    );
    assert_eq!(default("connection.mode"), "polling");
    assert_eq!(conn.mode, Mode::Polling);
    assert_eq!(
        TimeZone::parse(&default("connection.time_zone")),
        Some(conn.time_zone)
    );
    let params = Params::default();
    for name in PARAM_NAMES {
        assert_eq!(
            default(&format!("connection.params.{name}")),
            params.get(name).unwrap(),
            "default of {name}"
        );
    }

    // Examples: each one is accepted where it belongs.
    for (key, cells) in &r.keys {
        let example = cells.last().map(|c| code(c)).unwrap_or_default();
        let text = match key.split_once('.') {
            None => format!("{key} = {example}\n{CONNECTION}"),
            Some(("connection", rest)) => match rest.strip_prefix("params.") {
                Some(name) => format!("{CONNECTION}[connection.params]\n{name} = {example}\n"),
                // Connection keys depend on each other (mode and webhook_url, token and
                // token_file); the full example at the top of the page covers them.
                None => continue,
            },
            // The setup bot's keys need each other (owners and secret_key): the example
            // at the top of its section covers them (every_toml_example_parses).
            Some(("setup_bot", _)) => continue,
            Some((table, name)) => format!("[{table}]\n{name} = {example}\n{CONNECTION}"),
        };
        if let Err(e) = parse(&text) {
            panic!("the example of {key} is refused:\n{text}\n{e}");
        }
    }
}

#[test]
fn every_toml_example_parses() {
    let mut n = 0;
    for (name, text) in documents() {
        let (blocks, _) = split_fences(&text);
        for b in blocks.iter().filter(|b| b.info == "toml") {
            let body = b.lines.join("\n");
            // A fragment is completed with a minimal connection: before it when it is a
            // connection's table, after it otherwise.
            let text = if body.contains("[[connection]]") {
                body.clone()
            } else if body.trim_start().starts_with("[connection") {
                format!("{CONNECTION}{body}\n")
            } else {
                format!("{body}\n{CONNECTION}")
            };
            if let Err(e) = parse(&text) {
                panic!("{name}: a TOML example is refused:\n{body}\n{e}");
            }
            n += 1;
        }
    }
    assert!(n >= 3, "only {n} TOML examples found");
}

/// README's table of guides names every document in docs/ and every file in deploy/.
#[test]
fn readme_points_to_every_document() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut missing = Vec::new();
    for dir in ["docs", "deploy"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let listed = dir == "deploy" || p.extension().is_some_and(|e| e == "md");
            if listed && p.is_file() && !readme.contains(&format!("{dir}/{name}")) {
                missing.push(format!("{dir}/{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README.md does not point to {missing:?}"
    );
}
