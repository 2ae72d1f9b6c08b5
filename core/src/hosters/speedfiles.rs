//! SpeedFiles (MP4): a script variable holds the URL, encoded as
//! base64 → swap case → reverse → base64 → reverse → hex pairs → minus 3 → swap case → reverse → base64.

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use url::Url;

use super::common::{self, b64_decode_str};
use crate::error::{Error, Result};
use crate::model::{MediaKind, MediaSource};
use crate::traits::Hoster;

pub const NAME: &str = "SpeedFiles";

static STRING_VAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:var|let|const)\s+[A-Za-z_$][\w$]*\s*=\s*["']([A-Za-z0-9+/=]{16,})["']"#)
        .expect("static regex")
});

pub struct SpeedFiles {
    client: common::HosterClient,
}

impl SpeedFiles {
    pub fn new(client: impl Into<common::HosterClient>) -> Self {
        SpeedFiles {
            client: client.into(),
        }
    }
}

#[async_trait]
impl Hoster for SpeedFiles {
    fn name(&self) -> &str {
        NAME
    }

    fn domains(&self) -> Vec<String> {
        ["speedfiles.net"].map(String::from).to_vec()
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource> {
        let url = common::parse_url(embed_url)?;
        let page = common::get_page(&self.client, NAME, &url, None).await?;
        let media = parse_page(&page.body, &page.url)?;
        Ok(MediaSource {
            url: media,
            kind: MediaKind::Mp4,
            headers: common::media_headers(&page.url),
        })
    }
}

/// The media URL hidden in the first script variable that decodes to one.
pub fn parse_page(body: &str, page: &Url) -> Result<String> {
    let mut saw_candidate = false;
    for caps in STRING_VAR.captures_iter(body) {
        let Some(encoded) = caps.get(1) else { continue };
        saw_candidate = true;
        if let Some(url) = decode(encoded.as_str()).filter(|u| u.starts_with("http")) {
            return common::absolutize(&url, page, "SpeedFiles media URL");
        }
    }
    if saw_candidate {
        Err(Error::parse(
            "SpeedFiles encoded source (does not decode to a URL)",
        ))
    } else {
        Err(common::missing(NAME, "encoded source variable", body))
    }
}

/// Undoes the SpeedFiles encoding.
pub fn decode(encoded: &str) -> Option<String> {
    let step = b64_decode_str(encoded)?;
    let step: String = swap_case(&step).chars().rev().collect();
    let step: String = b64_decode_str(&step)?.chars().rev().collect();
    if step.len() & 1 != 0 || !step.is_ascii() {
        return None;
    }
    let mut shifted = String::with_capacity(step.len() / 2);
    for pair in step.as_bytes().chunks(2) {
        let hex = std::str::from_utf8(pair).ok()?;
        let code = u32::from_str_radix(hex, 16).ok()?.checked_sub(3)?;
        shifted.push(char::from_u32(code)?);
    }
    let step: String = swap_case(&shifted).chars().rev().collect();
    b64_decode_str(&step)
}

fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c
            }
        })
        .collect()
}
