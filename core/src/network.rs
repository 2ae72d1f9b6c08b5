//! What all outgoing traffic shares: the proxy, the "down" cooldowns of sites and hosters, the
//! remembered mirror of each site, and error texts a person can act on (what failed, where).
//!
//! One [`Network`] per application: the site clients and the hoster client (as [`NetworkClient`]s)
//! and the status endpoints all see the same
//! state. A site that fails `network.down_after` times in a row is "down" for a cooldown that
//! doubles each time it is still down (30 s, 1 min, 2 min, ... at most 10 min by default); calls
//! during the cooldown fail at once with [`Error::SiteDown`]; the first success clears it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::{Config, NetworkConfig, redact_url_password};
use crate::error::{Error, Result};
use crate::storage::Store;

/// How long a failing site or hoster is left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CooldownPolicy {
    /// Failures in a row that make a site "down".
    pub down_after: u32,
    /// First cooldown; doubled for each further cooldown in a row.
    pub first: Duration,
    /// Longest cooldown.
    pub max: Duration,
}

impl Default for CooldownPolicy {
    fn default() -> Self {
        Self::from_config(&NetworkConfig::default())
    }
}

impl CooldownPolicy {
    pub fn from_config(config: &NetworkConfig) -> Self {
        CooldownPolicy {
            down_after: config.down_after.max(1),
            first: Duration::from_secs(config.cooldown.max(1)),
            max: Duration::from_secs(config.max_cooldown.max(config.cooldown).max(1)),
        }
    }

    /// The cooldown after the `trip`-th time in a row the site went down (1 = first time).
    pub fn cooldown(&self, trip: u32) -> Duration {
        let factor = 1u32 << trip.saturating_sub(1).min(20);
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// Sites (providers) and hosters keep separate books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    Site,
    Hoster,
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    trips: u32,
    down_until: Option<Instant>,
    last_error: String,
}

/// A site or hoster that is down right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownState {
    pub name: String,
    pub reason: String,
    pub retry_in_secs: u64,
}

/// One site client as the status endpoints show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteState {
    pub id: String,
    /// The base URL requests go to first (the one that answered last).
    pub base_url: String,
    /// The configured base URL followed by the mirrors.
    pub base_urls: Vec<String>,
    /// The proxy in use (password hidden), if any.
    pub proxy: Option<String>,
    pub down: Option<DownState>,
}

/// The proxy a client uses, with the config key it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySetting {
    /// `network.proxy` or `providers.<id>.proxy`.
    pub key: String,
    /// The URL as configured.
    pub url: String,
}

impl ProxySetting {
    /// The proxy for `key`'s value, or `None` when it is empty. Checks the URL (errors name `key`).
    pub fn parse(key: &str, raw: &str) -> Result<Option<ProxySetting>> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        crate::config::check_proxy_url(key, raw)?;
        Ok(Some(ProxySetting {
            key: key.to_owned(),
            url: raw.to_owned(),
        }))
    }

    /// The URL with its password hidden.
    pub fn shown(&self) -> String {
        redact_url_password(&self.url)
    }

    pub fn to_reqwest(&self) -> Result<reqwest::Proxy> {
        reqwest::Proxy::all(&self.url)
            .map_err(|e| Error::invalid(&self.key, format!("{}: {e}", self.shown())))
    }

    /// Whether the proxy itself accepts connections: `Some(problem)` when it does not.
    pub async fn probe(&self) -> Option<String> {
        let url = url::Url::parse(&self.url).ok()?;
        let host = url.host_str()?.trim_matches(['[', ']']).to_owned();
        let port = url.port_or_known_default().unwrap_or(1080);
        let connect = tokio::net::TcpStream::connect((host.as_str(), port));
        match tokio::time::timeout(Duration::from_secs(3), connect).await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "refused the connection".to_owned(),
                _ => format!("cannot be reached: {e}"),
            }),
            Err(_) => Some("did not accept a connection within 3 s".to_owned()),
        }
    }

    /// The error for a request that failed because of this proxy.
    pub fn error(&self, problem: impl Into<String>) -> Error {
        Error::Proxy {
            key: self.key.clone(),
            proxy: self.shown(),
            message: problem.into(),
        }
    }
}

