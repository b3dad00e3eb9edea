//! Team analytics (`/stats [today|7d|30d|FROM..TO]`): figures folded in one pass over the
//! period's dialog events as the database streams them in time order (see [`compute`]),
//! recorded with every decision (`dialog_events`, see [`Analytics`]), answered as a message and
//! a chart rendered in process (plotters' bitmap backend with an embedded font, so it
//! works on a machine without fontconfig or any system font).
//!
//! Definitions. An *episode* starts when a dialog is created or reopened. Its first
//! response time runs to the first operator message after the start; its resolution time
//! to the close. *Unanswered*: dialogs whose last incoming message in the period has no
//! operator message after it (by the end of the period). Medians and p90 use the
//! nearest-rank method (the value at rank ⌈p·n⌉).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Once;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::{Date, UtcOffset};

use crate::domain::events::{Event, Subscriber};
use crate::domain::render::html;
use crate::domain::slash::answer;
use crate::domain::slash::Parsed;
use crate::domain::topics::Topics;
use crate::domain::Context;
use crate::outbox::{Action, Classify, Execute, Failure, Registry};
use crate::segments::{day_of, day_start, parse_age, parse_date};
use crate::store::{
    now_ms, ConnectionId, DialogEvent, Intent, Rating, StatEvent, Store, StoreError, Tx, UnixMs,
};
use crate::telegram::{InputFile, TgError};

/// Chart size in pixels.
pub const CHART_SIZE: (u32, u32) = (1000, 760);

/// Kinds of events, as stored.
pub mod kind {
    /// A dialog was created (first contact).
    pub const CREATED: &str = "created";
    /// A closed dialog was reopened.
    pub const REOPENED: &str = "reopened";
    /// A dialog was closed (by hand or AUTOCLOSE).
    pub const CLOSED: &str = "closed";
    /// A user message.
    pub const IN: &str = "in";
    /// An operator message to the user.
    pub const OUT: &str = "out";
    /// A message the parallel bot sent, mirrored.
    pub const INTERCEPTED: &str = "intercepted";
}

/// Analytics rows (`dialog_events`): a [`Subscriber`] of the recorder, so every decision
/// that creates, reopens or closes a dialog or moves a message is counted in its own
/// transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Analytics;

impl Subscriber for Analytics {
    fn record<'a>(
        &'a self,
        tx: &'a mut Tx,
        ctx: &'a Context,
        event: &'a Event<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let (dialog, kind, operator) = match *event {
                Event::DialogCreated { dialog } => (dialog, kind::CREATED, None),
                Event::DialogReopened { dialog } => (dialog, kind::REOPENED, None),
                Event::DialogClosed { dialog } => (dialog, kind::CLOSED, None),
                Event::MessageReceived { dialog, .. } => (dialog, kind::IN, None),
                Event::OperatorMessage { dialog, message } => {
                    (dialog, kind::OUT, message["from"]["id"].as_i64())
                }
                Event::QuickReplySent {
                    dialog, operator, ..
                } => (dialog, kind::OUT, operator),
                Event::Intercepted { dialog, .. } => (dialog, kind::INTERCEPTED, None),
                _ => return Ok(()),
            };
            // Appended at the commit, with the batch's other rows (see `store::Tx`).
            tx.defer_event(ctx.connection, dialog, kind, operator, now_ms());
            Ok(())
        })
    }
}

/// Median and 90th percentile of durations, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spread {
    /// How many values.
    pub count: usize,
    /// Median (nearest rank).
    pub median: Option<i64>,
    /// 90th percentile (nearest rank).
    pub p90: Option<i64>,
}

