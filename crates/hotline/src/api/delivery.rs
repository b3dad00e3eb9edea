//! Delivering webhook events: a worker per connection over `webhook_deliveries`, apart
//! from the Telegram outbox so that a slow or dead receiver never holds up the relay.
//!
//! - Order: per (URL, dialog) strictly in order — a queue's head must be delivered (or
//!   given up) before the next one is tried; other queues go on meanwhile.
//! - Claims: a worker takes a due queue head by writing a claim token into its row
//!   (held for [`CLAIM_FOR`]); only the token's holder records the outcome, and a claim
//!   whose worker died or hangs expires, so the delivery goes out again (at least once).
//!   Commits that queue deliveries wake the worker; it polls slowly besides.
//! - Retries: any answer but 2xx, a timeout or a network error retries with the outbox's
//!   capped exponential backoff (1 s doubling to 60 s, jittered) for up to [`MAX_AGE`],
//!   then the delivery is marked failed and its queue moves on.
//! - Outages: the first failure of a URL posts one notice in General; the first success
//!   after it posts one "delivering again" notice (state kept in the store, so restarts
//!   do not repeat it).
//! - Signature: `X-Hotline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
//!   with the connection's webhook secret ([`secret`]). For a grace period after a rotation
//!   ([`rotate_secret`]) a second `v1=` signs with the previous secret, so receivers (and
//!   retries queued before the rotation) keep verifying while they switch.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;
use sha2::Sha256;
use tokio::task::JoinSet;

use super::send::{ApiAction, ApiJob, Button};
use super::targets::{check_literal, refusal_in, GuardedResolver};
use crate::config::WebhookTargets;
use crate::domain::render::html;
use crate::domain::Context;
use crate::outbox::OutboxConfig;
use crate::shutdown::Shutdown;
use crate::store::{now_ms, ConnectionId, Delivery, Store, StoreError};

/// How long a delivery is retried before it is given up.
pub const MAX_AGE: Duration = Duration::from_secs(72 * 3600);
/// Time a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries in flight at once per connection (to different queues).
const MAX_IN_FLIGHT: usize = 16;
/// How long a claim holds a delivery: longer than an attempt ([`TIMEOUT`]) and its
/// record. A worker that died or hangs loses it then, and the delivery goes out again.
pub const CLAIM_FOR: Duration = Duration::from_secs(60);
/// The worker looks at the queue at least this often even when no commit woke it
/// (deliveries re-queued by another process, such as `hotline dead-letters retry`).
const FALLBACK_POLL: Duration = Duration::from_secs(5);
/// Shortest sleep between claiming rounds (a due time in the past is not a busy loop).
const MIN_WAIT: Duration = Duration::from_millis(10);
/// Sleep after the store failed.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// Longest answer body read (custom command answers).
const MAX_ANSWER: usize = 64 * 1024;
/// Store key of the connection's webhook secret.
const SECRET_KEY: &str = "webhook_secret";
/// Store key of the secret replaced by the last rotation, and until when it still signs.
const PREVIOUS_KEY: &str = "webhook_secret_previous";
/// Store key of the end of the previous secret's grace period (Unix ms).
const PREVIOUS_UNTIL_KEY: &str = "webhook_secret_previous_until";

/// The hex HMAC-SHA256 of `"<t>.<body>"` under `secret`.
pub fn sign(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `X-Hotline-Signature` header value for `body` signed at `t` (Unix seconds).
pub fn signature_header(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", sign(secret, t, body))
}

/// The header signed with every secret in `secrets` (current first): one `v1=` each.
pub fn signature_header_all(secrets: &[String], t: i64, body: &str) -> String {
    let mut h = format!("t={t}");
    for s in secrets {
        h.push_str(",v1=");
        h.push_str(&sign(s, t, body));
    }
    h
}

fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    format!("whsec_{}", hex::encode(b))
}

/// The connection's webhook secret, generated and stored on first use.
pub async fn secret(store: &Store, connection: ConnectionId) -> Result<String, StoreError> {
    if let Some(s) = store.kv_get(connection, SECRET_KEY).await? {
        return Ok(s);
    }
    let s = new_secret();
    store.kv_set(connection, SECRET_KEY, &s).await?;
    Ok(s)
}

