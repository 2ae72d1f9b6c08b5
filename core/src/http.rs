//! Per-site HTTP client: browser-like headers, rate limit, proxy, mirrors, retries with backoff,
//! "down" cooldowns, challenge detection.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{
    COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION, ORIGIN, REFERER,
    USER_AGENT as USER_AGENT_HEADER,
};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::{NetworkConfig, ProviderConfig};
use crate::error::{Error, Result};
use crate::network::{
    Network, Peer, ProxySetting, SiteState, describe_transport, host_of, is_transport, site_proxy,
};

/// A current desktop browser's User-Agent; the sites answer scripted clients with 403.
pub const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36";

/// Largest page body we read from a site; anything bigger is not a page of theirs.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Redirect hops followed inside a site before giving up.
const MAX_SITE_REDIRECTS: usize = 10;

fn browser_headers() -> HeaderMap {
    use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE};
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    );
    headers.insert(
        ACCEPT_LANGUAGE,
        HeaderValue::from_static("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7"),
    );
    headers
}

/// The shared client hosters and downloads use: browser-like headers, cookies, redirects followed.
pub fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .default_headers(browser_headers())
        .cookie_store(true)
        .connect_timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .expect("static reqwest client configuration is valid")
}

/// Markers only a challenge page carries.
const STRONG_MARKERS: &[(&str, &str)] = &[
    ("cf-turnstile", "Turnstile"),
    ("challenges.cloudflare.com/turnstile", "Turnstile"),
    ("<title>ddos-guard", "DDoS-Guard"),
    ("<title>just a moment", "Cloudflare"),
    ("<title>attention required", "Cloudflare"),
    ("cf-challenge", "Cloudflare"),
    ("cf_chl_", "Cloudflare"),
    ("cf-browser-verification", "Cloudflare"),
    ("<title>captcha", "captcha"),
];

/// Markers that ordinary pages behind a protection service may carry too (injected scripts, a
/// login form's captcha): they count only on an error status or a small page.
const WEAK_MARKERS: &[(&str, &str)] = &[
    ("ddos-guard", "DDoS-Guard"),
    ("ddos guard", "DDoS-Guard"),
    ("__ddg", "DDoS-Guard"),
    ("challenge-platform", "Cloudflare"),
    ("g-recaptcha", "captcha"),
    ("h-captcha", "captcha"),
    ("hcaptcha.com", "captcha"),
    ("recaptcha/api.js", "captcha"),
    ("id=\"captcha", "captcha"),
    ("class=\"captcha", "captcha"),
    ("player-prepare-turnstile", "Turnstile"),
    ("altcha-widget", "ALTCHA captcha"),
];

/// Challenge pages are a few kilobytes; real content pages are much larger.
const SMALL_PAGE_BYTES: usize = 32 * 1024;

/// Recognises a bot-protection page. Returns what kind it is (`DDoS-Guard`, `Cloudflare`,
/// `Turnstile`, `captcha`), or `None` for an ordinary page. Hoster extractors reuse this.
pub fn detect_challenge(status: u16, headers: &HeaderMap, body: &str) -> Option<&'static str> {
    let error_status = matches!(status, 403 | 429 | 503);
    let server = headers
        .get("server")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    // Challenge pages are small; looking at the head of the body keeps this cheap on big pages.
    let head: String = body
        .char_indices()
        .take_while(|(i, _)| *i < 64 * 1024)
        .map(|(_, c)| c.to_ascii_lowercase())
        .collect();
    if let Some((_, kind)) = STRONG_MARKERS.iter().find(|(m, _)| head.contains(m)) {
        return Some(*kind);
    }
    let suspicious = error_status || !(200..300).contains(&status) || body.len() < SMALL_PAGE_BYTES;
    if suspicious && let Some((_, kind)) = WEAK_MARKERS.iter().find(|(m, _)| head.contains(m)) {
        return Some(*kind);
    }
    // Protection services put their name in `Server` on every answer: only a refusal counts.
    if error_status && server.contains("ddos-guard") {
        return Some("DDoS-Guard");
    }
    if error_status && server.contains("cloudflare") && status != 429 {
        return Some("Cloudflare");
    }
    None
}