/// The proxy in effect for a site: its own `providers.<id>.proxy`, else `network.proxy`.
pub fn site_proxy(site: &str, own: &str, network: &NetworkConfig) -> Result<Option<ProxySetting>> {
    if own.trim().is_empty() {
        ProxySetting::parse("network.proxy", &network.proxy)
    } else {
        ProxySetting::parse(&format!("providers.{site}.proxy"), own)
    }
}

/// Settings-table name under which a site's answering base URL is remembered.
fn memory_key(site: &str) -> String {
    format!("network.base_url.{site}")
}

/// The network state of one application. Cheap to clone.
#[derive(Clone, Default)]
pub struct Network {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").finish_non_exhaustive()
    }
}

/// A client whose settings come from the network config: site clients and the hoster client.
pub(crate) trait NetworkClient: Send + Sync {
    /// The site id, or a name for logs.
    fn name(&self) -> String;
    /// Applies a changed config; unchanged settings keep connections and cookies.
    fn reconfigure(&self, config: &Config) -> Result<()>;
    /// For a site client, what the status endpoints show (the down state is filled in here).
    fn site_state(&self) -> Option<SiteState> {
        None
    }
    /// The client itself, for callers that know its type (a site's client by its id).
    fn as_any(&self) -> &dyn std::any::Any;
}

#[derive(Default)]
struct Inner {
    policy: RwLock<CooldownPolicy>,
    breakers: Mutex<HashMap<(Peer, String), Breaker>>,
    store: Option<Store>,
    remembered: Mutex<HashMap<String, String>>,
    /// Every client on this network (site clients, the hoster client), for reconfiguring and
    /// listing; held as [`NetworkClient`] so the network knows no client type.
    clients: Mutex<Vec<Arc<dyn NetworkClient>>>,
    config: RwLock<NetworkConfig>,
    /// Requests and failed requests per site since start (for `/metrics`).
    requests: Mutex<HashMap<String, SiteRequests>>,
}

/// How many requests a site client made and how many failed, since start. One request is one
/// call (a page, a search), however many mirrors and retries it took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteRequests {
    pub site: String,
    pub requests: u64,
    pub errors: u64,
}

impl Network {
    /// A network with the given settings and no memory (CLI commands, tests).
    pub fn new(config: &NetworkConfig) -> Network {
        let network = Network::default();
        network.set_config(config);
        network
    }

    /// A network that remembers each site's answering base URL in `store` (the `settings`
    /// table), loading what it remembered before.
    pub async fn with_store(config: &Config, store: Store) -> Result<Network> {
        let mut remembered = HashMap::new();
        for site in config.providers.keys() {
            if let Some(base) = store.settings().get(&memory_key(site)).await? {
                remembered.insert(site.clone(), base);
            }
        }
        let network = Network {
            inner: Arc::new(Inner {
                store: Some(store),
                remembered: Mutex::new(remembered),
                ..Inner::default()
            }),
        };
        network.set_config(&config.network);
        Ok(network)
    }

    fn set_config(&self, config: &NetworkConfig) {
        *self.inner.policy.write().expect("network lock") = CooldownPolicy::from_config(config);
        *self.inner.config.write().expect("network lock") = config.clone();
    }

    /// The `network` settings in effect.
    pub fn config(&self) -> NetworkConfig {
        self.inner.config.read().expect("network lock").clone()
    }

    pub fn policy(&self) -> CooldownPolicy {
        *self.inner.policy.read().expect("network lock")
    }

