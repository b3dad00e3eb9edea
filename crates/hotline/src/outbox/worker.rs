//! The per-connection outbox worker: fetches queue heads, asks the [`Scheduler`] what may
//! run, executes up to `max_in_flight` intents concurrently and records their outcome.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use super::action::{Completion, Failed, Failure, Registry};
use super::external::ExternalSends;
use super::scheduler::{Candidate, Pick, Scheduler};
use super::{Intent, IntentId};
use crate::config::Limits;
use crate::shutdown::Shutdown;
use crate::store::{now_ms, ConnectionId, Store, StoreError};

/// Tuning of a worker. [`OutboxConfig::new`] gives production defaults.
#[derive(Clone, Copy, Debug)]
pub struct OutboxConfig {
    /// Telegram's rate limits.
    pub limits: Limits,
    /// First retry delay after a transient failure.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_cap: Duration,
    /// Give up after this many attempts of transient failures; `None` retries until it works
    /// (a long Telegram or network outage must not lose messages).
    pub max_attempts: Option<u32>,
    /// Calls running at once (to different queues).
    pub max_in_flight: usize,
    /// Queue heads fetched per scheduling round.
    pub batch: i64,
    /// Delay before retrying after the store itself failed.
    pub store_retry: Duration,
    /// Telegram's clock runs this many times faster (1 in production): the limits' windows
    /// shrink by it and a 429's `retry_after` is divided by it. Only for a Telegram that
    /// runs scaled too — the emulator's `time_scale` in tests and benchmarks.
    pub time_scale: f64,
}

impl OutboxConfig {
    /// Defaults: backoff 1 s doubling to 60 s, unlimited attempts, 8 concurrent calls.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            max_attempts: None,
            max_in_flight: 8,
            batch: 64,
            store_retry: Duration::from_secs(1),
            time_scale: 1.0,
        }
    }

    /// A 429's `retry_after` (Telegram's seconds) as real time under [`Self::time_scale`].
    pub fn retry_after(&self, secs: u64) -> Duration {
        let d = Duration::from_secs(secs);
        if self.time_scale.is_finite() && self.time_scale > 0.0 {
            d.div_f64(self.time_scale)
        } else {
            d
        }
    }

    /// Delay before attempt `attempts + 1`: `base * 2^(attempts-1)`, capped, with jitter
    /// in [50 %, 100 %] so many failing intents do not retry in lockstep.
    pub fn backoff(&self, attempts: u32) -> Duration {
        crate::backoff::Backoff::new(self.backoff_base, self.backoff_cap).jittered(attempts)
    }
}

/// Posts a notice about a dead intent (in General), in the transaction that marks it
/// failed. Set by the app ([`Worker::with_dead_letter_notice`]); the outbox knows no topics.
pub type DeadLetterNotice = Arc<
    dyn for<'t> Fn(&'t mut crate::store::Tx, String) -> BoxFuture<'t, Result<(), StoreError>>
        + Send
        + Sync,
>;

/// How often an idle worker looks at the queue anyway (work queued by another process
/// without a wake-up) and recovers rows left in flight by other owners or stuck.
const SWEEP_EVERY: Duration = Duration::from_secs(15);

/// The first words of a dead-letter notice: a notice that dies itself is not announced
/// again (no chain of notices about notices).
pub const DEAD_LETTER_PREFIX: &str = "⚠️ Dead letter";

/// What happened to one executed intent, as far as scheduling is concerned.
#[derive(Debug)]
enum Outcome {
    Done,
    Retry,
    /// A 429 with `retry_after` seconds from a call to this chat.
    Pause(u64, i64),
    Failed,
    /// The outcome could not be recorded; the intent stays in flight until a restart or
    /// the in-flight timeout (see [`crate::store::IN_FLIGHT_TIMEOUT_MS`]).
    Stuck,
}

/// Delivers one connection's intents with the executors of its [`Registry`]. Start one
/// per connection with [`Worker::run`].
pub struct Worker {
    store: Store,
    connection: ConnectionId,
    registry: Arc<Registry>,
    config: OutboxConfig,
    dead_notice: Option<DeadLetterNotice>,
    external: Option<ExternalSends>,
}

