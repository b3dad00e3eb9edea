//! Pushing updates to the parallel bot's own webhook, as Telegram does: up to
//! `max_connections` requests at once, but one at a time per chat (or user), so every
//! chat's updates arrive in their order while a slow chat never holds the others up.
//!
//! The pusher keeps a window of at most [`WINDOW`] updates after the confirmed offset in
//! memory, each in the lane of its chat. A lane pushes its oldest update; on success the
//! update is done (and the bot's reply, if any, executed), on failure the lane waits
//! (0.5 s doubling to 60 s) and retries the same update, and `getWebhookInfo` reports
//! the error. The confirmed offset advances over the done updates that have no
//! unfinished one before them; updates pushed ahead of it are counted in
//! `Live::pushed_ahead` (not pending) and may be pushed again after a restart, at most
//! a window's worth, never out of order within a chat.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{forward, Bot};
use crate::backoff::Backoff;
use crate::shutdown::Shutdown;
use crate::store::now_ms;

/// Most updates held in memory ahead of the confirmed offset (pushed or waiting).
pub const WINDOW: usize = 1000;
/// First and last delay between retries of a failed push.
pub const RETRY_MIN: Duration = Duration::from_millis(500);
/// See [`RETRY_MIN`].
pub const RETRY_MAX: Duration = Duration::from_secs(60);
/// Retries of a failed push: [`RETRY_MIN`] doubling to [`RETRY_MAX`].
const PUSH_RETRY: Backoff = Backoff::new(RETRY_MIN, RETRY_MAX);
/// How long Hotline waits for the bot's webhook to answer.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// Which lane an update goes to: its chat, else its user (`0`: the few kinds with
/// neither, such as `poll`, share one lane).
pub fn lane_of(update: &Value) -> i64 {
    let Some(body) = update
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.as_str() != "update_id"))
        .map(|(_, v)| v)
    else {
        return 0;
    };
    [
        &body["chat"]["id"],
        &body["message"]["chat"]["id"],
        &body["from"]["id"],
        &body["user"]["id"],
    ]
    .into_iter()
    .find_map(Value::as_i64)
    .unwrap_or(0)
}

/// Where pushes go; a change (or any setWebhook/deleteWebhook) starts the window over.
#[derive(Clone, PartialEq)]
struct Target {
    url: String,
    secret: Option<String>,
    allowed: Option<Vec<String>>,
    epoch: u64,
}

#[derive(Default)]
struct Lane {
    /// Update ids waiting, oldest first (the head may be in flight).
    queue: VecDeque<i64>,
    busy: bool,
    retry_at: Option<Instant>,
    /// Failed pushes of its head in a row.
    failures: u32,
}

/// The in-memory window of one target.
struct Window {
    target: Target,
    /// Updates after the confirmed offset: payload and whether it was pushed.
    updates: BTreeMap<i64, (Value, bool)>,
    lanes: HashMap<i64, Lane>,
    /// Last update id read from the log.
    read_to: i64,
    /// The last read stopped at the window's size: read again when there is room.
    more: bool,
    /// The last read stopped before an unsettled update that may pause the bot: read
    /// again shortly (see `Bot::scan`).
    blocked: bool,
    in_flight: usize,
    /// Done updates still in the window (ahead of the confirmed offset).
    ahead: usize,
}

impl Window {
    fn new(target: Target, confirmed: i64) -> Self {
        Self {
            target,
            updates: BTreeMap::new(),
            lanes: HashMap::new(),
            read_to: confirmed,
            more: true,
            blocked: false,
            in_flight: 0,
            ahead: 0,
        }
    }

    /// Done updates at the front leave the window; returns the new confirmed offset.
    fn advance(&mut self) -> Option<i64> {
        let mut confirmed = None;
        while let Some(entry) = self.updates.first_entry() {
            if !entry.get().1 {
                break;
            }
            confirmed = Some(*entry.key());
            entry.remove();
            self.ahead -= 1;
        }
        confirmed
    }

    /// Marks an update pushed.
    fn done(&mut self, update_id: i64) {
        if let Some(u) = self.updates.get_mut(&update_id) {
            if !u.1 {
                u.1 = true;
                self.ahead += 1;
            }
        }
    }

