//! The SSRF guard of outgoing webhooks ([`WebhookTargets`]): a `WEBHOOKS` URL is checked
//! when it is set (its host resolved) and again at every delivery, where the addresses
//! are resolved and checked by the HTTP client's own resolver — the address checked is the
//! address connected to, so a name that answers differently the second time (DNS
//! rebinding) gains nothing. Redirects are never followed and proxies never used.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::{Webhook, WebhookTargets};

/// How long a registration check waits for DNS (it runs while a command is decided).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A webhook target the policy refuses; the text is what General and the API are told.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refused(host: &str, ip: IpAddr, why: &str) -> Refused {
    Refused(format!(
        "{host} is {why} ({ip}); webhooks only go to public addresses unless the server's \
         config allows the range (webhooks.allow_ranges)"
    ))
}

/// Checks the host of `url` when it is an address literal; `Ok(false)` when it is a name
/// (to be resolved).
pub fn check_literal(url: &reqwest::Url, targets: &WebhookTargets) -> Result<bool, Refused> {
    let Some(host) = url.host_str() else {
        return Err(Refused("the URL has no host".into()));
    };
    // The URL parser has normalised address literals (`2130706433` is `127.0.0.1`); v6
    // ones keep their brackets.
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let Ok(ip) = literal.parse::<IpAddr>() else {
        return Ok(false);
    };
    match targets.refusal(ip) {
        Some(why) => Err(refused(&ip.to_string(), ip, why)),
        None => Ok(true),
    }
}

/// Resolves `host` and refuses it when any of its addresses is not allowed.
pub async fn resolve(host: &str, targets: &WebhookTargets) -> std::io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
    for a in &addrs {
        if let Some(why) = targets.refusal(a.ip()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                refused(host, a.ip(), why),
            ));
        }
    }
    Ok(addrs)
}

/// The registration check of `WEBHOOKS`: every URL's host, resolved, must be allowed. A
/// name that does not resolve (yet) is accepted: deliveries check it again.
pub async fn check_hooks(hooks: &[Webhook], targets: &WebhookTargets) -> Result<(), Refused> {
    for h in hooks {
        let url = reqwest::Url::parse(&h.url).map_err(|e| Refused(e.to_string()))?;
        if check_literal(&url, targets)? {
            continue;
        }
        let Some(host) = url.host_str() else { continue };
        match tokio::time::timeout(CHECK_TIMEOUT, resolve(host, targets)).await {
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(Refused(e.to_string()));
            }
            _ => {}
        }
    }
    Ok(())
}

/// How long a resolution done ahead ([`prefetch`]) serves [`check_hooks_prefetched`].
const PREFETCH_TTL: Duration = Duration::from_secs(60);

/// Resolutions done ahead, by host: when, and the addresses (None: did not resolve).
type Prefetched = Vec<(String, Instant, Option<Vec<SocketAddr>>)>;
static PREFETCHED: Mutex<Prefetched> = Mutex::new(Vec::new());

/// Remembers how `host` resolved (for tests: a name that needs no DNS).
pub fn remember(host: &str, addrs: Option<Vec<SocketAddr>>) {
    let now = Instant::now();
    let mut p = PREFETCHED.lock().unwrap_or_else(|e| e.into_inner());
    p.retain(|(h, at, _)| h != host && now.duration_since(*at) < PREFETCH_TTL);
    p.push((host.to_string(), now, addrs));
}

/// Resolves the hosts of `hooks` ahead, outside any store transaction: `/set WEBHOOKS` is
/// decided while the store's writer is held, where a slow DNS answer would hold up every
/// other write; the decision then checks these results ([`check_hooks_prefetched`]).
pub async fn prefetch(hooks: &[Webhook]) {
    for h in hooks {
        let Ok(url) = reqwest::Url::parse(&h.url) else {
            continue;
        };
        let Some(host) = url.host_str() else { continue };
        if host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok()
        {
            continue;
        }
        let addrs =
            match tokio::time::timeout(CHECK_TIMEOUT, tokio::net::lookup_host((host, 0))).await {
                Ok(Ok(a)) => Some(a.collect()),
                _ => None,
            };
        remember(host, addrs);
    }
}

