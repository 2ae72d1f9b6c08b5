//! The library service: the index of the series on disk (add, rescan, list), their missing
//! episodes through the [`Catalogue`], and the one answer to "is this episode on disk?".
//!
//! A rescan writes only what changed: series whose folder the scanner read again (its
//! fingerprint moved) and whose content differs, and series whose folder is gone, in one
//! transaction. The scan state is saved after that, so a crash in between only means reading
//! those folders again.

mod add;
mod index;
mod scan;
mod suggest;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use crate::catalogue::{Catalogue, Failure, SiteKey};
use crate::error::{Error, Result};
use crate::events::{CallbackManager, Event};
use crate::model::follow::FollowSettings;
use crate::model::{EpisodeSet, SeriesInfo, SeriesKey};
use crate::scanner::{LibraryScanner, LocalEpisode, StateStore};
use crate::storage::Store;
use crate::storage::scan_state::ScanStateRepo;
use crate::storage::series::{SeriesRecord, SeriesUpsert};

pub use add::folder_name;
pub use index::{
    ListQuery, Missing, MissingState, SeriesEntry, SortBy, StateFilter, UnknownReason,
    UnmatchedFolder,
};
pub use scan::ScanResult;
pub use suggest::{FolderSuggestions, SuggestionState, search_text_of_folder};

use index::Index;

/// A running or finished scan.
#[derive(Debug, Clone)]
pub struct ScanHandle {
    pub id: String,
    pub running: bool,
    /// Folders read so far and in all (0 of 0 until the scanner has listed the library).
    pub done: u64,
    pub total: u64,
}

/// How current the provider data of a series page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderDataState {
    /// Asked within `cache.series_ttl`.
    Fresh,
    /// Older than the TTL; a refresh was started.
    Stale,
    /// Never answered yet; a request is on its way (`series_updated` follows).
    Pending,
    /// The last ask failed (see the failure); older data may still be shown.
    Failed,
}

/// A series page: the index entry, the files on disk now, and the provider's data.
#[derive(Debug, Clone)]
pub struct SeriesDetail {
    pub entry: SeriesEntry,
    pub description: Option<String>,
    pub cover: Option<String>,
    /// Episode files in the folder now (paths relative to the library root).
    pub files: Vec<LocalEpisode>,
    /// The provider's seasons and episodes, from the provider or the cache.
    pub info: Option<SeriesInfo>,
    pub provider_state: ProviderDataState,
    pub checked_at: Option<i64>,
    pub failure: Option<Failure>,
}

/// The library. Cheap to clone; every clone is the same library.
#[derive(Clone)]
pub struct Library {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    catalogue: Catalogue,
    events: CallbackManager,
    root: RwLock<PathBuf>,
    index: RwLock<Index>,
    scan: Mutex<Option<ScanHandle>>,
    /// One scan or add at a time.
    writer: tokio::sync::Mutex<()>,
    /// Whether a background catalogue refresh runs.
    refreshing: AtomicBool,
    /// Provider searches for unmatched folders: remembered and running.
    suggestions: Mutex<suggest::SuggestionCache>,
    suggestion_slots: Arc<tokio::sync::Semaphore>,
}

/// The scanner's state, kept in the database.
struct StateKeeper(ScanStateRepo);

#[async_trait]
impl StateStore for StateKeeper {
    async fn load(
        &self,
        library: &str,
        shards: std::ops::Range<u32>,
    ) -> Result<Vec<(u32, Vec<u8>)>> {
        self.0.load_range(library, shards).await
    }
}

impl Library {
    /// Loads the index from `store` (series) and `catalogue` (what is missing); no scan yet.
    /// Completed downloads update their series' entry by themselves.
    pub async fn open(
        store: Store,
        catalogue: Catalogue,
        events: CallbackManager,
        root: PathBuf,
    ) -> Result<Self> {
        let entries = Self::load_entries(&store, &catalogue).await?;
        let library = Library {
            inner: Arc::new(Inner {
                store,
                catalogue,
                events,
                root: RwLock::new(root),
                index: RwLock::new(Index::new(entries)),
                scan: Mutex::new(None),
                writer: tokio::sync::Mutex::new(()),
                refreshing: AtomicBool::new(false),
                suggestions: Mutex::new(suggest::SuggestionCache::default()),
                suggestion_slots: Arc::new(tokio::sync::Semaphore::new(suggest::SEARCHES_AT_ONCE)),
            }),
        };
        Ok(library)
    }