impl Spread {
    fn of(mut v: Vec<i64>) -> Self {
        v.sort_unstable();
        Self {
            count: v.len(),
            median: percentile(&v, 0.5),
            p90: percentile(&v, 0.9),
        }
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// Satisfaction ratings (`RATING`) answered in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ratings {
    /// How many answers.
    pub count: i64,
    /// Sum of the scores (1–5 each).
    pub sum: i64,
}

impl Ratings {
    /// The average score, None without answers.
    pub fn average(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    fn add(&mut self, score: i64) {
        self.count += 1;
        self.sum += score;
    }

    fn text(&self) -> String {
        match self.average() {
            Some(a) => format!(
                "{a:.1}/5 from {} rating{}",
                self.count,
                if self.count == 1 { "" } else { "s" }
            ),
            None => "—".into(),
        }
    }
}

/// Per-operator figures from (messages, dialogs, first responses), most messages first:
/// shared by the streaming computation and its reference.
fn operator_figures(ops: HashMap<i64, (i64, HashSet<i64>, Vec<i64>)>) -> Vec<OperatorStats> {
    let mut operators: Vec<OperatorStats> = ops
        .into_iter()
        .map(|(id, (messages, dialogs, mut firsts))| {
            firsts.sort_unstable();
            OperatorStats {
                operator_id: id,
                messages,
                dialogs: dialogs.len() as i64,
                median_first_response: percentile(&firsts, 0.5),
                ratings: Ratings::default(),
            }
        })
        .collect();
    operators.sort_by_key(|o| (-o.messages, o.operator_id));
    operators
}

/// One operator's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorStats {
    /// Telegram user id.
    pub operator_id: i64,
    /// Messages sent to users.
    pub messages: i64,
    /// Dialogs they wrote in.
    pub dialogs: i64,
    /// Median of the first responses they gave.
    pub median_first_response: Option<i64>,
    /// Ratings of the dialogs they closed.
    pub ratings: Ratings,
}

/// Messages of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// The day (connection time zone).
    pub date: Date,
    /// From users.
    pub incoming: i64,
    /// From operators.
    pub outgoing: i64,
    /// From the parallel bot.
    pub intercepted: i64,
}

/// Analytics of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Period start (inclusive).
    pub from: UnixMs,
    /// Period end (exclusive).
    pub to: UnixMs,
    /// Dialogs created.
    pub new: i64,
    /// Dialogs reopened.
    pub reopened: i64,
    /// Dialogs closed.
    pub closed: i64,
    /// Dialogs whose last user message has no answer.
    pub unanswered: i64,
    /// Messages from users.
    pub incoming: i64,
    /// Messages from operators.
    pub outgoing: i64,
    /// Messages from the parallel bot.
    pub intercepted: i64,
    /// First response times.
    pub first_response: Spread,
    /// Resolution times.
    pub resolution: Spread,
    /// Per operator, most messages first.
    pub operators: Vec<OperatorStats>,
    /// Satisfaction ratings answered in the period.
    pub ratings: Ratings,
    /// Incoming messages by weekday (Monday first).
    pub by_weekday: [i64; 7],
    /// Incoming messages by hour of day.
    pub by_hour: [i64; 24],
    /// Per day, every day of the period.
    pub days: Vec<Day>,
}

