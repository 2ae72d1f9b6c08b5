//! Vidoza (MP4): `sourcesCode: [{ src: "..." }]` in the player config; older pages use `<source src>`.

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use url::Url;

use super::common::{self, capture};
use crate::error::Result;
use crate::model::MediaSource;
use crate::traits::Hoster;

pub const NAME: &str = "Vidoza";

static SOURCES_CODE_SRC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)sourcesCode\s*:\s*\[\s*\{[^\]]*?\bsrc\s*:\s*["']([^"']+)["']"#)
        .expect("static regex")
});
static SOURCE_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?is)<source\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']"#).expect("static regex")
});

pub struct Vidoza {
    client: common::HosterClient,
}

impl Vidoza {
    pub fn new(client: impl Into<common::HosterClient>) -> Self {
        Vidoza {
            client: client.into(),
        }
    }
}

#[async_trait]
impl Hoster for Vidoza {
    fn name(&self) -> &str {
        NAME
    }

    fn domains(&self) -> Vec<String> {
        ["vidoza.net", "vidoza.co", "vidoza.org", "videzz.net"]
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

/// The MP4 URL of a Vidoza player page.
pub fn parse_page(body: &str, page: &Url) -> Result<String> {
    let found = capture(&SOURCES_CODE_SRC, body).or_else(|| capture(&SOURCE_TAG, body));
    match found {
        Some(src) => common::absolutize(&common::unescape_js(src), page, "Vidoza source URL"),
        None => Err(common::missing(
            NAME,
            "player source (no `sourcesCode` src and no <source src>)",
            body,
        )),
    }
}