/// A page a site answered with.
#[derive(Debug, Clone)]
pub struct Page {
    /// The final URL after redirects.
    pub url: String,
    pub body: String,
}

/// Spaces requests to one site so at most `rate` start per second.
#[derive(Debug)]
struct RateLimiter {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl RateLimiter {
    fn new(per_second: f64) -> Self {
        let interval = (per_second.is_finite() && per_second > 0.0)
            .then(|| Duration::from_secs_f64(1.0 / per_second));
        RateLimiter {
            interval,
            next: Mutex::new(Instant::now()),
        }
    }

    async fn acquire(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// One site's HTTP client, shared by everything that talks to that site.
///
/// - browser-like User-Agent, Accept, Accept-Language and a Referer of the site itself, plus
///   `providers.<id>.headers` (a `Cookie` there joins the cookies the site sets);
/// - at most `rate_limit` requests per second (`providers.<id>.rate_limit`);
/// - through `providers.<id>.proxy`, else `network.proxy`; a proxy that cannot be reached is
///   [`Error::Proxy`], never the site's fault;
/// - the base URL and then `providers.<id>.mirrors` are tried in order when one cannot be reached,
///   answers 5xx or is blocked; the one that answered is used first from then on (and remembered
///   across restarts when the [`Network`] has a store);
/// - timeouts, connection failures, 429 and 5xx are retried `retries` times with exponential
///   backoff; after `network.down_after` failures in a row the site is down for a cooldown and
///   calls fail at once with [`Error::SiteDown`];
/// - a challenge page (DDoS-Guard, Cloudflare, captcha, Turnstile) or a 403 is [`Error::Blocked`];
/// - a 404 is [`Error::NotFound`]; the site's own error page is recognised by the provider's parser.
#[derive(Debug, Clone)]
pub struct SiteClient {
    inner: Arc<SiteClientInner>,
}

#[derive(Debug)]
struct SiteClientInner {
    site: String,
    setup: RwLock<Arc<SiteSetup>>,
    /// Index into `setup.bases` of the base URL that answered last.
    active: RwLock<usize>,
    backoff: Duration,
    network: Network,
}

/// Everything built from the config; replaced as a whole when the config changes.
#[derive(Debug)]
struct SiteSetup {
    /// What this was built from, to tell whether a new config changes anything.
    source: (ProviderConfig, Option<ProxySetting>),
    bases: Vec<url::Url>,
    client: reqwest::Client,
    /// Same settings, but redirects are returned instead of followed (resolving `/redirect/{id}`).
    no_redirect: reqwest::Client,
    proxy: Option<ProxySetting>,
    limiter: RateLimiter,
    retries: u32,
    timeout: Duration,
    /// Whether the config sets a Referer (then the site's own is not sent).
    own_referer: bool,
}

/// One way a request to one base URL went wrong, when the next base may do better.
enum Miss {
    Blocked(String),
    Timeout(String),
    Failed(String),
}

impl SiteSetup {
    fn build(site: &str, config: &ProviderConfig, network: &NetworkConfig) -> Result<SiteSetup> {
        let parse_base = |key: String, raw: &str| -> Result<url::Url> {
            let base = url::Url::parse(raw.trim())
                .map_err(|e| Error::invalid(&key, format!("{raw:?} is not a URL: {e}")))?;
            if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
                return Err(Error::invalid(
                    key,
                    format!("{raw:?} is not an http(s) URL"),
                ));
            }
            Ok(base)
        };
        let mut bases = vec![parse_base(
            format!("providers.{site}.base_url"),
            &config.base_url,
        )?];
        for (i, mirror) in config.mirrors.iter().enumerate() {
            let mirror = parse_base(format!("providers.{site}.mirrors[{i}]"), mirror)?;
            if !bases.contains(&mirror) {
                bases.push(mirror);
            }
        }
        let proxy = site_proxy(site, &config.proxy, network)?;

        let mut headers = browser_headers();
        headers.insert(USER_AGENT_HEADER, HeaderValue::from_static(USER_AGENT));
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let mut own_referer = false;
        for (name, value) in &config.headers {
            if value.trim().is_empty() {
                continue;
            }
            let key = format!("providers.{site}.headers.{name}");
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::invalid(&key, "is not a valid HTTP header name"))?;
            if header == COOKIE {
                // Into the cookie jar, so the cookies the site sets itself are sent along.
                for cookie in value.split(';').map(str::trim).filter(|c| c.contains('=')) {
                    for base in &bases {
                        jar.add_cookie_str(cookie, base);
                    }
                }
                continue;
            }
            let value = HeaderValue::from_str(value.trim())
                .map_err(|_| Error::invalid(&key, "the value must be one line of visible text"))?;
            own_referer |= header == REFERER;
            headers.insert(header, value);
        }
        let timeout = Duration::from_secs(config.timeout.max(1));
        let build = |policy: reqwest::redirect::Policy| -> Result<reqwest::Client> {
            let mut builder = reqwest::Client::builder()
                .default_headers(headers.clone())
                .cookie_provider(jar.clone())
                .connect_timeout(timeout.min(Duration::from_secs(15)))
                .timeout(timeout)
                .redirect(policy);
            if let Some(p) = &proxy {
                builder = builder.proxy(p.to_reqwest()?);
            }
            builder
                .build()
                .map_err(|e| Error::Http(format!("cannot build the {site} client: {e}")))
        };
        Ok(SiteSetup {
            source: (config.clone(), proxy.clone()),
            client: build(reqwest::redirect::Policy::limited(MAX_SITE_REDIRECTS))?,
            no_redirect: build(reqwest::redirect::Policy::none())?,
            bases,
            proxy,
            limiter: RateLimiter::new(config.rate_limit),
            retries: config.retries,
            timeout,
            own_referer,
        })
    }

