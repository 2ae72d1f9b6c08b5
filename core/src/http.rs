//! Per-site HTTP client: browser-like headers, rate limit, retries with backoff, challenge detection.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, LOCATION, ORIGIN, REFERER};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::ProviderConfig;
use crate::error::{Error, Result};

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
/// - browser-like User-Agent, Accept, Accept-Language and a Referer of the site itself;
/// - at most `rate_limit` requests per second (`providers.<id>.rate_limit`);
/// - timeouts, connection failures, 429 and 5xx are retried `retries` times with exponential backoff;
/// - a challenge page (DDoS-Guard, Cloudflare, captcha, Turnstile) or a 403 is [`Error::Blocked`];
/// - a 404 is [`Error::NotFound`]; the site's own error page is recognised by the provider's parser.
#[derive(Debug, Clone)]
pub struct SiteClient {
    inner: Arc<SiteClientInner>,
}

#[derive(Debug)]
struct SiteClientInner {
    site: String,
    base: url::Url,
    client: reqwest::Client,
    /// Same settings, but redirects are returned instead of followed (resolving `/redirect/{id}`).
    no_redirect: reqwest::Client,
    limiter: RateLimiter,
    retries: u32,
    backoff: Duration,
}

impl SiteClient {
    /// Builds the client of site `site` from its config section.
    pub fn new(site: &str, config: &ProviderConfig) -> Result<Self> {
        Self::with_backoff(site, config, Duration::from_millis(500))
    }