/// Computes the analytics of `[from, to)` from recorded events (pure: tested directly).
pub fn compute_from(events: &[DialogEvent], from: UnixMs, to: UnixMs, tz: UtcOffset) -> Report {
    let mut r = Report {
        from,
        to,
        new: 0,
        reopened: 0,
        closed: 0,
        unanswered: 0,
        incoming: 0,
        outgoing: 0,
        intercepted: 0,
        first_response: Spread::default(),
        resolution: Spread::default(),
        operators: Vec::new(),
        ratings: Ratings::default(),
        by_weekday: [0; 7],
        by_hour: [0; 24],
        days: Vec::new(),
    };
    let mut days: BTreeMap<Date, Day> = BTreeMap::new();
    let (first_day, last_day) = (day_of(from, tz), day_of(to - 1, tz));
    let mut d = first_day;
    while d <= last_day {
        days.insert(
            d,
            Day {
                date: d,
                incoming: 0,
                outgoing: 0,
                intercepted: 0,
            },
        );
        match d.next_day() {
            Some(n) => d = n,
            None => break,
        }
    }
    let mut frt = Vec::new();
    let mut res = Vec::new();
    let mut ops: HashMap<i64, (i64, HashSet<i64>, Vec<i64>)> = HashMap::new();
    let mut i = 0;
    while i < events.len() {
        let dialog = events[i].dialog_id;
        let mut start: Option<UnixMs> = None;
        let mut awaiting: Option<UnixMs> = None;
        let mut waiting_in = false;
        while i < events.len() && events[i].dialog_id == dialog {
            let e = &events[i];
            i += 1;
            let day = days.get_mut(&day_of(e.at, tz));
            match e.kind.as_str() {
                kind::CREATED | kind::REOPENED => {
                    if e.kind == kind::CREATED {
                        r.new += 1;
                    } else {
                        r.reopened += 1;
                    }
                    start = Some(e.at);
                    awaiting = Some(e.at);
                }
                kind::CLOSED => {
                    r.closed += 1;
                    if let Some(s) = start.take() {
                        res.push(e.at - s);
                    }
                    awaiting = None;
                    waiting_in = false;
                }
                kind::IN => {
                    r.incoming += 1;
                    waiting_in = true;
                    if let Some(d) = day {
                        d.incoming += 1;
                    }
                    let local = time::OffsetDateTime::from_unix_timestamp_nanos(
                        i128::from(e.at) * 1_000_000,
                    )
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
                    .to_offset(tz);
                    r.by_weekday[local.weekday().number_days_from_monday() as usize] += 1;
                    r.by_hour[local.hour() as usize] += 1;
                }
                kind::OUT => {
                    r.outgoing += 1;
                    waiting_in = false;
                    if let Some(d) = day {
                        d.outgoing += 1;
                    }
                    let op = e.operator_id.unwrap_or(0);
                    let entry = ops.entry(op).or_default();
                    entry.0 += 1;
                    entry.1.insert(dialog);
                    if let Some(s) = awaiting.take() {
                        frt.push(e.at - s);
                        entry.2.push(e.at - s);
                    }
                }
                kind::INTERCEPTED => {
                    r.intercepted += 1;
                    if let Some(d) = day {
                        d.intercepted += 1;
                    }
                }
                _ => {}
            }
        }
        if waiting_in {
            r.unanswered += 1;
        }
    }
    r.first_response = Spread::of(frt);
    r.resolution = Spread::of(res);
    r.operators = operator_figures(ops);
    r.days = days.into_values().collect();
    r
}

/// Computes the analytics of `[from, to)` for a connection: one pass over the period's
/// events in time order, streamed from the database and folded as they come (see
/// [`Tally`]) — memory grows with the period's dialogs, not with its messages. Same
/// figures as [`compute_from`] (a test holds them equal).
pub async fn compute(
    store: &Store,
    connection: ConnectionId,
    from: UnixMs,
    to: UnixMs,
    tz: UtcOffset,
) -> Result<Report, StoreError> {
    let mut tally = Tally::new(from, to, tz);
    store
        .stats_events(connection, from, to, |e| tally.add(e))
        .await?;
    let mut r = tally.finish();
    add_ratings(&mut r, &store.ratings_between(connection, from, to).await?);
    Ok(r)
}

/// Hours are bucketed after adding this many hours' worth of milliseconds, so that the
/// truncating division floors for any time after 1856 too.
const BIAS_HOURS: i64 = 1_000_000;
const HOUR_MS: i64 = 3_600_000;

/// Where a dialog stands in the walk (the same three facts [`compute_from`] keeps while it
/// walks one dialog).
#[derive(Debug, Default, Clone, Copy)]
struct DialogState {
    /// The current episode's start, until its close.
    start: Option<UnixMs>,
    /// The current episode's start, until its first operator message or close.
    awaiting: Option<UnixMs>,
    /// The last user message has no answer or close after it.
    waiting_in: bool,
}

/// The figures folded from events that arrive in time order (each dialog's in its own
/// order; dialogs interleaved): one [`DialogState`] per dialog seen, counts per local hour
/// kept in the report's days as they pass.
struct Tally {
    r: Report,
    tz: UtcOffset,
    /// The time zone's offset, ms.
    off: i64,
    /// The last local hour seen and its day (events come in time order: mostly a hit).
    hour: Option<(i64, Date)>,
    /// Index of `hour`'s day in `r.days`.
    day: Option<usize>,
    dialogs: HashMap<i64, DialogState>,
    frt: Vec<i64>,
    res: Vec<i64>,
    /// Per operator: messages, dialogs, first responses.
    ops: HashMap<i64, (i64, HashSet<i64>, Vec<i64>)>,
}

