//! What the providers say exists, cached: series info from the database while it is fresh
//! (`cache.series_ttl`), else from the provider (then stored), and the missing episodes of a
//! whole scanned library.
//!
//! Series are fetched concurrently; each site's [`crate::http::SiteClient`] keeps its own rate
//! limit, so concurrency never means more requests per second to a site.

use std::collections::{BTreeSet, HashMap};

use futures::StreamExt;

use crate::config::CacheConfig;
use crate::error::{Error, Result};
use crate::model::{MissingEpisodes, SeriesInfo, SeriesKey};
use crate::registry::Registry;
use crate::scanner::{ScanReport, ScannedSeries};
use crate::storage::Store;

/// Series fetched at once when the cache is cold.
const DEFAULT_CONCURRENCY: usize = 8;

/// (site, key) of a series.
type SiteKey = (String, SeriesKey);
/// Every (season, episode) a provider lists.
type EpisodeSet = BTreeSet<(u32, u32)>;

/// The missing episodes of one scanned series.
#[derive(Debug)]
pub enum MissingOutcome {
    /// The folder has no `.aniworld.json`: nothing to ask a provider about.
    Unmatched,
    /// Episodes the provider lists that are not on disk (season 0 apart).
    Known(MissingEpisodes),
    /// The provider could not be asked (blocked, not found, changed markup, ...).
    Failed(Error),
}

impl MissingOutcome {
    pub fn missing(&self) -> Option<&MissingEpisodes> {
        match self {
            MissingOutcome::Known(m) => Some(m),
            _ => None,
        }
    }
}

/// Series info with a database cache in front of the providers.
#[derive(Clone)]
pub struct Catalog {
    registry: Registry,
    store: Option<Store>,
    ttl_secs: u64,
    concurrency: usize,
}