    /// Index of the base URL `url` belongs to (same host and port).
    fn base_of(&self, url: &url::Url) -> Option<usize> {
        self.bases.iter().position(|b| {
            b.host_str() == url.host_str()
                && b.port_or_known_default() == url.port_or_known_default()
        })
    }
}

impl SiteClient {
    /// Builds the client of site `site` from its config section, on its own [`Network`].
    pub fn new(site: &str, config: &ProviderConfig) -> Result<Self> {
        Self::with_backoff(site, config, Duration::from_millis(500))
    }

    /// Like [`SiteClient::new`] with a chosen first backoff delay (doubled on each retry).
    pub fn with_backoff(site: &str, config: &ProviderConfig, backoff: Duration) -> Result<Self> {
        let network = Network::default();
        Self::on_network(site, config, &network.config(), &network, backoff)
    }

    /// The client of `site` on `network` (shared cooldowns, remembered mirror, status listing),
    /// with `network_config.proxy` unless the site has its own.
    pub fn on_network(
        site: &str,
        config: &ProviderConfig,
        network_config: &NetworkConfig,
        network: &Network,
        backoff: Duration,
    ) -> Result<Self> {
        let setup = SiteSetup::build(site, config, network_config)?;
        let active = network
            .remembered_base(site)
            .and_then(|b| url::Url::parse(&b).ok())
            .and_then(|b| setup.bases.iter().position(|x| *x == b))
            .unwrap_or(0);
        let client = SiteClient {
            inner: Arc::new(SiteClientInner {
                site: site.to_owned(),
                setup: RwLock::new(Arc::new(setup)),
                active: RwLock::new(active),
                backoff,
                network: network.clone(),
            }),
        };
        network.register(Arc::new(client.clone()));
        Ok(client)
    }

