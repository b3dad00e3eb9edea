//! Test-only fault hooks (cargo feature `fault-injection`, enabled for this crate's own
//! tests and never in release builds): make the processing of one chosen update, outbox
//! intent or webhook delivery panic, so tests can prove that one poison item stays
//! isolated (`tests/isolation.rs`).
//!
//! A rule is a marker string: an item whose stored JSON contains it panics. Rules come
//! from [`inject`] or from the environment at first use (`HOTLINE_FAULT_UPDATE`,
//! `HOTLINE_FAULT_INTENT`, `HOTLINE_FAULT_DELIVERY`, `HOTLINE_FAULT_TASK`), so a spawned
//! binary can be poisoned.

use std::sync::Mutex;

/// Where a fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// The processing of a stored update.
    Update,
    /// The execution of an outbox intent.
    Intent,
    /// The delivery of an outgoing webhook.
    Delivery,
    /// A connection's update processor task itself, at its start (matched against the
    /// connection's name): a task that cannot continue.
    Task,
    /// The processing of a stored update is held for [`STALL`] instead of panicking
    /// ([`stall`]), inside its batch's transaction: a test freezes the process there.
    UpdateStall,
}

/// How long [`stall`] holds an update.
pub const STALL: std::time::Duration = std::time::Duration::from_secs(10);

impl Site {
    fn variable(self) -> &'static str {
        match self {
            Site::Update => "HOTLINE_FAULT_UPDATE",
            Site::Intent => "HOTLINE_FAULT_INTENT",
            Site::Delivery => "HOTLINE_FAULT_DELIVERY",
            Site::Task => "HOTLINE_FAULT_TASK",
            Site::UpdateStall => "HOTLINE_FAULT_UPDATE_STALL",
        }
    }
}

static RULES: Mutex<Option<Vec<(Site, String)>>> = Mutex::new(None);

fn with_rules<T>(f: impl FnOnce(&mut Vec<(Site, String)>) -> T) -> T {
    let mut guard = RULES.lock().unwrap_or_else(|e| e.into_inner());
    let rules = guard.get_or_insert_with(|| {
        [
            Site::Update,
            Site::Intent,
            Site::Delivery,
            Site::Task,
            Site::UpdateStall,
        ]
        .into_iter()
        .filter_map(|s| {
            std::env::var(s.variable())
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (s, v))
        })
        .collect()
    });
    f(rules)
}

/// Makes every item at `site` whose JSON contains `marker` panic (for the whole process).
pub fn inject(site: Site, marker: &str) {
    with_rules(|r| r.push((site, marker.to_string())));
}

/// Holds the caller for [`STALL`] when a rule matches `item` at [`Site::UpdateStall`],
/// saying so in the log first (the test waits for that line, then freezes the process
/// inside the stalled transaction).
pub async fn stall(item: &str) {
    let hit = with_rules(|r| {
        r.iter()
            .any(|(s, m)| *s == Site::UpdateStall && item.contains(m.as_str()))
    });
    if hit {
        tracing::warn!("injected stall of an update's processing");
        tokio::time::sleep(STALL).await;
    }
}

/// Panics when a rule matches `item` at `site`.
pub fn check(site: Site, item: &str) {
    let hit = with_rules(|r| {
        r.iter()
            .find(|(s, m)| *s == site && item.contains(m.as_str()))
            .map(|(_, m)| m.clone())
    });
    if let Some(marker) = hit {
        let _ = marker;
        // The marker stays out of the message: it ends up in notices, which must not match.
        panic!("injected fault at {site:?}");
    }
}
