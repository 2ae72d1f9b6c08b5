//! aniworld.to: anime. Series `/anime/stream/{key}`, seasons `/staffel-{N}`, movies `/filme` (season 0),
//! episodes `/staffel-{N}/episode-{M}` and `/filme/film-{K}`, hoster links `/redirect/{linkId}`.

pub mod parse;

use async_trait::async_trait;
use futures::future::try_join_all;

use crate::config::ProviderConfig;
use crate::error::{Error, Result};
use crate::http::SiteClient;
use crate::model::follow::Release;
use crate::model::{EpisodeStreams, SearchResult, Season, SeriesInfo, SeriesKey, StreamLink};
use crate::providers::{key_after_prefix, query_escape};
use crate::traits::Provider;

pub const ID: &str = "aniworld";

/// The built-in aniworld.to provider.
#[derive(Debug, Clone)]
pub struct AniworldProvider {
    client: SiteClient,
}

impl AniworldProvider {
    pub fn new(config: &ProviderConfig) -> Result<Self> {
        Ok(Self::with_client(SiteClient::new(ID, config)?))
    }

    pub fn with_client(client: SiteClient) -> Self {
        AniworldProvider { client }
    }

    pub fn client(&self) -> &SiteClient {
        &self.client
    }

    fn series_path(key: &SeriesKey) -> String {
        format!("/anime/stream/{key}")
    }

    fn season_path(key: &SeriesKey, season: u32) -> String {
        if season == 0 {
            format!("/anime/stream/{key}/filme")
        } else {
            format!("/anime/stream/{key}/staffel-{season}")
        }
    }

    fn episode_path(key: &SeriesKey, season: u32, episode: u32) -> String {
        if season == 0 {
            format!("/anime/stream/{key}/filme/film-{episode}")
        } else {
            format!("/anime/stream/{key}/staffel-{season}/episode-{episode}")
        }
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

    async fn search_json(&self, query: &str) -> Result<Vec<SearchResult>> {
        let page = self
            .client
            .get(&format!(
                "/ajax/seriesSearch?keyword={}",
                query_escape(query)
            ))
            .await?;
        let hits = parse::parse_series_search(&page.body)?;
        Ok(hits
            .into_iter()
            .filter_map(|h| self.hit_to_result(h))
            .collect())
    }

    async fn search_form(&self, query: &str) -> Result<Vec<SearchResult>> {
        let page = self
            .client
            .post_form("/ajax/search", &[("keyword", query)])
            .await?;
        let hits = parse::parse_form_search(&page.body)?;
        Ok(hits
            .into_iter()
            .filter_map(|h| self.hit_to_result(h))
            .collect())
    }
}

#[async_trait]
impl Provider for AniworldProvider {
    fn id(&self) -> &str {
        ID
    }

    fn name(&self) -> &str {
        "AniWorld"
    }

    /// `GET /ajax/seriesSearch` first; `POST /ajax/search` when that is missing, unreadable or
    /// finds nothing.
    async fn search(&self, query: &str) -> Result<Vec<SearchResult>> {
        let query = query.trim();
        if query.is_empty() {
            return Err(Error::invalid("query", "the search text is empty"));
        }
        match self.search_json(query).await {
            Ok(hits) if !hits.is_empty() => Ok(hits),
            // Unreachable, down, blocked: the other endpoint is on the same host.
            Err(e) if !matches!(e, Error::NotFound(_) | Error::Parse { .. }) => Err(e),
            first => {
                if let Err(e) = &first {
                    tracing::info!(error = %e, "seriesSearch failed, falling back to /ajax/search");
                }
                match (self.search_form(query).await, first) {
                    (Ok(hits), _) => Ok(hits),
                    // The first endpoint answered (with nothing): that answer stands.
                    (Err(_), Ok(empty)) => Ok(empty),
                    (Err(e), Err(_)) => Err(e),
                }
            }
        }
    }

    async fn series(&self, key: &SeriesKey) -> Result<SeriesInfo> {
        let series_path = Self::series_path(key);
        let page = self.client.get(&series_path).await?;
        let head = parse::parse_series_page(&page.body)?;
        let fetches = head.seasons.iter().map(|&number| async move {
            let season_page = self.client.get(&Self::season_path(key, number)).await?;
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
            alternative_titles: head.alternative_titles,
            seasons,
            url: page.url,
        })
    }

    async fn episode(&self, key: &SeriesKey, season: u32, episode: u32) -> Result<EpisodeStreams> {
        let page = self
            .client
            .get(&Self::episode_path(key, season, episode))
            .await?;
        let parsed = parse::parse_episode_page(&page.body)?;
        let links = parsed
            .entries
            .into_iter()
            .filter_map(|e| {
                Some(StreamLink {
                    url: self.client.url(&e.target).ok()?,
                    language: e.language,
                    hoster: e.hoster,
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

    /// `/neue-episoden`: one request tells which series got episodes lately.
    async fn latest_releases(&self) -> Result<Option<Vec<Release>>> {
        let page = self.client.get("/neue-episoden").await?;
        Ok(Some(parse::parse_new_episodes(&page.body)?))
    }

    fn key_from_link(&self, link: &str) -> Option<SeriesKey> {
        key_after_prefix(link, &["anime/stream"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> AniworldProvider {
        AniworldProvider::new(&ProviderConfig::new("https://aniworld.to")).unwrap()
    }

    #[test]
    fn key_from_every_kind_of_link() {
        let p = provider();
        for link in [
            "/anime/stream/attack-on-titan",
            "https://aniworld.to/anime/stream/attack-on-titan/staffel-2/episode-3",
            "http://127.0.0.1:4000/anime/stream/attack-on-titan/",
            "attack-on-titan",
        ] {
            assert_eq!(
                p.key_from_link(link).map(|k| k.to_string()).as_deref(),
                Some("attack-on-titan"),
                "{link}"
            );
        }
        for link in ["/serie/breaking-bad", "/anime/stream/../etc", "", "a b"] {
            assert_eq!(p.key_from_link(link), None, "{link}");
        }
    }
}