/// The secrets deliveries are signed with now: the current one, then the previous one while
/// its grace period lasts.
pub async fn signing_secrets(
    store: &Store,
    connection: ConnectionId,
) -> Result<Vec<String>, StoreError> {
    let mut out = vec![secret(store, connection).await?];
    let until = store.kv_get(connection, PREVIOUS_UNTIL_KEY).await?;
    if until
        .and_then(|u| u.parse::<i64>().ok())
        .is_some_and(|u| u > now_ms())
    {
        if let Some(p) = store.kv_get(connection, PREVIOUS_KEY).await? {
            if !p.is_empty() && p != out[0] {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// Replaces the connection's webhook secret; returns the new one. For `grace` the replaced
/// secret still signs too (a second `v1=`), so receivers can switch without losing
/// deliveries; `grace` zero ends it at once.
pub async fn rotate_secret(
    store: &Store,
    connection: ConnectionId,
    grace: Duration,
) -> Result<String, StoreError> {
    let s = new_secret();
    let mut tx = store.begin().await?;
    let old = tx.kv_get(connection, SECRET_KEY).await?;
    tx.kv_set(connection, SECRET_KEY, &s).await?;
    let until = now_ms().saturating_add(i64::try_from(grace.as_millis()).unwrap_or(i64::MAX));
    match old {
        Some(old) if !grace.is_zero() => {
            tx.kv_set(connection, PREVIOUS_KEY, &old).await?;
            tx.kv_set(connection, PREVIOUS_UNTIL_KEY, &until.to_string())
                .await?;
        }
        _ => {
            tx.kv_set(connection, PREVIOUS_KEY, "").await?;
            tx.kv_set(connection, PREVIOUS_UNTIL_KEY, "0").await?;
        }
    }
    tx.commit().await?;
    Ok(s)
}

/// Delivers a connection's outgoing webhooks until `shutdown`: one of its owner tasks.
pub async fn run(store: Store, ctx: Context, retry: OutboxConfig, shutdown: Shutdown) {
    let w = Worker {
        store,
        http: client(&ctx.webhook_targets),
        ctx,
        retry,
    };
    w.run(shutdown).await
}

/// The webhook HTTP client: no redirects, no proxies (the connection must go to the
/// address the guard checked), names resolved by [`GuardedResolver`].
fn client(targets: &Arc<WebhookTargets>) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver(targets.clone())))
        .user_agent(concat!("Hotline-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("HTTP client")
}

#[derive(Clone)]
struct Worker {
    store: Store,
    ctx: Context,
    http: reqwest::Client,
    retry: OutboxConfig,
}

impl Worker {
    /// Claims due queue heads (up to [`MAX_IN_FLIGHT`] held at once) and delivers each in
    /// its own task. Sleeps until the earliest due time, a commit that queued deliveries
    /// ([`Store::deliveries_notify`]), a finished delivery or shutdown; at most
    /// [`FALLBACK_POLL`], for deliveries queued by another process.
    async fn run(self, mut shutdown: Shutdown) {
        let conn = self.ctx.connection;
        let wake = self.store.deliveries_notify(conn);
        // This process owns the connection: claims left by a previous run are dead.
        match self.store.release_delivery_claims(conn).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                released = n,
                "webhooks: deliveries interrupted by a restart go out again"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "webhooks: releasing old claims failed; they expire by themselves")
            }
        }
        let mut running: JoinSet<()> = JoinSet::new();
        loop {
            let room = MAX_IN_FLIGHT.saturating_sub(running.len());
            let mut wait = FALLBACK_POLL;
            if room > 0 {
                let now = now_ms();
                let token = claim_token();
                let until = now + CLAIM_FOR.as_millis() as i64;
                match self
                    .store
                    .claim_deliveries(conn, now, &token, until, room as i64)
                    .await
                {
                    Ok(claimed) => {
                        for d in claimed {
                            let w = self.clone();
                            running.spawn(async move {
                                // A panic fails this delivery alone; its queue goes on.
                                if let Err(panic) =
                                    crate::isolation::catch(w.deliver(d.clone())).await
                                {
                                    w.panicked(&d, &panic).await;
                                }
                            });
                        }
                        match self.store.next_delivery_wake(conn, now_ms()).await {
                            Ok(Some(at)) => {
                                let ms = (at - now_ms()).max(MIN_WAIT.as_millis() as i64);
                                wait = wait.min(Duration::from_millis(ms as u64));
                            }
                            Ok(None) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "webhooks: reading the queue failed")
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "webhooks: claiming deliveries failed");
                        wait = STORE_RETRY;
                    }
                }
            }
            // With no room, only a finished delivery (or a commit, cheap to check) helps.
            tokio::select! {
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.recv() => {
                    while running.join_next().await.is_some() {}
                    return;
                }
            }
        }
    }

    async fn deliver(&self, d: Delivery) {
        let result = self.attempt(&d).await;
        let now = now_ms();
        let outcome = match result {
            Ok(answer) => {
                crate::metrics::webhook_delivery(self.ctx.connection, "delivered");
                self.succeeded(&d, answer, now).await
            }
            Err(error) => {
                let given_up = now - d.created_at > MAX_AGE.as_millis() as i64;
                let label = if given_up { "given_up" } else { "failed" };
                crate::metrics::webhook_delivery(self.ctx.connection, label);
                self.failed(&d, &error, now).await
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "webhooks: recording a delivery failed; it will be retried");
        }
    }

    /// A delivery panicked: retried with backoff, or after
    /// [`crate::isolation::MAX_ATTEMPTS`] given up (a dead letter) with a notice in General.
    async fn panicked(&self, d: &Delivery, panic: &str) {
        use crate::isolation::{short_error, MAX_ATTEMPTS};
        let error = short_error(panic);
        let attempts = d.attempts;
        let now = now_ms();
        let r = async {
            let mut tx = self.store.begin().await?;
            if attempts < MAX_ATTEMPTS {
                tracing::warn!(delivery = d.id, attempts, %error, "webhooks: a delivery panicked; retrying it alone");
                let delay = self.retry.backoff(attempts as u32).as_millis() as i64;
                if !tx.delivery_retry(d.id, &d.claim_token, now + delay, &error, now).await? {
                    return lost_claim(d);
                }
            } else {
                tracing::error!(delivery = d.id, attempts, %error, "webhooks: a delivery keeps panicking: set aside as a dead letter");
                if !tx.delivery_failed(d.id, &d.claim_token, &error, now).await? {
                    return lost_claim(d);
                }
                crate::metrics::webhook_delivery(self.ctx.connection, "given_up");
                let text = format!(
                    "{}: webhook event {} ({}) to {} failed {attempts} times and was set \
                     aside: {}\n<code>hotline dead-letters retry webhook {}</code> sends it again.",
                    crate::outbox::DEAD_LETTER_PREFIX,
                    html(&d.event_id),
                    html(&d.event),
                    html(&d.url),
                    html(&error),
                    d.id
                );
                self.notice(&mut tx, None, text, None).await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "webhooks: recording a panicked delivery failed; it will be retried");
        }
    }

    /// One POST; `Ok` holds the answer body of a 2xx.
    async fn attempt(&self, d: &Delivery) -> Result<bytes::Bytes, String> {
        #[cfg(feature = "fault-injection")]
        crate::fault::check(crate::fault::Site::Delivery, &d.body);
        let secrets = signing_secrets(&self.store, self.ctx.connection)
            .await
            .map_err(|e| format!("store: {e}"))?;
        let url = reqwest::Url::parse(&d.url).map_err(|_| "invalid URL".to_string())?;
        check_literal(&url, &self.ctx.webhook_targets).map_err(|e| format!("refused: {e}"))?;
        let t = now_ms() / 1000;
        let resp = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("x-hotline-event", super::events::type_of(&d.event))
            .header("x-hotline-event-id", &d.event_id)
            .header("x-hotline-delivery", d.id.to_string())
            .header(
                "x-hotline-signature",
                signature_header_all(&secrets, t, &d.body),
            )
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = resp.status();
        if !status.is_success() {
            // The status only: a receiver's body never reaches the group.
            return Err(format!("HTTP {}", status.as_u16()));
        }
        let mut body = Vec::new();
        let mut resp = resp;
        while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > MAX_ANSWER {
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.into())
    }

    async fn succeeded(
        &self,
        d: &Delivery,
        answer: bytes::Bytes,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        if !tx.delivery_done(d.id, &d.claim_token, now).await? {
            return lost_claim(d);
        }
        let down = outage_key(&d.url);
        if tx
            .kv_get(self.ctx.connection, &down)
            .await?
            .is_some_and(|v| !v.is_empty())
        {
            tx.kv_set(self.ctx.connection, &down, "").await?;
            let text = format!("✅ Webhook {} is receiving events again.", html(&d.url));
            self.notice(&mut tx, None, text, None).await?;
        }
        if let Some(reply) = d.reply.as_deref() {
            self.answer(&mut tx, reply, &answer).await?;
        }
        tx.commit().await
    }

    async fn failed(&self, d: &Delivery, error: &str, now: i64) -> Result<(), StoreError> {
        tracing::info!(url = %d.url, delivery = d.id, attempt = d.attempts, %error, "webhook delivery failed");
        let mut tx = self.store.begin().await?;
        let give_up = now - d.created_at > MAX_AGE.as_millis() as i64;
        let held = if give_up {
            tx.delivery_failed(d.id, &d.claim_token, error, now).await?
        } else {
            let delay = self.retry.backoff(d.attempts as u32).as_millis() as i64;
            tx.delivery_retry(d.id, &d.claim_token, now + delay, error, now)
                .await?
        };
        if !held {
            return lost_claim(d);
        }
        let down = outage_key(&d.url);
        if tx
            .kv_get(self.ctx.connection, &down)
            .await?
            .is_none_or(|v| v.is_empty())
        {
            tx.kv_set(self.ctx.connection, &down, &now.to_string())
                .await?;
            let text = format!(
                "⚠️ Webhook {} is failing ({}). Events are kept and retried for up to 72 h; \
                 this is reported once per outage.",
                html(&d.url),
                html(error)
            );
            self.notice(&mut tx, None, text, None).await?;
        }
        if give_up {
            let text = format!(
                "⚠️ Webhook {}: event {} ({}) was given up after 72 h of failures.",
                html(&d.url),
                html(&d.event_id),
                html(&d.event)
            );
            self.notice(&mut tx, None, text, None).await?;
        }
        tx.commit().await
    }

    async fn notice(
        &self,
        tx: &mut crate::store::Tx,
        dialog: Option<i64>,
        text: String,
        reply_to: Option<i64>,
    ) -> Result<(), StoreError> {
        self.ctx.notice(tx, dialog, reply_to, text).await
    }

    /// A custom command's answer: posted where the command was typed.
    async fn answer(
        &self,
        tx: &mut crate::store::Tx,
        reply: &str,
        answer: &[u8],
    ) -> Result<(), StoreError> {
        let Ok(to) = serde_json::from_str::<ReplyTo>(reply) else {
            return Ok(());
        };
        if answer.iter().all(u8::is_ascii_whitespace) {
            return Ok(()); // nothing to say
        }
        match parse_answer(answer) {
            Ok(None) => Ok(()),
            Ok(Some((text, buttons))) => {
                let action = ApiAction::Answer {
                    text,
                    buttons,
                    reply_to: to.reply_to,
                };
                let job = ApiJob {
                    dialog: to.dialog,
                    action,
                };
                self.ctx.to_group(tx, to.dialog, &job).await.map(|_| ())
            }
            Err(why) => {
                // What was wrong in our terms, never the receiver's own words or fields.
                let text = format!(
                    "⚠️ /{}: the webhook's answer was not understood: {}",
                    html(&to.command),
                    html(&why)
                );
                self.notice(tx, to.dialog, text, to.reply_to).await
            }
        }
    }
}

