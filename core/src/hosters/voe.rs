//! VOE: a stub page may send the browser to a mirror's `/e/{id}`; the player page carries the
//! sources in one of several encodings (see [`parse_page`]).

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use serde_json::Value;
use url::Url;

use super::common::{self, b64_decode_str, capture};
use crate::error::{Error, Result};
use crate::model::{MediaKind, MediaSource};
use crate::traits::Hoster;

pub const NAME: &str = "VOE";
/// Stub pages chain at most this many times before we give up.
const MAX_HOPS: usize = 4;
const JUNK_TOKENS: [&str; 7] = ["@$", "^^", "~@", "%?", "*~", "!!", "#&"];

static JSON_SCRIPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)<script[^>]*type\s*=\s*["']application/json["'][^>]*>(.*?)</script>"#)
        .expect("static regex")
});
static OLD_HLS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"['"]hls['"]\s*:\s*['"]([^'"]+)['"]"#).expect("static regex"));
static OLD_MP4: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"['"]mp4['"]\s*:\s*['"]([^'"]+)['"]"#).expect("static regex"));
static BLOB: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"['"]([A-Za-z0-9+/]{40,}={0,2})['"]"#).expect("static regex"));
static STUB_REDIRECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"window\.location\.href\s*=\s*['"]([^'"]+)['"]"#).expect("static regex")
});

/// What one VOE page yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoePage {
    Media {
        url: String,
        kind: MediaKind,
    },
    /// A stub that sends the browser to a mirror's player page.
    Redirect(String),
}

pub struct Voe {
    client: common::HosterClient,
}

impl Voe {
    pub fn new(client: impl Into<common::HosterClient>) -> Self {
        Voe {
            client: client.into(),
        }
    }
}

#[async_trait]
impl Hoster for Voe {
    fn name(&self) -> &str {
        NAME
    }

