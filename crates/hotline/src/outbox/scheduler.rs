//! The pure scheduling policy: which due intent runs next. No I/O, no clock of its own
//! (every method takes `now`), so it is tested deterministically.
//!
//! Rules, in order:
//! 1. a 429 pauses its chat until its `retry_after` has passed, and the whole bot for at
//!    most one (scaled) second: Telegram's group limit answers 429 for that group only, so
//!    a busy group must not hold up answers to users, while a 429 from the bot-wide limit
//!    clears within its one-second window;
//! 2. the bot-wide bucket must have a token;
//! 3. only candidates whose chat bucket has a token are eligible (private chats and groups
//!    have separate limits);
//! 4. lower lane first ([`Lane::priority`]: operator replies, then first messages of new
//!    dialogs, then other group work, then broadcasts);
//! 5. while a new dialog's work runs in a chat (its topic being created), that chat's
//!    other group work waits: the dialog's first copy, queued behind the topic, goes next;
//! 6. within a lane, the chat served least recently, then — inside a chat such as the
//!    backend group — the fairness key (dialog) served least recently, then the oldest.
//!
//! Per-queue order is not this module's job: the store only offers queue heads.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::limiter::RateWindow;
use super::{IntentId, Lane};
use crate::config::Limits;

/// The scheduling-relevant part of a due intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The intent.
    pub id: IntentId,
    /// Its priority lane.
    pub lane: Lane,
    /// The chat its call targets.
    pub target_chat: i64,
    /// Sub-queue inside the chat (dialog id for the group; 0 otherwise).
    pub fairness_key: i64,
}

/// The scheduler's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Run `candidates[index]` now (tokens have been taken).
    Run(usize),
    /// Nothing may run before this much time has passed.
    Wait(Duration),
    /// No candidate at all.
    Idle,
}

/// Slack added to the bot-wide one-second window. A call's trip from the pick to Telegram
/// (claim, resolve, HTTP) varies by some milliseconds; without slack the 31st call of a
/// window can reach Telegram inside the same second as the 1st and get a 429, which pauses
/// the whole bot. Measured with `hotline-bench broadcast` (bench/README.md).
pub const BOT_WINDOW_GUARD: Duration = Duration::from_millis(25);

/// Entries kept for fairness bookkeeping before the oldest state is forgotten.
const MAX_TRACKED: usize = 50_000;

/// Rate limits, pause state and fairness memory for one bot.
#[derive(Debug)]
pub struct Scheduler {
    limits: Limits,
    /// Telegram's one second and one minute, divided by the time scale.
    second: Duration,
    minute: Duration,
    bot: RateWindow,
    chats: HashMap<i64, RateWindow>,
    served_chat: HashMap<i64, u64>,
    served_key: HashMap<(i64, i64), u64>,
    counter: u64,
    paused_until: Option<Instant>,
    /// New-dialog intents running per chat (rule 5).
    opening: HashMap<i64, u32>,
    /// Chats paused by a 429 of their own, until when.
    paused_chats: HashMap<i64, Instant>,
    /// Chats seen with work but no token, and when they get one.
    throttled: HashMap<i64, Instant>,
    /// The chat of the latest pick (for [`Scheduler::restamp`]).
    last_chat: Option<i64>,
}

impl Scheduler {
    /// A scheduler with full buckets.
    pub fn new(limits: Limits) -> Self {
        Self::scaled(limits, 1.0)
    }

    /// A scheduler whose windows are `scale` times shorter (counts unchanged): the
    /// counterpart of the emulator's `time_scale`, so tests and benchmarks meet Telegram's
    /// dynamics in a fraction of the time. The bot window's guard stays in real time: it
    /// covers the trip to Telegram, which does not shrink. A non-positive or non-finite
    /// scale counts as 1.
    pub fn scaled(limits: Limits, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let second = Duration::from_secs(1).div_f64(scale);
        Self {
            limits,
            second,
            minute: Duration::from_secs(60).div_f64(scale),
            bot: RateWindow::new(limits.bot_per_second, second + BOT_WINDOW_GUARD),
            chats: HashMap::new(),
            served_chat: HashMap::new(),
            served_key: HashMap::new(),
            counter: 0,
            paused_until: None,
            paused_chats: HashMap::new(),
            opening: HashMap::new(),
            throttled: HashMap::new(),
            last_chat: None,
        }
    }