    /// Applies changed settings (headers, proxy, mirrors, limits). Unchanged settings keep the
    /// connections and cookies.
    pub fn reconfigure(&self, config: &ProviderConfig, network: &NetworkConfig) -> Result<()> {
        let proxy = site_proxy(&self.inner.site, &config.proxy, network)?;
        if self.setup().source == (config.clone(), proxy) {
            return Ok(());
        }
        let setup = SiteSetup::build(&self.inner.site, config, network)?;
        let current = self.base_url();
        let active = setup
            .bases
            .iter()
            .position(|b| b.as_str().trim_end_matches('/') == current)
            .unwrap_or(0);
        *self.inner.setup.write().expect("site lock") = Arc::new(setup);
        *self.inner.active.write().expect("site lock") = active;
        tracing::info!(site = %self.inner.site, "network settings changed");
        Ok(())
    }

    fn setup(&self) -> Arc<SiteSetup> {
        self.inner.setup.read().expect("site lock").clone()
    }

    fn active(&self, setup: &SiteSetup) -> usize {
        (*self.inner.active.read().expect("site lock")).min(setup.bases.len() - 1)
    }

    pub fn site(&self) -> &str {
        &self.inner.site
    }

    /// The client of site `id` on `network` (its proxy, headers, mirrors and rate limit), if a
    /// built-in provider registered one.
    pub fn of_site(network: &Network, id: &str) -> Option<SiteClient> {
        network.clients().iter().find_map(|c| {
            c.as_any()
                .downcast_ref::<SiteClient>()
                .filter(|s| s.site() == id)
                .cloned()
        })
    }

    /// The base URL in use (the one that answered last), without a trailing slash.
    pub fn base_url(&self) -> String {
        let setup = self.setup();
        setup.bases[self.active(&setup)]
            .as_str()
            .trim_end_matches('/')
            .to_owned()
    }

    /// What the status endpoints show about this client (the down state is the network's).
    pub fn state(&self) -> SiteState {
        let setup = self.setup();
        SiteState {
            id: self.inner.site.clone(),
            base_url: self.base_url(),
            base_urls: setup
                .bases
                .iter()
                .map(|b| b.as_str().trim_end_matches('/').to_owned())
                .collect(),
            proxy: setup.proxy.as_ref().map(ProxySetting::shown),
            down: None,
        }
    }

    /// Absolute URL of a site path (`/anime/stream/x`) on the base URL in use, or `link` itself
    /// when it already is absolute.
    pub fn url(&self, link: &str) -> Result<String> {
        let setup = self.setup();
        setup.bases[self.active(&setup)]
            .join(link)
            .map(String::from)
            .map_err(|e| Error::invalid("link", format!("{link:?}: {e}")))
    }

    /// Whether `url` points at this site (same host and port as the base URL or a mirror).
    pub fn is_own_url(&self, url: &str) -> bool {
        url::Url::parse(url)
            .map(|u| self.setup().base_of(&u).is_some())
            .unwrap_or(false)
    }

    /// GET a page (redirects followed).
    pub async fn get(&self, link: &str) -> Result<Page> {
        self.send(link, |setup, url, _| setup.client.get(url)).await
    }

    /// GET a file of at most `max` bytes (a cover image): its bytes and `Content-Type`.
    pub async fn get_bytes(&self, link: &str, max: usize) -> Result<(Vec<u8>, Option<String>)> {
        let response = self
            .send_raw(link, false, |setup, url, _| setup.client.get(url))
            .await?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((read_bytes(response, max).await?, content_type))
    }

    /// POST a form (the AJAX search).
    pub async fn post_form(&self, link: &str, form: &[(&str, &str)]) -> Result<Page> {
        self.send(link, |setup, url, origin| {
            let mut request = setup
                .client
                .post(url)
                .header("X-Requested-With", "XMLHttpRequest")
                .form(form);
            if let Some(origin) = origin {
                request = request.header(ORIGIN, origin);
            }
            request
        })
        .await
    }

