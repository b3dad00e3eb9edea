//! Graceful shutdown signalling, in the style of tokio's mini-redis.
//!
//! One [`ShutdownTrigger`] fires once; every long-running task holds a [`Shutdown`] and
//! checks it between units of work, so in-flight work finishes and nothing is cut mid-call.

use tokio::sync::watch;

/// Fires the shutdown for every [`Shutdown`] subscribed to it.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// A task's view of the shutdown signal. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
    /// Keeps the sender of a [`Shutdown::never`] listener alive.
    _keep: Option<std::sync::Arc<watch::Sender<bool>>>,
}

impl ShutdownTrigger {
    /// A new trigger and a first listener.
    pub fn new() -> (Self, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (Self { tx }, Shutdown { rx, _keep: None })
    }

    /// Another listener for a newly started task.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown {
            rx: self.tx.subscribe(),
            _keep: None,
        }
    }

    /// Signals every listener. Idempotent.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
}

impl Shutdown {
    /// A listener that never fires, for tests and one-shot tools.
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        Self {
            rx,
            _keep: Some(std::sync::Arc::new(tx)),
        }
    }

    /// Whether shutdown has been requested.
    pub fn is_shutdown(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown is requested (immediately if it already was). A dropped
    /// trigger counts as a shutdown, so orphaned tasks stop.
    pub async fn recv(&mut self) {
        let _ = self.rx.wait_for(|v| *v).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_reaches_all_listeners() {
        let (trigger, mut a) = ShutdownTrigger::new();
        let mut b = trigger.subscribe();
        assert!(!a.is_shutdown());
        let h = tokio::spawn(async move { b.recv().await });
        trigger.trigger();
        a.recv().await;
        h.await.unwrap();
        assert!(a.is_shutdown());
    }

    #[tokio::test]
    async fn dropped_trigger_stops_listeners() {
        let (trigger, mut a) = ShutdownTrigger::new();
        drop(trigger);
        a.recv().await;
    }
}
