//! The library as the API shows it: an in-memory index of the series in the database (so listing,
//! filtering and sorting 10,000 series costs no query), the missing episodes learned from the
//! providers, and the one-at-a-time rescan.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aniworld_core::events::{CallbackManager, Event, EventContext};
use aniworld_core::metadata::SeriesMetadata;
use aniworld_core::model::{MissingEpisodes, SeriesInfo, SeriesKey};
use aniworld_core::registry::Registry;
use aniworld_core::scanner::{LibraryScanner, ScannedSeries};
use aniworld_core::storage::Store;
use aniworld_core::storage::series::SeriesRecord;
use aniworld_core::{Error, Result};

/// One series in the index.
#[derive(Debug, Clone)]
pub struct SeriesEntry {
    pub key: SeriesKey,
    pub site: String,
    pub name: String,
    pub folder: String,
    pub year: Option<i32>,
    pub created_at: i64,
    /// Lowercased name, key and folder, for the text filter.
    search_text: String,
}

impl From<SeriesRecord> for SeriesEntry {
    fn from(r: SeriesRecord) -> Self {
        let search_text = format!("{}\n{}\n{}", r.name, r.key, r.folder).to_lowercase();
        SeriesEntry {
            key: r.key,
            site: r.site,
            name: r.name,
            folder: r.folder,
            year: r.year,
            created_at: r.created_at,
            search_text,
        }
    }
}

impl SeriesEntry {
    pub fn matches(&self, needle_lower: &str) -> bool {
        self.search_text.contains(needle_lower)
    }
}

/// What is known about a series' missing episodes.
#[derive(Debug, Clone)]
pub struct MissingState {
    pub missing: MissingEpisodes,
    /// Every (season, episode) the provider lists.
    pub available: BTreeSet<(u32, u32)>,
    /// Unix seconds.
    pub checked_at: i64,
}

/// Sort orders of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Name,
    Key,
    Missing,
    Added,
}

pub struct ListQuery<'a> {
    pub text: Option<&'a str>,
    pub only_missing: bool,
    pub site: Option<&'a str>,
    pub sort: SortBy,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
}

/// A running or finished scan.
#[derive(Debug, Clone)]
pub struct ScanHandle {
    pub id: String,
    pub running: bool,
}

pub struct Library {
    store: Store,
    registry: Registry,
    events: CallbackManager,
    /// Sorted by name.
    index: RwLock<Arc<Vec<SeriesEntry>>>,
    missing: RwLock<HashMap<SeriesKey, MissingState>>,
    current_scan: Mutex<Option<ScanHandle>>,
}

/// The provider page of a series, when the site's URL scheme is known.
pub fn series_link(base_url: Option<&str>, site: &str, key: &SeriesKey) -> Option<String> {
    let base = base_url?.trim_end_matches('/');
    match site {
        "aniworld" => Some(format!("{base}/anime/stream/{key}")),
        "sto" => Some(format!("{base}/serie/{key}")),
        _ => None,
    }
}

/// A folder name from a series name: no path separators, control or reserved characters, no
/// leading dots, bounded length. Never empty (falls back to the key).
pub fn folder_name(name: &str, year: Option<i32>, key: &SeriesKey) -> String {
    aniworld_core::download::naming::series_folder_name(name, year, key)
}

impl Library {
    pub async fn open(store: Store, registry: Registry, events: CallbackManager) -> Result<Self> {
        let library = Library {
            store,
            registry,
            events,
            index: RwLock::new(Arc::new(Vec::new())),
            missing: RwLock::new(HashMap::new()),
            current_scan: Mutex::new(None),
        };
        library.reload_index().await?;
        Ok(library)
    }

