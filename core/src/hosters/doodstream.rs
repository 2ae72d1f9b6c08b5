//! Doodstream (MP4) on any of its mirror hosts: the player asks `/pass_md5/...` on its own host
//! for a URL prefix, then appends 10 random characters, the page's token and the time.

use std::sync::LazyLock;

use async_trait::async_trait;
use rand::Rng;
use regex::Regex;
use url::Url;

use super::common::{self, capture};
use crate::error::{Error, Result};
use crate::model::{MediaKind, MediaSource};
use crate::traits::Hoster;

pub const NAME: &str = "Doodstream";

static PASS_MD5: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\$\.get\(\s*['"](/pass_md5/[^'"]+)['"]"#).expect("static regex")
});
static PLAYER_IFRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)<iframe\b[^>]*?\bsrc\s*=\s*["']([^"']*/e/[^"']+)["']"#)
        .expect("static regex")
});
static TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"[?&]token=([A-Za-z0-9_-]+)"#).expect("static regex"));

/// A Doodstream page: the player itself, or a `/d/{id}` download page embedding it in an iframe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoodPage {
    Player(DoodPlayer),
    Iframe(String),
}

/// What the player page gives: the pass_md5 path (on the page's host) and the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoodPlayer {
    pub pass_md5_path: String,
    pub token: String,
}

pub struct Doodstream {
    client: common::HosterClient,
}

impl Doodstream {
    pub fn new(client: impl Into<common::HosterClient>) -> Self {
        Doodstream {
            client: client.into(),
        }
    }
}

#[async_trait]
impl Hoster for Doodstream {
    fn name(&self) -> &str {
        NAME
    }

    fn domains(&self) -> Vec<String> {
        DOMAINS.iter().map(|d| (*d).to_owned()).collect()
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource> {
        let url = common::parse_url(embed_url)?;
        // The embed URL often redirects to the mirror of the day: everything after uses its host.
        let mut page = common::get_page(&self.client, NAME, &url, None).await?;
        let player = match parse_page(&page.body, &page.url)? {
            DoodPage::Player(player) => player,
            DoodPage::Iframe(src) => {
                let inner = common::parse_url(&src)?;
                page =
                    common::get_page(&self.client, NAME, &inner, Some(page.url.as_str())).await?;
                match parse_page(&page.body, &page.url)? {
                    DoodPage::Player(player) => player,
                    DoodPage::Iframe(_) => {
                        return Err(Error::parse("Doodstream player (nested iframes)"));
                    }
                }
            }
        };
        let pass_url = page
            .url
            .join(&player.pass_md5_path)
            .map_err(|_| Error::parse("Doodstream pass_md5 path"))?;
        let prefix_page =
            common::get_page(&self.client, NAME, &pass_url, Some(page.url.as_str())).await?;
        let media = media_url(
            &prefix_page.body,
            &player.token,
            &random_suffix(),
            chrono::Utc::now().timestamp_millis(),
        )?;
        Ok(MediaSource {
            url: media,
            kind: MediaKind::Mp4,
            headers: common::media_headers(&page.url),
        })
    }
}

/// The pass_md5 path and token of a Doodstream player page, or the player iframe of a `/d/` page.
pub fn parse_page(body: &str, page: &Url) -> Result<DoodPage> {
    let Some(pass_md5_path) = capture(&PASS_MD5, body) else {
        if let Some(src) = capture(&PLAYER_IFRAME, body) {
            return Ok(DoodPage::Iframe(common::absolutize(
                src,
                page,
                "Doodstream player iframe",
            )?));
        }
        return Err(common::missing(
            NAME,
            "pass_md5 request ($.get('/pass_md5/...'))",
            body,
        ));
    };
    let token =
        capture(&TOKEN, body).ok_or_else(|| common::missing(NAME, "token (token=...)", body))?;
    Ok(DoodPage::Player(DoodPlayer {
        pass_md5_path: pass_md5_path.to_owned(),
        token: token.to_owned(),
    }))
}

/// prefix (the pass_md5 answer) + random + `?token=..&expiry=..`.
pub fn media_url(prefix: &str, token: &str, random: &str, expiry_ms: i64) -> Result<String> {
    let prefix = prefix.trim();
    let valid = Url::parse(prefix)
        .map(|u| matches!(u.scheme(), "http" | "https"))
        .unwrap_or(false);
    if !valid {
        return Err(Error::parse(format!(
            "Doodstream pass_md5 answer (not a URL prefix: {:?})",
            common::short(prefix)
        )));
    }
    Ok(format!("{prefix}{random}?token={token}&expiry={expiry_ms}"))
}

fn random_suffix() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(10)
        .map(char::from)
        .collect()
}

/// Mirror hosts Doodstream has served from; the extractor itself never depends on them.
const DOMAINS: &[&str] = &[
    "doodstream.com",
    "doodstream.co",
    "dood.stream",
    "dood.to",
    "dood.so",
    "dood.la",
    "dood.ws",
    "dood.pm",
    "dood.sh",
    "dood.re",
    "dood.yt",
    "dood.wf",
    "dood.cx",
    "dood.li",
    "dood.watch",
    "dood.work",
    "doods.pro",
    "dooood.com",
    "d0000d.com",
    "d000d.com",
    "d0o0d.com",
    "do0od.com",
    "ds2play.com",
    "ds2video.com",
    "dsvplay.com",
    "vidply.com",
    "all3do.com",
    "doply.net",
    "vide0.net",
    "myvidplay.com",
    "playmogo.com",
    "dodsprt.com",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_url_appends_random_token_and_expiry() {
        assert_eq!(
            media_url("https://cdn.example/abc~\n", "tok", "0123456789", 42).unwrap(),
            "https://cdn.example/abc~0123456789?token=tok&expiry=42"
        );
    }

    #[test]
    fn a_reload_answer_is_not_a_prefix() {
        assert!(matches!(
            media_url("RELOAD", "t", "r", 1),
            Err(Error::Parse { .. })
        ));
    }
}