impl Worker {
    /// A worker for `connection`'s outbox.
    pub fn new(
        store: Store,
        connection: ConnectionId,
        registry: Arc<Registry>,
        config: OutboxConfig,
    ) -> Self {
        Self {
            store,
            connection,
            registry,
            config,
            dead_notice: None,
            external: None,
        }
    }

    /// Counts the sends recorded in `external` (the parallel bot's own, through the
    /// gateway) in the rate windows, and pauses for the 429s they met.
    pub fn with_external_sends(mut self, external: ExternalSends) -> Self {
        self.external = Some(external);
        self
    }

    /// Announces intents that panic [`crate::isolation::MAX_ATTEMPTS`] times and are set
    /// aside as dead letters.
    pub fn with_dead_letter_notice(mut self, notice: DeadLetterNotice) -> Self {
        self.dead_notice = Some(notice);
        self
    }

    /// Runs until `shutdown` fires, then lets in-flight calls finish and returns. Store
    /// failures are logged and retried; they never end the worker.
    pub async fn run(self, mut shutdown: Shutdown) {
        let conn = self.connection.0;
        let notify = self.store.outbox_notify(self.connection);
        loop {
            match self.store.outbox_recover(self.connection, now_ms()).await {
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(
                            connection_id = conn,
                            intents = n,
                            "outbox: retrying intents interrupted by a restart"
                        );
                    }
                    break;
                }
                Err(e) => {
                    tracing::error!(connection_id = conn, error = %e, "outbox: recovery failed");
                    tokio::select! {
                        _ = shutdown.recv() => return,
                        _ = tokio::time::sleep(self.config.store_retry) => {}
                    }
                }
            }
        }
        let mut sched = Scheduler::scaled(self.config.limits, self.config.time_scale);
        self.seed_windows(&mut sched).await;
        self.restore_pauses(&mut sched).await;
        let mut tasks = Tasks::default();
        let (recordings, waiting) = mpsc::unbounded_channel();
        let recorder = tokio::spawn(record_loop(self.store.clone(), waiting).in_current_span());
        tracing::debug!(connection_id = conn, "outbox worker started");
        let mut swept = Instant::now();

        while !shutdown.is_shutdown() {
            while let Some(res) = tasks.set.try_join_next_with_id() {
                self.settle(res, &mut tasks, &mut sched);
            }
            if swept.elapsed() >= SWEEP_EVERY {
                swept = Instant::now();
                self.sweep().await;
            }
            let wake_at = match self.schedule(&mut sched, &mut tasks, &recordings).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(connection_id = conn, error = %e, "outbox: store failed; retrying");
                    Some(Instant::now() + self.config.store_retry)
                }
            };
            let sleep = async {
                match wake_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    // Look again within a minute even so: an intent re-queued by
                    // `hotline dead-letters retry` (another process) is due.
                    None => tokio::time::sleep(SWEEP_EVERY).await,
                }
            };
            tokio::select! {
                _ = shutdown.recv() => break,
                _ = notify.notified() => {}
                Some(res) = tasks.set.join_next_with_id(), if !tasks.set.is_empty() => self.settle(res, &mut tasks, &mut sched),
                _ = sleep => {}
            }
        }
        if !tasks.set.is_empty() {
            tracing::info!(
                connection_id = conn,
                in_flight = tasks.set.len(),
                "outbox: waiting for in-flight calls"
            );
        }
        while let Some(res) = tasks.set.join_next_with_id().await {
            self.settle(res, &mut tasks, &mut sched);
        }
        // Every execution has its outcome: the recorder ends with the last sender.
        drop(recordings);
        if let Err(e) = recorder.await {
            tracing::error!(connection_id = conn, error = %e, "outbox: the recorder panicked");
        }
        tracing::debug!(connection_id = conn, "outbox worker stopped");
    }

    /// Runs again what a previous owner left in flight after the start (its claim raced
    /// the take-over) and what is stuck in flight (see [`crate::store::IN_FLIGHT_TIMEOUT_MS`]).
    async fn sweep(&self) {
        match self.store.outbox_recover(self.connection, now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                connection_id = self.connection.0,
                intents = n,
                "outbox: retrying intents left in flight by another owner or stuck"
            ),
            Err(e) => {
                tracing::warn!(connection_id = self.connection.0, error = %e, "outbox: sweep failed")
            }
        }
    }

    /// Fills the scheduler's windows with the sends Telegram still counts (intents finished
    /// within the longest window, by their finishing time: never earlier than the call, so
    /// the windows clear no sooner than Telegram's). Without it a restart or a takeover
    /// starts with empty windows and meets a 429 at once. A failure only logs: the worker
    /// then starts as before and a 429 is handled as usual.
    async fn seed_windows(&self, sched: &mut Scheduler) {
        let (wall, now) = (now_ms(), Instant::now());
        let ms = |d: Duration| d.as_millis() as i64;
        let groups_since = wall - ms(self.config.retry_after(60));
        let others_since =
            wall - ms(self.config.retry_after(1) + super::scheduler::BOT_WINDOW_GUARD);
        let recent = match self
            .store
            .outbox_recent_sends(self.connection, groups_since, others_since)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(connection_id = self.connection.0, error = %e, "outbox: cannot read recent sends; rate windows start empty");
                return;
            }
        };
        let mut sends = 0u64;
        for (chat, at, n) in recent {
            let ago = Duration::from_millis(wall.saturating_sub(at).max(0) as u64);
            sched.seed(chat, now.checked_sub(ago).unwrap_or(now), n);
            sends += u64::from(n);
        }
        if sends > 0 {
            tracing::debug!(
                connection_id = self.connection.0,
                sends,
                "outbox: rate windows seeded with recent sends"
            );
        }
    }

    /// Restores the 429 pauses still running (stored by whoever met them: this instance
    /// before a restart, or the previous owner), so the worker does not send into a chat
    /// Telegram still refuses. A failure only logs, like [`Worker::seed_windows`].
    async fn restore_pauses(&self, sched: &mut Scheduler) {
        let (wall, now) = (now_ms(), Instant::now());
        let pauses = match self.store.rate_pauses(self.connection, wall).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(connection_id = self.connection.0, error = %e, "outbox: cannot read stored 429 pauses");
                return;
            }
        };
        for (chat, until) in pauses {
            let until = now + Duration::from_millis(until.saturating_sub(wall).max(0) as u64);
            if chat == crate::store::WHOLE_BOT {
                sched.pause(until);
            } else {
                sched.pause_chat(chat, until);
            }
            tracing::info!(
                connection_id = self.connection.0,
                chat,
                ms = until.saturating_duration_since(now).as_millis() as u64,
                "outbox: a stored 429 pause still runs"
            );
        }
    }

    /// Folds the sends made outside the outbox since the last round into the windows, and
    /// the 429s they met into the pauses (stored like the outbox's own).
    async fn fold_external(&self, sched: &mut Scheduler) {
        let Some(external) = &self.external else {
            return;
        };
        let (sends, limited) = external.take();
        for s in sends {
            sched.count_external(s.chat, s.at);
        }
        for l in limited {
            tracing::warn!(
                connection_id = self.connection.0,
                secs = l.retry_after,
                chat = l.chat,
                "outbox: the parallel bot met a 429; pausing its chat"
            );
            let retry = self.config.retry_after(l.retry_after);
            sched.rate_limited_external(l.chat, retry, l.at);
            let ago = l.at.elapsed();
            let retry = retry.saturating_sub(ago);
            save_pause(&self.store, &self.config, self.connection, l.chat, retry).await;
        }
    }

    fn settle(
        &self,
        res: Result<(tokio::task::Id, Outcome), tokio::task::JoinError>,
        tasks: &mut Tasks,
        sched: &mut Scheduler,
    ) {
        let id = match &res {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        if let Some((chat, lane)) = tasks.running.remove(&id) {
            sched.finished(chat, lane);
        }
        match res.map(|(_, outcome)| outcome) {
            Ok(Outcome::Pause(secs, chat)) => {
                tracing::warn!(
                    connection_id = self.connection.0,
                    secs,
                    chat,
                    "outbox: 429, pausing the chat (and the bot for at most a second)"
                );
                crate::metrics::rate_limited(self.connection, secs);
                sched.rate_limited(chat, self.config.retry_after(secs), Instant::now());
            }
            Ok(Outcome::Done | Outcome::Retry | Outcome::Failed | Outcome::Stuck) => {}
            Err(e) => {
                tracing::error!(connection_id = self.connection.0, error = %e, "outbox: execution task panicked")
            }
        }
    }

    /// One scheduling round: starts what may run now and returns when to look again
    /// (`None`: only a notification or a finished call can bring new work).
    async fn schedule(
        &self,
        sched: &mut Scheduler,
        tasks: &mut Tasks,
        recordings: &Recordings,
    ) -> Result<Option<Instant>, StoreError> {
        self.fold_external(sched).await;
        let now = Instant::now();
        let wall = now_ms();
        let mut wake_at: Option<Instant> = None;

        if let Some(until) = sched.paused_until(now) {
            earliest(&mut wake_at, until);
            return Ok(wake_at);
        }
        if tasks.set.len() < self.config.max_in_flight {
            let exclude = sched.throttled_targets(now, 500);
            let heads = self
                .store
                .outbox_due_heads(self.connection, wall, &exclude, self.config.batch)
                .await?;
            let mut cands: Vec<(Candidate, Intent)> = heads
                .into_iter()
                .map(|i| {
                    (
                        Candidate {
                            id: i.id,
                            lane: i.lane,
                            target_chat: i.target_chat,
                            fairness_key: i.fairness_key,
                        },
                        i,
                    )
                })
                .collect();
            while tasks.set.len() < self.config.max_in_flight {
                let list: Vec<Candidate> = cands.iter().map(|(c, _)| *c).collect();
                match sched.pick(&list, Instant::now()) {
                    Pick::Run(i) => {
                        let (_, mut intent) = cands.swap_remove(i);
                        if let Some(action) = self
                            .store
                            .outbox_mark_in_flight(intent.id, now_ms())
                            .await?
                        {
                            intent.action = action;
                            // The call leaves now, not when it was picked: the claim's
                            // write may have waited for the database.
                            let now = Instant::now();
                            sched.restamp(now);
                            // Sends beyond the first (declared at enqueue) are booked
                            // now; the intent starts when the last of them fits.
                            let extra = intent.sends().saturating_sub(1);
                            let delay = if extra > 0 {
                                sched.book_extra(intent.target_chat, extra, now)
                            } else {
                                Duration::ZERO
                            };
                            self.spawn(tasks, recordings, intent, delay);
                        }
                    }
                    Pick::Wait(d) => {
                        earliest(&mut wake_at, Instant::now() + d);
                        break;
                    }
                    Pick::Idle => break,
                }
            }
        }
        if let Some(t) = sched.next_unthrottle() {
            earliest(&mut wake_at, t);
        }
        // With every slot busy, a finished call wakes the loop anyway: skip the query.
        let idle_slots = tasks.set.len() < self.config.max_in_flight;
        let next_due = if idle_slots {
            self.store.outbox_next_due(self.connection, wall).await?
        } else {
            None
        };
        if let Some(due) = next_due {
            earliest(
                &mut wake_at,
                now + Duration::from_millis(due.saturating_sub(wall).max(0) as u64),
            );
        }
        Ok(wake_at)
    }

    fn spawn(
        &self,
        tasks: &mut Tasks,
        recordings: &Recordings,
        mut intent: Intent,
        delay: Duration,
    ) {
        intent.attempts += 1;
        let store = self.store.clone();
        let recordings = recordings.clone();
        let registry = self.registry.clone();
        let config = self.config;
        let notice = self.dead_notice.clone();
        // A child of the worker's span (the connection's, see `runtime`).
        let span = tracing::info_span!("intent", intent = intent.id.0, chat = intent.target_chat);
        let chat_lane = (intent.target_chat, intent.lane);
        let handle = tasks.set.spawn(
            async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                execute_one(&store, &recordings, &registry, &config, notice, intent).await
            }
            .instrument(span),
        );
        tasks.running.insert(handle.id(), chat_lane);
    }
}