    /// Re-reads the series list from the database.
    pub async fn reload_index(&self) -> Result<()> {
        let mut entries: Vec<SeriesEntry> = self
            .store
            .series()
            .list()
            .await?
            .into_iter()
            .map(SeriesEntry::from)
            .collect();
        entries.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then_with(|| a.key.cmp(&b.key))
        });
        *self.index.write().expect("index lock") = Arc::new(entries);
        Ok(())
    }

    pub fn entries(&self) -> Arc<Vec<SeriesEntry>> {
        self.index.read().expect("index lock").clone()
    }

    pub fn missing_of(&self, key: &SeriesKey) -> Option<MissingState> {
        self.missing.read().expect("missing lock").get(key).cloned()
    }

    /// Filters, sorts and pages the index; returns the page and the total matching.
    pub fn list(&self, q: &ListQuery<'_>) -> (Vec<(SeriesEntry, Option<MissingState>)>, usize) {
        let entries = self.entries();
        let missing = self.missing.read().expect("missing lock");
        let unfiltered = q.text.is_none_or(str::is_empty) && q.site.is_none() && !q.only_missing;
        if unfiltered && q.sort == SortBy::Name && !q.descending {
            // The index is kept in name order: a page is a slice, whatever the library size.
            let page = entries
                .iter()
                .skip(q.offset)
                .take(q.limit)
                .map(|e| (e.clone(), missing.get(&e.key).cloned()))
                .collect();
            return (page, entries.len());
        }
        let needle = q.text.map(str::to_lowercase).filter(|t| !t.is_empty());
        let count_of = |e: &SeriesEntry| {
            missing
                .get(&e.key)
                .map(|m| (m.missing.regular_count() + m.missing.specials.len()) as u64)
        };
        let mut hits: Vec<&SeriesEntry> = entries
            .iter()
            .filter(|e| needle.as_deref().is_none_or(|n| e.matches(n)))
            .filter(|e| q.site.is_none_or(|s| e.site == s))
            .filter(|e| !q.only_missing || count_of(e).is_some_and(|c| c > 0))
            .collect();
        match q.sort {
            SortBy::Name => {}
            SortBy::Key => hits.sort_by(|a, b| a.key.cmp(&b.key)),
            SortBy::Missing => hits.sort_by(|a, b| {
                count_of(a)
                    .unwrap_or(0)
                    .cmp(&count_of(b).unwrap_or(0))
                    .then_with(|| a.name.cmp(&b.name))
            }),
            SortBy::Added => hits.sort_by(|a, b| {
                a.created_at
                    .cmp(&b.created_at)
                    .then_with(|| a.key.cmp(&b.key))
            }),
        }
        if q.descending {
            hits.reverse();
        }
        let total = hits.len();
        let page = hits
            .into_iter()
            .skip(q.offset)
            .take(q.limit)
            .map(|e| (e.clone(), missing.get(&e.key).cloned()))
            .collect();
        (page, total)
    }

    /// Key first, then folder name.
    pub async fn find(&self, id: &str) -> Result<Option<SeriesRecord>> {
        if let Ok(key) = SeriesKey::parse(id)
            && let Some(r) = self.store.series().get_by_key(&key).await?
        {
            return Ok(Some(r));
        }
        self.store.series().get_by_folder(id).await
    }

    /// Fetches the provider's info for a series and records what is missing on disk.
    pub async fn refresh_missing(&self, key: &SeriesKey, site: &str) -> Result<SeriesInfo> {
        let provider = self.registry.provider(site)?;
        let info = provider.series(key).await?;
        let on_disk = self.store.series().episodes_on_disk(key).await?;
        self.record_missing(key, info.episode_numbers(), &on_disk);
        Ok(info)
    }

    fn record_missing(
        &self,
        key: &SeriesKey,
        available: BTreeSet<(u32, u32)>,
        on_disk: &BTreeSet<(u32, u32)>,
    ) {
        let missing = MissingEpisodes::compute(&available, on_disk);
        self.missing.write().expect("missing lock").insert(
            key.clone(),
            MissingState {
                missing,
                available,
                checked_at: aniworld_core::storage::now(),
            },
        );
    }

    /// Adds a series from a provider link: derives the key, fetches the provider's info, creates
    /// the folder with its `.aniworld.json`, records it. `Conflict` when the key is already there.
    pub async fn add(
        &self,
        library_root: &Path,
        link: &str,
        site: Option<&str>,
    ) -> Result<SeriesRecord> {
        let providers = match site {
            Some(s) => vec![self.registry.provider(s)?],
            None => self.registry.providers(),
        };
        let (provider, key) = providers
            .iter()
            .find_map(|p| p.key_from_link(link).map(|k| (p.clone(), k)))
            .ok_or_else(|| {
                Error::invalid(
                    "link",
                    format!(
                        "{:?} is not a series link of any provider",
                        link.chars().take(200).collect::<String>()
                    ),
                )
            })?;
        if let Some(existing) = self.store.series().get_by_key(&key).await? {
            return Err(Error::Conflict(format!(
                "series {} is already in the library (folder {:?})",
                existing.key, existing.folder
            )));
        }
        let info = provider.series(&key).await?;
        let site = provider.id().to_owned();
        let folder = self.create_folder(library_root, &info, &site)?;
        let scanned = ScannedSeries {
            key: Some(key.clone()),
            site: Some(site.clone()),
            folder: folder.clone(),
            name: info.name.clone(),
            year: info.year,
            episodes: Default::default(),
            unparsed: Vec::new(),
            suggested_key: None,
        };
        let record = self
            .store
            .series()
            .upsert_scanned(&scanned)
            .await?
            .ok_or_else(|| Error::NotFound(format!("series {key} after adding it")))?;
        self.store
            .series()
            .set_details(&key, info.description.as_deref(), info.cover.as_deref())
            .await?;
        let on_disk = self.store.series().episodes_on_disk(&key).await?;
        self.record_missing(&key, info.episode_numbers(), &on_disk);
        self.reload_index().await?;
        let mut context = EventContext::new(key.clone());
        context.site = Some(site);
        context.folder = Some(folder);
        self.events.emit(Event::SeriesAdded {
            context,
            name: info.name.clone(),
        });
        Ok(record)
    }

    fn create_folder(&self, root: &Path, info: &SeriesInfo, site: &str) -> Result<String> {
        std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        let base = folder_name(&info.name, info.year, &info.key);
        for candidate in [base.clone(), format!("{base} [{}]", info.key)] {
            let dir: PathBuf = root.join(&candidate);
            match SeriesMetadata::read(&dir) {
                Ok(Some(meta)) if meta.key != info.key => continue,
                Ok(_) => {}
                Err(_) => continue,
            }
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            SeriesMetadata {
                key: info.key.clone(),
                site: site.to_owned(),
                name: info.name.clone(),
                year: info.year,
            }
            .write(&dir)?;
            return Ok(candidate);
        }
        Err(Error::Conflict(format!(
            "no free folder name for series {}",
            info.key
        )))
    }

    /// The running scan, if any.
    pub fn current_scan(&self) -> Option<ScanHandle> {
        self.current_scan
            .lock()
            .expect("scan lock")
            .clone()
            .filter(|s| s.running)
    }

    /// Starts a scan of `root` in the background unless one runs; returns its id and whether this
    /// call started it.
    pub fn start_scan(self: &Arc<Self>, root: PathBuf) -> Result<(String, bool)> {
        let scanner = LibraryScanner::new(&root).map_err(|e| match e {
            Error::Io { source, .. } => Error::invalid(
                "library.path",
                format!("{} cannot be read: {source}", root.display()),
            ),
            Error::Invalid { message, .. } => Error::invalid("library.path", message),
            other => other,
        })?;
        let id = {
            let mut current = self.current_scan.lock().expect("scan lock");
            if let Some(running) = current.as_ref().filter(|s| s.running) {
                return Ok((running.id.clone(), false));
            }
            let id = uuid::Uuid::new_v4().to_string();
            *current = Some(ScanHandle {
                id: id.clone(),
                running: true,
            });
            id
        };
        let library = self.clone();
        let scan_id = id.clone();
        tokio::spawn(async move {
            library.run_scan(scanner, scan_id, root).await;
        });
        Ok((id, true))
    }

    async fn run_scan(self: Arc<Self>, scanner: LibraryScanner, scan_id: String, root: PathBuf) {
        let started = Instant::now();
        self.events.emit(Event::ScanStarted {
            scan_id: scan_id.clone(),
            library: root.display().to_string(),
        });
        let events = self.events.clone();
        let progress_id = scan_id.clone();
        let last = Arc::new(Mutex::new(None::<Instant>));
        let scanner = scanner.with_progress(Arc::new(move |done, total, folder: &str| {
            // At most 10 progress events a second, and always the last one.
            let mut last = last.lock().expect("progress lock");
            let due = last.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
            if due || done == total {
                *last = Some(Instant::now());
                events.emit(Event::ScanProgress {
                    scan_id: progress_id.clone(),
                    done,
                    total,
                    folder: Some(folder.to_owned()),
                });
            }
        }));
        let result = self.scan_and_record(&scanner).await;
        let event = match result {
            Ok((series, episodes, unmatched)) => Event::ScanCompleted {
                scan_id: scan_id.clone(),
                series,
                episodes,
                unmatched,
                missing: None,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            },
            Err(e) => {
                tracing::warn!(error = %e, "library scan failed");
                Event::ScanFailed {
                    scan_id: scan_id.clone(),
                    error: e.to_string(),
                }
            }
        };
        let succeeded = matches!(event, Event::ScanCompleted { .. });
        if let Some(s) = self.current_scan.lock().expect("scan lock").as_mut() {
            s.running = false;
        }
        self.events.emit(event);
        if succeeded {
            self.refresh_all_missing().await;
        }
    }

    /// Asks the providers (a few series at a time; each provider rate-limits itself) what every
    /// series has, so the list shows missing counts without opening each series.
    async fn refresh_all_missing(self: &Arc<Self>) {
        let permits = Arc::new(tokio::sync::Semaphore::new(4));
        let mut tasks = tokio::task::JoinSet::new();
        for entry in self.entries().iter().cloned() {
            if self.registry.provider(&entry.site).is_err() {
                continue;
            }
            let (library, permits) = (self.clone(), permits.clone());
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await.ok()?;
                match library.refresh_missing(&entry.key, &entry.site).await {
                    Ok(_) => Some(()),
                    Err(err) => {
                        tracing::debug!(key = %entry.key, error = %err, "missing episodes not refreshed");
                        None
                    }
                }
            });
        }
        let mut refreshed = 0u64;
        while let Some(done) = tasks.join_next().await {
            if matches!(done, Ok(Some(()))) {
                refreshed += 1;
            }
        }
        tracing::info!(
            series = refreshed,
            "missing episodes refreshed after the scan"
        );
    }

    async fn scan_and_record(&self, scanner: &LibraryScanner) -> Result<(u64, u64, u64)> {
        let report = scanner.scan(&self.store).await?;
        let mut matched = 0u64;
        let mut unmatched = 0u64;
        let mut episodes = 0u64;
        for series in &report.series {
            episodes += series.episodes.len() as u64;
            if self.store.series().upsert_scanned(series).await?.is_some() {
                matched += 1;
            } else {
                unmatched += 1;
            }
        }
        self.reload_index().await?;
        // Episodes on disk changed: recompute what is missing where the provider info is known.
        let known: Vec<(SeriesKey, MissingState)> = self
            .missing
            .read()
            .expect("missing lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, state) in known {
            let on_disk = self.store.series().episodes_on_disk(&key).await?;
            self.record_missing(&key, state.available, &on_disk);
        }
        Ok((matched, episodes, unmatched))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_safe() {
        let key = SeriesKey::parse("k").unwrap();
        assert_eq!(
            folder_name("Attack on Titan", Some(2013), &key),
            "Attack on Titan (2013)"
        );
        assert_eq!(folder_name("../../etc/passwd", None, &key), "etc passwd");
        assert_eq!(folder_name("...", None, &key), "k");
        assert_eq!(folder_name("a\u{0}b:c", None, &key), "a b c");
        assert!(folder_name(&"x".repeat(1000), None, &key).len() <= 150);
    }
}
