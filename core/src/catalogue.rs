//! The missing-episode catalogue: what each provider lists per series and when it was asked.
//!
//! Every answer and every failure is recorded in the database and kept in memory, so the
//! library shows missing counts at once after a restart without asking any site. Providers are
//! only asked through [`Catalogue::refresh`] (or when an entry is older than
//! `cache.series_ttl`), and every answer also lands in the provider cache the detail page reads.
//! Each site's [`crate::http::SiteClient`] keeps its own rate limit, so concurrency here never
//! means more requests per second to a site.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt};

use crate::error::Result;
use crate::model::{EpisodeSet, SeriesInfo, SeriesKey};
use crate::registry::Registry;
use crate::storage::{Store, now};

/// Series asked at once when many are due.
const CONCURRENCY: usize = 8;

/// A series whose provider failed is not asked again by itself for this long (seconds); opening
/// its page still asks.
const RETRY_FAILED_AFTER: i64 = 15 * 60;

/// (site, key) of a series.
pub type SiteKey = (String, SeriesKey);

/// One ask of a provider, awaited by everyone who wants the answer: the failure, if any.
type Asking = Shared<BoxFuture<'static, Option<Failure>>>;

/// Why asking a provider failed, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error code (`blocked`, `not_found`, `site_down`, ...).
    pub code: String,
    pub message: String,
    /// Unix seconds.
    pub at: i64,
}

/// What the catalogue knows of one series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// What the provider listed when it last answered (empty when it never did).
    pub available: Arc<EpisodeSet>,
    /// When the provider last answered (unix seconds); `None` = never.
    pub checked_at: Option<i64>,
    /// The last failure since that answer.
    pub failure: Option<Failure>,
}

impl Entry {
    /// Whether the provider ever answered.
    pub fn is_known(&self) -> bool {
        self.checked_at.is_some()
    }
}

/// The catalogue. Cheap to clone; every clone shares the same entries.
#[derive(Clone)]
pub struct Catalogue {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    store: Store,
    ttl_secs: AtomicU64,
    entries: RwLock<HashMap<SiteKey, Entry>>,
    /// Series being asked right now: a second caller waits for the same answer.
    asking: Mutex<HashMap<SiteKey, Asking>>,
}

impl Catalogue {
    /// Loads every recorded entry.
    pub async fn open(registry: Registry, store: Store, ttl_secs: u64) -> Result<Self> {
        let entries = Self::load(&store).await?;
        Ok(Catalogue {
            inner: Arc::new(Inner {
                registry,
                store,
                ttl_secs: AtomicU64::new(ttl_secs),
                entries: RwLock::new(entries),
                asking: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Reads every recorded entry again (another instance on the same database recorded some).
    pub async fn reload(&self) -> Result<()> {
        let entries = Self::load(&self.inner.store).await?;
        *self.inner.entries.write().expect("catalogue lock") = entries;
        Ok(())
    }

    async fn load(store: &Store) -> Result<HashMap<SiteKey, Entry>> {
        let rows = store.catalogue().list().await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let entry = Entry {
                    available: Arc::new(r.episodes),
                    checked_at: r.checked_at,
                    failure: r
                        .failure
                        .map(|(code, message, at)| Failure { code, message, at }),
                };
                ((r.site, r.key), entry)
            })
            .collect())
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// `cache.series_ttl` changed.
    pub fn set_ttl(&self, ttl_secs: u64) {
        self.inner.ttl_secs.store(ttl_secs, Ordering::Relaxed);
    }

    pub fn ttl_secs(&self) -> u64 {
        self.inner.ttl_secs.load(Ordering::Relaxed)
    }

    /// What is recorded for a series.
    pub fn entry(&self, site: &str, key: &SeriesKey) -> Option<Entry> {
        self.inner
            .entries
            .read()
            .expect("catalogue lock")
            .get(&(site.to_owned(), key.clone()))
            .cloned()
    }

    /// Whether `entry` is fresh enough that nobody needs to ask the provider.
    pub fn is_fresh(&self, entry: &Entry) -> bool {
        let ttl = i64::try_from(self.ttl_secs()).unwrap_or(i64::MAX);
        entry
            .checked_at
            .is_some_and(|at| now().saturating_sub(at) < ttl)
    }

    /// Whether a background refresh should ask the provider about `entry` now: it is stale or
    /// was never asked, and it did not fail a moment ago.
    pub fn is_due(&self, entry: Option<&Entry>) -> bool {
        let Some(entry) = entry else { return true };
        if self.is_fresh(entry) {
            return false;
        }
        entry
            .failure
            .as_ref()
            .is_none_or(|f| now().saturating_sub(f.at) >= RETRY_FAILED_AFTER)
    }

    /// Of `series`, those a background refresh should ask about now.
    pub fn due<'a>(
        &self,
        series: impl IntoIterator<Item = (&'a str, &'a SeriesKey)>,
    ) -> Vec<SiteKey> {
        let entries = self.inner.entries.read().expect("catalogue lock");
        series
            .into_iter()
            .filter(|(site, key)| {
                self.inner.registry.provider(site).is_ok() && {
                    let entry = entries.get(&((*site).to_owned(), (*key).clone()));
                    self.is_due(entry)
                }
            })
            .map(|(site, key)| (site.to_owned(), key.clone()))
            .collect()
    }

    /// A series' full info (titles, languages) for its page: the provider cache while fresh,
    /// else the provider (recorded).
    pub async fn series(&self, site: &str, key: &SeriesKey) -> Result<SeriesInfo> {
        if let Some(info) = self.cached(site, key, self.ttl_secs()).await {
            return Ok(info);
        }
        self.refresh(site, key).await
    }

    /// The last info the provider gave, however old (`None` when it never answered).
    pub async fn cached_any_age(&self, site: &str, key: &SeriesKey) -> Option<SeriesInfo> {
        self.cached(site, key, u64::MAX / 2).await
    }

    async fn cached(&self, site: &str, key: &SeriesKey, ttl: u64) -> Option<SeriesInfo> {
        match self.inner.store.provider_cache().get(site, key, ttl).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(site, %key, error = %e, "provider cache read failed");
                None
            }
        }
    }

