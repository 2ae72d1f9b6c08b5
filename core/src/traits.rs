//! The two plugin contracts. Built-ins, native plugins and rhai scripts all implement these and
//! are registered into [`crate::registry::Registry`].

use async_trait::async_trait;

use crate::error::Result;
use crate::model::follow::Release;
use crate::model::{EpisodeStreams, MediaSource, SearchResult, SeriesInfo, SeriesKey};

/// A content site: which series exist, which episodes they have, where each episode streams.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Stable id (`aniworld`, `sto`, a plugin's id). Also the `site` of the series it knows.
    fn id(&self) -> &str;

    /// Human-readable name.
    fn name(&self) -> &str {
        self.id()
    }

    async fn search(&self, query: &str) -> Result<Vec<SearchResult>>;

    /// Series details with every season; movies/specials as season 0.
    async fn series(&self, key: &SeriesKey) -> Result<SeriesInfo>;

    /// One episode page: titles, languages and every hoster entry (hidden ones included).
    async fn episode(&self, key: &SeriesKey, season: u32, episode: u32) -> Result<EpisodeStreams>;

    /// Follows a provider redirect link to the hoster's embed URL. Links that already are embed URLs
    /// are returned unchanged.
    async fn resolve_redirect(&self, link: &str) -> Result<String>;

    /// The site's list of latest releases, newest first, when it has one (`Ok(None)` = the site
    /// has none; follow checks then read the season pages of every followed series).
    async fn latest_releases(&self) -> Result<Option<Vec<Release>>> {
        Ok(None)
    }

    /// Derives the series key from a provider link (`/anime/stream/{key}`, a full URL, or a bare key).
    /// `None` when the link does not belong to this provider.
    fn key_from_link(&self, link: &str) -> Option<SeriesKey>;
}

/// A video hoster: embed page → media URL.
#[async_trait]
pub trait Hoster: Send + Sync {
    /// Name as episode pages give it (`VOE`, `Filemoon`, ...). Matched case-insensitively.
    fn name(&self) -> &str;

    /// Domains this hoster is known to use, for guessing the extractor from a URL (`voe.sx`).
    fn domains(&self) -> Vec<String> {
        Vec::new()
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource>;
}