    /// Follows a site's redirect link (`/redirect/{id}`, `/r?t=...`) hop by hop and returns the first
    /// URL outside the site. Hops inside the site are followed; a page instead of a redirect is a
    /// parse error naming the link. A link that already points elsewhere (an embed URL) is returned
    /// unchanged.
    pub async fn resolve_redirect(&self, link: &str) -> Result<String> {
        let mut url = self.url(link)?;
        if !self.is_own_url(&url) {
            return Ok(link.to_owned());
        }
        for _ in 0..MAX_SITE_REDIRECTS {
            let current = url.clone();
            let response = self
                .send_raw(&current, true, |setup, url, _| setup.no_redirect.get(url))
                .await?;
            let status = response.status();
            let here = response.url().clone();
            if !status.is_redirection() {
                let body = read_body(response).await.unwrap_or_default();
                if let Some(kind) = detect_challenge(status.as_u16(), &HeaderMap::new(), &body) {
                    return Err(self.blocked(kind));
                }
                return Err(Error::parse(format!(
                    "redirect target of {link} (the site answered {status} without a Location)"
                )));
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::parse(format!("Location header of {link}")))?;
            let next = here
                .join(location)
                .map_err(|e| Error::parse(format!("Location {location:?} of {link}: {e}")))?;
            if !self.is_own_url(next.as_str()) {
                return Ok(next.into());
            }
            url = next.into();
        }
        Err(Error::Http(format!("too many redirects following {link}")))
    }

    fn blocked(&self, reason: impl Into<String>) -> Error {
        Error::Blocked {
            site: self.inner.site.clone(),
            reason: reason.into(),
        }
    }

    async fn send(
        &self,
        link: &str,
        request: impl Fn(&SiteSetup, &str, Option<&str>) -> reqwest::RequestBuilder,
    ) -> Result<Page> {
        let response = self.send_raw(link, false, request).await?;
        let url = response.url().to_string();
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(response).await?;
        if let Some(kind) = detect_challenge(status.as_u16(), &headers, &body) {
            return Err(self.blocked(kind));
        }
        Ok(Page { url, body })
    }

    /// The URLs to try for `link`, best first: on the base URL in use, then on the other bases in
    /// configured order. An absolute URL of another site is tried as it is.
    fn targets(&self, setup: &SiteSetup, link: &str) -> Result<Vec<(url::Url, Option<usize>)>> {
        let relative = match url::Url::parse(link) {
            Ok(absolute) => match setup.base_of(&absolute) {
                Some(_) => absolute[url::Position::BeforePath..].to_owned(),
                None => return Ok(vec![(absolute, None)]),
            },
            Err(_) => link.to_owned(),
        };
        let active = self.active(setup);
        let order = std::iter::once(active).chain((0..setup.bases.len()).filter(|i| *i != active));
        order
            .map(|i| {
                setup.bases[i]
                    .join(&relative)
                    .map(|u| (u, Some(i)))
                    .map_err(|e| Error::invalid("link", format!("{link:?}: {e}")))
            })
            .collect()
    }

    /// The site answered on base `index`: it is up, and that base is used first from now on.
    async fn answered(&self, setup: &SiteSetup, index: Option<usize>) {
        let network = &self.inner.network;
        network.succeeded(Peer::Site, &self.inner.site);
        let Some(index) = index else { return };
        let switched = {
            let mut active = self.inner.active.write().expect("site lock");
            let switched = *active != index;
            *active = index;
            switched
        };
        if switched || network.remembered_base(&self.inner.site).is_some() {
            let base = setup.bases[index].as_str().trim_end_matches('/');
            network.remember_base(&self.inner.site, base).await;
        }
    }

    /// [`Self::send_attempts`], counted per site for `/metrics` (a missing page is an answer,
    /// not an error).
    async fn send_raw(
        &self,
        link: &str,
        allow_redirect: bool,
        request: impl Fn(&SiteSetup, &str, Option<&str>) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let result = self.send_attempts(link, allow_redirect, request).await;
        let failed = matches!(&result, Err(e) if !matches!(e, Error::NotFound(_)));
        self.inner.network.record_request(&self.inner.site, failed);
        result
    }

