//! The module layering of `crates/hotline/src`, checked on every `cargo test`.
//!
//! Every top-level module belongs to one layer (the table below, mirrored in lib.rs's module
//! map, README's layout table and docs/architecture.md). The test reads the sources, finds
//! each `crate::x` reference (paths, `use crate::{x, y::z}` groups, `$crate::x` in macros)
//! outside comments and string literals, and asserts:
//! - no module refers to a module of a higher layer (so store, outbox, domain, telegram and
//!   config import no feature module);
//! - there is no cycle between top-level modules, not even inside one layer;
//! - every module is in the table, in lib.rs's module map and in README's layout table.
//!
//! `#[cfg(test)]` modules inside src are checked like the rest: a test that needs a
//! higher layer belongs in `tests/`. Failures print the offending edges with file:line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module may refer to modules of its own or a lower layer.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundation",
        &[
            "shutdown",
            "logging",
            "console",
            "fault",
            "backoff",
            "config",
            "store",
            "ready",
            "metrics",
            "telegram",
            "isolation",
        ],
    ),
    ("outbox core", &["outbox"]),
    ("domain", &["domain"]),
    (
        "features",
        &[
            "relay",
            "commands",
            "api",
            "gateway",
            "broadcast",
            "stats",
            "export",
            "segments",
            "intake",
            "closing",
            "backup",
            "setup",
        ],
    ),
    ("entry", &["runtime", "app", "http", "sandbox"]),
];