    /// Asks the provider now and records the answer or the failure.
    pub async fn refresh(&self, site: &str, key: &SeriesKey) -> Result<SeriesInfo> {
        let result = match self.inner.registry.provider(site) {
            Ok(provider) => provider.series(key).await,
            Err(e) => Err(e),
        };
        let at = now();
        match &result {
            Ok(info) => {
                let available = info.episode_numbers();
                if let Err(e) = self.inner.store.provider_cache().put(info).await {
                    tracing::warn!(site, %key, error = %e, "provider cache write failed");
                }
                if let Err(e) = self
                    .inner
                    .store
                    .catalogue()
                    .record_answer(site, key, &available, at)
                    .await
                {
                    tracing::warn!(site, %key, error = %e, "catalogue write failed");
                }
                self.set(site, key, |entry| {
                    entry.available = Arc::new(available);
                    entry.checked_at = Some(at);
                    entry.failure = None;
                });
            }
            Err(e) => {
                let failure = Failure {
                    code: e.code().to_owned(),
                    message: e.to_string(),
                    at,
                };
                if let Err(db) = self
                    .inner
                    .store
                    .catalogue()
                    .record_failure(site, key, &failure.code, &failure.message, at)
                    .await
                {
                    tracing::warn!(site, %key, error = %db, "catalogue write failed");
                }
                self.set(site, key, |entry| entry.failure = Some(failure));
            }
        }
        result
    }

    fn set(&self, site: &str, key: &SeriesKey, change: impl FnOnce(&mut Entry)) {
        let mut entries = self.inner.entries.write().expect("catalogue lock");
        change(entries.entry((site.to_owned(), key.clone())).or_default());
    }

