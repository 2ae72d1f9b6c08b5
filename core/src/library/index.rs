//! The in-memory index of the library: every series in name order with its episodes on disk
//! and what is missing, so listing, filtering and sorting 10,000 series costs no query.

use std::collections::HashMap;
use std::sync::Arc;

use crate::catalogue::{Entry as CatalogueEntry, Failure};
use crate::model::follow::FollowSettings;
use crate::model::{EpisodeSet, MissingEpisodes, SeriesKey};
use crate::storage::series::{SeriesRecord, SeriesUpsert};

/// What is known of a series' missing episodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Missing {
    /// Episodes the provider lists that are not on disk; `None` while the provider never answered.
    pub episodes: Option<MissingEpisodes>,
    /// When the provider last answered (unix seconds).
    pub checked_at: Option<i64>,
    /// Why the last ask failed, when it did.
    pub failure: Option<Failure>,
}

impl Missing {
    pub fn compute(on_disk: &EpisodeSet, catalogue: Option<&CatalogueEntry>) -> Self {
        match catalogue {
            None => Missing::default(),
            Some(entry) => Missing {
                episodes: entry
                    .is_known()
                    .then(|| MissingEpisodes::compute(&entry.available, on_disk)),
                checked_at: entry.checked_at,
                failure: entry.failure.clone(),
            },
        }
    }

    /// Missing regular episodes and specials together; `None` = unknown.
    pub fn total(&self) -> Option<u64> {
        self.episodes
            .as_ref()
            .map(|m| (m.regular_count() + m.specials.len()) as u64)
    }

    /// Whether the provider ever answered, and if not, whether asking it failed.
    pub fn state(&self) -> MissingState {
        match (&self.episodes, &self.failure) {
            (Some(_), _) => MissingState::Known,
            (None, Some(_)) => MissingState::Failed,
            (None, None) => MissingState::Unknown,
        }
    }

    /// Why the counts are unknown (or old): `None` when the provider's last answer stands.
    /// `provider_enabled` tells "not asked yet" from "nobody can ask".
    pub fn reason(&self, provider_enabled: bool) -> Option<UnknownReason> {
        match &self.failure {
            Some(f) => Some(UnknownReason::of_failure(&f.code)),
            None if self.episodes.is_some() => None,
            None if provider_enabled => Some(UnknownReason::NotAsked),
            None => Some(UnknownReason::NoProvider),
        }
    }

    /// Whether the series matches a state filter.
    pub fn matches(&self, filter: StateFilter) -> bool {
        match filter {
            StateFilter::Missing => self.total().is_some_and(|c| c > 0),
            StateFilter::Complete => self.total() == Some(0),
            StateFilter::Unknown => self.episodes.is_none(),
        }
    }
}

/// What is known of a series' missing episodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingState {
    /// The provider answered at least once: the counts are real (maybe old, see the reason).
    Known,
    /// The provider was never asked (or nobody can ask it): the counts are unknown.
    Unknown,
    /// The provider never answered and the last ask failed: the counts are unknown.
    Failed,
}

/// Why missing episodes are unknown, or why the known ones are old.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownReason {
    /// Not asked yet (a request is due).
    NotAsked,
    /// No enabled provider serves the series' site.
    NoProvider,
    /// The site shows a bot check.
    Blocked,
    /// The site could not be reached (down, refused, timed out, proxy failed).
    SiteDown,
    /// The site does not know the series.
    NotFound,
    /// Anything else (the site's page could not be read, a plugin failed).
    Failed,
}

impl UnknownReason {
    /// From a recorded failure's error code (`core::Error::code`).
    pub fn of_failure(code: &str) -> Self {
        match code {
            "blocked" => UnknownReason::Blocked,
            "site_down" | "timeout" | "upstream_error" | "proxy_error" => UnknownReason::SiteDown,
            "not_found" => UnknownReason::NotFound,
            _ => UnknownReason::Failed,
        }
    }
}

/// A filter of the list by what is known of missing episodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    /// Known to miss episodes.
    Missing,
    /// Known to miss nothing (the provider answered).
    Complete,
    /// Not known (never answered, whatever the reason).
    Unknown,
}

/// One series in the index.
#[derive(Debug, Clone)]
pub struct SeriesEntry {
    pub key: SeriesKey,
    pub site: String,
    pub name: String,
    pub folder: String,
    pub year: Option<i32>,
    pub created_at: i64,
    pub on_disk: Arc<EpisodeSet>,
    pub missing: Missing,
    /// Whether new episodes are looked for and queued by themselves.
    pub follow: FollowSettings,
    /// Lowercased name, key and folder, for the text filter.
    search_text: String,
}

impl SeriesEntry {
    pub fn new(record: SeriesRecord, missing: Missing) -> Self {
        let search_text =
            format!("{}\n{}\n{}", record.name, record.key, record.folder).to_lowercase();
        SeriesEntry {
            key: record.key,
            site: record.site,
            name: record.name,
            folder: record.folder,
            year: record.year,
            created_at: record.created_at,
            on_disk: Arc::new(record.episodes),
            missing,
            follow: FollowSettings::default(),
            search_text,
        }
    }

    /// An entry for what a scan or an add wrote.
    pub(crate) fn from_parts(u: SeriesUpsert, created_at: i64, missing: Missing) -> Self {
        SeriesEntry::new(
            SeriesRecord {
                id: 0,
                key: u.key,
                site: u.site,
                name: u.name,
                folder: u.folder,
                year: u.year,
                description: None,
                cover: None,
                episodes: u.episodes,
                created_at,
                updated_at: created_at,
            },
            missing,
        )
    }