impl Tally {
    fn new(from: UnixMs, to: UnixMs, tz: UtcOffset) -> Self {
        Self {
            r: compute_from(&[], from, to, tz),
            tz,
            off: i64::from(tz.whole_seconds()) * 1000,
            hour: None,
            day: None,
            dialogs: HashMap::new(),
            frt: Vec::new(),
            res: Vec::new(),
            ops: HashMap::new(),
        }
    }

    fn add(&mut self, e: StatEvent<'_>) {
        let hour = (e.at + self.off + BIAS_HOURS * HOUR_MS) / HOUR_MS - BIAS_HOURS;
        let date = match self.hour {
            Some((h, d)) if h == hour => d,
            _ => {
                let start = hour.saturating_mul(HOUR_MS).saturating_sub(self.off);
                let d = day_of(start, self.tz);
                if self.hour.is_none_or(|(_, prev)| prev != d) {
                    self.day = self.r.days.iter().position(|x| x.date == d);
                }
                self.hour = Some((hour, d));
                d
            }
        };
        let r = &mut self.r;
        let day = match self.day {
            Some(i) => Some(&mut r.days[i]),
            None => None,
        };
        if e.kind == kind::INTERCEPTED {
            r.intercepted += 1;
            if let Some(d) = day {
                d.intercepted += 1;
            }
            return;
        }
        let s = self.dialogs.entry(e.dialog_id).or_default();
        match e.kind {
            kind::CREATED | kind::REOPENED => {
                if e.kind == kind::CREATED {
                    r.new += 1;
                } else {
                    r.reopened += 1;
                }
                s.start = Some(e.at);
                s.awaiting = Some(e.at);
            }
            kind::CLOSED => {
                r.closed += 1;
                if let Some(start) = s.start.take() {
                    self.res.push(e.at - start);
                }
                s.awaiting = None;
                s.waiting_in = false;
            }
            kind::IN => {
                r.incoming += 1;
                s.waiting_in = true;
                if let Some(d) = day {
                    d.incoming += 1;
                }
                r.by_weekday[date.weekday().number_days_from_monday() as usize] += 1;
                r.by_hour[hour.rem_euclid(24) as usize] += 1;
            }
            kind::OUT => {
                r.outgoing += 1;
                s.waiting_in = false;
                if let Some(d) = day {
                    d.outgoing += 1;
                }
                let entry = self.ops.entry(e.operator_id.unwrap_or(0)).or_default();
                entry.0 += 1;
                entry.1.insert(e.dialog_id);
                if let Some(start) = s.awaiting.take() {
                    self.frt.push(e.at - start);
                    entry.2.push(e.at - start);
                }
            }
            _ => {}
        }
    }

    fn finish(self) -> Report {
        let mut r = self.r;
        r.unanswered = self.dialogs.values().filter(|s| s.waiting_in).count() as i64;
        r.first_response = Spread::of(self.frt);
        r.resolution = Spread::of(self.res);
        r.operators = operator_figures(self.ops);
        r
    }
}

/// Adds the ratings answered in the period: in total, and to the operator who closed each
/// rated dialog (listed even without messages in the period).
pub fn add_ratings(r: &mut Report, ratings: &[Rating]) {
    for rating in ratings {
        let Some(score) = rating.score else { continue };
        r.ratings.add(score);
        let Some(op) = rating.operator_id else {
            continue;
        };
        match r.operators.iter_mut().find(|o| o.operator_id == op) {
            Some(o) => o.ratings.add(score),
            None => {
                let mut o = OperatorStats {
                    operator_id: op,
                    messages: 0,
                    dialogs: 0,
                    median_first_response: None,
                    ratings: Ratings::default(),
                };
                o.ratings.add(score);
                r.operators.push(o);
            }
        }
    }
}

/// The longest period `/stats` and the API report on: the report lists every day, so a
/// period of centuries (`0001-01-01..9999-12-30`, `100000w`) is refused, not computed.
pub const MAX_PERIOD_DAYS: i64 = 3660;

