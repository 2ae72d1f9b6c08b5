//! What every extractor shares: fetching a page with typed errors, challenge detection, the
//! headers a download must send, and small text helpers for pure parsing functions.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use regex::Regex;
use reqwest::header::HeaderMap;
use url::Url;

use crate::config::NetworkConfig;
use crate::error::{Error, Result};
use crate::http::USER_AGENT;
use crate::model::{MediaKind, MediaSource};
use crate::network::{Network, Peer, ProxySetting, describe_transport, host_of, is_transport};

/// Embed pages are small; anything bigger is not a player page and is not read to the end.
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The client every built-in hoster uses: the browser-like client (through `network.proxy`) and
/// the network whose cooldowns it shares. A hoster that failed `network.down_after` times in a row
/// is not asked again until its cooldown ends ([`Error::SiteDown`]). Cheap to clone.
#[derive(Clone)]
pub struct HosterClient {
    inner: Arc<HosterInner>,
}

struct HosterInner {
    current: RwLock<(reqwest::Client, Option<ProxySetting>)>,
    network: Network,
}

impl std::fmt::Debug for HosterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HosterClient").finish_non_exhaustive()
    }
}

/// A plain client on a network of its own (tests, one-off CLI commands).
impl From<reqwest::Client> for HosterClient {
    fn from(client: reqwest::Client) -> Self {
        HosterClient {
            inner: Arc::new(HosterInner {
                current: RwLock::new((client, None)),
                network: Network::default(),
            }),
        }
    }
}

impl HosterClient {
    /// The client hosters share (browser-like, `network.proxy`), tied to `network`'s cooldowns
    /// and reconfigured with it.
    pub fn on_network(network: &Network) -> Result<HosterClient> {
        let client = HosterClient::new(&network.config(), network.clone())?;
        network.register(Arc::new(client.clone()));
        Ok(client)
    }

    /// The browser-like client with `config.proxy`, on `network`.
    pub fn new(config: &NetworkConfig, network: Network) -> Result<HosterClient> {
        let proxy = ProxySetting::parse("network.proxy", &config.proxy)?;
        let client = crate::http::browser_client_with(config)?;
        Ok(HosterClient {
            inner: Arc::new(HosterInner {
                current: RwLock::new((client, proxy)),
                network,
            }),
        })
    }

    /// Switches to a changed `network.proxy` (nothing happens when it is the same).
    pub fn reconfigure(&self, config: &NetworkConfig) -> Result<()> {
        let proxy = ProxySetting::parse("network.proxy", &config.proxy)?;
        if self.inner.current.read().expect("hoster lock").1 == proxy {
            return Ok(());
        }
        let client = crate::http::browser_client_with(config)?;
        *self.inner.current.write().expect("hoster lock") = (client, proxy);
        Ok(())
    }

    /// The reqwest client in use.
    pub fn client(&self) -> reqwest::Client {
        self.inner.current.read().expect("hoster lock").0.clone()
    }

    fn proxy(&self) -> Option<ProxySetting> {
        self.inner.current.read().expect("hoster lock").1.clone()
    }

    pub fn network(&self) -> &Network {
        &self.inner.network
    }

    pub fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.client().get(url)
    }

    pub fn post(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.client().post(url)
    }
}

/// A fetched page: where it ended up after redirects, and its text.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: Url,
    pub status: u16,
    pub body: String,
}

/// Parses an embed URL given by a user or a provider.
pub fn parse_url(raw: &str) -> Result<Url> {
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::invalid("embed url", format!("{raw:?} is not a URL: {e}")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(Error::invalid(
            "embed url",
            format!("{raw:?} uses {other:?}, expected http or https"),
        )),
    }
}

/// `scheme://host[:port]` of a URL.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The headers a download of media found on `page` must send: the extraction User-Agent and the
/// hoster's Referer/Origin.
pub fn media_headers(page: &Url) -> BTreeMap<String, String> {
    let origin = origin_of(page);
    BTreeMap::from([
        ("User-Agent".to_owned(), USER_AGENT.to_owned()),
        ("Referer".to_owned(), format!("{origin}/")),
        ("Origin".to_owned(), origin),
    ])
}