    /// The earliest moment a waiting lane may retry.
    fn next_retry(&self) -> Option<Instant> {
        self.lanes
            .values()
            .filter(|l| !l.busy && !l.queue.is_empty())
            .filter_map(|l| l.retry_at)
            .min()
    }
}

/// What one push came to.
struct Pushed {
    update_id: i64,
    lane: i64,
    result: Result<(), String>,
}

/// Pushes updates to the bot's webhook while one is set (see the module doc).
pub async fn push_loop(bot: Arc<Bot>, mut shutdown: Shutdown) {
    let mut changed = bot.changed.subscribe();
    let mut stored = bot.signal.subscribe();
    let mut settles = bot.ctx.pauses.settles();
    let mut window: Option<Window> = None;
    let mut tasks: JoinSet<Pushed> = JoinSet::new();
    while !shutdown.is_shutdown() {
        changed.borrow_and_update();
        let (state, epoch) = {
            let live = bot.live();
            (live.state.clone(), live.webhook_epoch)
        };
        let Some(url) = state.webhook_url.clone() else {
            tasks = JoinSet::new();
            window = None;
            tokio::select! {
                _ = changed.changed() => {}
                _ = shutdown.recv() => {}
            }
            continue;
        };
        let target = Target {
            url,
            secret: state.webhook_secret.clone(),
            allowed: state.allowed_updates.clone(),
            epoch,
        };
        if window.as_ref().is_none_or(|w| w.target != target) {
            // Dropping the set aborts pushes to the old target.
            tasks = JoinSet::new();
            window = Some(Window::new(target, state.confirmed));
        }
        let Some(w) = window.as_mut() else { continue };
        let max = state.max_connections.clamp(1, 100) as usize;

        if stored.has_changed().unwrap_or(false) {
            stored.borrow_and_update();
            w.more = true;
        }
        if w.more && w.updates.len() < WINDOW {
            let room = WINDOW - w.updates.len();
            match bot.scan(w.read_to, &w.target.allowed, room).await {
                Ok(scan) => {
                    w.more = scan.found.len() == room;
                    w.blocked = scan.blocked;
                    w.read_to = scan.read_to;
                    for u in scan.found {
                        let lane = lane_of(&u.payload);
                        w.lanes
                            .entry(lane)
                            .or_default()
                            .queue
                            .push_back(u.update_id);
                        w.updates.insert(u.update_id, (u.payload, false));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "gateway: cannot read the update log");
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY_MIN) => {}
                        _ = shutdown.recv() => {}
                    }
                    continue;
                }
            }
        }

        let now = Instant::now();
        for (key, lane) in w.lanes.iter_mut() {
            if w.in_flight >= max {
                break;
            }
            if lane.busy || lane.retry_at.is_some_and(|at| at > now) {
                continue;
            }
            let Some(&id) = lane.queue.front() else {
                continue;
            };
            let Some((payload, _)) = w.updates.get(&id) else {
                continue;
            };
            lane.busy = true;
            w.in_flight += 1;
            bot.served(id);
            tasks.spawn(push_one(
                bot.clone(),
                w.target.clone(),
                id,
                *key,
                payload.to_string(),
            ));
        }

        let retry = w.next_retry();
        let room = w.updates.len() < WINDOW;
        tokio::select! {
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(pushed) = joined {
                    finished(&bot, w, pushed).await;
                }
                // Handle every other push that finished meanwhile in the same round.
                while let Some(Ok(pushed)) = tasks.try_join_next() {
                    finished(&bot, w, pushed).await;
                }
            }
            _ = changed.changed() => {}
            _ = stored.changed(), if room => { w.more = true; }
            _ = sleep_until(retry), if retry.is_some() => {}
            Ok(()) = settles.changed(), if w.blocked && room => {
                w.more = true;
            }
            _ = shutdown.recv() => {}
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