/// Parses `today`, `7d`, `30d`, `Nd`/`Nw`, `YYYY-MM-DD..YYYY-MM-DD` (whole days,
/// inclusive) or `YYYY-MM-DD`; empty means 7 days. Returns `(from, to, label)`, or a
/// message for people: every date and length is checked, nothing typed can overflow.
pub fn parse_period(
    args: &str,
    now: UnixMs,
    tz: UtcOffset,
) -> Result<(UnixMs, UnixMs, String), String> {
    let a = args.trim().to_lowercase();
    let today = day_start(day_of(now, tz), tz);
    // Periods that end "now" include this very millisecond: an event decided in the same
    // batch as the command (a `/close` right before `/stats`) carries the same timestamp.
    let end = now + 1;
    let too_long = || format!("A period is at most {MAX_PERIOD_DAYS} days (10 years).");
    let day_after = |d: Date| {
        d.next_day()
            .map(|n| day_start(n, tz))
            .ok_or_else(|| "Dates go up to 9999-12-30.".to_string())
    };
    match a.as_str() {
        "" => return Ok((end - 7 * 86_400_000, end, "the last 7 days".into())),
        "today" => return Ok((today, end, "today".into())),
        _ => {}
    }
    if let Some((f, t)) = a.split_once("..") {
        let (Some(f), Some(t)) = (parse_date(f.trim()), parse_date(t.trim())) else {
            return Err("Use dates like 2026-01-01..2026-01-31.".into());
        };
        if t < f {
            return Err("The period ends before it starts.".into());
        }
        if (t - f).whole_days() >= MAX_PERIOD_DAYS {
            return Err(too_long());
        }
        return Ok((day_start(f, tz), day_after(t)?, format!("{f} – {t}")));
    }
    if let Some(d) = parse_date(&a) {
        return Ok((day_start(d, tz), day_after(d)?, d.to_string()));
    }
    match parse_age(&a) {
        Some(ms) if ms > MAX_PERIOD_DAYS * 86_400_000 => Err(too_long()),
        Some(ms) if ms > 0 && (a.ends_with('d') || a.ends_with('w')) => {
            Ok((end - ms, end, format!("the last {a}")))
        }
        _ => Err(format!(
            "“{}” is not a period: /stats today, 7d, 30d or 2026-01-01..2026-01-31.",
            html(args.trim())
        )),
    }
}

/// A duration for people: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn human(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn spread_text(s: &Spread) -> String {
    match (s.median, s.p90) {
        (Some(m), Some(p)) => format!(
            "median {}, p90 {} ({} dialogs)",
            human(m),
            human(p),
            s.count
        ),
        _ => "—".into(),
    }
}

/// Who the team is, for the readable message: operators' names (stored as they write, so
/// `/stats` names people instead of ids) and the open dialogs per owner.
#[derive(Debug, Clone, Default)]
pub struct Team {
    /// Names by user id.
    pub names: HashMap<i64, String>,
    /// Open dialogs per owner (`/take`, `/assign`), most first.
    pub assignees: Vec<crate::store::AssigneeLoad>,
}

impl Team {
    /// Reads the names and loads of `connection`.
    pub async fn load(
        store: &Store,
        connection: crate::store::ConnectionId,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            names: store
                .operators(connection)
                .await?
                .into_iter()
                .map(|o| (o.user_id, o.name))
                .collect(),
            assignees: store.assignee_loads(connection).await?,
        })
    }

    fn name(&self, id: i64) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

/// The readable message, with operators named by id.
pub fn render_text(r: &Report, label: &str) -> String {
    render_team_text(r, label, &Team::default())
}