/// A media source whose kind follows from the URL (`.m3u8` → HLS, anything else → MP4).
pub fn source_from_url(url: String, page: &Url) -> MediaSource {
    let kind = kind_of(&url);
    MediaSource {
        url,
        kind,
        headers: media_headers(page),
    }
}

pub fn kind_of(url: &str) -> MediaKind {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    if path.to_ascii_lowercase().ends_with(".m3u8") {
        MediaKind::Hls
    } else {
        MediaKind::Mp4
    }
}

/// Resolves a URL found in a page (absolute, `//host/...` or `/path`) against the page URL; only
/// http(s) results are accepted.
pub fn absolutize(found: &str, page: &Url, what: &str) -> Result<String> {
    let found = found.trim();
    let url = page
        .join(found)
        .map_err(|_| Error::parse(format!("{what} (not a URL: {:?})", short(found))))?;
    match url.scheme() {
        "http" | "https" => Ok(url.to_string()),
        _ => Err(Error::parse(format!(
            "{what} (not an http URL: {:?})",
            short(found)
        ))),
    }
}

/// At most 80 chars of outside text for error messages.
pub fn short(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Whether a page is an anti-bot challenge (DDoS-Guard, Cloudflare, captcha) rather than content.
pub fn is_challenge(body: &str) -> bool {
    challenge_kind(200, &HeaderMap::new(), body).is_some()
}

fn challenge_kind(status: u16, headers: &HeaderMap, body: &str) -> Option<&'static str> {
    crate::http::detect_challenge(status, headers, body)
}

/// The error for a page that lacks `what`: a challenge page is `Blocked`, anything else changed
/// markup (`Parse`). Checked only when the payload is missing, so a player page that merely
/// mentions a captcha script still works.
pub fn missing(hoster: &str, what: &str, body: &str) -> Error {
    if let Some(kind) = challenge_kind(200, &HeaderMap::new(), body) {
        Error::Blocked {
            site: hoster.to_owned(),
            reason: format!("{kind} challenge page instead of the player"),
        }
    } else {
        Error::parse(format!("{hoster} {what}"))
    }
}

/// Maps an HTTP status and body to the typed error for it, or `Ok` for a usable page.
pub fn check_status(
    hoster: &str,
    url: &Url,
    status: u16,
    headers: &HeaderMap,
    body: &str,
) -> Result<()> {
    let challenge = || challenge_kind(status, headers, body);
    match status {
        200..=299 => Ok(()),
        404 | 410 => Err(Error::NotFound(format!("{hoster} video at {url}"))),
        403 | 429 | 503 if challenge().is_some() => Err(Error::Blocked {
            site: hoster.to_owned(),
            reason: format!(
                "HTTP {status} {} challenge page",
                challenge().unwrap_or("bot")
            ),
        }),
        403 => Err(Error::Blocked {
            site: hoster.to_owned(),
            reason: "HTTP 403".to_owned(),
        }),
        _ => Err(Error::Http(format!(
            "{hoster}: HTTP {status} from {}{}",
            host_of(url),
            url.path()
        ))),
    }
}

fn request_error(hoster: &str, url: &Url, e: &reqwest::Error) -> Error {
    let text = format!(
        "{hoster}: {}",
        describe_transport(e, &host_of(url), Some(REQUEST_TIMEOUT))
    );
    if e.is_timeout() {
        Error::Timeout(text)
    } else {
        Error::Http(text)
    }
}

/// GETs a page with the browser client, optionally with a Referer, and checks its status.
pub async fn get_page(
    client: &HosterClient,
    hoster: &str,
    url: &Url,
    referer: Option<&str>,
) -> Result<Page> {
    let mut request = client.get(url.clone());
    if let Some(r) = referer {
        request = request.header(reqwest::header::REFERER, r);
    }
    send(client, hoster, request).await
}