/// Where a custom command's answer goes (stored with its delivery).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct ReplyTo {
    /// The dialog whose topic the command was typed in; None = General.
    pub dialog: Option<i64>,
    /// The command message.
    pub reply_to: Option<i64>,
    /// The command's name.
    pub command: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    text: Option<String>,
    #[serde(default)]
    buttons: Vec<Vec<Button>>,
}

/// A custom command's answer: text and rows of URL buttons.
pub type CommandAnswer = (String, Vec<Vec<Button>>);

/// Validates a custom command's answer: `{"text": "...", "buttons": [[{"text", "url"}]]}`.
pub fn parse_answer(raw: &[u8]) -> Result<Option<CommandAnswer>, String> {
    // Serde's message would quote the receiver's field names: say what is expected instead.
    let a: Answer = serde_json::from_slice(raw).map_err(|_| {
        "expected JSON {\"text\": …, \"buttons\": […]} and nothing else".to_string()
    })?;
    let text = a.text.unwrap_or_default();
    if text.trim().is_empty() {
        return if a.buttons.is_empty() {
            Ok(None)
        } else {
            Err("buttons need a text".into())
        };
    }
    if text.chars().count() > 4096 {
        return Err("text is longer than 4096 characters".into());
    }
    if a.buttons.len() > 10 || a.buttons.iter().any(|r| r.is_empty() || r.len() > 8) {
        return Err("buttons: 1–10 rows of 1–8 buttons".into());
    }
    for b in a.buttons.iter().flatten() {
        if b.text.trim().is_empty() || b.text.chars().count() > 64 {
            return Err("a button's text must be 1–64 characters".into());
        }
        let ok = reqwest::Url::parse(&b.url)
            .map(|u| matches!(u.scheme(), "http" | "https" | "tg"))
            .unwrap_or(false);
        if !ok {
            return Err("a button's URL is not an http(s) or tg: URL".into());
        }
    }
    Ok(Some((text, a.buttons)))
}