/// The lower layers named by issue #13 and the modules they must never import.
const LOWER: &[&str] = &["store", "outbox", "domain", "telegram", "config"];
const FEATURES: &[&str] = &[
    "api",
    "gateway",
    "broadcast",
    "stats",
    "export",
    "commands",
    "relay",
    "intake",
    "setup",
    "runtime",
    "app",
    "http",
    "sandbox",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Top-level modules of the library and the files of each.
fn modules() -> BTreeMap<String, Vec<PathBuf>> {
    let mut mods: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name == "lib.rs" || name == "main.rs" {
            continue;
        }
        if path.is_dir() {
            let mut files = Vec::new();
            walk(&path, &mut files);
            mods.entry(name).or_default().extend(files);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            mods.entry(stem.to_string()).or_default().push(path);
        }
    }
    mods
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source with comments and string/char literals blanked out (newlines kept, so line
/// numbers still match).
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < c.len() {
        let rest = |k: usize| c.get(i + k).copied();
        if c[i] == '/' && rest(1) == Some('/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c[i] == '/' && rest(1) == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (rest(1) == Some('"') || rest(1) == Some('#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            // Raw string: r"…", r#"…"#.
            let mut hashes = 0;
            let mut j = i + 1;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            out.push(' ');
            i += 1;
            while i <= j {
                out.push(' ');
                i += 1;
            }
            while i < c.len() {
                if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += hashes + 1;
                    break;
                }
                out.push(blank(c[i]));
                i += 1;
            }
        } else if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c[i] == '\'' && (rest(1) == Some('\\') || rest(2) == Some('\'')) {
            // A char literal ('x', '\n', '\u{..}'); a lifetime has no closing quote.
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '\'' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn ident_at(s: &[u8], mut i: usize) -> (String, usize) {
    let start = i;
    while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
        i += 1;
    }
    (String::from_utf8_lossy(&s[start..i]).into_owned(), i)
}

/// The top-level names referred to as `crate::name` or inside `crate::{…}` groups, with
/// their line numbers.
fn references(code: &str) -> Vec<(String, usize)> {
    let s = code.as_bytes();
    let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(k) = code[from..].find("crate::") {
        let at = from + k;
        from = at + 7;
        if at > 0 && (s[at - 1].is_ascii_alphanumeric() || s[at - 1] == b'_') {
            continue;
        }
        let mut i = at + 7;
        while i < s.len() && s[i].is_ascii_whitespace() {
            i += 1;
        }
        if s.get(i) == Some(&b'{') {
            // A group: the first segment after `{` and after every top-level comma.
            let mut depth = 0;
            let mut expect = true;
            while i < s.len() {
                match s[i] {
                    b'{' => {
                        depth += 1;
                        i += 1;
                    }
                    b'}' => {
                        depth -= 1;
                        i += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => {
                        expect = true;
                        i += 1;
                    }
                    c if c.is_ascii_alphabetic() || c == b'_' => {
                        let (name, next) = ident_at(s, i);
                        if expect && depth == 1 {
                            found.push((name, line_of(i)));
                        }
                        expect = false;
                        i = next;
                    }
                    _ => i += 1,
                }
            }
        } else {
            let (name, _) = ident_at(s, i);
            if !name.is_empty() {
                found.push((name, line_of(i)));
            }
        }
    }
    found
}

/// module -> referenced module -> places (`file:line`).
type Graph = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn graph() -> Graph {
    let mods = modules();
    let mut g: Graph = BTreeMap::new();
    for (name, files) in &mods {
        let edges = g.entry(name.clone()).or_default();
        for file in files {
            let text = std::fs::read_to_string(file).unwrap();
            let shown = file.strip_prefix(src()).unwrap().display().to_string();
            for (to, line) in references(&code_only(&text)) {
                if &to != name && mods.contains_key(&to) {
                    edges
                        .entry(to)
                        .or_default()
                        .push(format!("src/{shown}:{line}"));
                }
            }
        }
    }
    g
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, ms)| ms.contains(&module))
}

fn show(from: &str, to: &str, places: &[String]) -> String {
    let more = if places.len() > 3 {
        format!(" (+{} more)", places.len() - 3)
    } else {
        String::new()
    };
    let first: Vec<&str> = places.iter().take(3).map(String::as_str).collect();
    format!("  {from} -> {to}: {}{more}", first.join(", "))
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g[v].keys() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on.remove(w);
                c.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if c.len() > 1 {
                c.sort();
                t.out.push(c);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn the_reference_scanner_sees_code_only() {
    let src = r#"
use crate::{alpha, beta::{x, y}, gamma::*};
// crate::commented
/* crate::blocked /* nested crate::deeper */ */
let s = "crate::quoted"; let r = r"crate::raw"; let c = '"'; let l: &'static str = "";
fn f<'a>(x: &'a str) { crate::delta::call(x); $crate::epsilon::m!(); }
"#;
    let names: Vec<String> = references(&code_only(src))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["alpha", "beta", "gamma", "delta", "epsilon"]);
}

#[test]
fn no_module_imports_a_higher_layer_and_the_lower_layers_import_no_feature() {
    let g = graph();
    let unplaced: Vec<&String> = g.keys().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules without a layer in tests/layering.rs (add them to LAYERS, lib.rs, README and \
         docs/architecture.md): {unplaced:?}"
    );
    let mut upward = Vec::new();
    let mut forbidden = Vec::new();
    for (from, edges) in &g {
        for (to, places) in edges {
            if layer_of(to) > layer_of(from) {
                upward.push(show(from, to, places));
            }
            if LOWER.contains(&from.as_str()) && FEATURES.contains(&to.as_str()) {
                forbidden.push(show(from, to, places));
            }
        }
    }
    assert!(
        forbidden.is_empty(),
        "the lower layers import feature modules:\n{}",
        forbidden.join("\n")
    );
    assert!(
        upward.is_empty(),
        "references to a higher layer (move the type down, or invert the call with a trait or \
         a registration):\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_cycle_between_top_level_modules() {
    let g = graph();
    let found = cycles(&g);
    let mut report = Vec::new();
    for c in &found {
        report.push(format!("cycle: {}", c.join(", ")));
        for from in c {
            for (to, places) in &g[from] {
                if c.contains(to) {
                    report.push(show(from, to, places));
                }
            }
        }
    }
    assert!(found.is_empty(), "{}", report.join("\n"));
}

#[test]
fn every_module_is_named_in_lib_rs_and_readme() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let map: String = lib
        .lines()
        .filter(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let table: String = readme
        .lines()
        .filter(|l| l.starts_with("| `crates/hotline/src"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut missing = Vec::new();
    for (layer, mods) in LAYERS {
        for m in *mods {
            if !map.contains(&format!("`{m}`")) {
                missing.push(format!("lib.rs module map lacks `{m}` ({layer})"));
            }
            let in_table = table.contains(&format!("src/{m}`"))
                || table.contains(&format!("src/{m}.rs`"))
                || table.contains(&format!("`{m}.rs`"));
            if !in_table {
                missing.push(format!("README layout table lacks {m} ({layer})"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