/// Sends a prepared request on `client`, reads the body (capped) and checks the status. A hoster
/// that is cooling down fails at once; unreachable hosters and 5xx answers count towards that.
pub async fn send(
    client: &HosterClient,
    hoster: &str,
    request: reqwest::RequestBuilder,
) -> Result<Page> {
    let network = client.network();
    network.check(Peer::Hoster, hoster)?;
    let request = request
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| Error::Http(format!("{hoster}: cannot build request: {e}")))?;
    let requested = request.url().clone();
    let failed = |error: Error| {
        if let Some(cooldown) = network.failed(Peer::Hoster, hoster, &error.to_string()) {
            tracing::warn!(hoster, cooldown_secs = cooldown.as_secs(), "hoster is down");
        }
        error
    };
    let mut response = match client.client().execute(request).await {
        Ok(r) => r,
        Err(e) => {
            if let Some(proxy) = client.proxy()
                && is_transport(&e)
                && let Some(problem) = proxy.probe().await
            {
                return Err(proxy.error(problem));
            }
            return Err(failed(request_error(hoster, &requested, &e)));
        }
    };
    let status = response.status().as_u16();
    let final_url = response.url().clone();
    let headers = response.headers().clone();
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| failed(request_error(hoster, &final_url, &e)))?
    {
        if bytes.len() + chunk.len() > MAX_PAGE_BYTES {
            return Err(Error::parse(format!(
                "{hoster} page (larger than {MAX_PAGE_BYTES} bytes)"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    let body = String::from_utf8_lossy(&bytes).into_owned();
    if status >= 500 {
        failed(Error::Http(format!(
            "{hoster}: HTTP {status} from {}",
            host_of(&final_url)
        )));
    } else {
        network.succeeded(Peer::Hoster, hoster);
    }
    check_status(hoster, &final_url, status, &headers, &body)?;
    Ok(Page {
        url: final_url,
        status,
        body,
    })
}

/// The first capture group of the first match, if any.
pub fn capture<'a>(re: &Regex, text: &'a str) -> Option<&'a str> {
    re.captures(text).and_then(|c| c.get(1)).map(|m| m.as_str())
}

/// Lenient base64: standard or URL-safe alphabet, padding optional, whitespace ignored.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let trimmed = cleaned.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
        .ok()
}

/// base64 → UTF-8 text.
pub fn b64_decode_str(text: &str) -> Option<String> {
    String::from_utf8(b64_decode(text)?).ok()
}

/// Undoes the common JS string-literal escapes (`\"`, `\/`, `\uXXXX`, ...).
pub fn unescape_js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

impl crate::network::NetworkClient for HosterClient {
    fn name(&self) -> String {
        "hosters".to_owned()
    }

    fn reconfigure(&self, config: &crate::config::Config) -> Result<()> {
        HosterClient::reconfigure(self, &config.network)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls_kind_is_decided_by_the_path_not_the_query() {
        assert_eq!(kind_of("http://x/a/master.m3u8?t=1"), MediaKind::Hls);
        assert_eq!(kind_of("http://x/a.mp4?f=.m3u8x"), MediaKind::Mp4);
    }

    #[test]
    fn challenge_pages_are_recognised() {
        assert!(is_challenge("<html><title>DDoS-Guard</title>"));
        assert!(is_challenge("<title>Just a moment...</title>"));
        assert!(!is_challenge("<video src=x></video>"));
    }

    #[test]
    fn urls_found_in_pages_resolve_against_the_page() {
        let page = Url::parse("https://host.example/e/abc").unwrap();
        assert_eq!(
            absolutize("//cdn.example/x.mp4", &page, "u").unwrap(),
            "https://cdn.example/x.mp4"
        );
        assert_eq!(
            absolutize("/x.mp4", &page, "u").unwrap(),
            "https://host.example/x.mp4"
        );
        assert!(absolutize("javascript:alert(1)", &page, "u").is_err());
    }
}