    /// Sends with rate limit, mirrors and retries. Returns successful (2xx, or 3xx when
    /// `allow_redirect`) responses; maps every failure to a typed error.
    async fn send_attempts(
        &self,
        link: &str,
        allow_redirect: bool,
        request: impl Fn(&SiteSetup, &str, Option<&str>) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let inner = &*self.inner;
        let site = inner.site.as_str();
        inner.network.check(Peer::Site, site)?;
        let setup = self.setup();
        let targets = self.targets(&setup, link)?;
        let mut attempt = 0u32;
        loop {
            let mut misses: Vec<Miss> = Vec::new();
            for (url, base) in &targets {
                setup.limiter.acquire().await;
                let origin = base.map(|i| origin_of(&setup.bases[i]));
                let mut builder = request(&setup, url.as_str(), origin.as_deref());
                if !setup.own_referer
                    && let Some(origin) = &origin
                {
                    builder = builder.header(REFERER, origin.as_str());
                }
                let host = host_of(url);
                let response = match builder.send().await {
                    Ok(response) => response,
                    Err(e) => {
                        if let Some(proxy) = &setup.proxy
                            && is_transport(&e)
                            && let Some(problem) = proxy.probe().await
                        {
                            return Err(proxy.error(problem));
                        }
                        let text = format!(
                            "{site}: {}",
                            describe_transport(&e, &host, Some(setup.timeout))
                        );
                        misses.push(if e.is_timeout() {
                            Miss::Timeout(text)
                        } else {
                            Miss::Failed(text)
                        });
                        continue;
                    }
                };
                let status = response.status();
                if status.is_success() || (allow_redirect && status.is_redirection()) {
                    self.answered(&setup, *base).await;
                    return Ok(response);
                }
                let headers = response.headers().clone();
                let body = read_body(response).await.unwrap_or_default();
                if let Some(kind) = detect_challenge(status.as_u16(), &headers, &body) {
                    misses.push(Miss::Blocked(kind.to_owned()));
                    continue;
                }
                match status {
                    StatusCode::FORBIDDEN => {
                        misses.push(Miss::Blocked("HTTP 403 Forbidden".into()))
                    }
                    s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                        misses.push(Miss::Failed(format!("{site}: {host} answered {s}")));
                    }
                    StatusCode::NOT_FOUND | StatusCode::GONE => {
                        inner.network.succeeded(Peer::Site, site);
                        return Err(Error::NotFound(redact_query(url)));
                    }
                    s => {
                        inner.network.succeeded(Peer::Site, site);
                        return Err(Error::Http(format!(
                            "{site}: {host} answered {s} for {}",
                            redact_query(url)
                        )));
                    }
                }
            }
            // Every base URL missed. A challenge is an answer: the site is up, but wants a browser.
            if let Some(Miss::Blocked(kind)) = misses.iter().find(|m| matches!(m, Miss::Blocked(_)))
            {
                inner.network.succeeded(Peer::Site, site);
                return Err(self.blocked(kind.clone()));
            }
            let all_timeouts = misses.iter().all(|m| matches!(m, Miss::Timeout(_)));
            let text = misses
                .iter()
                .map(|m| match m {
                    Miss::Blocked(t) | Miss::Timeout(t) | Miss::Failed(t) => t.as_str(),
                })
                .collect::<Vec<_>>()
                .join("; ");
            let error = |text: String| {
                if all_timeouts {
                    Error::Timeout(text)
                } else {
                    Error::Http(text)
                }
            };
            if let Some(cooldown) = inner.network.failed(Peer::Site, site, &text) {
                return Err(error(format!(
                    "{text}; {site} counts as down now and is not asked again for {} s",
                    cooldown.as_secs()
                )));
            }
            if attempt >= setup.retries {
                return Err(error(text));
            }
            let delay = inner.backoff.saturating_mul(1u32 << attempt.min(16));
            tracing::debug!(site, attempt, ?delay, error = %text, "retrying");
            tokio::time::sleep(delay).await;
            inner.network.check(Peer::Site, site)?;
            attempt += 1;
        }
    }
}