/// The running executions, and the chat and lane of each (the scheduler counts the new
/// dialogs in flight per chat: see [`Scheduler::finished`]).
#[derive(Default)]
struct Tasks {
    set: JoinSet<Outcome>,
    running: std::collections::HashMap<tokio::task::Id, (i64, super::Lane)>,
}

fn earliest(slot: &mut Option<Instant>, t: Instant) {
    *slot = Some(slot.map_or(t, |w| w.min(t)));
}

async fn execute_one(
    store: &Store,
    recordings: &Recordings,
    registry: &Registry,
    config: &OutboxConfig,
    notice: Option<DeadLetterNotice>,
    intent: Intent,
) -> Outcome {
    let conn = intent.connection.0;
    let id = intent.id.0;
    // A panic while executing or recording fails this intent alone (see `crate::isolation`).
    let run = crate::isolation::catch(async {
        #[cfg(feature = "fault-injection")]
        crate::fault::check(crate::fault::Site::Intent, &intent.action.to_string());
        registry.run(intent.clone()).await
    })
    .await;
    let run = match run {
        Ok(run) => run,
        Err(panic) => {
            let outcome = panicked(store, config, notice, &intent, &panic).await;
            return finish(&intent, outcome);
        }
    };
    let recorded = match run {
        Ok(done) => match record(recordings, intent.id, done).await {
            Ok(()) => Ok(Outcome::Done),
            Err(Unrecorded::Panic(panic)) => {
                return finish(
                    &intent,
                    panicked(store, config, notice, &intent, &panic).await,
                )
            }
            Err(Unrecorded::Error(e)) => {
                // Delivered but not recorded: retrying may duplicate (at-least-once).
                tracing::error!(connection = conn, intent = id, error = %e, "outbox: recording success failed");
                reschedule(
                    store,
                    &intent,
                    config.backoff(intent.attempts),
                    &format!("recording the result: {e}"),
                )
                .await
            }
        },
        Err(Failed {
            failure: Failure::RetryAfter(secs),
            message,
        }) => {
            let retry = config.retry_after(secs);
            save_pause(
                store,
                config,
                intent.connection,
                Some(intent.target_chat),
                retry,
            )
            .await;
            reschedule(store, &intent, retry, &message)
                .await
                .map(|_| Outcome::Pause(secs, intent.target_chat))
        }
        Err(Failed {
            failure: failure @ (Failure::Transient | Failure::Store),
            message,
        }) if config.max_attempts.is_none_or(|m| intent.attempts < m) => {
            let delay = config.backoff(intent.attempts);
            if failure == Failure::Store {
                tracing::warn!(connection = conn, intent = id, attempts = intent.attempts, error = %message, "outbox: the store failed while executing; retrying");
            } else {
                tracing::debug!(connection = conn, intent = id, attempts = intent.attempts, delay_ms = delay.as_millis() as u64, error = %message, "outbox: transient failure");
            }
            reschedule(store, &intent, delay, &message).await
        }
        Err(Failed { message, .. }) => {
            tracing::info!(connection = conn, intent = id, target = intent.target_chat, error = %message, "outbox: intent failed");
            match store
                .outbox_mark_failed(intent.id, &message, now_ms())
                .await
            {
                Ok(()) => Ok(Outcome::Failed),
                Err(se) => {
                    tracing::error!(connection = conn, intent = id, error = %se, "outbox: recording failure failed");
                    reschedule(
                        store,
                        &intent,
                        config.backoff(intent.attempts),
                        &format!("recording the failure: {se}"),
                    )
                    .await
                }
            }
        }
    };
    finish(&intent, recorded.unwrap_or(Outcome::Stuck))
}