    async fn load_entries(store: &Store, catalogue: &Catalogue) -> Result<Vec<SeriesEntry>> {
        let records = store.series().list().await?;
        let follows: std::collections::HashMap<(String, SeriesKey), FollowSettings> = store
            .follows()
            .list()
            .await?
            .into_iter()
            .map(|f| ((f.site, f.key), f.settings))
            .collect();
        Ok(records
            .into_iter()
            .map(|r| {
                let missing =
                    Missing::compute(&r.episodes, catalogue.entry(&r.site, &r.key).as_ref());
                let follow = follows
                    .get(&(r.site.clone(), r.key.clone()))
                    .copied()
                    .unwrap_or_default();
                let mut entry = SeriesEntry::new(r, missing);
                entry.follow = follow;
                entry
            })
            .collect())
    }

    /// Reads the series and the catalogue again from the database (another instance changed
    /// them). Skipped while a scan or an add of this instance writes (it is tried again later);
    /// whether it ran.
    pub async fn reload(&self) -> Result<bool> {
        let Ok(_writer) = self.inner.writer.try_lock() else {
            return Ok(false);
        };
        self.inner.catalogue.reload().await?;
        let entries = Self::load_entries(&self.inner.store, &self.inner.catalogue).await?;
        let mut index = self.index_write();
        let unmatched = index.unmatched();
        *index = Index::new(entries);
        index.set_unmatched((*unmatched).clone());
        Ok(true)
    }