/// The readable message, naming operators and listing open dialogs per owner.
pub fn render_team_text(r: &Report, label: &str, team: &Team) -> String {
    let mut t = format!("📊 <b>Team stats</b> · {}\n\n", html(label));
    t.push_str(&format!(
        "<b>Dialogs</b>: {} new · {} reopened · {} closed · {} unanswered\n",
        r.new, r.reopened, r.closed, r.unanswered
    ));
    t.push_str(&format!(
        "<b>Messages</b>: {} in · {} out · {} intercepted\n",
        r.incoming, r.outgoing, r.intercepted
    ));
    t.push_str(&format!(
        "<b>First response</b>: {}\n<b>Resolution</b>: {}\n",
        spread_text(&r.first_response),
        spread_text(&r.resolution)
    ));
    if r.ratings.count > 0 {
        t.push_str(&format!("<b>Satisfaction</b>: {}\n", r.ratings.text()));
    }
    if !r.operators.is_empty() {
        t.push_str("\n<b>Operators</b>\n");
        for o in r.operators.iter().take(20) {
            t.push_str(&format!(
                "<a href=\"tg://user?id={id}\">{}</a>: {} messages · {} dialogs · first response {}{}\n",
                html(&team.name(o.operator_id)),
                o.messages,
                o.dialogs,
                o.median_first_response.map_or("—".into(), human),
                if o.ratings.count > 0 {
                    format!(" · rated {}", o.ratings.text())
                } else {
                    String::new()
                },
                id = o.operator_id,
            ));
        }
    }
    if team.assignees.iter().any(|a| a.assignee.is_some()) {
        t.push_str("\n<b>Owners</b> (open dialogs now · 🟪 waiting for the team)\n");
        for a in team.assignees.iter().take(20) {
            let who = match a.assignee {
                Some(id) => format!("<a href=\"tg://user?id={id}\">{}</a>", html(&team.name(id))),
                None => "nobody".to_string(),
            };
            t.push_str(&format!("{who}: {} open · {} 🟪\n", a.open, a.waiting));
        }
    }
    let busiest = |v: &[i64]| {
        v.iter()
            .enumerate()
            .max_by_key(|(i, n)| (**n, usize::MAX - i))
            .filter(|(_, n)| **n > 0)
            .map(|(i, _)| i)
    };
    const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    t.push_str("\n<b>Load</b> (incoming by weekday): ");
    t.push_str(
        &WEEKDAYS
            .iter()
            .zip(r.by_weekday)
            .map(|(d, n)| format!("{d} {n}"))
            .collect::<Vec<_>>()
            .join(" · "),
    );
    if let Some(h) = busiest(&r.by_hour) {
        t.push_str(&format!(
            "\nBusiest hour: {h:02}:00–{:02}:00 ({} messages)",
            (h + 1) % 24,
            r.by_hour[h]
        ));
    }
    t
}

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/fonts/DejaVuSansMono.ttf");
        if plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, bytes)
            .is_err()
        {
            tracing::warn!("chart font not registered");
        }
    });
}

/// Renders the chart (messages per day in/out/intercepted; incoming load by hour) as PNG.
pub fn chart(r: &Report, label: &str) -> Result<Vec<u8>, String> {
    use plotters::prelude::*;
    register_font();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("stats.png");
    {
        let root = BitMapBackend::new(&path, CHART_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, bottom) = root.split_vertically(CHART_SIZE.1 / 2 + 20);
        let days = r.days.len().max(1) as i32;
        let max_day = r
            .days
            .iter()
            .map(|d| d.incoming.max(d.outgoing).max(d.intercepted))
            .max()
            .unwrap_or(0)
            .max(1);
        let mut c = ChartBuilder::on(&top)
            .caption(
                format!("Messages per day · {label}"),
                ("sans-serif", 20).into_font(),
            )
            .margin(12)
            .margin_right(28)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(
                0..days - 1 + i32::from(days == 1),
                0..max_day + max_day / 10 + 1,
            )
            .map_err(|e| e.to_string())?;
        let day_labels: Vec<String> = r
            .days
            .iter()
            .map(|d| format!("{:02}-{:02}", u8::from(d.date.month()), d.date.day()))
            .collect();
        c.configure_mesh()
            .x_labels(days.clamp(2, 12) as usize)
            .x_label_formatter(&|i| day_labels.get(*i as usize).cloned().unwrap_or_default())
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| e.to_string())?;
        type Series = (&'static str, RGBColor, fn(&Day) -> i64);
        let series: [Series; 3] = [
            ("in", RGBColor(52, 101, 164), |d| d.incoming),
            ("out", RGBColor(78, 154, 6), |d| d.outgoing),
            ("intercepted", RGBColor(204, 0, 0), |d| d.intercepted),
        ];
        for (name, color, f) in series {
            let points: Vec<(i32, i64)> = r
                .days
                .iter()
                .enumerate()
                .map(|(i, d)| (i as i32, f(d)))
                .collect();
            c.draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(|e| e.to_string())?;

        let max_hour = r.by_hour.iter().copied().max().unwrap_or(0).max(1);
        let mut h = ChartBuilder::on(&bottom)
            .caption("Incoming by hour of day", ("sans-serif", 20).into_font())
            .margin(12)
            .margin_right(28)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0i32..24, 0..max_hour + max_hour / 10 + 1)
            .map_err(|e| e.to_string())?;
        h.configure_mesh()
            .x_labels(12)
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| e.to_string())?;
        h.draw_series(r.by_hour.iter().enumerate().map(|(i, n)| {
            let i = i as i32;
            Rectangle::new([(i, 0), (i + 1, *n)], RGBColor(52, 101, 164).filled())
        }))
        .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    std::fs::read(&path).map_err(|e| e.to_string())
}