    /// Applies a changed config to every client of this network (proxy, headers, mirrors,
    /// cooldowns). A client whose settings did not change keeps its connections and cookies.
    pub fn reconfigure(&self, config: &Config) {
        self.set_config(&config.network);
        let clients = self.inner.clients.lock().expect("network lock").clone();
        for client in clients {
            if let Err(e) = client.reconfigure(config) {
                tracing::warn!(client = %client.name(), error = %e, "kept the previous network settings");
            }
        }
    }

    /// Adds a client (a site client replaces an earlier one of the same name).
    pub(crate) fn register(&self, client: Arc<dyn NetworkClient>) {
        let mut clients = self.inner.clients.lock().expect("network lock");
        if client.site_state().is_some() {
            clients.retain(|c| c.site_state().is_none() || c.name() != client.name());
        }
        clients.push(client);
    }

    /// Every client on this network.
    pub(crate) fn clients(&self) -> Vec<Arc<dyn NetworkClient>> {
        self.inner.clients.lock().expect("network lock").clone()
    }

    /// Every site client of this network, for `/health` and the plugin listing.
    pub fn sites(&self) -> Vec<SiteState> {
        let clients = self.inner.clients.lock().expect("network lock").clone();
        let mut states: Vec<SiteState> = clients
            .iter()
            .filter_map(|c| c.site_state())
            .map(|mut state| {
                state.down = self.down_state(Peer::Site, &state.id);
                state
            })
            .collect();
        states.sort_by(|a, b| a.id.cmp(&b.id));
        states
    }

    /// Counts one request of `site` and whether it failed.
    pub fn record_request(&self, site: &str, failed: bool) {
        let mut requests = self.inner.requests.lock().expect("network lock");
        let entry = requests
            .entry(site.to_owned())
            .or_insert_with(|| SiteRequests {
                site: site.to_owned(),
                ..SiteRequests::default()
            });
        entry.requests += 1;
        entry.errors += u64::from(failed);
    }

    /// Requests per site since start, by site id.
    pub fn request_counts(&self) -> Vec<SiteRequests> {
        let mut counts: Vec<SiteRequests> = self
            .inner
            .requests
            .lock()
            .expect("network lock")
            .values()
            .cloned()
            .collect();
        counts.sort_by(|a, b| a.site.cmp(&b.site));
        counts
    }

    /// Hosters that are down right now.
    pub fn hosters_down(&self) -> Vec<DownState> {
        let names: Vec<String> = {
            let breakers = self.inner.breakers.lock().expect("network lock");
            breakers
                .keys()
                .filter(|(peer, _)| *peer == Peer::Hoster)
                .map(|(_, name)| name.clone())
                .collect()
        };
        let mut down: Vec<DownState> = names
            .iter()
            .filter_map(|n| self.down_state(Peer::Hoster, n))
            .collect();
        down.sort_by(|a, b| a.name.cmp(&b.name));
        down
    }

    fn down_state(&self, peer: Peer, name: &str) -> Option<DownState> {
        let breakers = self.inner.breakers.lock().expect("network lock");
        let breaker = breakers.get(&(peer, name.to_owned()))?;
        let until = breaker.down_until?;
        let now = Instant::now();
        (until > now).then(|| DownState {
            name: name.to_owned(),
            reason: breaker.last_error.clone(),
            retry_in_secs: (until - now).as_secs_f64().ceil() as u64,
        })
    }

    /// `Err(SiteDown)` while `name` is cooling down.
    pub fn check(&self, peer: Peer, name: &str) -> Result<()> {
        match self.down_state(peer, name) {
            Some(down) => Err(Error::SiteDown {
                site: down.name,
                reason: down.reason,
                retry_in_secs: down.retry_in_secs.max(1),
            }),
            None => Ok(()),
        }
    }