/// The way to the worker's recorder ([`record_loop`]).
type Recordings = mpsc::UnboundedSender<Recording>;

/// A successful execution waiting to be recorded, and where its outcome goes.
struct Recording {
    id: IntentId,
    done: Box<dyn Completion>,
    outcome: oneshot::Sender<Result<(), Unrecorded>>,
}

/// Why a completion was not recorded.
enum Unrecorded {
    /// The store failed (the intent is rescheduled).
    Error(String),
    /// Recording it panicked (counted like a panicking execution).
    Panic(String),
}

/// Completions recorded per transaction at most.
const RECORD_BATCH: usize = 64;

/// Hands a finished execution to the recorder and waits until it is committed.
async fn record(
    recordings: &Recordings,
    id: IntentId,
    done: Box<dyn Completion>,
) -> Result<(), Unrecorded> {
    let (outcome, answer) = oneshot::channel();
    let stopped = || Unrecorded::Error("the outbox recorder stopped".into());
    recordings
        .send(Recording { id, done, outcome })
        .map_err(|_| stopped())?;
    answer.await.unwrap_or_else(|_| Err(stopped()))
}

/// Records finished executions: everything waiting goes into one transaction (its links,
/// follow-ups and the "done" marks), so a busy outbox commits once per batch of finished
/// calls instead of once per call. Ends when every sender is gone.
async fn record_loop(store: Store, mut waiting: mpsc::UnboundedReceiver<Recording>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while waiting.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        record_batch(&store, std::mem::take(&mut batch)).await;
    }
}

