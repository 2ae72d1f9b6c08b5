//! s.to (serienstream): TV series, layout since January 2026. Series `/serie/{key}`, seasons
//! `/serie/{key}/staffel-{N}` (0 = movies), episodes `/serie/{key}/staffel-{N}/episode-{M}`,
//! hoster links `/r?t=<token>` (may answer with a Turnstile challenge: reported as blocked).

pub mod parse;

use async_trait::async_trait;
use futures::future::try_join_all;

use crate::config::ProviderConfig;
use crate::error::{Error, Result};
use crate::http::SiteClient;
use crate::model::{EpisodeStreams, SearchResult, Season, SeriesInfo, SeriesKey, StreamLink};
use crate::providers::{key_after_prefix, query_escape};
use crate::traits::Provider;

pub const ID: &str = "sto";

/// The built-in s.to provider.
#[derive(Debug, Clone)]
pub struct StoProvider {
    client: SiteClient,
}

impl StoProvider {
    pub fn new(config: &ProviderConfig) -> Result<Self> {
        Ok(Self::with_client(SiteClient::new(ID, config)?))
    }

    pub fn with_client(client: SiteClient) -> Self {
        StoProvider { client }
    }

    pub fn client(&self) -> &SiteClient {
        &self.client
    }

    fn series_path(key: &SeriesKey) -> String {
        format!("/serie/{key}")
    }

    fn hit_to_result(&self, hit: parse::SearchHit) -> Option<SearchResult> {
        let key = SeriesKey::parse(&hit.key).ok()?;
        Some(SearchResult {
            link: self.client.url(&Self::series_path(&key)).ok()?,
            cover: hit.cover.and_then(|c| self.client.url(&c).ok()),
            key,
            site: ID.to_owned(),
            name: hit.name,
            year: hit.year,
            description: hit.description,
        })
    }
}

#[async_trait]
impl Provider for StoProvider {
    fn id(&self) -> &str {
        ID
    }

    fn name(&self) -> &str {
        "S.to"
    }

    /// `GET /ajax/seriesSearch` first; `POST /ajax/search` when that fails or finds nothing.
    async fn search(&self, query: &str) -> Result<Vec<SearchResult>> {
        let query = query.trim();
        if query.is_empty() {
            return Err(Error::invalid("query", "the search text is empty"));
        }
        let first = match self
            .client
            .get(&format!(
                "/ajax/seriesSearch?keyword={}",
                query_escape(query)
            ))
            .await
        {
            Ok(page) => parse::parse_series_search(&page.body),
            Err(e) => Err(e),
        };
        let first = first.map(|hits| {
            hits.into_iter()
                .filter_map(|h| self.hit_to_result(h))
                .collect::<Vec<_>>()
        });
        match first {
            Ok(hits) if !hits.is_empty() => return Ok(hits),
            Err(e @ Error::Blocked { .. }) => return Err(e),
            _ => {}
        }
        let second = match self
            .client
            .post_form("/ajax/search", &[("keyword", query)])
            .await
        {
            Ok(page) => parse::parse_form_search(&page.body).map(|hits| {
                hits.into_iter()
                    .filter_map(|h| self.hit_to_result(h))
                    .collect::<Vec<_>>()
            }),
            Err(e) => Err(e),
        };
        match (second, first) {
            (Ok(hits), _) => Ok(hits),
            (Err(_), Ok(empty)) => Ok(empty),
            (Err(e), Err(_)) => Err(e),
        }
    }

    async fn series(&self, key: &SeriesKey) -> Result<SeriesInfo> {
        let series_path = Self::series_path(key);
        let page = self.client.get(&series_path).await?;
        let head = parse::parse_series_page(&page.body)?;
        let series_path = &series_path;
        let fetches = head.seasons.iter().map(|&number| async move {
            let season_page = self
                .client
                .get(&format!("{series_path}/staffel-{number}"))
                .await?;
            let mut episodes = parse::parse_season_page(&season_page.body, number)?;
            for e in &mut episodes {
                e.url = e.url.as_deref().and_then(|u| self.client.url(u).ok());
            }
            Ok::<Season, Error>(Season { number, episodes })
        });
        let mut seasons = try_join_all(fetches).await?;
        seasons.sort_by_key(|s| s.number);
        Ok(SeriesInfo {
            key: key.clone(),
            site: ID.to_owned(),
            name: head.name,
            year: head.year,
            end_year: head.end_year,
            description: head.description,
            cover: head.cover.and_then(|c| self.client.url(&c).ok()),
            genres: head.genres,
            alternative_titles: Vec::new(),
            seasons,
            url: page.url,
        })
    }

    async fn episode(&self, key: &SeriesKey, season: u32, episode: u32) -> Result<EpisodeStreams> {
        let page = self
            .client
            .get(&format!("/serie/{key}/staffel-{season}/episode-{episode}"))
            .await?;
        let parsed = parse::parse_episode_page(&page.body)?;
        let links = parsed
            .buttons
            .into_iter()
            .filter_map(|b| {
                Some(StreamLink {
                    url: self.client.url(&b.play_url).ok()?,
                    language: b.language,
                    hoster: b.hoster,
                })
            })
            .collect();
        Ok(EpisodeStreams {
            key: key.clone(),
            season,
            episode,
            title_de: parsed.title_de,
            title_en: parsed.title_en,
            languages: parsed.languages,
            links,
        })
    }

    async fn resolve_redirect(&self, link: &str) -> Result<String> {
        self.client.resolve_redirect(link).await
    }

    fn key_from_link(&self, link: &str) -> Option<SeriesKey> {
        key_after_prefix(link, &["serie/stream", "serie"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_from_every_kind_of_link() {
        let p = StoProvider::new(&ProviderConfig::new("https://s.to")).unwrap();
        for link in [
            "/serie/breaking-bad",
            "https://s.to/serie/breaking-bad/staffel-1/episode-2",
            "https://s.to/serie/stream/breaking-bad",
            "breaking-bad",
        ] {
            assert_eq!(
                p.key_from_link(link).map(|k| k.to_string()).as_deref(),
                Some("breaking-bad"),
                "{link}"
            );
        }
        assert_eq!(p.key_from_link("/anime/stream/naruto"), None);
    }
}