/// `/stats [PERIOD]` in General (the command table checked the author is an admin).
pub async fn command(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    cmd: &Parsed,
) -> Result<(), StoreError> {
    let reply_to = msg["message_id"].as_i64();
    match parse_period(&cmd.args, now_ms(), ctx.time_zone.0) {
        Ok((from, to, label)) => {
            let job = StatsJob {
                from,
                to,
                label,
                reply_to,
            };
            ctx.to_group(tx, None, &job).await?;
            Ok(())
        }
        Err(text) => answer(ctx, tx, None, reply_to, text).await,
    }
}

/// Post team analytics in General (`/stats`): the analytics' outbox action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsJob {
    /// Period start (Unix ms, inclusive).
    pub from: UnixMs,
    /// Period end (exclusive).
    pub to: UnixMs,
    /// How the period was named.
    pub label: String,
    /// The command message.
    pub reply_to: Option<i64>,
}

impl Action for StatsJob {
    const KIND: &'static str = "stats";
}

/// Why a stats job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Telegram refused or did not answer.
    #[error(transparent)]
    Telegram(#[from] TgError),
    /// Reading the events failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl Classify for JobError {
    fn failure(&self) -> Failure {
        match self {
            JobError::Telegram(e) => e.failure(),
            JobError::Store(e) => e.failure(),
        }
    }
}

/// Executes [`StatsJob`]s for one connection.
pub struct StatsExecutor(pub Topics);

/// Registers the analytics' action with its executor.
pub fn register(registry: &mut Registry, topics: &Topics) {
    registry.register::<StatsJob, _>(std::sync::Arc::new(StatsExecutor(topics.clone())));
}

impl Execute<StatsJob> for StatsExecutor {
    type Done = ();
    type Error = JobError;

    async fn execute(&self, _intent: &Intent, job: StatsJob) -> Result<(), JobError> {
        execute(&self.0, job.from, job.to, &job.label, job.reply_to).await
    }
}