    fn chat_window(&mut self, chat: i64) -> &mut RateWindow {
        let (limits, second, minute) = (self.limits, self.second, self.minute);
        self.chats.entry(chat).or_insert_with(|| {
            if chat > 0 {
                RateWindow::new(limits.private_per_second, second)
            } else {
                RateWindow::new(limits.group_per_minute, minute)
            }
        })
    }

    /// Stops all calls until `until` (a 429's `retry_after`). Never shortens a pause.
    pub fn pause(&mut self, until: Instant) {
        if self.paused_until.is_none_or(|p| p < until) {
            self.paused_until = Some(until);
        }
    }

    /// An intent picked earlier has finished (whatever its outcome).
    pub fn finished(&mut self, chat: i64, lane: Lane) {
        if lane != Lane::NewDialog {
            return;
        }
        if let Some(n) = self.opening.get_mut(&chat) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.opening.remove(&chat);
            }
        }
    }

    /// Handles a 429 (`retry_after` as real time) from a call to `chat`: that chat waits the
    /// whole `retry_after`, every other chat at most one (scaled) second (see rule 1).
    pub fn rate_limited(&mut self, chat: i64, retry_after: Duration, now: Instant) {
        self.pause_chat(chat, now + retry_after);
        self.pause(now + retry_after.min(self.second));
    }

    /// The end of the current pause, if one is active.
    pub fn paused_until(&self, now: Instant) -> Option<Instant> {
        self.paused_until.filter(|p| *p > now)
    }

    /// Chats known to have work but no token now: the store can leave them out of the next
    /// batch so they do not crowd out runnable work.
    pub fn throttled_targets(&mut self, now: Instant, max: usize) -> Vec<i64> {
        self.throttled.retain(|_, at| *at > now);
        self.throttled.keys().take(max).copied().collect()
    }

    /// When the earliest throttled chat gets a token again.
    pub fn next_unthrottle(&self) -> Option<Instant> {
        self.throttled.values().min().copied()
    }

    /// Moves the tokens of the latest pick to `now` (when its call really leaves), so the
    /// windows count what Telegram will see.
    pub fn restamp(&mut self, now: Instant) {
        self.bot.restamp_last(now);
        if let Some(chat) = self.last_chat {
            if let Some(w) = self.chats.get_mut(&chat) {
                w.restamp_last(now);
            }
        }
    }

    /// Chooses the next candidate to run, taking its tokens. See the module doc for rules.
    pub fn pick(&mut self, candidates: &[Candidate], now: Instant) -> Pick {
        if candidates.is_empty() {
            return Pick::Idle;
        }
        if let Some(p) = self.paused_until(now) {
            return Pick::Wait(p - now);
        }
        let bot_wait = self.bot.wait_time(now);
        if !bot_wait.is_zero() {
            return Pick::Wait(bot_wait);
        }
        let mut best: Option<((u8, u64, u64, IntentId), usize)> = None;
        let mut min_wait: Option<Duration> = None;
        for (i, c) in candidates.iter().enumerate() {
            let mut wait = self.chat_window(c.target_chat).wait_time(now);
            if let Some(until) = self.paused_chats.get(&c.target_chat) {
                wait = wait.max(until.saturating_duration_since(now));
            }
            if !wait.is_zero() {
                self.throttled.insert(c.target_chat, now + wait);
                min_wait = Some(min_wait.map_or(wait, |m| m.min(wait)));
                continue;
            }
            if c.lane == Lane::Group && self.opening.get(&c.target_chat).is_some_and(|n| *n > 0) {
                continue;
            }
            let rank = (
                c.lane.priority(),
                self.served_chat.get(&c.target_chat).copied().unwrap_or(0),
                self.served_key
                    .get(&(c.target_chat, c.fairness_key))
                    .copied()
                    .unwrap_or(0),
                c.id,
            );
            if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                best = Some((rank, i));
            }
        }
        let Some((_, i)) = best else {
            return min_wait.map_or(Pick::Idle, Pick::Wait);
        };
        let c = candidates[i];
        self.bot.try_take(now);
        self.chat_window(c.target_chat).try_take(now);
        self.last_chat = Some(c.target_chat);
        if c.lane == Lane::NewDialog {
            *self.opening.entry(c.target_chat).or_default() += 1;
        }
        self.counter += 1;
        self.served_chat.insert(c.target_chat, self.counter);
        self.served_key
            .insert((c.target_chat, c.fairness_key), self.counter);
        self.forget_old(now);
        Pick::Run(i)
    }

    /// Books `extra` more sends into `chat` (and the bot's window) for an intent just
    /// picked that declared them (`NewIntent::with_sends`: a first copy that creates the
    /// topic and posts the card), at the earliest instants they fit. Returns how long the
    /// intent must wait before its first call so that none of its sends meets a 429; later
    /// picks wait behind the booking.
    pub fn book_extra(&mut self, chat: i64, extra: u32, now: Instant) -> Duration {
        let mut wait = Duration::ZERO;
        for _ in 0..extra {
            wait = wait.max(self.bot.reserve(now));
            wait = wait.max(self.chat_window(chat).reserve(now));
        }
        if !wait.is_zero() {
            self.throttled.insert(chat, now + wait);
        }
        wait
    }

    fn forget_old(&mut self, now: Instant) {
        if self.served_key.len() > MAX_TRACKED || self.served_chat.len() > MAX_TRACKED {
            // Forgetting only resets fairness history, which restarts evenly.
            self.served_key.clear();
            self.served_chat.clear();
        }
        self.paused_chats.retain(|_, until| *until > now);
        if self.chats.len() > MAX_TRACKED {
            self.chats.retain(|_, b| !b.is_full(now));
        }
    }

    /// Counts a send made at `at` outside the outbox (the parallel bot's own, through the
    /// gateway: see [`super::ExternalSends`]) in the bot's window and, when known, its chat's.
    pub fn count_external(&mut self, chat: Option<i64>, at: Instant) {
        self.bot.seed(at);
        if let Some(chat) = chat {
            self.chat_window(chat).seed(at);
        }
    }

    /// Handles a 429 answered at `at` to a call outside the outbox: like
    /// [`Scheduler::rate_limited`] for its chat; of unknown chat, the bot waits at most one
    /// (scaled) second.
    pub fn rate_limited_external(&mut self, chat: Option<i64>, retry_after: Duration, at: Instant) {
        match chat {
            Some(chat) => self.rate_limited(chat, retry_after, at),
            None => self.pause(at + retry_after.min(self.second)),
        }
    }

    /// Pauses `chat` until `until` (a 429's pause restored from the database after a
    /// restart or a takeover). Never shortens a pause.
    pub fn pause_chat(&mut self, chat: i64, until: Instant) {
        let slot = self.paused_chats.entry(chat).or_insert(until);
        if *slot < until {
            *slot = until;
        }
    }

    /// Counts `sends` made to `chat` at `at` (before this scheduler existed: a restart or a
    /// takeover), so the windows start as Telegram's do instead of empty — an empty group
    /// window would let 20 more sends in within the minute and meet a 429.
    pub fn seed(&mut self, chat: i64, at: Instant, sends: u32) {
        for _ in 0..sends {
            self.bot.seed(at);
            self.chat_window(chat).seed(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            bot_per_second: 30,
            private_per_second: 1,
            group_per_minute: 20,
        }
    }

    fn cand(id: i64, lane: Lane, chat: i64, key: i64) -> Candidate {
        Candidate {
            id: IntentId(id),
            lane,
            target_chat: chat,
            fairness_key: key,
        }
    }

    /// Runs picks like the worker does: picked candidates leave the list, and `next`
    /// supplies each queue's following intent.
    fn drain(
        s: &mut Scheduler,
        mut cands: Vec<Candidate>,
        mut queues: HashMap<(i64, i64), Vec<Candidate>>,
        t0: Instant,
    ) -> Vec<i64> {
        let mut order = Vec::new();
        let mut now = t0;
        for _ in 0..10_000 {
            match s.pick(&cands, now) {
                Pick::Run(i) => {
                    let c = cands.remove(i);
                    s.finished(c.target_chat, c.lane);
                    order.push(c.id.0);
                    if let Some(q) = queues.get_mut(&(c.target_chat, c.fairness_key)) {
                        if !q.is_empty() {
                            cands.push(q.remove(0));
                        }
                    }
                }
                Pick::Wait(d) => now += d,
                Pick::Idle => break,
            }
        }
        order
    }

    #[test]
    fn group_queue_interleaves_dialogs() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(limits());
        // Dialog 1 has 3 copies queued, dialog 2 has 2; heads are 1 and 4.
        let mut queues = HashMap::new();
        queues.insert(
            (-100, 1),
            vec![cand(2, Lane::Group, -100, 1), cand(3, Lane::Group, -100, 1)],
        );
        queues.insert((-100, 2), vec![cand(5, Lane::Group, -100, 2)]);
        let order = drain(
            &mut s,
            vec![cand(1, Lane::Group, -100, 1), cand(4, Lane::Group, -100, 2)],
            queues,
            t0,
        );
        assert_eq!(order, vec![1, 4, 2, 5, 3]);
    }

    #[test]
    fn lanes_have_priority_and_chats_are_round_robin() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(Limits {
            bot_per_second: 1000,
            private_per_second: 1000,
            group_per_minute: 60_000,
        });
        let mut queues = HashMap::new();
        queues.insert(
            (1, 0),
            vec![cand(11, Lane::Reply, 1, 0), cand(12, Lane::Reply, 1, 0)],
        );
        queues.insert((2, 0), vec![cand(21, Lane::Reply, 2, 0)]);
        let order = drain(
            &mut s,
            vec![
                cand(100, Lane::Broadcast, 3, 0),
                cand(50, Lane::Group, -1, 0),
                cand(10, Lane::Reply, 1, 0),
                cand(20, Lane::Reply, 2, 0),
            ],
            queues,
            t0,
        );
        assert_eq!(order, vec![10, 20, 11, 21, 12, 50, 100]);
    }

    fn assert_wait(p: Pick, expected: Duration) {
        match p {
            Pick::Wait(d) => assert!(
                d.abs_diff(expected) < Duration::from_millis(1),
                "{d:?} != {expected:?}"
            ),
            other => panic!("expected Wait({expected:?}), got {other:?}"),
        }
    }

    #[test]
    fn per_chat_and_bot_limits() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut s = Scheduler::new(limits());
        let g = cand(1, Lane::Group, -100, 1);
        let b7 = cand(3, Lane::Broadcast, 7, 0);
        // The group takes 20 in any minute: a first contact goes out at once...
        for i in 0..20 {
            assert_eq!(s.pick(&[g], t0 + ms(i)), Pick::Run(0), "group send {i}");
        }
        // ...then it waits for the window while a lower lane goes meanwhile.
        assert_eq!(s.pick(&[g, b7], t0 + ms(40)), Pick::Run(1));
        assert_eq!(s.throttled_targets(t0 + ms(40), 10), vec![-100]);
        let un = s.next_unthrottle().unwrap();
        assert!(un.duration_since(t0).abs_diff(Duration::from_secs(60)) < ms(1));
        assert_wait(
            s.pick(&[g], t0 + ms(100)),
            Duration::from_secs(60) - ms(100),
        );
        let later = t0 + Duration::from_secs(60) + ms(1);
        assert_eq!(s.pick(&[g], later), Pick::Run(0));
        // The bot takes 30 in any second across chats.
        let mut s = Scheduler::new(limits());
        for chat in 1..=30 {
            assert_eq!(
                s.pick(&[cand(chat, Lane::Reply, chat, 0)], t0),
                Pick::Run(0)
            );
        }
        assert_wait(
            s.pick(&[cand(99, Lane::Reply, 99, 0)], t0 + ms(10)),
            Duration::from_secs(1) + BOT_WINDOW_GUARD - ms(10),
        );
        // A private chat takes 1 per second.
        let mut s = Scheduler::new(limits());
        assert_eq!(s.pick(&[cand(1, Lane::Reply, 5, 0)], t0), Pick::Run(0));
        assert_wait(s.pick(&[cand(2, Lane::Reply, 5, 0)], t0 + ms(250)), ms(750));
    }

    #[test]
    fn an_intent_that_sends_several_books_its_extra_sends() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut s = Scheduler::new(limits());
        let g = cand(1, Lane::Group, -100, 1);
        for i in 0..18 {
            assert_eq!(s.pick(&[g], t0 + ms(i)), Pick::Run(0), "group send {i}");
        }
        // A first copy (topic, card, copy) is picked with the 19th send and books 2 more:
        // the 20th slot now, the 21st when the first send leaves the window; it waits
        // for that before it starts, and so does the group's next pick.
        let first = cand(2, Lane::Group, -100, 2);
        assert_eq!(s.pick(&[first], t0 + ms(100)), Pick::Run(0));
        let wait = s.book_extra(-100, 2, t0 + ms(100));
        assert_eq!(wait, Duration::from_secs(60) - ms(100));
        assert_wait(
            s.pick(&[g], t0 + ms(200)),
            Duration::from_secs(60) + ms(1) - ms(200),
        );
        // Another chat is not held up.
        assert_eq!(
            s.pick(&[cand(3, Lane::Reply, 5, 0)], t0 + ms(200)),
            Pick::Run(0)
        );
    }

    #[test]
    fn a_scaled_scheduler_keeps_the_counts_in_shorter_windows() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut s = Scheduler::scaled(limits(), 10.0);
        let g = cand(1, Lane::Group, -100, 1);
        for i in 0..20 {
            assert_eq!(s.pick(&[g], t0 + ms(i)), Pick::Run(0), "group send {i}");
        }
        // 20 per 6 s instead of per minute.
        assert_wait(s.pick(&[g], t0 + ms(100)), ms(5900));
        assert_eq!(s.pick(&[g], t0 + ms(6000)), Pick::Run(0));
        // 1 per 100 ms per private chat.
        assert_eq!(s.pick(&[cand(2, Lane::Reply, 5, 0)], t0), Pick::Run(0));
        assert_wait(s.pick(&[cand(3, Lane::Reply, 5, 0)], t0 + ms(25)), ms(75));
        // A nonsense scale counts as 1.
        let mut s = Scheduler::scaled(limits(), f64::NAN);
        assert_eq!(s.pick(&[cand(2, Lane::Reply, 5, 0)], t0), Pick::Run(0));
        assert_wait(s.pick(&[cand(3, Lane::Reply, 5, 0)], t0 + ms(250)), ms(750));
    }

    #[test]
    fn first_messages_of_new_dialogs_go_before_follow_ups() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(limits());
        // Dialogs 1..=3 have follow-ups waiting since before dialogs 4 and 5 opened (lower
        // ids): the new dialogs still go first.
        let mut cands: Vec<Candidate> = (1..=3).map(|d| cand(d, Lane::Group, -100, d)).collect();
        cands.push(cand(10, Lane::NewDialog, -100, 4));
        cands.push(cand(11, Lane::NewDialog, -100, 5));
        cands.push(cand(12, Lane::Broadcast, 7, 0));
        let order = drain(&mut s, cands, HashMap::new(), t0);
        assert_eq!(order, vec![10, 11, 1, 2, 3, 12]);
    }

    #[test]
    fn follow_ups_wait_while_a_new_dialog_opens_in_their_group() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(limits());
        let opening = cand(1, Lane::NewDialog, -100, 1);
        let follow_up = cand(2, Lane::Group, -100, 2);
        let elsewhere = cand(3, Lane::Group, -200, 3);
        assert_eq!(s.pick(&[opening, follow_up], t0), Pick::Run(0));
        // The topic is being created: its first copy becomes a head only when that ends,
        // and must not find the follow-up ahead of it. Another group is not held up.
        assert_eq!(s.pick(&[follow_up], t0), Pick::Idle);
        assert_eq!(s.pick(&[follow_up, elsewhere], t0), Pick::Run(1));
        s.finished(-100, Lane::NewDialog);
        assert_eq!(s.pick(&[follow_up], t0), Pick::Run(0));
    }

    #[test]
    fn answers_to_users_never_wait_behind_the_group() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut s = Scheduler::new(limits());
        // The group's minute is used up and new dialogs queue for it...
        for i in 0..20 {
            let c = cand(i, Lane::NewDialog, -100, i);
            assert_eq!(s.pick(&[c], t0), Pick::Run(0));
        }
        let waiting: Vec<Candidate> = (100..164)
            .map(|i| cand(i, Lane::NewDialog, -100, i))
            .collect();
        // ...answers to 10 users still go at once, one pick after another...
        for user in 1..=10 {
            let mut cands = waiting.clone();
            cands.push(cand(1000 + user, Lane::Reply, user, 0));
            assert_eq!(
                s.pick(&cands, t0 + ms(10)),
                Pick::Run(cands.len() - 1),
                "answer {user}"
            );
        }
        // ...until the bot's own 30 per second are used (Telegram's limit, not the group's).
        let mut cands = waiting.clone();
        cands.push(cand(2000, Lane::Reply, 99, 0));
        assert!(matches!(s.pick(&cands, t0 + ms(10)), Pick::Wait(_)));
    }

    #[test]
    fn a_429_pauses_its_chat_and_the_bot_for_at_most_a_second() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut s = Scheduler::new(limits());
        let g = cand(1, Lane::NewDialog, -100, 1);
        let reply = cand(2, Lane::Reply, 5, 0);
        // The group answered "retry after 40".
        s.rate_limited(-100, Duration::from_secs(40), t0);
        assert_wait(s.pick(&[g, reply], t0 + ms(500)), ms(500));
        // After a second the answer goes; the group still waits for its 40 s.
        assert_eq!(
            s.pick(&[g, reply], t0 + Duration::from_secs(1)),
            Pick::Run(1)
        );
        assert_wait(
            s.pick(&[g], t0 + Duration::from_secs(2)),
            Duration::from_secs(38),
        );
        assert_eq!(s.pick(&[g], t0 + Duration::from_secs(40)), Pick::Run(0));
        // A short retry_after pauses the bot only that long; a later, shorter 429 never
        // shortens a chat's pause.
        let mut s = Scheduler::scaled(limits(), 10.0);
        s.rate_limited(-100, Duration::from_secs(4), t0);
        s.rate_limited(-100, ms(50), t0 + ms(10));
        assert_eq!(s.pick(&[g, reply], t0 + ms(100)), Pick::Run(1));
        assert_wait(s.pick(&[g], t0 + ms(200)), ms(3800));
    }

    #[test]
    fn seeded_windows_delay_the_next_sends() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let s_ = Duration::from_secs;
        let mut s = Scheduler::new(limits());
        // Before a restart: 6 first contacts (3 sends each) into the group between 50 and
        // 40 s ago, one send to a private chat 500 ms ago — given oldest first, out of order
        // within a chat as the database's clock allows.
        let now = t0 + s_(60);
        for i in 0..6 {
            s.seed(-100, now - s_(50) + s_(2 * i), 3);
        }
        s.seed(-100, now - s_(45), 1);
        s.seed(5, now - ms(500), 1);
        let g = cand(1, Lane::Group, -100, 1);
        // 19 of the group's 20 are used: one more now, then wait until the first three
        // leave the window (60 s after they were sent, 10 s from now).
        assert_eq!(s.pick(&[g], now), Pick::Run(0));
        assert_wait(s.pick(&[g], now + ms(10)), s_(10) - ms(10));
        assert_eq!(s.pick(&[g], now + s_(10)), Pick::Run(0));
        // A private chat waits out its second; another chat does not wait at all.
        let mut s = Scheduler::new(limits());
        s.seed(5, now - ms(500), 1);
        assert_wait(s.pick(&[cand(2, Lane::Reply, 5, 0)], now), ms(500));
        assert_eq!(s.pick(&[cand(3, Lane::Reply, 6, 0)], now), Pick::Run(0));
        // Sends older than a window do not count; the bot's own window is seeded too.
        let mut s = Scheduler::new(limits());
        s.seed(-100, now - s_(61), 20);
        for chat in 1..=30 {
            s.seed(chat, now - ms(100), 1);
        }
        assert_wait(
            s.pick(&[g], now),
            Duration::from_secs(1) + BOT_WINDOW_GUARD - ms(100),
        );
        assert_eq!(s.pick(&[g], now + s_(1) + BOT_WINDOW_GUARD), Pick::Run(0));
    }

    #[test]
    fn sends_outside_the_outbox_fill_its_windows() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut s = Scheduler::new(limits());
        // The parallel bot wrote to user 5 just now and 19 times into the group.
        s.count_external(Some(5), t0);
        for _ in 0..19 {
            s.count_external(Some(-100), t0);
        }
        // The user's second waits; the group has one send left this minute.
        assert_wait(s.pick(&[cand(1, Lane::Reply, 5, 0)], t0 + ms(300)), ms(700));
        let g = cand(2, Lane::Group, -100, 1);
        assert_eq!(s.pick(&[g], t0 + ms(300)), Pick::Run(0));
        assert_wait(
            s.pick(&[g], t0 + ms(400)),
            Duration::from_secs(60) - ms(400),
        );
        // Sends of unknown chat count for the bot only: 30 of them fill its second.
        let mut s = Scheduler::new(limits());
        for _ in 0..30 {
            s.count_external(None, t0);
        }
        assert_wait(
            s.pick(&[cand(3, Lane::Reply, 7, 0)], t0 + ms(100)),
            Duration::from_secs(1) + BOT_WINDOW_GUARD - ms(100),
        );
        // The bot's own 429 pauses its chat for retry_after, the bot for at most a second;
        // of unknown chat, the bot only.
        let mut s = Scheduler::new(limits());
        s.rate_limited_external(Some(-100), Duration::from_secs(30), t0);
        s.rate_limited_external(None, Duration::from_secs(5), t0);
        assert_wait(s.pick(&[g], t0 + ms(500)), ms(500));
        assert_wait(
            s.pick(&[g], t0 + Duration::from_secs(1)),
            Duration::from_secs(29),
        );
        assert_eq!(
            s.pick(&[cand(4, Lane::Reply, 7, 0)], t0 + Duration::from_secs(1)),
            Pick::Run(0)
        );
        // A restored pause holds its chat alone and is never shortened.
        let mut s = Scheduler::new(limits());
        s.pause_chat(-100, t0 + Duration::from_secs(20));
        s.pause_chat(-100, t0 + Duration::from_secs(10));
        assert_wait(s.pick(&[g], t0), Duration::from_secs(20));
        assert_eq!(s.pick(&[cand(5, Lane::Reply, 7, 0)], t0), Pick::Run(0));
    }

    #[test]
    fn pause_blocks_everything_until_retry_after() {
        let t0 = Instant::now();
        let mut s = Scheduler::new(limits());
        s.pause(t0 + Duration::from_secs(5));
        s.pause(t0 + Duration::from_secs(2)); // never shortened
        let c = [cand(1, Lane::Reply, 1, 0)];
        assert_wait(
            s.pick(&c, t0 + Duration::from_secs(1)),
            Duration::from_secs(4),
        );
        assert_eq!(s.pick(&c, t0 + Duration::from_secs(5)), Pick::Run(0));
        assert_eq!(s.pick(&[], t0), Pick::Idle);
    }
}
