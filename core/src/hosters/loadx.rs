//! LoadX (HLS): the embed redirects to `/video/{hash}/...`; the player then POSTs
//! `/player/index.php?data={hash}&do=getVideo` as XHR and gets JSON `videoSource`.

use async_trait::async_trait;
use serde_json::Value;
use url::Url;

use super::common;
use crate::error::{Error, Result};
use crate::model::MediaSource;
use crate::traits::Hoster;

pub const NAME: &str = "LoadX";

pub struct LoadX {
    client: common::HosterClient,
}

impl LoadX {
    pub fn new(client: impl Into<common::HosterClient>) -> Self {
        LoadX {
            client: client.into(),
        }
    }
}

#[async_trait]
impl Hoster for LoadX {
    fn name(&self) -> &str {
        NAME
    }

    fn domains(&self) -> Vec<String> {
        ["loadx.ws", "loadx.to"].map(String::from).to_vec()
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource> {
        let url = common::parse_url(embed_url)?;
        let page = common::get_page(&self.client, NAME, &url, None).await?;
        let hash = video_hash(&page.url).ok_or_else(|| {
            common::missing(
                NAME,
                "video hash in the player URL (/video/{hash}/...)",
                &page.body,
            )
        })?;
        let mut api = page
            .url
            .join("/player/index.php")
            .map_err(|_| Error::parse("LoadX player API URL"))?;
        api.query_pairs_mut()
            .append_pair("data", &hash)
            .append_pair("do", "getVideo");
        let request = self
            .client
            .post(api)
            .header("X-Requested-With", "XMLHttpRequest")
            .header(reqwest::header::REFERER, page.url.as_str())
            .header(reqwest::header::ORIGIN, common::origin_of(&page.url));
        let answer = common::send(&self.client, NAME, request).await?;
        let media = parse_api(&answer.body, &page.url)?;
        Ok(common::source_from_url(media, &page.url))
    }
}

/// The hash in `/video/{hash}/...` (the second path segment, as the player reads it).
pub fn video_hash(player: &Url) -> Option<String> {
    let mut segments = player.path_segments()?;
    segments.next()?;
    segments
        .next()
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_owned)
}

/// `videoSource` of the getVideo answer.
pub fn parse_api(body: &str, page: &Url) -> Result<String> {
    let json: Value = serde_json::from_str(body)
        .map_err(|_| common::missing(NAME, "getVideo answer (not JSON)", body))?;
    let source = json
        .get("videoSource")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Error::parse("LoadX getVideo field `videoSource`"))?;
    common::absolutize(source, page, "LoadX videoSource")
}
