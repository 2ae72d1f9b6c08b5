//! Vidmoly (HLS, sometimes MP4): `sources: [{file: "..."}]` in the player setup.

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use url::Url;

use super::common::{self, capture};
use crate::error::Result;
use crate::model::MediaSource;
use crate::traits::Hoster;

pub const NAME: &str = "Vidmoly";

static SOURCES_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)sources\s*:\s*\[\s*\{[^\]]*?\bfile\s*:\s*["']([^"']+)["']"#)
        .expect("static regex")
});

pub struct Vidmoly {
    client: common::HosterClient,
}

impl Vidmoly {
    pub fn new(client: impl Into<common::HosterClient>) -> Self {
        Vidmoly {
            client: client.into(),
        }
    }
}

#[async_trait]
impl Hoster for Vidmoly {
    fn name(&self) -> &str {
        NAME
    }

    fn domains(&self) -> Vec<String> {
        ["vidmoly.to", "vidmoly.me", "vidmoly.net", "vidmoly.biz"]
            .map(String::from)
            .to_vec()
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource> {
        let url = common::parse_url(embed_url)?;
        let page = common::get_page(&self.client, NAME, &url, None).await?;
        let media = parse_page(&page.body, &page.url)?;
        Ok(common::source_from_url(media, &page.url))
    }
}

/// The media URL of a Vidmoly player page.
pub fn parse_page(body: &str, page: &Url) -> Result<String> {
    match capture(&SOURCES_FILE, body) {
        Some(file) => common::absolutize(&common::unescape_js(file), page, "Vidmoly file URL"),
        None => Err(common::missing(
            NAME,
            "player sources (no `sources: [{file: ...}]`)",
            body,
        )),
    }
}
