//! Filemoon (HLS): `GET {origin}/api/videos/{code}` returns an AES-256-GCM encrypted playback
//! description; older pages carry a p,a,c,k,e,d-packed player with `file:"...m3u8"`.

use std::sync::LazyLock;

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use async_trait::async_trait;
use regex::Regex;
use serde_json::Value;
use url::Url;

use super::common::{self, capture};
use super::unpack;
use crate::error::{Error, Result};
use crate::model::{MediaKind, MediaSource};
use crate::traits::Hoster;

pub const NAME: &str = "Filemoon";

static FILE_M3U8: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"file\s*:\s*["']([^"']+\.m3u8[^"']*)["']"#).expect("static regex")
});
static IFRAME_SRC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)<iframe\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']"#).expect("static regex")
});

/// What the legacy player page yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilemoonPage {
    Media(String),
    /// The player lives in an iframe on another host.
    Iframe(String),
}

pub struct Filemoon {
    client: common::HosterClient,
}

impl Filemoon {
    pub fn new(client: impl Into<common::HosterClient>) -> Self {
        Filemoon {
            client: client.into(),
        }
    }

    async fn via_api(&self, embed: &Url) -> Result<String> {
        let code = video_code(embed)?;
        let api = embed
            .join(&format!("/api/videos/{code}"))
            .map_err(|_| Error::parse("Filemoon API URL"))?;
        let request = self
            .client
            .get(api)
            .header(reqwest::header::REFERER, embed.as_str())
            .header(reqwest::header::ACCEPT, "application/json");
        let answer = common::send(&self.client, NAME, request).await?;
        parse_api(&answer.body)
    }

    async fn via_page(&self, embed: &Url) -> Result<(String, Url)> {
        let mut url = embed.clone();
        let mut referer: Option<String> = None;
        // The legacy page may wrap the player in one iframe.
        for _ in 0..2 {
            let page = common::get_page(&self.client, NAME, &url, referer.as_deref()).await?;
            match parse_page(&page.body, &page.url)? {
                FilemoonPage::Media(m) => return Ok((m, page.url)),
                FilemoonPage::Iframe(next) => {
                    referer = Some(page.url.to_string());
                    url = common::parse_url(&next)?;
                }
            }
        }
        Err(Error::parse("Filemoon player (nested iframes)"))
    }
}

#[async_trait]
impl Hoster for Filemoon {
    fn name(&self) -> &str {
        NAME
    }

    fn domains(&self) -> Vec<String> {
        [
            "filemoon.sx",
            "filemoon.to",
            "filemoon.in",
            "filemoon.nl",
            "filemoon.art",
            "filemoon.eu",
            "filemoon.wf",
            "filemoon.link",
            "kerapoxy.cc",
            "moonmov.pro",
            "bf0skv.org",
            "byse.sx",
        ]
        .map(String::from)
        .to_vec()
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource> {
        let embed = common::parse_url(embed_url)?;
        let api_error = match self.via_api(&embed).await {
            Ok(url) => {
                return Ok(MediaSource {
                    url,
                    kind: MediaKind::Hls,
                    headers: common::media_headers(&embed),
                });
            }
            Err(e) => e,
        };
        tracing::debug!(error = %api_error, "Filemoon API failed, trying the player page");
        match self.via_page(&embed).await {
            Ok((url, page)) => Ok(MediaSource {
                kind: common::kind_of(&url),
                url,
                headers: common::media_headers(&page),
            }),
            // A page without the packed player says less than a blocked or failing API.
            Err(Error::Parse { .. })
                if matches!(
                    api_error,
                    Error::Blocked { .. } | Error::Http(_) | Error::Timeout(_)
                ) =>
            {
                Err(api_error)
            }
            Err(page_error) => Err(page_error),
        }
    }
}

/// The video code of an embed URL (`/e/{code}`, `/d/{code}`, or the last path segment).
pub fn video_code(embed: &Url) -> Result<String> {
    let segments: Vec<&str> = embed
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    let code = segments
        .iter()
        .position(|s| matches!(*s, "e" | "d" | "v" | "download"))
        .and_then(|i| segments.get(i + 1))
        .or(segments.last())
        .copied()
        .unwrap_or("");
    let valid = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '~');
    if valid {
        Ok(code.to_owned())
    } else {
        Err(Error::invalid(
            "embed url",
            format!("no Filemoon video code in {embed}"),
        ))
    }
}