/// Records `batch` in one transaction. With several, each completion gets a savepoint: one
/// that fails or panics is undone alone and reported to its execution; the others commit.
async fn record_batch(store: &Store, batch: Vec<Recording>) {
    let fail_all = |items: Vec<oneshot::Sender<Result<(), Unrecorded>>>,
                    e: &dyn std::fmt::Display| {
        for o in items {
            let _ = o.send(Err(Unrecorded::Error(e.to_string())));
        }
    };
    let alone = batch.len() == 1;
    let mut tx = match store.begin().await {
        Ok(tx) => tx,
        Err(e) => return fail_all(batch.into_iter().map(|r| r.outcome).collect(), &e),
    };
    let mut recorded: Vec<(IntentId, oneshot::Sender<Result<(), Unrecorded>>)> = Vec::new();
    let mut rest = batch.into_iter();
    while let Some(r) = rest.next() {
        if !alone {
            if let Err(e) = tx.savepoint().await {
                let mut all: Vec<_> = recorded.into_iter().map(|(_, o)| o).collect();
                all.push(r.outcome);
                all.extend(rest.map(|r| r.outcome));
                return fail_all(all, &e);
            }
        }
        let failed = match crate::isolation::catch(r.done.record(&mut tx)).await {
            Ok(Ok(())) => {
                recorded.push((r.id, r.outcome));
                continue;
            }
            Ok(Err(e)) => Unrecorded::Error(e.to_string()),
            Err(panic) => Unrecorded::Panic(panic),
        };
        let undone = if alone {
            Ok(())
        } else {
            tx.rollback_to_savepoint().await
        };
        let _ = r.outcome.send(Err(failed));
        if let Err(e) = undone {
            let mut all: Vec<_> = recorded.into_iter().map(|(_, o)| o).collect();
            all.extend(rest.map(|r| r.outcome));
            return fail_all(all, &e);
        }
    }
    if recorded.is_empty() {
        return;
    }
    let ids: Vec<IntentId> = recorded.iter().map(|(id, _)| *id).collect();
    let committed = async {
        tx.outbox_mark_done_many(&ids, now_ms()).await?;
        tx.commit().await
    }
    .await;
    let outcomes = recorded.into_iter().map(|(_, o)| o);
    match committed {
        Ok(()) => {
            for o in outcomes {
                let _ = o.send(Ok(()));
            }
        }
        Err(e) => fail_all(outcomes.collect(), &e),
    }
}