    /// Asks the providers about each of `series` that is not fresh (a few at once, each site
    /// within its rate limit); a series already being asked is waited for, not asked twice.
    /// Calls `done` after each answer or failure; returns the failures.
    pub async fn refresh_many(
        &self,
        series: Vec<SiteKey>,
        done: impl Fn(&SiteKey) + Send + Sync,
    ) -> Vec<(SiteKey, Failure)> {
        let done = &done;
        let results: Vec<Option<(SiteKey, Failure)>> = futures::stream::iter(series)
            .map(|sk| async move {
                let failure = self.ask(sk.clone()).await;
                done(&sk);
                failure.map(|f| (sk, f))
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        results.into_iter().flatten().collect()
    }

    /// Asks the provider about one series unless it is fresh, or joins the ask under way.
    async fn ask(&self, sk: SiteKey) -> Option<Failure> {
        let asking = {
            let mut asking = self.inner.asking.lock().expect("asking lock");
            match asking.get(&sk) {
                Some(a) => a.clone(),
                None => {
                    let catalogue = self.clone();
                    let key = sk.clone();
                    let a = async move {
                        let fresh = catalogue
                            .entry(&key.0, &key.1)
                            .is_some_and(|e| catalogue.is_fresh(&e));
                        let failure = if fresh {
                            None
                        } else {
                            match catalogue.refresh(&key.0, &key.1).await {
                                Ok(_) => None,
                                Err(e) => Some(
                                    catalogue
                                        .entry(&key.0, &key.1)
                                        .and_then(|entry| entry.failure)
                                        .unwrap_or(Failure {
                                            code: e.code().to_owned(),
                                            message: e.to_string(),
                                            at: now(),
                                        }),
                                ),
                            }
                        };
                        catalogue
                            .inner
                            .asking
                            .lock()
                            .expect("asking lock")
                            .remove(&key);
                        failure
                    }
                    .boxed()
                    .shared();
                    asking.insert(sk, a.clone());
                    a
                }
            }
        };
        asking.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::model::{Episode, Season};
    use crate::registry::Origin;
    use crate::traits::Provider;
    use async_trait::async_trait;
    use std::sync::atomic::AtomicUsize;

    /// A provider double that counts lookups; `gone` is not found.
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

    async fn catalogue(store: &Store) -> (Catalogue, Arc<Counting>) {
        let registry = Registry::new();
        let provider = Arc::new(Counting {
            calls: AtomicUsize::new(0),
        });
        registry.register_provider(provider.clone(), Origin::builtin());
        let catalogue = Catalogue::open(registry, store.clone(), 3600)
            .await
            .unwrap();
        (catalogue, provider)
    }

    fn key(k: &str) -> SeriesKey {
        SeriesKey::parse(k).unwrap()
    }

    #[tokio::test]
    async fn answers_are_recorded_and_survive_a_reopen() {
        let store = Store::open_memory().await.unwrap();
        let (c, provider) = catalogue(&store).await;
        assert!(c.is_due(c.entry("fake", &key("a")).as_ref()));
        c.refresh("fake", &key("a")).await.unwrap();
        let entry = c.entry("fake", &key("a")).unwrap();
        assert_eq!(*entry.available, [(0, 1), (1, 1), (1, 2)].into());
        assert!(c.is_fresh(&entry));
        let (reopened, _) = catalogue(&store).await;
        assert_eq!(reopened.entry("fake", &key("a")), Some(entry));
        assert_eq!(provider.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn fresh_series_are_not_asked_again() {
        let store = Store::open_memory().await.unwrap();
        let (c, provider) = catalogue(&store).await;
        let wanted = vec![("fake".to_owned(), key("a")), ("fake".to_owned(), key("b"))];
        c.refresh_many(wanted.clone(), |_| {}).await;
        let a = key("a");
        let b = key("b");
        assert!(c.due([("fake", &a), ("fake", &b)]).is_empty());
        c.refresh_many(wanted, |_| {}).await;
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
        // The detail page reads the provider cache, not the provider.
        c.series("fake", &a).await.unwrap();
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failure_is_recorded_and_not_retried_at_once() {
        let store = Store::open_memory().await.unwrap();
        let (c, _) = catalogue(&store).await;
        let failures = c
            .refresh_many(vec![("fake".to_owned(), key("gone"))], |_| {})
            .await;
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].1.code, "not_found");
        let entry = c.entry("fake", &key("gone")).unwrap();
        assert!(!entry.is_known());
        assert_eq!(entry.failure.as_ref().unwrap().code, "not_found");
        assert!(!c.is_due(Some(&entry)));
        let gone = key("gone");
        assert!(c.due([("fake", &gone)]).is_empty());
    }

    #[tokio::test]
    async fn unknown_sites_are_never_due() {
        let store = Store::open_memory().await.unwrap();
        let (c, _) = catalogue(&store).await;
        let k = key("x");
        assert!(c.due([("nope", &k)]).is_empty());
    }
}
