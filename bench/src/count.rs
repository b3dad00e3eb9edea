//! Per-message counts for `relay --count`: SQL statements (sqlx's `sqlx::query` events,
//! grouped by their summary), write transactions (`hotline::store::write_transactions`)
//! and the context switches of every thread of the process (`/proc/self/task/*/status`).
//! Counts do not depend on the machine's load the way wall-clock figures do.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

static STATEMENTS: AtomicU64 = AtomicU64::new(0);
static ON: AtomicBool = AtomicBool::new(false);
static BY_SUMMARY: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();

struct Statements;

struct Summary(Option<String>);

impl Visit for Summary {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.0 = Some(value.to_string());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S: Subscriber> Layer<S> for Statements {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        meta.target() == "sqlx::query"
    }
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" || !ON.load(Ordering::Relaxed) {
            return;
        }
        STATEMENTS.fetch_add(1, Ordering::Relaxed);
        let mut v = Summary(None);
        event.record(&mut v);
        let key: String = v.0.unwrap_or_default().chars().take(70).collect();
        let mut map = BY_SUMMARY
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *map.entry(key).or_default() += 1;
    }
}

/// Installs the statement counter (sqlx then logs every statement: a cost of its own, so
/// only with `--count`).
pub fn install() {
    let sub = tracing_subscriber::registry().with(Statements);
    let _ = tracing::subscriber::set_global_default(sub);
}

/// Context switches (voluntary, involuntary) summed over the process's threads.
pub fn context_switches() -> (u64, u64) {
    let mut total = (0, 0);
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return total;
    };
    for t in dir.flatten() {
        let Ok(status) = std::fs::read_to_string(t.path().join("status")) else {
            continue;
        };
        for line in status.lines() {
            let n = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|x| x.parse::<u64>().ok())
            };
            if line.starts_with("voluntary_ctxt_switches") {
                total.0 += n(line).unwrap_or(0);
            } else if line.starts_with("nonvoluntary_ctxt_switches") {
                total.1 += n(line).unwrap_or(0);
            }
        }
    }
    total
}

/// A reading of every counter.
#[derive(Clone, Copy)]
pub struct Reading {
    statements: u64,
    transactions: u64,
    switches: (u64, u64),
}

/// Starts counting statements (if installed) and reads the counters.
pub fn start() -> Reading {
    BY_SUMMARY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    ON.store(true, Ordering::Relaxed);
    read()
}

fn read() -> Reading {
    Reading {
        statements: STATEMENTS.load(Ordering::Relaxed),
        transactions: hotline::store::write_transactions(),
        switches: context_switches(),
    }
}

/// Prints what happened since `from`, per message of `n`; with `detail`, the statements by
/// summary too.
pub fn report(label: &str, from: Reading, n: usize, detail: bool) {
    print!("{}", report_text(label, from, n, detail));
}

/// What [`report`] prints.
pub fn report_text(label: &str, from: Reading, n: usize, detail: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let to = read();
    ON.store(false, Ordering::Relaxed);
    let per = |x: u64| x as f64 / n.max(1) as f64;
    let vol = to.switches.0 - from.switches.0;
    let invol = to.switches.1 - from.switches.1;
    let _ = writeln!(
        out,
        "{label}: per message {:.2} write transactions, {:.1} context switches \
         ({vol} voluntary + {invol} involuntary in all)",
        per(to.transactions - from.transactions),
        per(vol + invol),
    );
    if !detail {
        return out;
    }
    let _ = writeln!(
        out,
        "{label}: per message {:.2} SQL statements ({} in all); by statement:",
        per(to.statements - from.statements),
        to.statements - from.statements
    );
    let map = BY_SUMMARY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut rows: Vec<_> = map.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (summary, count) in rows {
        let _ = writeln!(out, "  {:>7.3}  {summary}", per(count));
    }
    out
}