/// Stores a 429's pause (starting now, `retry` long) so that a restarted worker or a new
/// owner honours it: `chat` for the whole `retry` (when known), the whole bot for at most
/// one (scaled) second, as the [`Scheduler`] pauses them. A failure only logs: the pause
/// still holds in this worker.
async fn save_pause(
    store: &Store,
    config: &OutboxConfig,
    connection: ConnectionId,
    chat: Option<i64>,
    retry: Duration,
) {
    let now = now_ms();
    let ms = |d: Duration| d.as_millis() as i64;
    let mut pauses = vec![(
        crate::store::WHOLE_BOT,
        now + ms(retry.min(config.retry_after(1))),
    )];
    if let Some(chat) = chat {
        pauses.push((chat, now + ms(retry)));
    }
    if let Err(e) = store.rate_pause_save(connection, &pauses, now).await {
        tracing::warn!(connection_id = connection.0, error = %e, "outbox: cannot store a 429 pause");
    }
}

/// Counts a finished execution in the metrics.
fn finish(intent: &Intent, outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Done => crate::metrics::outbox_finished(intent.connection, "done"),
        Outcome::Failed => crate::metrics::outbox_finished(intent.connection, "failed"),
        Outcome::Retry | Outcome::Pause(..) => crate::metrics::outbox_retry(intent.connection),
        Outcome::Stuck => {}
    }
    outcome
}