impl Catalog {
    /// `store` = `None` disables caching (every lookup asks the provider).
    pub fn new(registry: Registry, store: Option<Store>, cache: &CacheConfig) -> Self {
        Catalog {
            registry,
            store,
            ttl_secs: cache.series_ttl,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// How many series may be fetched at once on a cold cache.
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A series' info: from the cache while fresh, else from its provider (and then cached).
    pub async fn series(&self, site: &str, key: &SeriesKey) -> Result<SeriesInfo> {
        if let Some(store) = &self.store {
            match store.provider_cache().get(site, key, self.ttl_secs).await {
                Ok(Some(info)) => return Ok(info),
                Ok(None) => {}
                Err(e) => tracing::warn!(site, %key, error = %e, "provider cache read failed"),
            }
        }
        self.refresh(site, key).await
    }

    /// Asks the provider regardless of the cache, and caches the answer.
    pub async fn refresh(&self, site: &str, key: &SeriesKey) -> Result<SeriesInfo> {
        let provider = self.registry.provider(site)?;
        let info = provider.series(key).await?;
        if let Some(store) = &self.store
            && let Err(e) = store.provider_cache().put(&info).await
        {
            tracing::warn!(site, %key, error = %e, "provider cache write failed");
        }
        Ok(info)
    }

    /// The missing episodes of every series of a scan, in the order of `report.series`.
    pub async fn missing_for_report(&self, report: &ScanReport) -> Vec<MissingOutcome> {
        self.missing_for(&report.series).await
    }

    /// The missing episodes of each series, in order. Fresh cache entries are read in one query
    /// per site; the rest are fetched concurrently. One failing series never stops the others.
    pub async fn missing_for(&self, series: &[ScannedSeries]) -> Vec<MissingOutcome> {
        // Distinct (site, key) pairs of matched folders.
        let mut wanted: Vec<(String, SeriesKey)> = series
            .iter()
            .filter_map(|s| Some((s.site.clone()?, s.key.clone()?)))
            .collect();
        wanted.sort();
        wanted.dedup();

        let mut known: HashMap<SiteKey, Result<EpisodeSet>> = HashMap::new();
        if let Some(store) = &self.store {
            let mut by_site: HashMap<&str, Vec<SeriesKey>> = HashMap::new();
            for (site, key) in &wanted {
                by_site.entry(site).or_default().push(key.clone());
            }
            for (site, keys) in by_site {
                match store
                    .provider_cache()
                    .episode_numbers_many(site, &keys, self.ttl_secs)
                    .await
                {
                    Ok(found) => {
                        for (key, numbers) in found {
                            known.insert((site.to_owned(), key), Ok(numbers));
                        }
                    }
                    Err(e) => tracing::warn!(site, error = %e, "provider cache read failed"),
                }
            }
        }

        let to_fetch: Vec<(String, SeriesKey)> = wanted
            .into_iter()
            .filter(|pair| !known.contains_key(pair))
            .collect();
        let fetched: Vec<(SiteKey, Result<EpisodeSet>)> = futures::stream::iter(to_fetch)
            .map(|(site, key)| async move {
                let result = self.refresh(&site, &key).await;
                ((site, key), result.map(|info| info.episode_numbers()))
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        known.extend(fetched);

        series
            .iter()
            .map(|s| {
                let (Some(site), Some(key)) = (&s.site, &s.key) else {
                    return MissingOutcome::Unmatched;
                };
                match known.get(&(site.clone(), key.clone())) {
                    Some(Ok(available)) => {
                        MissingOutcome::Known(MissingEpisodes::compute(available, &on_disk(s)))
                    }
                    Some(Err(e)) => MissingOutcome::Failed(copy_error(e)),
                    None => MissingOutcome::Failed(Error::NotFound(format!("{site}/{key}"))),
                }
            })
            .collect()
    }
}

/// Provider episodes minus the ones in the folder, season 0 apart.
pub fn missing_episodes(info: &SeriesInfo, scanned: &ScannedSeries) -> MissingEpisodes {
    MissingEpisodes::compute(&info.episode_numbers(), &on_disk(scanned))
}

fn on_disk(scanned: &ScannedSeries) -> BTreeSet<(u32, u32)> {
    scanned
        .episodes
        .iter()
        .map(|e| (e.season, e.episode))
        .collect()
}

/// `Error` is not `Clone` (it wraps I/O and database errors); the kinds a provider returns are
/// rebuilt, anything else keeps its message.
fn copy_error(e: &Error) -> Error {
    match e {
        Error::NotFound(m) => Error::NotFound(m.clone()),
        Error::Blocked { site, reason } => Error::Blocked {
            site: site.clone(),
            reason: reason.clone(),
        },
        Error::Parse { what } => Error::Parse { what: what.clone() },
        Error::Timeout(m) => Error::Timeout(m.clone()),
        Error::Invalid { field, message } => Error::Invalid {
            field: field.clone(),
            message: message.clone(),
        },
        other => Error::Http(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Episode, Season};
    use crate::registry::Origin;
    use crate::scanner::LocalEpisode;
    use crate::traits::Provider;
    use async_trait::async_trait;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A provider double that counts lookups.
    struct Counting {
        calls: AtomicUsize,
    }

    #[async_trait]
    impl Provider for Counting {
        fn id(&self) -> &str {
            "fake"
        }
        async fn search(&self, _q: &str) -> Result<Vec<crate::model::SearchResult>> {
            Ok(vec![])
        }
        async fn series(&self, key: &SeriesKey) -> Result<SeriesInfo> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if key.as_str() == "gone" {
                return Err(Error::NotFound("gone".into()));
            }
            let ep = |n| Episode {
                number: n,
                ..Default::default()
            };
            Ok(SeriesInfo {
                key: key.clone(),
                site: "fake".into(),
                name: key.to_string(),
                year: None,
                end_year: None,
                description: None,
                cover: None,
                genres: vec![],
                alternative_titles: vec![],
                seasons: vec![
                    Season {
                        number: 0,
                        episodes: vec![ep(1)],
                    },
                    Season {
                        number: 1,
                        episodes: vec![ep(1), ep(2)],
                    },
                ],
                url: String::new(),
            })
        }
        async fn episode(
            &self,
            _k: &SeriesKey,
            _s: u32,
            _e: u32,
        ) -> Result<crate::model::EpisodeStreams> {
            Err(Error::Unsupported("test".into()))
        }
        async fn resolve_redirect(&self, link: &str) -> Result<String> {
            Ok(link.into())
        }
        fn key_from_link(&self, _link: &str) -> Option<SeriesKey> {
            None
        }
    }

    fn scanned(key: Option<&str>, on_disk: &[(u32, u32)]) -> ScannedSeries {
        ScannedSeries {
            key: key.map(|k| SeriesKey::parse(k).unwrap()),
            site: key.map(|_| "fake".to_owned()),
            folder: key.unwrap_or("x").to_owned(),
            name: "n".into(),
            year: None,
            episodes: on_disk
                .iter()
                .map(|&(season, episode)| LocalEpisode {
                    season,
                    episode,
                    path: String::new(),
                })
                .collect(),
            unparsed: vec![],
            suggested_key: None,
        }
    }

    async fn catalog() -> (Catalog, Arc<Counting>) {
        let registry = Registry::new();
        let provider = Arc::new(Counting {
            calls: AtomicUsize::new(0),
        });
        registry.register_provider(provider.clone(), Origin::builtin());
        let store = Store::open_memory().await.unwrap();
        (
            Catalog::new(registry, Some(store), &CacheConfig::default()),
            provider,
        )
    }

    #[tokio::test]
    async fn missing_is_computed_per_series_with_specials_apart() {
        let (catalog, _) = catalog().await;
        let out = catalog
            .missing_for(&[scanned(Some("a"), &[(1, 1)]), scanned(None, &[])])
            .await;
        let m = out[0].missing().unwrap();
        assert_eq!(m.specials, vec![1]);
        assert_eq!(m.seasons.get(&1), Some(&vec![2]));
        assert!(matches!(out[1], MissingOutcome::Unmatched));
    }

    #[tokio::test]
    async fn second_lookup_comes_from_the_cache() {
        let (catalog, provider) = catalog().await;
        let series = [scanned(Some("a"), &[]), scanned(Some("b"), &[])];
        catalog.missing_for(&series).await;
        catalog.missing_for(&series).await;
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn one_failing_series_does_not_stop_the_others() {
        let (catalog, _) = catalog().await;
        let out = catalog
            .missing_for(&[
                scanned(Some("gone"), &[]),
                scanned(Some("a"), &[]),
                scanned(Some("gone"), &[]),
            ])
            .await;
        assert!(matches!(out[0], MissingOutcome::Failed(Error::NotFound(_))));
        assert!(out[1].missing().is_some());
        assert!(matches!(out[2], MissingOutcome::Failed(Error::NotFound(_))));
    }
}