/// The shared client of hosters and downloads with `network.proxy`, or the error naming the key.
pub fn browser_client_with(network: &NetworkConfig) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .default_headers(browser_headers())
        .cookie_store(true)
        .connect_timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::limited(10));
    if let Some(proxy) = ProxySetting::parse("network.proxy", &network.proxy)? {
        builder = builder.proxy(proxy.to_reqwest()?);
    }
    builder
        .build()
        .map_err(|e| Error::Http(format!("cannot build the hoster client: {e}")))
}

fn origin_of(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// A URL without its query: tokens in query strings (`/r?t=...`) do not belong in messages.
fn redact_query(url: &url::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// The body of `response`, refused once it grows past `max` bytes.
pub async fn read_bytes(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>> {
    let host = host_of(response.url());
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > max {
                    return Err(Error::Http(format!(
                        "{host} sent more than {max} bytes for {}",
                        redact_query(response.url())
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(bytes),
            Err(e) if e.is_timeout() => {
                return Err(Error::Timeout(format!("{host} stopped sending (timeout)")));
            }
            Err(e) => return Err(Error::Http(describe_transport(&e, &host, None))),
        }
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<String> {
    let host = host_of(response.url());
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(Error::Http(format!(
                        "page larger than {MAX_BODY_BYTES} bytes at {}",
                        redact_query(response.url())
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return Err(Error::Timeout(format!(
                    "{host} stopped sending the page (timeout)"
                )));
            }
            Err(e) => return Err(Error::Http(describe_transport(&e, &host, None))),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

impl crate::network::NetworkClient for SiteClient {
    fn name(&self) -> String {
        self.inner.site.clone()
    }

    fn reconfigure(&self, config: &crate::config::Config) -> Result<()> {
        match config.providers.get(&self.inner.site) {
            Some(section) => SiteClient::reconfigure(self, section, &config.network),
            None => Ok(()),
        }
    }

    fn site_state(&self) -> Option<SiteState> {
        Some(self.state())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_challenge_kind() {
        let h = HeaderMap::new();
        let cases = [
            ("<html><title>DDoS-Guard</title></html>", "DDoS-Guard"),
            (
                "<title>Just a moment...</title><div id=cf-challenge-running>",
                "Cloudflare",
            ),
            (
                "<div class=\"g-recaptcha\" data-sitekey=x></div>",
                "captcha",
            ),
            ("<div class=\"cf-turnstile\"></div>", "Turnstile"),
        ];
        for (body, kind) in cases {
            assert_eq!(detect_challenge(200, &h, body), Some(kind), "{body}");
        }
    }

    #[test]
    fn ordinary_pages_are_not_challenges() {
        let h = HeaderMap::new();
        let body = "<html><head><title>Attack on Titan</title></head><body>ok</body></html>";
        assert_eq!(detect_challenge(200, &h, body), None);
    }

    #[test]
    fn protection_markers_on_a_big_ordinary_page_are_not_a_challenge() {
        let mut h = HeaderMap::new();
        h.insert("server", HeaderValue::from_static("ddos-guard"));
        let body = format!(
            "<html><head><script src=\"/cdn-cgi/challenge-platform/scripts/jsd/main.js\"></script></head><body>{}<div class=\"g-recaptcha\"></div></body></html>",
            "<p>content</p>".repeat(4000)
        );
        assert_eq!(detect_challenge(200, &h, &body), None);
    }

    #[test]
    fn ddos_guard_server_header_is_a_challenge() {
        let mut h = HeaderMap::new();
        h.insert("server", HeaderValue::from_static("ddos-guard"));
        assert_eq!(detect_challenge(403, &h, ""), Some("DDoS-Guard"));
    }

    #[test]
    fn invalid_base_url_names_the_config_key() {
        let cfg = ProviderConfig::new("not a url");
        let err = SiteClient::new("aniworld", &cfg).unwrap_err();
        assert!(
            err.to_string().contains("providers.aniworld.base_url"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn rate_limiter_spaces_requests() {
        let limiter = RateLimiter::new(100.0);
        let start = Instant::now();
        for _ in 0..11 {
            limiter.acquire().await;
        }
        assert!(start.elapsed() >= Duration::from_millis(100));
    }
}
