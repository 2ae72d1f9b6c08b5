//! Luluvdo (HLS): the player data comes from `/dl?op=embed&file_code={id}&embed=1&referer=..&adb=0`
//! and holds `file: "..."`.

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use url::Url;

use super::common::{self, capture};
use crate::error::{Error, Result};
use crate::model::MediaSource;
use crate::traits::Hoster;

pub const NAME: &str = "Luluvdo";

static FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"file\s*:\s*["']([^"']+)["']"#).expect("static regex"));

pub struct Luluvdo {
    client: common::HosterClient,
}

impl Luluvdo {
    pub fn new(client: impl Into<common::HosterClient>) -> Self {
        Luluvdo {
            client: client.into(),
        }
    }
}

#[async_trait]
impl Hoster for Luluvdo {
    fn name(&self) -> &str {
        NAME
    }

    fn domains(&self) -> Vec<String> {
        [
            "luluvdo.com",
            "luluvid.com",
            "lulustream.com",
            "lulu.st",
            "luluvdoo.com",
        ]
        .map(String::from)
        .to_vec()
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource> {
        let embed = common::parse_url(embed_url)?;
        let file_code = file_code(&embed)?;
        let host = embed.host_str().unwrap_or_default().to_owned();
        let mut dl = embed
            .join("/dl")
            .map_err(|_| Error::parse("Luluvdo /dl URL"))?;
        dl.query_pairs_mut()
            .append_pair("op", "embed")
            .append_pair("file_code", &file_code)
            .append_pair("embed", "1")
            .append_pair("referer", &host)
            .append_pair("adb", "0");
        let origin = common::origin_of(&embed);
        let request = self
            .client
            .get(dl)
            .header(reqwest::header::REFERER, format!("{origin}/"))
            .header(reqwest::header::ORIGIN, origin);
        let page = common::send(&self.client, NAME, request).await?;
        let media = parse_page(&page.body, &page.url)?;
        Ok(common::source_from_url(media, &embed))
    }
}

/// The file code: the last path segment of the embed URL.
pub fn file_code(embed: &Url) -> Result<String> {
    embed
        .path_segments()
        .and_then(|mut s| s.rfind(|p| !p.is_empty()))
        .filter(|c| {
            c.len() <= 64
                && c.chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || ch == '~')
        })
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid("embed url", format!("no Luluvdo file code in {embed}")))
}

/// The `file: "..."` URL of the player data.
pub fn parse_page(body: &str, page: &Url) -> Result<String> {
    match capture(&FILE, body) {
        Some(file) => common::absolutize(&common::unescape_js(file), page, "Luluvdo file URL"),
        None => Err(common::missing(NAME, "player file (file: \"...\")", body)),
    }
}