    /// Keeps the index in step with the database while the library lives: several instances
    /// share one PostgreSQL database, and what one adds or scans the others list within
    /// about `every`.
    pub fn follow_store(&self, every: Duration) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut seen = None;
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let library = Library { inner };
                let fingerprint = match library.inner.store.series().fingerprint().await {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot check the library for changes");
                        continue;
                    }
                };
                // Timestamps are whole seconds: a change in the second of the last look may
                // not move the fingerprint, so recent changes are read again.
                let recent = fingerprint.latest >= crate::storage::now() - 2;
                if seen.as_ref() != Some(&fingerprint) || recent {
                    match library.reload().await {
                        Ok(true) => seen = Some(fingerprint),
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "cannot reload the library"),
                    }
                }
            }
        });
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.inner.catalogue
    }

    pub fn root(&self) -> PathBuf {
        self.inner.root.read().expect("root lock").clone()
    }

    /// `library.path` changed; the next scan indexes the new folder.
    pub fn set_root(&self, root: PathBuf) {
        *self.inner.root.write().expect("root lock") = root;
    }

    /// Series in the index.
    pub fn len(&self) -> usize {
        self.inner.index.read().expect("index lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Filters, sorts and pages the index; returns the page and the total matching.
    pub fn list(&self, query: &ListQuery<'_>) -> (Vec<SeriesEntry>, usize) {
        self.inner.index.read().expect("index lock").list(query)
    }

    pub fn get(&self, key: &SeriesKey) -> Option<SeriesEntry> {
        self.inner
            .index
            .read()
            .expect("index lock")
            .get(key)
            .cloned()
    }

    /// The follow settings of a series changed (the follow service stored them).
    pub fn set_follow(&self, key: &SeriesKey, follow: FollowSettings) {
        if let Some(e) = self.index_write().get_mut(key) {
            e.follow = follow;
        }
    }

    /// Every followed series in the index.
    pub fn followed(&self) -> Vec<SeriesEntry> {
        self.index_read()
            .entries()
            .iter()
            .filter(|e| e.follow.followed)
            .cloned()
            .collect()
    }

    /// Asks the providers about `series` now, fresh or not (a few at once, each site within its
    /// rate limit), then recomputes what each misses and announces it. Returns the failures.
    pub async fn refresh_catalogue_now(
        &self,
        series: Vec<SiteKey>,
        concurrency: usize,
    ) -> Vec<(SiteKey, Failure)> {
        use futures::StreamExt;
        let results: Vec<Option<(SiteKey, Failure)>> = futures::stream::iter(series)
            .map(|sk| async move {
                let result = self.inner.catalogue.refresh(&sk.0, &sk.1).await;
                self.catalogue_changed(&sk.0, &sk.1);
                match result {
                    Ok(_) => None,
                    Err(e) => {
                        let failure = self
                            .inner
                            .catalogue
                            .entry(&sk.0, &sk.1)
                            .and_then(|entry| entry.failure)
                            .unwrap_or(Failure {
                                code: e.code().to_owned(),
                                message: e.to_string(),
                                at: crate::storage::now(),
                            });
                        Some((sk, failure))
                    }
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        results.into_iter().flatten().collect()
    }

    /// By key first, then by folder name.
    pub fn find(&self, id: &str) -> Option<SeriesEntry> {
        let index = self.inner.index.read().expect("index lock");
        SeriesKey::parse(id)
            .ok()
            .and_then(|k| index.get(&k))
            .or_else(|| index.by_folder(id))
            .cloned()
    }

    /// Folders without `.aniworld.json`, as the last scan found them.
    pub fn unmatched(&self) -> Arc<Vec<UnmatchedFolder>> {
        self.inner.index.read().expect("index lock").unmatched()
    }

    /// Where the provider says a series' cover is: its last answer, else what was recorded
    /// when the series was added.
    pub async fn cover_source(&self, key: &SeriesKey) -> Option<String> {
        let entry = self.get(key)?;
        if let Some(cover) = self
            .catalogue()
            .cached_any_age(&entry.site, key)
            .await
            .and_then(|i| i.cover)
        {
            return Some(cover);
        }
        match self.inner.store.series().get_by_key(key).await {
            Ok(record) => record.and_then(|r| r.cover),
            Err(e) => {
                tracing::warn!(%key, error = %e, "series record not readable");
                None
            }
        }
    }

    /// Missing episodes known across the library (series whose provider never answered apart).
    pub fn missing_total(&self) -> Option<u64> {
        let index = self.inner.index.read().expect("index lock");
        let known: Vec<u64> = index
            .entries()
            .iter()
            .filter_map(|e| e.missing.total())
            .collect();
        (!known.is_empty()).then(|| known.iter().sum())
    }

    /// The running scan, if any.
    pub fn current_scan(&self) -> Option<ScanHandle> {
        self.inner
            .scan
            .lock()
            .expect("scan lock")
            .clone()
            .filter(|s| s.running)
    }

    fn scanner(&self) -> Result<LibraryScanner> {
        let root = self.root();
        LibraryScanner::new(&root).map_err(|e| match e {
            Error::Io { source, .. } => Error::invalid(
                "library.path",
                format!("{} cannot be read: {source}", root.display()),
            ),
            Error::Invalid { message, .. } => Error::invalid("library.path", message),
            other => other,
        })
    }

    /// The series folder of `key` now (index first, then the caller's hint).
    pub fn folder_of(&self, key: &SeriesKey) -> Option<String> {
        self.get(key).map(|e| e.folder)
    }

    /// Reads a series folder now with the scanner's rules. `Ok(None)` when there is no folder.
    async fn read_folder(&self, folder: &str) -> Result<Option<crate::scanner::ScannedSeries>> {
        let scanner = self.scanner()?;
        let folder = folder.to_owned();
        tokio::task::spawn_blocking(move || scanner.scan_folder(&folder))
            .await
            .map_err(|e| Error::io(PathBuf::new(), std::io::Error::other(e.to_string())))?
            .map(|found| found.map(|(series, _)| series))
    }

    /// The file of an episode in the series' folder now, read with the scanner's rules (the
    /// one answer to "is it on disk?"); the queue asks this before it adds an episode.
    pub async fn episode_on_disk(
        &self,
        key: &SeriesKey,
        folder_hint: Option<&str>,
        season: u32,
        episode: u32,
    ) -> Result<Option<PathBuf>> {
        Ok(self
            .episodes_on_disk(key, folder_hint)
            .await?
            .and_then(|files| {
                files
                    .into_iter()
                    .find(|f| f.season == season && f.episode == episode)
            })
            .map(|f| self.root().join(f.path)))
    }

    /// Every episode file of a series now (paths relative to the library root); `None` when
    /// the series has no folder.
    pub async fn episodes_on_disk(
        &self,
        key: &SeriesKey,
        folder_hint: Option<&str>,
    ) -> Result<Option<Vec<LocalEpisode>>> {
        let Some(folder) = self
            .folder_of(key)
            .or_else(|| folder_hint.map(str::to_owned))
        else {
            return Ok(None);
        };
        match self.read_folder(&folder).await {
            Ok(found) => Ok(found.map(|s| s.episodes.iter().map(|e| e.to_episode()).collect())),
            // A hint that is no folder name at all: nothing of it is on disk.
            Err(Error::Invalid { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A download finished into `folder`: that folder is read again and recorded. A series the
    /// index did not know yet (the download created its folder) is added.
    pub async fn record_download(&self, key: &SeriesKey, folder: &str) -> Result<()> {
        let Some(scanned) = self.read_folder(folder).await? else {
            return Ok(());
        };
        let on_disk: EpisodeSet = scanned
            .episodes
            .iter()
            .map(|e| (e.season, e.episode))
            .collect();
        if let Some(entry) = self.get(key) {
            return self.record_on_disk(&entry, on_disk).await;
        }
        let (Some(found), Some(site)) = (&scanned.key, &scanned.site) else {
            return Ok(());
        };
        if found != key {
            return Ok(());
        }
        let upsert = SeriesUpsert {
            key: key.clone(),
            site: site.clone(),
            name: scanned.name.clone(),
            folder: scanned.folder.clone(),
            year: scanned.year,
            episodes: on_disk,
        };
        self.store()
            .series()
            .apply(std::slice::from_ref(&upsert), &[])
            .await?;
        let missing =
            Missing::compute(&upsert.episodes, self.catalogue().entry(site, key).as_ref());
        let entry = SeriesEntry::from_parts(upsert, crate::storage::now(), missing);
        self.index_write().apply(vec![entry], &[]);
        Ok(())
    }

    /// Stores a series' new on-disk episodes and recomputes what it misses.
    async fn record_on_disk(&self, entry: &SeriesEntry, on_disk: EpisodeSet) -> Result<()> {
        if *entry.on_disk == on_disk {
            return Ok(());
        }
        let upsert = SeriesUpsert {
            key: entry.key.clone(),
            site: entry.site.clone(),
            name: entry.name.clone(),
            folder: entry.folder.clone(),
            year: entry.year,
            episodes: on_disk.clone(),
        };
        self.inner.store.series().apply(&[upsert], &[]).await?;
        let catalogue_entry = self.inner.catalogue.entry(&entry.site, &entry.key);
        let mut index = self.inner.index.write().expect("index lock");
        if let Some(e) = index.get_mut(&entry.key) {
            e.missing = Missing::compute(&on_disk, catalogue_entry.as_ref());
            e.on_disk = Arc::new(on_disk);
        }
        Ok(())
    }

    /// The series page: the files on disk now, and the provider's data: fresh from the cache,
    /// or asked now. Waits at most `wait` for the provider; after that it answers with what it
    /// has and the answer arrives later as a `series_updated` event.
    pub async fn detail(&self, key: &SeriesKey, wait: Duration) -> Result<SeriesDetail> {
        let entry = self
            .get(key)
            .ok_or_else(|| Error::NotFound(format!("series {key}")))?;
        let record: Option<SeriesRecord> = self.inner.store.series().get_by_key(key).await?;
        let files = match self.read_folder(&entry.folder).await {
            Ok(Some(scanned)) => {
                let on_disk: EpisodeSet = scanned
                    .episodes
                    .iter()
                    .map(|e| (e.season, e.episode))
                    .collect();
                self.record_on_disk(&entry, on_disk).await?;
                scanned.episodes.iter().map(|e| e.to_episode()).collect()
            }
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::info!(%key, error = %e, "series folder not readable for its page");
                Vec::new()
            }
        };
        let catalogue = &self.inner.catalogue;
        let fresh = catalogue
            .entry(&entry.site, key)
            .is_some_and(|e| catalogue.is_fresh(&e));
        let mut state = ProviderDataState::Fresh;
        if !fresh && catalogue.registry().provider(&entry.site).is_ok() {
            let library = self.clone();
            let wanted: SiteKey = (entry.site.clone(), key.clone());
            let task = tokio::spawn(async move { library.refresh_catalogue(vec![wanted]).await });
            state = match tokio::time::timeout(wait, task).await {
                Ok(Ok(failures)) if failures.is_empty() => ProviderDataState::Fresh,
                Ok(_) => ProviderDataState::Failed,
                Err(_) => ProviderDataState::Pending,
            };
        }
        let catalogue_entry = catalogue.entry(&entry.site, key);
        let info = catalogue.cached_any_age(&entry.site, key).await;
        if state == ProviderDataState::Pending && info.is_some() {
            state = ProviderDataState::Stale;
        }
        if state == ProviderDataState::Fresh
            && !catalogue_entry
                .as_ref()
                .is_some_and(|e| catalogue.is_fresh(e))
        {
            state = if catalogue_entry
                .as_ref()
                .is_some_and(|e| e.failure.is_some())
            {
                ProviderDataState::Failed
            } else {
                ProviderDataState::Pending
            };
        }
        let entry = self.get(key).unwrap_or(entry);
        Ok(SeriesDetail {
            description: info
                .as_ref()
                .and_then(|i| i.description.clone())
                .or_else(|| record.as_ref().and_then(|r| r.description.clone())),
            cover: info
                .as_ref()
                .and_then(|i| i.cover.clone())
                .or_else(|| record.as_ref().and_then(|r| r.cover.clone())),
            checked_at: catalogue_entry.as_ref().and_then(|e| e.checked_at),
            failure: catalogue_entry.and_then(|e| e.failure),
            entry,
            files,
            info,
            provider_state: state,
        })
    }

    /// Asks the providers about `series` (those not fresh), then recomputes what each misses and
    /// announces it (`series_updated`). Returns the failures.
    pub async fn refresh_catalogue(&self, series: Vec<SiteKey>) -> Vec<(SiteKey, Failure)> {
        let library = self.clone();
        self.inner
            .catalogue
            .refresh_many(series, move |(site, key)| {
                library.catalogue_changed(site, key)
            })
            .await
    }

    fn catalogue_changed(&self, site: &str, key: &SeriesKey) {
        let entry = self.inner.catalogue.entry(site, key);
        {
            let mut index = self.inner.index.write().expect("index lock");
            if let Some(e) = index.get_mut(key)
                && e.site == site
            {
                e.missing = Missing::compute(&e.on_disk, entry.as_ref());
            }
        }
        self.inner.events.emit(Event::SeriesUpdated {
            key: key.clone(),
            site: site.to_owned(),
        });
    }

    /// Whether a background catalogue refresh runs.
    pub fn is_refreshing(&self) -> bool {
        self.inner.refreshing.load(Ordering::SeqCst)
    }

    /// Asks, in the background, about every series whose catalogue entry is older than
    /// `cache.series_ttl` (or missing), unless such a refresh already runs.
    pub fn refresh_due_in_background(&self) {
        let due = {
            let index = self.inner.index.read().expect("index lock");
            self.inner
                .catalogue
                .due(index.entries().iter().map(|e| (e.site.as_str(), &e.key)))
        };
        if due.is_empty() || self.inner.refreshing.swap(true, Ordering::SeqCst) {
            return;
        }
        let library = self.clone();
        tokio::spawn(async move {
            let count = due.len();
            let failures = library.refresh_catalogue(due).await;
            library.inner.refreshing.store(false, Ordering::SeqCst);
            tracing::info!(
                series = count,
                failed = failures.len(),
                "catalogue refreshed in the background"
            );
        });
    }

    /// Starts a scan in the background unless one runs; returns its id and whether this call
    /// started it. Progress and the result arrive as events (`scan_progress`, `scan_complete`).
    pub fn start_scan(&self) -> Result<(String, bool)> {
        // Fails early and clearly when the folder cannot be read.
        self.scanner()?;
        let id = {
            let mut current = self.inner.scan.lock().expect("scan lock");
            if let Some(running) = current.as_ref().filter(|s| s.running) {
                return Ok((running.id.clone(), false));
            }
            let id = uuid::Uuid::new_v4().to_string();
            *current = Some(ScanHandle {
                id: id.clone(),
                running: true,
                done: 0,
                total: 0,
            });
            id
        };
        let library = self.clone();
        let scan_id = id.clone();
        tokio::spawn(async move {
            let result = library.rescan_as(&scan_id).await;
            // Started before the scan counts as done, so "scan done and no refresh running"
            // means every due series has been asked.
            if result.is_ok() {
                library.refresh_due_in_background();
            }
            if let Some(s) = library.inner.scan.lock().expect("scan lock").as_mut() {
                s.running = false;
            }
        });
        Ok((id, true))
    }

    /// Scans now and records what changed (the CLI; the server uses [`Library::start_scan`]).
    pub async fn rescan(&self) -> Result<ScanResult> {
        self.rescan_as(&uuid::Uuid::new_v4().to_string()).await
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn events(&self) -> &CallbackManager {
        &self.inner.events
    }

    fn index_write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.inner.index.write().expect("index lock")
    }

    fn index_read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.inner.index.read().expect("index lock")
    }

    async fn writer(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.writer.lock().await
    }
}
