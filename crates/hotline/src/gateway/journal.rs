//! The journal of the parallel bot's mirrorable calls: the bounded, durable pipe between
//! the pass-through and the mirror decision.
//!
//! When Telegram answered a call that may be mirrored (a send, copy, edit or delete), the
//! call is appended to the `gateway_calls` table **before** the bot gets the answer, with
//! the newest update the bot could have seen (`after_update`). One writer task per
//! connection takes the calls from a bounded channel and commits them in batches (one
//! transaction for up to [`BATCH`] calls), so a flood costs one commit per batch and
//! memory never holds more than [`CAPACITY`] calls: beyond that the bot's answers wait
//! (back-pressure). The update processor decides the journaled calls in journal order,
//! each right after the update it came after (`intake::process_batch`,
//! `mirror::decide`), and deletes them in the same transaction.
//!
//! Why before the answer: a bot edits or deletes a message only after it got the send's
//! answer, so the journal order is the causal order of the bot's calls, and the decision
//! sees every user message that came before the call, a first contact included. A crash
//! after the answer loses nothing; a crash before the commit means the bot got no answer
//! either.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};

use crate::backoff::Backoff;
use crate::gateway::order::Sending;
use crate::store::{ConnectionId, GatewayCall, Store};

/// Waits between tries to journal a batch: 200 ms doubling (five tries, then it is lost).
const JOURNAL_RETRY: Backoff = Backoff::new(
    std::time::Duration::from_millis(200),
    std::time::Duration::from_secs(30),
);

/// Calls waiting for the writer at most (each holds Telegram's answer, a few KB).
pub const CAPACITY: usize = 1024;
/// Calls committed in one transaction at most.
pub const BATCH: usize = 256;

struct Entry {
    call: GatewayCall,
    /// The send in flight this call answers: settled once journaled, before the processor
    /// is woken, so its pass does not wait for it.
    sending: Option<Sending>,
    written: oneshot::Sender<()>,
}

/// Appends calls to the journal of one connection. Cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Entry>,
}

impl Journal {
    /// Starts the writer task; `wake` is the connection's update processor, woken after
    /// every commit. The task ends when the last handle is dropped.
    pub fn start(store: Store, connection: ConnectionId, wake: Arc<Notify>) -> Self {
        let (tx, rx) = mpsc::channel(CAPACITY);
        tokio::spawn(writer(rx, store, connection, wake));
        Self { tx }
    }

    /// Appends a call and waits until it is committed (or could not be: then it is logged
    /// and the call is not mirrored, but the bot still gets its answer).
    pub async fn record(&self, call: GatewayCall, sending: Option<Sending>) {
        let (written, done) = oneshot::channel();
        let entry = Entry {
            call,
            sending,
            written,
        };
        if self.tx.send(entry).await.is_ok() {
            let _ = done.await;
        }
    }
}

async fn writer(
    mut rx: mpsc::Receiver<Entry>,
    store: Store,
    connection: ConnectionId,
    wake: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut calls = Vec::with_capacity(batch.len());
        let mut written = Vec::with_capacity(batch.len());
        let mut sendings = Vec::new();
        for e in batch.drain(..) {
            calls.push(e.call);
            written.push(e.written);
            sendings.extend(e.sending);
        }
        let mut failures = 0u32;
        loop {
            match write(&store, connection, &calls).await {
                Ok(()) => break,
                Err(e) if failures < 5 => {
                    failures += 1;
                    tracing::warn!(error = %e, "gateway: cannot journal calls for mirroring; retrying");
                    tokio::time::sleep(JOURNAL_RETRY.delay(failures)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, calls = calls.len(), "gateway: calls not journaled: they will not be mirrored");
                    break;
                }
            }
        }
        drop(sendings);
        wake.notify_one();
        for w in written {
            let _ = w.send(());
        }
    }
}

async fn write(
    store: &Store,
    connection: ConnectionId,
    calls: &[GatewayCall],
) -> Result<(), crate::store::StoreError> {
    let mut tx = store.begin().await?;
    tx.journal_calls(connection, calls).await?;
    tx.commit().await
}