    /// Like [`SiteClient::new`] with a chosen first backoff delay (doubled on each retry).
    pub fn with_backoff(site: &str, config: &ProviderConfig, backoff: Duration) -> Result<Self> {
        let base = url::Url::parse(config.base_url.trim()).map_err(|e| {
            Error::invalid(
                format!("providers.{site}.base_url"),
                format!("{:?} is not a URL: {e}", config.base_url),
            )
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::invalid(
                format!("providers.{site}.base_url"),
                format!("{:?} is not an http(s) URL", config.base_url),
            ));
        }
        let mut headers = browser_headers();
        if let Ok(referer) = HeaderValue::from_str(&origin_of(&base)) {
            headers.insert(REFERER, referer);
        }
        let timeout = Duration::from_secs(config.timeout.max(1));
        let build = |policy: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .default_headers(headers.clone())
                .cookie_store(true)
                .connect_timeout(timeout.min(Duration::from_secs(15)))
                .timeout(timeout)
                .redirect(policy)
                .build()
                .map_err(|e| Error::Http(format!("cannot build the {site} client: {e}")))
        };
        Ok(SiteClient {
            inner: Arc::new(SiteClientInner {
                site: site.to_owned(),
                client: build(reqwest::redirect::Policy::limited(MAX_SITE_REDIRECTS))?,
                no_redirect: build(reqwest::redirect::Policy::none())?,
                base,
                limiter: RateLimiter::new(config.rate_limit),
                retries: config.retries,
                backoff,
            }),
        })
    }

    pub fn site(&self) -> &str {
        &self.inner.site
    }

    /// The site's base URL, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.inner.base.as_str().trim_end_matches('/').to_owned()
    }

    /// Absolute URL of a site path (`/anime/stream/x`), or `link` itself when it already is absolute.
    pub fn url(&self, link: &str) -> Result<String> {
        self.inner
            .base
            .join(link)
            .map(String::from)
            .map_err(|e| Error::invalid("link", format!("{link:?}: {e}")))
    }

    /// Whether `url` points at this site (same host and port as the base URL).
    pub fn is_own_url(&self, url: &str) -> bool {
        url::Url::parse(url)
            .map(|u| {
                u.host_str() == self.inner.base.host_str()
                    && u.port_or_known_default() == self.inner.base.port_or_known_default()
            })
            .unwrap_or(false)
    }

    /// GET a page (redirects followed).
    pub async fn get(&self, link: &str) -> Result<Page> {
        let url = self.url(link)?;
        self.send(|c| c.client.get(&url)).await
    }

    /// POST a form (the AJAX search).
    pub async fn post_form(&self, link: &str, form: &[(&str, &str)]) -> Result<Page> {
        let url = self.url(link)?;
        let origin = origin_of(&self.inner.base);
        self.send(|c| {
            c.client
                .post(&url)
                .header(ORIGIN, origin.clone())
                .header("X-Requested-With", "XMLHttpRequest")
                .form(form)
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
            let response = self.send_raw(|c| c.no_redirect.get(&current), true).await?;
            let status = response.status();
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
            let next = url::Url::parse(&current)
                .and_then(|u| u.join(location))
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
        request: impl Fn(&SiteClientInner) -> reqwest::RequestBuilder,
    ) -> Result<Page> {
        let response = self.send_raw(request, false).await?;
        let url = response.url().to_string();
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_body(response).await?;
        if let Some(kind) = detect_challenge(status.as_u16(), &headers, &body) {
            return Err(self.blocked(kind));
        }
        Ok(Page { url, body })
    }

    /// Sends with rate limit and retries. Returns successful (2xx, or 3xx when `allow_redirect`)
    /// responses; maps every failure to a typed error.
    async fn send_raw(
        &self,
        request: impl Fn(&SiteClientInner) -> reqwest::RequestBuilder,
        allow_redirect: bool,
    ) -> Result<reqwest::Response> {
        let inner = &*self.inner;
        let mut attempt = 0u32;
        loop {
            inner.limiter.acquire().await;
            let outcome = request(inner).send().await;
            let retryable = match outcome {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() || (allow_redirect && status.is_redirection()) {
                        return Ok(response);
                    }
                    let url = response.url().to_string();
                    let headers = response.headers().clone();
                    let body = read_body(response).await.unwrap_or_default();
                    if let Some(kind) = detect_challenge(status.as_u16(), &headers, &body) {
                        return Err(self.blocked(kind));
                    }
                    match status {
                        StatusCode::FORBIDDEN => {
                            return Err(self.blocked("HTTP 403 Forbidden"));
                        }
                        StatusCode::NOT_FOUND | StatusCode::GONE => {
                            return Err(Error::NotFound(url));
                        }
                        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                            Error::Http(format!("{} answered {s} for {url}", inner.site))
                        }
                        s => {
                            return Err(Error::Http(format!(
                                "{} answered {s} for {url}",
                                inner.site
                            )));
                        }
                    }
                }
                Err(e) if e.is_timeout() => {
                    Error::Timeout(format!("{}: {}", inner.site, describe_request_error(&e)))
                }
                Err(e) if e.is_connect() || e.is_request() => {
                    Error::Http(format!("{}: {}", inner.site, describe_request_error(&e)))
                }
                Err(e) => {
                    return Err(Error::Http(format!(
                        "{}: {}",
                        inner.site,
                        describe_request_error(&e)
                    )));
                }
            };
            if attempt >= inner.retries {
                return Err(retryable);
            }
            let delay = inner.backoff.saturating_mul(1u32 << attempt.min(16));
            tracing::debug!(site = %inner.site, attempt, ?delay, error = %retryable, "retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

fn origin_of(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// What failed, in words a person can act on, naming the host but not the URL (tokens in query
/// strings do not belong in logs): `cannot connect to aniworld.to:443: connection refused`,
/// `DNS lookup of x.example failed`, `TLS handshake with ... failed: ...`, `no answer from ...`.
pub fn describe_request_error(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let host = e
        .url()
        .and_then(|u| {
            u.host_str().map(|h| {
                u.port()
                    .map_or_else(|| h.to_owned(), |p| format!("{h}:{p}"))
            })
        })
        .unwrap_or_else(|| "the site".to_owned());
    let https = e.url().is_some_and(|u| u.scheme() == "https");
    let mut causes = Vec::new();
    let mut io_kinds = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kinds.push(io.kind());
            // An io::Error wrapping another error hides it from `source()`.
            if let Some(inner) = io
                .get_ref()
                .and_then(|i| i.downcast_ref::<std::io::Error>())
            {
                io_kinds.push(inner.kind());
            }
        }
        causes.push(s.to_string());
        source = s.source();
    }
    let chain = causes.join(": ").to_ascii_lowercase();
    let innermost = causes.last().cloned().unwrap_or_else(|| e.to_string());
    use std::io::ErrorKind as K;
    let io = |k: K| io_kinds.contains(&k);
    if e.is_timeout() || io(K::TimedOut) {
        format!("no answer from {host} in time (timed out)")
    } else if chain.contains("dns error") || chain.contains("lookup address") {
        format!("DNS lookup of {host} failed (is the host name right?): {innermost}")
    } else if io(K::ConnectionRefused) {
        format!("cannot connect to {host}: connection refused (nothing listens there)")
    } else if https
        && (io(K::InvalidData)
            || chain.contains("certificate")
            || chain.contains("tls")
            || chain.contains("handshake"))
    {
        format!("TLS handshake with {host} failed: {innermost}")
    } else if e.is_connect() {
        format!("cannot connect to {host}: {innermost}")
    } else if io(K::ConnectionReset) || io(K::ConnectionAborted) || io(K::UnexpectedEof) {
        format!("{host} closed the connection: {innermost}")
    } else if e.is_body() || e.is_decode() {
        format!("the answer from {host} broke off: {innermost}")
    } else {
        format!("request to {host} failed: {innermost}")
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<String> {
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(Error::Http(format!(
                        "page larger than {MAX_BODY_BYTES} bytes at {}",
                        response.url()
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => return Err(Error::Timeout(describe_request_error(&e))),
            Err(e) => return Err(Error::Http(describe_request_error(&e))),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
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