/// Records one push's outcome: a done update may move the confirmed offset; a failure
/// puts its lane on hold and is reported by getWebhookInfo.
async fn finished(bot: &Bot, w: &mut Window, pushed: Pushed) {
    w.in_flight = w.in_flight.saturating_sub(1);
    let Some(lane) = w.lanes.get_mut(&pushed.lane) else {
        return;
    };
    lane.busy = false;
    match pushed.result {
        Ok(()) => {
            lane.queue.pop_front();
            lane.retry_at = None;
            lane.failures = 0;
            if lane.queue.is_empty() {
                w.lanes.remove(&pushed.lane);
            }
            w.done(pushed.update_id);
            let confirmed = w.advance();
            let ahead = w.ahead;
            let save = {
                let mut live = bot.live();
                // Only while the webhook is still the one pushed to.
                let current = live.webhook_epoch == w.target.epoch;
                if current {
                    live.last_error = None;
                    live.pushed_ahead = ahead;
                    if let Some(c) = confirmed {
                        live.state.confirmed = live.state.confirmed.max(c);
                    }
                }
                current && confirmed.is_some()
            };
            if save {
                if let Err(e) = bot.persist().await {
                    tracing::warn!(error = %e, "gateway: cannot save the webhook position");
                }
            }
        }
        Err(error) => {
            lane.failures = lane.failures.saturating_add(1);
            let delay = PUSH_RETRY.delay(lane.failures);
            lane.retry_at = Some(Instant::now() + delay);
            tracing::debug!(connection = %bot.ctx.name, %error, "gateway: webhook push failed");
            let mut live = bot.live();
            if live.webhook_epoch == w.target.epoch {
                live.last_error = Some((now_ms() / 1000, error));
            }
        }
    }
}

/// POSTs one update with the secret header; on a 2xx the bot's reply is executed.
async fn push_one(
    bot: Arc<Bot>,
    target: Target,
    update_id: i64,
    lane: i64,
    body: String,
) -> Pushed {
    let mut req = bot
        .http
        .post(&target.url)
        .timeout(PUSH_TIMEOUT)
        .header("content-type", "application/json")
        .body(body);
    if let Some(s) = &target.secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", s.as_str());
    }
    let result = match req.send().await {
        Ok(resp) if resp.status().is_success() => {
            let ctype = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            match read_reply(resp).await {
                Ok(reply) => forward::webhook_reply(&bot, &ctype, reply).await,
                Err(why) => {
                    tracing::warn!(connection = %bot.ctx.name, update_id, "gateway: the webhook's reply was not executed: {why}");
                }
            }
            Ok(())
        }
        Ok(resp) => {
            let s = resp.status();
            Err(format!(
                "Wrong response from the webhook: {} {}",
                s.as_u16(),
                s.canonical_reason().unwrap_or("")
            ))
        }
        Err(e) if e.is_timeout() => Err("Timeout expired".to_string()),
        Err(e) if e.is_connect() => Err("Connection refused".to_string()),
        Err(_) => Err("Failed to read response".to_string()),
    };
    Pushed {
        update_id,
        lane,
        result,
    }
}

/// The webhook's answer body, up to [`forward::BUFFER_MAX`] (a method call in it may
/// carry an upload).
async fn read_reply(mut resp: reqwest::Response) -> Result<Bytes, String> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > forward::BUFFER_MAX {
                    return Err(format!(
                        "the reply is larger than {} bytes",
                        forward::BUFFER_MAX
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.into()),
            Err(e) => return Err(format!("the reply could not be read: {}", e.without_url())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lanes_are_chats_then_users() {
        assert_eq!(
            lane_of(&json!({"update_id": 1, "message": {"chat": {"id": 5}, "from": {"id": 6}}})),
            5
        );
        assert_eq!(
            lane_of(
                &json!({"update_id": 2, "callback_query": {"from": {"id": 6}, "message": {"chat": {"id": 5}}}})
            ),
            5
        );
        assert_eq!(
            lane_of(&json!({"update_id": 3, "inline_query": {"from": {"id": 6}}})),
            6
        );
        assert_eq!(
            lane_of(&json!({"update_id": 4, "poll_answer": {"user": {"id": 7}}})),
            7
        );
        assert_eq!(lane_of(&json!({"update_id": 5, "poll": {"id": "x"}})), 0);
    }

    #[test]
    fn the_offset_moves_over_done_updates_only() {
        let target = Target {
            url: String::new(),
            secret: None,
            allowed: None,
            epoch: 0,
        };
        let mut w = Window::new(target, 0);
        for id in 1..=4 {
            w.updates.insert(id, (json!({}), false));
        }
        w.done(2);
        w.done(2);
        assert_eq!(w.advance(), None);
        assert_eq!(w.ahead, 1);
        w.done(1);
        assert_eq!(w.advance(), Some(2));
        assert_eq!(w.ahead, 0);
        assert_eq!(w.updates.len(), 2);
    }
}