    /// Records a failed request; returns the cooldown when this failure made `name` down.
    pub fn failed(&self, peer: Peer, name: &str, reason: &str) -> Option<Duration> {
        let policy = self.policy();
        let now = Instant::now();
        let mut breakers = self.inner.breakers.lock().expect("network lock");
        let breaker = breakers.entry((peer, name.to_owned())).or_default();
        breaker.last_error = reason.to_owned();
        if breaker.down_until.is_some_and(|until| until > now) {
            // A request that started before the cooldown: already counted.
            return None;
        }
        breaker.failures += 1;
        // Right after a cooldown one failure is enough: the site is still down.
        if breaker.failures < policy.down_after && breaker.trips == 0 {
            return None;
        }
        breaker.trips += 1;
        breaker.failures = 0;
        let cooldown = policy.cooldown(breaker.trips);
        breaker.down_until = Some(now + cooldown);
        tracing::warn!(
            name,
            ?peer,
            cooldown_secs = cooldown.as_secs(),
            reason,
            "failed repeatedly: no requests until the cooldown ends"
        );
        Some(cooldown)
    }

    /// Records an answer: clears failures and any cooldown.
    pub fn succeeded(&self, peer: Peer, name: &str) {
        let mut breakers = self.inner.breakers.lock().expect("network lock");
        if let Some(b) = breakers.remove(&(peer, name.to_owned()))
            && b.trips > 0
        {
            tracing::info!(name, ?peer, "answers again");
        }
    }

    /// The base URL `site` answered on last time (persisted when this network has a store).
    pub fn remembered_base(&self, site: &str) -> Option<String> {
        self.inner
            .remembered
            .lock()
            .expect("network lock")
            .get(site)
            .cloned()
    }

    /// Remembers that `site` answered on `base` (and writes it to the database, if any).
    pub async fn remember_base(&self, site: &str, base: &str) {
        let changed = {
            let mut remembered = self.inner.remembered.lock().expect("network lock");
            remembered
                .insert(site.to_owned(), base.to_owned())
                .as_deref()
                != Some(base)
        };
        if !changed {
            return;
        }
        tracing::info!(site, base, "using this base URL from now on");
        if let Some(store) = &self.inner.store
            && let Err(e) = store.settings().set(&memory_key(site), base).await
        {
            tracing::warn!(site, error = %e, "could not remember the base URL in use");
        }
    }
}

/// What went wrong on the way to `host` (DNS, refused, reset, timeout, TLS), in words a person
/// can act on. The URL (tokens in queries) is left out.
pub fn describe_transport(e: &reqwest::Error, host: &str, timeout: Option<Duration>) -> String {
    let within = timeout
        .map(|t| format!(" within {} s", t.as_secs().max(1)))
        .unwrap_or_default();
    if e.is_timeout() {
        return if e.is_connect() {
            format!("cannot connect to {host}{within} (timeout)")
        } else {
            format!("no answer from {host}{within} (timeout)")
        };
    }
    let mut texts = Vec::new();
    let mut io_kind = None;
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        // io errors may wrap further io errors (`get_ref`) that `source` skips.
        let mut io = s.downcast_ref::<std::io::Error>();
        while let Some(err) = io {
            if err.kind() != std::io::ErrorKind::Other {
                io_kind.get_or_insert(err.kind());
            }
            io = err
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<std::io::Error>());
        }
        texts.push(s.to_string());
        source = s.source();
    }
    let all = texts.join(": ").to_ascii_lowercase();
    let innermost = texts.last().cloned().unwrap_or_else(|| e.to_string());
    use std::io::ErrorKind as K;
    if all.contains("dns error") || all.contains("failed to lookup address") {
        return format!(
            "DNS lookup of {host} failed ({innermost}); if your provider blocks the name, add a mirror or a proxy"
        );
    }
    match io_kind {
        Some(K::ConnectionRefused) => return format!("connection to {host} refused"),
        Some(K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe) => {
            return format!("{host} reset the connection");
        }
        Some(K::TimedOut) => return format!("cannot connect to {host} (timeout)"),
        Some(K::HostUnreachable | K::NetworkUnreachable) => {
            return format!("{host} is unreachable ({innermost})");
        }
        _ => {}
    }
    // rustls reports what it did not like as invalid data while connecting.
    let tls_data = e.is_connect() && io_kind == Some(K::InvalidData);
    if tls_data || all.contains("certificate") || all.contains("tls") || all.contains("handshake") {
        return format!("TLS handshake with {host} failed: {innermost}");
    }
    if all.contains("connection closed") || all.contains("incomplete") {
        return format!("{host} closed the connection without answering");
    }
    if e.is_connect() {
        return format!("cannot connect to {host}: {innermost}");
    }
    format!("request to {host} failed: {innermost}")
}