/// [`check_hooks`] without any DNS lookup: a name is checked against its [`prefetch`]ed
/// addresses; a name not prefetched or that did not resolve is accepted, as by
/// [`check_hooks`] (every delivery resolves and checks again).
pub fn check_hooks_prefetched(hooks: &[Webhook], targets: &WebhookTargets) -> Result<(), Refused> {
    let now = Instant::now();
    let p = PREFETCHED.lock().unwrap_or_else(|e| e.into_inner());
    for h in hooks {
        let url = reqwest::Url::parse(&h.url).map_err(|e| Refused(e.to_string()))?;
        if check_literal(&url, targets)? {
            continue;
        }
        let Some(host) = url.host_str() else { continue };
        let found = p
            .iter()
            .rev()
            .find(|(h, at, _)| h == host && now.duration_since(*at) < PREFETCH_TTL);
        if let Some((_, _, Some(addrs))) = found {
            for a in addrs {
                if let Some(why) = targets.refusal(a.ip()) {
                    return Err(refused(host, a.ip(), why));
                }
            }
        }
    }
    Ok(())
}

/// The webhook client's resolver: resolves, then refuses the name when any address is not
/// allowed, so the connection can only go to an address that was checked.
pub struct GuardedResolver(pub Arc<WebhookTargets>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let targets = self.0.clone();
        Box::pin(async move {
            let addrs = resolve(name.as_str(), &targets).await.map_err(
                |e| -> Box<dyn std::error::Error + Send + Sync> {
                    match e.into_inner() {
                        Some(inner) => match inner.downcast::<Refused>() {
                            Ok(r) => r,
                            Err(other) => other,
                        },
                        None => "DNS lookup failed".into(),
                    }
                },
            )?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The refusal inside a request error, if that is why it failed.
pub fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r.0.clone());
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(url: &str) -> Vec<Webhook> {
        vec![Webhook {
            url: url.into(),
            events: vec!["*".into()],
        }]
    }

    #[tokio::test]
    async fn registration_refuses_non_public_hosts() {
        let none = WebhookTargets::default();
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]/x",
            "http://[::ffff:169.254.169.254]/latest",
            "http://10.0.0.1/x",
            "http://localhost:8080/x",
            "http://0.0.0.0/",
            "http://2130706433/", // 127.0.0.1 as a number: the URL parser normalises it
        ] {
            let e = check_hooks(&hooks(url), &none).await;
            assert!(e.is_err(), "{url} was accepted");
        }
        let allow = WebhookTargets {
            allow: vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()],
        };
        check_hooks(&hooks("http://127.0.0.1:9/x"), &allow)
            .await
            .unwrap();
        check_hooks(&hooks("http://93.184.216.34/x"), &none)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_prefetched_name_is_checked_without_dns() {
        let none = WebhookTargets::default();
        // `.invalid` never resolves: only the remembered answer can refuse it.
        let url = "http://hooks.prefetch-test.invalid/x";
        check_hooks_prefetched(&hooks(url), &none).unwrap();
        remember(
            "hooks.prefetch-test.invalid",
            Some(vec!["127.0.0.1:0".parse().unwrap()]),
        );
        let e = check_hooks_prefetched(&hooks(url), &none).unwrap_err();
        assert!(e.0.contains("127.0.0.1"), "{e}");
        assert!(check_hooks_prefetched(&hooks("http://10.1.2.3/"), &none).is_err());
        // prefetch() itself resolves a real name (localhost) and the check refuses it.
        prefetch(&hooks("http://localhost:9/x")).await;
        assert!(check_hooks_prefetched(&hooks("http://localhost:9/x"), &none).is_err());
    }
}