/// A fresh claim token (one per claiming round).
fn claim_token() -> String {
    let mut b = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// The delivery's claim expired and another round took it over while this one ran: that
/// round records the outcome (the receiver may get the event twice: at least once).
fn lost_claim(d: &Delivery) -> Result<(), StoreError> {
    tracing::warn!(
        delivery = d.id,
        "webhooks: a delivery outlived its claim; its outcome is left to the retry"
    );
    Ok(())
}

fn outage_key(url: &str) -> String {
    format!("webhook_down:{url}")
}

/// A short status for a transport error: never the URL (its query may carry a receiver's
/// token) nor anything the receiver sent.
fn describe(e: &reqwest::Error) -> String {
    if let Some(why) = refusal_in(e) {
        format!("refused: {why}")
    } else if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else if e.is_body() || e.is_decode() {
        "answer could not be read".into()
    } else {
        "request failed".into()
    }
}

/// Checks a signature header against `body`: true when any `v1=` is the HMAC under
/// `secret` (used by tests and as the reference for receivers; docs/api.md has the same in
/// Python and JavaScript).
pub fn verify(secret: &str, header: &str, body: &str) -> bool {
    let mut t = None;
    let mut v1s = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1s.push(v),
            _ => {}
        }
    }
    let Some(t) = t else {
        return false;
    };
    v1s.iter().any(|v1| {
        let Ok(given) = hex::decode(v1) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(format!("{t}.{body}").as_bytes());
        mac.verify_slice(&given).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip() {
        let h = signature_header("whsec_x", 1700000000, "{\"a\":1}");
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify("whsec_x", &h, "{\"a\":1}"));
        assert!(!verify("whsec_y", &h, "{\"a\":1}"));
        assert!(!verify("whsec_x", &h, "{\"a\":2}"));
        let both = signature_header_all(&["new".into(), "old".into()], 1700000000, "b");
        assert_eq!(both.matches(",v1=").count(), 2);
        assert!(verify("new", &both, "b") && verify("old", &both, "b"));
        assert!(!verify("other", &both, "b"));
    }

    #[tokio::test]
    async fn a_rotated_secret_signs_during_its_grace_only() {
        let (store, _dir) = crate::store::testutil::temp_store().await;
        let c = store.ensure_connection("support").await.unwrap();
        let first = secret(&store, c).await.unwrap();
        assert_eq!(
            signing_secrets(&store, c).await.unwrap(),
            vec![first.clone()]
        );
        let second = rotate_secret(&store, c, Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!(
            signing_secrets(&store, c).await.unwrap(),
            vec![second.clone(), first]
        );
        // A short grace runs out: only the new secret signs.
        let third = rotate_secret(&store, c, Duration::from_millis(30))
            .await
            .unwrap();
        assert_eq!(signing_secrets(&store, c).await.unwrap().len(), 2);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while signing_secrets(&store, c).await.unwrap().len() > 1 {
            assert!(std::time::Instant::now() < deadline, "grace never ended");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            signing_secrets(&store, c).await.unwrap(),
            vec![third.clone()]
        );
        // No grace: the old secret stops at once.
        let fourth = rotate_secret(&store, c, Duration::ZERO).await.unwrap();
        assert_eq!(signing_secrets(&store, c).await.unwrap(), vec![fourth]);
    }

    #[test]
    fn answers_are_validated() {
        assert_eq!(parse_answer(b"{}").unwrap(), None);
        let (t, b) = parse_answer(
            br#"{"text":"Ticket #5","buttons":[[{"text":"Open","url":"https://x.test/5"}]]}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (t.as_str(), b[0][0].url.as_str()),
            ("Ticket #5", "https://x.test/5")
        );
        assert!(
            parse_answer(br#"{"text":"x","buttons":[[{"text":"a","url":"javascript:1"}]]}"#)
                .is_err()
        );
        assert!(parse_answer(b"not json").is_err());
    }
}