/// An execution panicked: retried with backoff, or after [`crate::isolation::MAX_ATTEMPTS`]
/// marked failed (a dead letter) with a notice in General.
async fn panicked(
    store: &Store,
    config: &OutboxConfig,
    notice: Option<DeadLetterNotice>,
    intent: &Intent,
    panic: &str,
) -> Outcome {
    use crate::isolation::{short_error, MAX_ATTEMPTS};
    let error = short_error(panic);
    let kind = intent.action[super::action::KIND_FIELD]
        .as_str()
        .unwrap_or("?")
        .to_string();
    if i64::from(intent.attempts) < MAX_ATTEMPTS {
        tracing::warn!(connection = intent.connection.0, intent = intent.id.0, attempts = intent.attempts, %error, "outbox: executing an intent panicked; retrying it alone");
        return reschedule(store, intent, config.backoff(intent.attempts), &error)
            .await
            .unwrap_or(Outcome::Stuck);
    }
    tracing::error!(connection = intent.connection.0, intent = intent.id.0, attempts = intent.attempts, %error, "outbox: an intent keeps panicking: set aside as a dead letter");
    let announce = notice.filter(|_| {
        !intent.action["text"]
            .as_str()
            .is_some_and(|t| t.starts_with(DEAD_LETTER_PREFIX))
    });
    let r = async {
        let mut tx = store.begin().await?;
        tx.outbox_mark_failed(intent.id, &error, now_ms()).await?;
        if let Some(notice) = announce {
            let text = format!(
                "{DEAD_LETTER_PREFIX}: an outgoing {} (intent {}) failed {} times and was set \
                 aside: {}\nEverything else goes on. <code>hotline dead-letters list</code> \
                 shows it; <code>hotline dead-letters retry intent {}</code> runs it again.",
                crate::telegram::html(&kind),
                intent.id.0,
                intent.attempts,
                crate::telegram::html(&error),
                intent.id.0
            );
            notice(&mut tx, text).await?;
        }
        tx.commit().await
    }
    .await;
    match r {
        Ok(()) => Outcome::Failed,
        Err(e) => {
            tracing::error!(connection = intent.connection.0, intent = intent.id.0, error = %e, "outbox: recording a dead letter failed");
            reschedule(store, intent, config.backoff(intent.attempts), &error)
                .await
                .unwrap_or(Outcome::Stuck)
        }
    }
}

/// Puts the intent back to pending after `delay`, retrying the write a few times; if the
/// store stays down the intent remains in flight and is recovered at the next start.
async fn reschedule(
    store: &Store,
    intent: &Intent,
    delay: Duration,
    error: &str,
) -> Result<Outcome, ()> {
    let mut wait = Duration::from_millis(100);
    for _ in 0..3 {
        let now = now_ms();
        match store
            .outbox_reschedule(intent.id, now + delay.as_millis() as i64, error, now)
            .await
        {
            Ok(()) => return Ok(Outcome::Retry),
            Err(e) => {
                tracing::error!(connection_id = intent.connection.0, intent = intent.id.0, error = %e, "outbox: cannot reschedule");
                tokio::time::sleep(wait).await;
                wait *= 10;
            }
        }
    }
    Err(())
}