/// Decrypts the API answer's `playback` and picks the highest source.
pub fn parse_api(body: &str) -> Result<String> {
    let json: Value = serde_json::from_str(body)
        .map_err(|_| common::missing(NAME, "API answer (not JSON)", body))?;
    let playback = json
        .get("playback")
        .ok_or_else(|| Error::parse("Filemoon API field `playback`"))?;
    let field = |name: &str| -> Result<Vec<u8>> {
        playback
            .get(name)
            .and_then(Value::as_str)
            .and_then(common::b64_decode)
            .ok_or_else(|| Error::parse(format!("Filemoon playback field `{name}`")))
    };
    let parts = playback
        .get("key_parts")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::parse("Filemoon playback field `key_parts`"))?;
    let mut key = Vec::new();
    for part in parts {
        let bytes = part
            .as_str()
            .and_then(common::b64_decode)
            .ok_or_else(|| Error::parse("Filemoon playback `key_parts` entry"))?;
        key.extend(bytes);
    }
    let iv = field("iv")?;
    let payload = field("payload")?;
    let plain = decrypt(&key, &iv, &payload)?;
    let sources: Value = serde_json::from_slice(&plain)
        .map_err(|_| Error::parse("Filemoon decrypted playback (not JSON)"))?;
    best_source(&sources)
}

/// AES-256-GCM with the tag as the last 16 bytes of `payload`.
pub fn decrypt(key: &[u8], iv: &[u8], payload: &[u8]) -> Result<Vec<u8>> {
    if key.len() != 32 {
        return Err(Error::parse(format!(
            "Filemoon key ({} bytes, expected 32)",
            key.len()
        )));
    }
    if iv.len() != 12 {
        return Err(Error::parse(format!(
            "Filemoon iv ({} bytes, expected 12)",
            iv.len()
        )));
    }
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| Error::parse("Filemoon key"))?;
    cipher
        .decrypt(Nonce::from_slice(iv), payload)
        .map_err(|_| Error::parse("Filemoon payload (authentication failed)"))
}

fn best_source(json: &Value) -> Result<String> {
    let sources = json
        .get("sources")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::parse("Filemoon playback `sources`"))?;
    sources
        .iter()
        .filter_map(|s| {
            let url = s.get("url").or_else(|| s.get("file"))?.as_str()?;
            let height = s.get("height").and_then(Value::as_u64).unwrap_or(0);
            Some((height, url))
        })
        .filter(|(_, url)| url.starts_with("http"))
        .max_by_key(|(height, _)| *height)
        .map(|(_, url)| url.to_owned())
        .ok_or_else(|| Error::parse("Filemoon playback source with a url"))
}

/// The legacy player page: `file:"...m3u8"` inside a packed script (or plain), or an iframe to follow.
pub fn parse_page(body: &str, page: &Url) -> Result<FilemoonPage> {
    for script in unpack::unpack_all(body) {
        if let Some(file) = capture(&FILE_M3U8, &script) {
            return Ok(FilemoonPage::Media(common::absolutize(
                file,
                page,
                "Filemoon file URL",
            )?));
        }
    }
    if let Some(file) = capture(&FILE_M3U8, body) {
        return Ok(FilemoonPage::Media(common::absolutize(
            file,
            page,
            "Filemoon file URL",
        )?));
    }
    if let Some(src) = capture(&IFRAME_SRC, body) {
        return Ok(FilemoonPage::Iframe(common::absolutize(
            src,
            page,
            "Filemoon iframe",
        )?));
    }
    Err(common::missing(
        NAME,
        "player (no packed script with file:\"...m3u8\")",
        body,
    ))
}