    pub fn matches(&self, needle_lower: &str) -> bool {
        self.search_text.contains(needle_lower)
    }
}

/// A series folder without `.aniworld.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmatchedFolder {
    pub folder: String,
    /// Episode files found in it.
    pub episodes: u64,
    /// A key derived from the folder name.
    pub suggested_key: Option<SeriesKey>,
}

/// Sort orders of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Name,
    Key,
    Missing,
    Added,
}

/// A page of the list.
pub struct ListQuery<'a> {
    pub text: Option<&'a str>,
    /// Only series in this state (`Missing` = known to miss episodes; unknown ones never match it).
    pub state: Option<StateFilter>,
    pub site: Option<&'a str>,
    /// Only followed (`true`) or not followed (`false`) series.
    pub followed: Option<bool>,
    pub sort: SortBy,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Default)]
pub(crate) struct Index {
    /// Sorted by lowercased name, then key.
    entries: Vec<SeriesEntry>,
    positions: HashMap<SeriesKey, usize>,
    by_folder: HashMap<String, usize>,
    unmatched: Arc<Vec<UnmatchedFolder>>,
}

impl Index {
    pub fn new(entries: Vec<SeriesEntry>) -> Self {
        let mut index = Index {
            entries,
            ..Default::default()
        };
        index.reorder();
        index
    }

    fn reorder(&mut self) {
        self.entries
            .sort_by_cached_key(|e| (e.name.to_lowercase(), e.key.clone()));
        self.positions = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.key.clone(), i))
            .collect();
        self.by_folder = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.folder.clone(), i))
            .collect();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn entries(&self) -> &[SeriesEntry] {
        &self.entries
    }

    pub fn get(&self, key: &SeriesKey) -> Option<&SeriesEntry> {
        self.positions.get(key).map(|&i| &self.entries[i])
    }

    pub fn get_mut(&mut self, key: &SeriesKey) -> Option<&mut SeriesEntry> {
        self.positions.get(key).map(|&i| &mut self.entries[i])
    }

    pub fn by_folder(&self, folder: &str) -> Option<&SeriesEntry> {
        self.by_folder.get(folder).map(|&i| &self.entries[i])
    }

    pub fn unmatched(&self) -> Arc<Vec<UnmatchedFolder>> {
        self.unmatched.clone()
    }

    /// A folder got its `.aniworld.json`: it is no longer unmatched.
    pub fn remove_unmatched(&mut self, folder: &str) {
        if self.unmatched.iter().any(|u| u.folder == folder) {
            let rest = self
                .unmatched
                .iter()
                .filter(|u| u.folder != folder)
                .cloned()
                .collect();
            self.unmatched = Arc::new(rest);
        }
    }

    pub fn set_unmatched(&mut self, unmatched: Vec<UnmatchedFolder>) {
        if *self.unmatched != unmatched {
            self.unmatched = Arc::new(unmatched);
        }
    }

    /// Replaces or adds `upserts` and drops `removed`, keeping the order.
    pub fn apply(&mut self, upserts: Vec<SeriesEntry>, removed: &[SeriesKey]) {
        if upserts.is_empty() && removed.is_empty() {
            return;
        }
        if !removed.is_empty() {
            let gone: std::collections::HashSet<&SeriesKey> = removed.iter().collect();
            self.entries.retain(|e| !gone.contains(&e.key));
            self.reorder();
        }
        for mut entry in upserts {
            match self.positions.get(&entry.key) {
                Some(&i) => {
                    entry.created_at = self.entries[i].created_at;
                    // Follow settings are the user's, not the folder's.
                    entry.follow = self.entries[i].follow;
                    self.entries[i] = entry;
                }
                None => self.entries.push(entry),
            }
        }
        // New series, and names or folders that changed, move.
        self.reorder();
    }

    /// Filters, sorts and pages the index; returns the page and the total matching.
    pub fn list(&self, q: &ListQuery<'_>) -> (Vec<SeriesEntry>, usize) {
        let unfiltered = q.text.is_none_or(str::is_empty)
            && q.site.is_none()
            && q.state.is_none()
            && q.followed.is_none();
        if unfiltered && q.sort == SortBy::Name && !q.descending {
            // The index is kept in name order: a page is a slice, whatever the library size.
            let page = self
                .entries
                .iter()
                .skip(q.offset)
                .take(q.limit)
                .cloned()
                .collect();
            return (page, self.entries.len());
        }
        let needle = q.text.map(str::to_lowercase).filter(|t| !t.is_empty());
        let mut hits: Vec<&SeriesEntry> = self
            .entries
            .iter()
            .filter(|e| needle.as_deref().is_none_or(|n| e.matches(n)))
            .filter(|e| q.site.is_none_or(|s| e.site == s))
            .filter(|e| q.state.is_none_or(|f| e.missing.matches(f)))
            .filter(|e| q.followed.is_none_or(|f| e.follow.followed == f))
            .collect();
        match q.sort {
            SortBy::Name => {}
            SortBy::Key => hits.sort_by(|a, b| a.key.cmp(&b.key)),
            // Unknown counts sort below zero: "nothing missing" is not claimed for them.
            SortBy::Missing => hits.sort_by(|a, b| {
                a.missing
                    .total()
                    .map(|c| c as i128)
                    .unwrap_or(-1)
                    .cmp(&b.missing.total().map(|c| c as i128).unwrap_or(-1))
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
            .cloned()
            .collect();
        (page, total)
    }
}