    fn domains(&self) -> Vec<String> {
        [
            "voe.sx",
            "voe.to",
            "voe.bar",
            "voe-unblock.com",
            "voeunblock.com",
            "voeunbl0ck.com",
            "voeunblck.com",
            "voe-un-block.com",
            "un-block-voe.net",
            "voeun-block.net",
            "v-o-e-unblock.com",
            "audaciousdefaulthouse.com",
            "launchreliantcleaverriver.com",
            "jilliandescribecompany.com",
        ]
        .map(String::from)
        .to_vec()
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource> {
        let mut url = common::parse_url(embed_url)?;
        let mut referer: Option<String> = None;
        for _ in 0..MAX_HOPS {
            let page = common::get_page(&self.client, NAME, &url, referer.as_deref()).await?;
            match parse_page(&page.body, &page.url)? {
                VoePage::Media { url: media, kind } => {
                    return Ok(MediaSource {
                        url: media,
                        kind,
                        headers: common::media_headers(&page.url),
                    });
                }
                VoePage::Redirect(next) => {
                    referer = Some(page.url.to_string());
                    url = common::parse_url(&next)?;
                }
            }
        }
        Err(Error::parse(format!(
            "{NAME} player page (more than {MAX_HOPS} stub redirects)"
        )))
    }
}

/// Reads a VOE page: the JSON payload, then the older `'hls'`/`'mp4'` and reversed-blob forms,
/// then a stub redirect.
pub fn parse_page(body: &str, page: &Url) -> Result<VoePage> {
    if let Some(found) = from_json_payload(body) {
        return media(found, page);
    }
    if let Some(raw) = capture(&OLD_HLS, body) {
        return media((decode_maybe_b64(raw), MediaKind::Hls), page);
    }
    if let Some(raw) = capture(&OLD_MP4, body) {
        return media((decode_maybe_b64(raw), MediaKind::Mp4), page);
    }
    for caps in BLOB.captures_iter(body) {
        if let Some(found) = caps
            .get(1)
            .and_then(|m| b64_decode_str(m.as_str()))
            .and_then(|text| {
                let reversed: String = text.chars().rev().collect();
                serde_json::from_str::<Value>(&reversed).ok()
            })
            .and_then(|json| sources_in(&json))
        {
            return media(found, page);
        }
    }
    if let Some(next) = capture(&STUB_REDIRECT, body) {
        return Ok(VoePage::Redirect(common::absolutize(
            next,
            page,
            "VOE stub redirect",
        )?));
    }
    if JSON_SCRIPT.is_match(body) {
        return Err(Error::parse("VOE JSON payload (does not decode)"));
    }
    Err(common::missing(
        NAME,
        "payload (no JSON script, 'hls', 'mp4' or stub redirect)",
        body,
    ))
}

fn media((url, kind): (String, MediaKind), page: &Url) -> Result<VoePage> {
    Ok(VoePage::Media {
        url: common::absolutize(&url, page, "VOE media URL")?,
        kind,
    })
}

fn decode_maybe_b64(raw: &str) -> String {
    if raw.starts_with("http") || raw.starts_with("//") {
        raw.to_owned()
    } else {
        b64_decode_str(raw).unwrap_or_else(|| raw.to_owned())
    }
}

fn from_json_payload(body: &str) -> Option<(String, MediaKind)> {
    JSON_SCRIPT.captures_iter(body).find_map(|caps| {
        let inner = caps.get(1)?.as_str().trim();
        let encoded = match serde_json::from_str::<Value>(inner).ok()? {
            Value::String(s) => s,
            Value::Array(items) => items.into_iter().find_map(|v| match v {
                Value::String(s) => Some(s),
                _ => None,
            })?,
            _ => return None,
        };
        sources_in(&decode_payload(&encoded)?)
    })
}

/// `source` (HLS) first, then `direct_access_url` (MP4), then the old keys.
fn sources_in(json: &Value) -> Option<(String, MediaKind)> {
    let text = |key: &str| {
        json.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    if let Some(s) = text("source").or_else(|| text("hls")) {
        return Some((s, MediaKind::Hls));
    }
    if let Some(s) = text("direct_access_url").or_else(|| text("mp4")) {
        return Some((s, MediaKind::Mp4));
    }
    text("file").map(|s| {
        let kind = common::kind_of(&s);
        (s, kind)
    })
}

/// The current payload: ROT13 → drop junk tokens → base64 → minus 3 per char → reverse → base64 → JSON.
pub fn decode_payload(encoded: &str) -> Option<Value> {
    let rotated: String = encoded.chars().map(rot13).collect();
    let mut cleaned = rotated;
    for junk in JUNK_TOKENS {
        cleaned = cleaned.replace(junk, "_");
    }
    cleaned.retain(|c| c != '_');
    let step = b64_decode_str(&cleaned)?;
    let shifted: Option<String> = step
        .chars()
        .map(|c| char::from_u32((c as u32).checked_sub(3)?))
        .collect();
    let reversed: String = shifted?.chars().rev().collect();
    let json_text = b64_decode_str(&reversed)?;
    serde_json::from_str(&json_text).ok()
}

fn rot13(c: char) -> char {
    match c {
        'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
        'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://voe.sx/e/abc").unwrap()
    }

    #[test]
    fn stub_page_yields_the_mirror_url() {
        let body = "<script>window.location.href = 'https://mirror.example/e/abc';</script>";
        assert_eq!(
            parse_page(body, &page()).unwrap(),
            VoePage::Redirect("https://mirror.example/e/abc".into())
        );
    }

    #[test]
    fn old_hls_form_is_base64() {
        let body = "var sources = {'hls': 'aHR0cHM6Ly9jZG4uZXhhbXBsZS9tYXN0ZXIubTN1OA=='};";
        assert_eq!(
            parse_page(body, &page()).unwrap(),
            VoePage::Media {
                url: "https://cdn.example/master.m3u8".into(),
                kind: MediaKind::Hls
            }
        );
    }

    #[test]
    fn page_without_payload_is_a_parse_error_naming_it() {
        let err = parse_page("<html></html>", &page()).unwrap_err();
        assert!(matches!(err, Error::Parse { ref what } if what.contains("payload")));
    }
}
