//! A request body with a minimum rate: every `window`, at least `rate × window` more bytes
//! must have arrived (or the body must have ended). A stalled upload, or one dripping a
//! byte at a time to hold a connection, ends with an error after at most one window; an
//! upload at any ordinary speed never notices (50 MB at 1 Mbit/s brings 2.5 MB per 20 s
//! window against the 160 KiB asked by default).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// Errors of a body read through [`MinRate`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error a too slow body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived slower than {rate} bytes/s over {window:?}")]
pub struct TooSlow {
    rate: u64,
    window: Duration,
}

/// `inner` held to a minimum rate (see the module doc). A `rate` of 0 turns the check off.
pub struct MinRate<B> {
    inner: B,
    rate: u64,
    window: Duration,
    /// Bytes since the current window started.
    got: u64,
    /// End of the current window; created on the first wait, so a body that is already
    /// there (most of them) costs no timer.
    deadline: Option<Pin<Box<Sleep>>>,
    started: Instant,
}

impl<B> MinRate<B> {
    /// Wraps a body whose first window starts now.
    pub fn new(inner: B, rate: u64, window: Duration) -> Self {
        Self {
            inner,
            rate,
            window,
            got: 0,
            deadline: None,
            started: Instant::now(),
        }
    }

    fn needed(&self) -> u64 {
        self.rate.saturating_mul(self.window.as_secs().max(1))
    }
}

impl<B> Body for MinRate<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.got += data.len() as u64;
                    if this.got >= this.needed() {
                        // The window's due is met: the next one starts now.
                        this.got = 0;
                        let next = Instant::now() + this.window;
                        this.started = Instant::now();
                        if let Some(d) = this.deadline.as_mut() {
                            d.as_mut().reset(next);
                        }
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending if this.rate == 0 => Poll::Pending,
            Poll::Pending => {
                let end = this.started + this.window;
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(end)));
                if deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(Box::new(TooSlow {
                        rate: this.rate,
                        window: this.window,
                    }))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
