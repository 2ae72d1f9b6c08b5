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

    /// `GET /api/search/suggest` (the 2026 layout); when that is missing or unreadable, the old
    /// `GET /ajax/seriesSearch`, then `POST /ajax/search`. A site that cannot be reached, is down
    /// or blocked is reported at once (the other endpoints are on the same host).
    async fn search(&self, query: &str) -> Result<Vec<SearchResult>> {
        let query = query.trim();
        if query.is_empty() {
            return Err(Error::invalid("query", "the search text is empty"));
        }
        let to_results = |hits: Vec<parse::SearchHit>| {
            hits.into_iter()
                .filter_map(|h| self.hit_to_result(h))
                .collect::<Vec<_>>()
        };
        let escaped = query_escape(query);
        let suggest = match self
            .client
            .get(&format!("/api/search/suggest?term={escaped}"))
            .await
        {
            Ok(page) => parse::parse_suggest(&page.body).map(to_results),
            Err(e) => Err(e),
        };
        let mut first_error = match suggest {
            Ok(hits) => return Ok(hits),
            Err(e) if !falls_back(&e) => return Err(e),
            Err(e) => e,
        };
        tracing::debug!(error = %first_error, "s.to search suggestions failed; trying the old search");
        let old = match self
            .client
            .get(&format!("/ajax/seriesSearch?keyword={escaped}"))
            .await
        {
            Ok(page) => parse::parse_series_search(&page.body).map(to_results),
            Err(e) => Err(e),
        };
        match old {
            Ok(hits) if !hits.is_empty() => return Ok(hits),
            Ok(_) => {}
            Err(e) if !falls_back(&e) => return Err(e),
            Err(_) => {}
        }
        match self
            .client
            .post_form("/ajax/search", &[("keyword", query)])
            .await
        {
            Ok(page) => match parse::parse_form_search(&page.body) {
                Ok(hits) => return Ok(to_results(hits)),
                Err(e) => first_error = e,
            },
            Err(e) if !falls_back(&e) => return Err(e),
            Err(_) => {}
        }
        Err(first_error)
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

/// Whether another search endpoint of the same site may do better after `e` (it was missing or
/// answered something unreadable, not a site that is unreachable, down or blocked).
fn falls_back(e: &Error) -> bool {
    matches!(e, Error::NotFound(_) | Error::Parse { .. })
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