/// `host[:port]` of a URL for messages.
pub fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => url.as_str().to_owned(),
    }
}

/// Whether a request error happened on the way (no HTTP answer at all).
pub fn is_transport(e: &reqwest::Error) -> bool {
    !e.is_status() && !e.is_builder() && !e.is_redirect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cooldowns_grow_from_30_s_to_at_most_10_min() {
        let policy = CooldownPolicy::default();
        assert_eq!(policy.down_after, 3);
        let secs: Vec<u64> = (1..=8).map(|t| policy.cooldown(t).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 600, 600, 600]);
        assert_eq!(policy.cooldown(1000).as_secs(), 600);
    }

    #[tokio::test(start_paused = true)]
    async fn down_after_repeated_failures_then_cleared_by_success() {
        let net = Network::new(&NetworkConfig::default());
        assert!(net.failed(Peer::Site, "sto", "refused").is_none());
        assert!(net.failed(Peer::Site, "sto", "refused").is_none());
        net.check(Peer::Site, "sto").unwrap();
        assert_eq!(
            net.failed(Peer::Site, "sto", "refused"),
            Some(Duration::from_secs(30))
        );
        match net.check(Peer::Site, "sto").unwrap_err() {
            Error::SiteDown {
                site,
                reason,
                retry_in_secs,
            } => {
                assert_eq!(site, "sto");
                assert_eq!(reason, "refused");
                assert_eq!(retry_in_secs, 30);
            }
            other => panic!("{other:?}"),
        }
        // Hosters keep their own books.
        net.check(Peer::Hoster, "sto").unwrap();
        tokio::time::advance(Duration::from_secs(31)).await;
        net.check(Peer::Site, "sto").unwrap();
        // Still failing after the cooldown: down at once, for twice as long.
        assert_eq!(
            net.failed(Peer::Site, "sto", "refused"),
            Some(Duration::from_secs(60))
        );
        tokio::time::advance(Duration::from_secs(61)).await;
        net.succeeded(Peer::Site, "sto");
        net.check(Peer::Site, "sto").unwrap();
        // Cleared: the count starts again.
        assert!(net.failed(Peer::Site, "sto", "refused").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn failures_of_requests_already_running_do_not_lengthen_the_cooldown() {
        let net = Network::new(&NetworkConfig {
            down_after: 1,
            ..NetworkConfig::default()
        });
        assert!(net.failed(Peer::Hoster, "VOE", "a").is_some());
        assert!(net.failed(Peer::Hoster, "VOE", "b").is_none());
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(
            net.failed(Peer::Hoster, "VOE", "c"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(net.hosters_down()[0].reason, "c");
    }

    #[test]
    fn proxy_urls_are_checked_and_passwords_hidden() {
        let p = ProxySetting::parse("network.proxy", "socks5://u:secret@127.0.0.1:1080")
            .unwrap()
            .unwrap();
        assert!(!p.shown().contains("secret"));
        assert!(ProxySetting::parse("network.proxy", " ").unwrap().is_none());
        for bad in ["ftp://x:1", "not a url", "socks5://:1080"] {
            match ProxySetting::parse("providers.sto.proxy", bad) {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "providers.sto.proxy"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