/// Runs a stats job: the message, then the chart as a photo.
async fn execute(
    ex: &Topics,
    from: UnixMs,
    to: UnixMs,
    label: &str,
    reply_to: Option<i64>,
) -> Result<(), JobError> {
    let ctx = &ex.ctx;
    let tz = ctx.time_zone.0;
    let report = compute(&ex.store, ctx.connection, from, to, tz).await?;
    let team = Team::load(&ex.store, ctx.connection).await?;
    let mut extra = json!({"parse_mode": "HTML"});
    if let Some(r) = reply_to {
        extra["reply_parameters"] = json!({"message_id": r, "allow_sending_without_reply": true});
    }
    ex.tg
        .send_message(
            ctx.group_id,
            &render_team_text(&report, label, &team),
            extra,
        )
        .await?;
    let png = match chart(&report, label) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "stats chart not rendered");
            return Ok(());
        }
    };
    let file = InputFile {
        field: "photo".into(),
        file_name: "stats.png".into(),
        mime: Some("image/png".into()),
        bytes: png.into(),
    };
    ex.tg
        .call_multipart(
            "sendPhoto",
            json!({"chat_id": ctx.group_id, "caption": format!("📈 {label}")}),
            vec![file],
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn database_figures_equal_the_reference() {
        use crate::store::testutil::temp_store;
        use crate::store::{ContactProfile, DialogStatus};
        let (s, _d) = temp_store().await;
        let conn = s.ensure_connection("c").await.unwrap();
        let mut dialogs = Vec::new();
        for u in 0..12 {
            let p = ContactProfile {
                user_id: 100 + u,
                first_name: "u".into(),
                ..Default::default()
            };
            let c = s.contact_wrote(conn, &p, None, 1).await.unwrap();
            let mut tx = s.begin().await.unwrap();
            let d = tx
                .ensure_dialog(conn, c.id, DialogStatus::New, 1)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            dialogs.push(d.0.id);
        }
        // Pseudo-random events on whole hours, so that ties in time are common and the
        // order (time, then id) matters.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let base = 1_767_225_600_000; // 2026-01-01
        let kinds = [
            kind::CREATED,
            kind::REOPENED,
            kind::CLOSED,
            kind::IN,
            kind::IN,
            kind::IN,
            kind::OUT,
            kind::OUT,
            kind::INTERCEPTED,
        ];
        let mut tx = s.begin().await.unwrap();
        for _ in 0..3000 {
            let d = dialogs[(next() % 12) as usize];
            let k = kinds[(next() % kinds.len() as u64) as usize];
            let op = (k == kind::OUT && next() % 5 != 0).then(|| (next() % 3) as i64 + 1);
            let at = base + (next() % (40 * 24)) as i64 * 3_600_000;
            tx.record_event(conn, d, k, op, at).await.unwrap();
        }
        tx.commit().await.unwrap();
        let zones = [
            UtcOffset::UTC,
            UtcOffset::from_hms(5, 30, 0).unwrap(),
            UtcOffset::from_hms(-8, 0, 0).unwrap(),
        ];
        let day = 86_400_000;
        for tz in zones {
            for (from, to) in [
                (base, base + 30 * day),
                (base + 3 * day + 12_345, base + 10 * day),
                (base - day, base + 50 * day),
                (base + 100 * day, base + 101 * day),
            ] {
                let events = s.events_between(conn, from, to).await.unwrap();
                let want = compute_from(&events, from, to, tz);
                let got = compute(&s, conn, from, to, tz).await.unwrap();
                assert_eq!(got, want, "{tz} {from}..{to}");
            }
        }
    }

    #[test]
    fn nearest_rank() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[5], 0.9), Some(5));
        assert_eq!(percentile(&[1, 2, 3, 4], 0.5), Some(2));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 0.9), Some(9));
        assert_eq!(percentile(&v, 0.5), Some(5));
    }

    #[test]
    fn periods() {
        let tz = UtcOffset::UTC;
        let now = day_start(parse_date("2026-03-10").unwrap(), tz) + 5 * 3_600_000;
        let (f, t, _) = parse_period("today", now, tz).unwrap();
        assert_eq!(
            (f, t),
            (now - 5 * 3_600_000, now + 1),
            "up to and including now"
        );
        let (f, t, _) = parse_period("30d", now, tz).unwrap();
        assert_eq!((t - f, t), (30 * 86_400_000, now + 1));
        let (f, t, _) = parse_period("2026-03-01..2026-03-02", now, tz).unwrap();
        assert_eq!(t - f, 2 * 86_400_000);
        assert!(parse_period("2026-03-02..2026-03-01", now, tz).is_err());
        assert!(parse_period("soon", now, tz).is_err());
    }

    #[test]
    fn periods_at_the_edges_of_the_calendar_are_errors() {
        let tz = UtcOffset::from_hms(-12, 0, 0).unwrap();
        let now = 1_767_312_000_000;
        for (period, needle) in [
            ("9999-12-31", "9999-12-30"),
            ("2026-01-01..9999-12-31", "at most"),
            ("9999-12-30..9999-12-31", "9999-12-30"),
            ("0001-01-01..9999-12-30", "at most"),
            ("100000w", "at most"),
            ("3661d", "at most"),
        ] {
            let e = parse_period(period, now, tz).expect_err(period);
            assert!(e.contains(needle), "{period}: {e}");
        }
        let (f, t, _) = parse_period("9999-12-30", now, tz).unwrap();
        assert_eq!(t - f, 86_400_000);
        let (f, t, _) = parse_period("0000-01-01", now, tz).unwrap();
        assert_eq!(t - f, 86_400_000);
        let (f, t, _) = parse_period("3660d", now, tz).unwrap();
        assert_eq!(t - f, 3660 * 86_400_000);
    }
}
