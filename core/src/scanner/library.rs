//! [`LibraryScanner`]: walks the library root, one series folder per rayon task, and reuses the
//! remembered result of every folder whose fingerprint (modification times of the folder, its
//! metadata file and all its subfolders) has not changed.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use rayon::prelude::*;

use super::filename::{is_sample, is_sample_folder, is_video, parse_episode, season_from_folder};
use super::state::{
    FNV_OFFSET, ROOT_SHARD, RememberedFolder, RememberedState, SHARDS, Subdirs, assemble,
    encode_folder, encode_root, fnv1a, remembered_listing, shard_of,
};
use super::{FolderState, LocalEpisodes, ScanReport, ScanWarning, ScannedSeries, StateStore};
use crate::error::{Error, Result};
use crate::metadata::{METADATA_FILE, SeriesMetadata};
use crate::model::SeriesKey;

/// Folders modified this close to the scan start (ns) are re-read next time anyway: a change in
/// the same clock tick as the scan would not move their modification time.
const RACY_WINDOW_NS: i128 = 2_000_000_000;

/// Deepest folder nesting below a series folder that is walked.
pub const MAX_DEPTH: usize = 16;

/// NAS thumbnail folders (Synology) that never hold episodes.
const IGNORED_FOLDERS: [&str; 2] = ["@eaDir", "#recycle"];

/// Called after each series folder with (folders done, folders in total, folder name).
pub type ProgressFn = Arc<dyn Fn(u64, u64, &str) + Send + Sync>;

/// The result of [`LibraryScanner::scan_blocking`]: the report plus what to remember.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    pub report: ScanReport,
    /// The shards of the library's scan state that differ from the remembered ones, as
    /// (shard number, value); empty when nothing changed.
    pub state: Vec<(u32, Vec<u8>)>,
}

/// The library root's series folders as (name, canonical target of a top-level symlink), sorted
/// by name.
struct Listing {
    folders: Vec<(String, Option<PathBuf>)>,
    warnings: Vec<ScanWarning>,
    /// The root record (see `state.rs`) to remember for this listing; `None` when the listing
    /// is the remembered one.
    root_record: Option<Vec<u8>>,
}

#[derive(Clone)]
pub struct LibraryScanner {
    root: PathBuf,
    /// `root` with symlinks resolved: the boundary no walk may leave.
    canonical_root: PathBuf,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for LibraryScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibraryScanner")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl LibraryScanner {
    /// A scanner for `root`, which must be a readable directory (errors name the path).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let meta = std::fs::metadata(&root).map_err(|e| Error::io(&root, e))?;
        if !meta.is_dir() {
            return Err(Error::invalid(
                "library",
                format!("{} is not a folder", root.display()),
            ));
        }
        // Fails early and clearly when the folder cannot be listed.
        std::fs::read_dir(&root).map_err(|e| Error::io(&root, e))?;
        let canonical_root = std::fs::canonicalize(&root).map_err(|e| Error::io(&root, e))?;
        Ok(LibraryScanner {
            root,
            canonical_root,
            progress: None,
        })
    }

    /// Reports progress after each series folder.
    pub fn with_progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The id under which this library's scan state is stored (its canonical path).
    pub fn library_id(&self) -> String {
        self.canonical_root.to_string_lossy().into_owned()
    }

    /// Scans against the state remembered in `state`. The caller saves [`ScanOutcome::state`]
    /// once it has recorded the report, so a crash in between only means reading folders again.
    pub async fn scan(&self, state: &dyn StateStore) -> Result<ScanOutcome> {
        let join_error =
            |e: tokio::task::JoinError| Error::io(&self.root, std::io::Error::other(e.to_string()));
        let library = self.library_id();
        // The root record comes first: the root is listed (or its remembered listing read back)
        // while the rest of the state is read.
        let root = state.load(&library, ROOT_SHARD..ROOT_SHARD + 1).await?;
        let root = root.into_iter().next().map(|(_, r)| r);
        let lister = self.clone();
        let listing = tokio::task::spawn_blocking(move || {
            let listing = lister.listing(root.as_deref());
            (listing, root)
        });
        let mut shards = state.load(&library, 0..ROOT_SHARD).await?;
        let (listing, root) = listing.await.map_err(join_error)?;
        let listing = listing?;
        shards.extend(root.map(|r| (ROOT_SHARD, r)));
        let scanner = self.clone();
        tokio::task::spawn_blocking(move || {
            let previous = scanner.decode_state(shards);
            scanner.scan_listed(listing, &previous)
        })
        .await
        .map_err(join_error)
    }

    /// The state the last scan of this library left in `state`. Shards from another version or
    /// damaged ones are left out (logged): their folders are read again, and the shards rewritten.
    pub async fn remembered(&self, state: &dyn StateStore) -> Result<RememberedState> {
        let shards = state.load(&self.library_id(), 0..ROOT_SHARD + 1).await?;
        let scanner = self.clone();
        tokio::task::spawn_blocking(move || scanner.decode_state(shards))
            .await
            .map_err(|e| Error::io(&self.root, std::io::Error::other(e.to_string())))
    }

    /// Reads one series folder of the library now (no remembered state): what the library holds
    /// for a series at this moment. `Ok(None)` when there is no such folder.
    pub fn scan_folder(&self, name: &str) -> Result<Option<(ScannedSeries, Vec<ScanWarning>)>> {
        if !is_series_folder_name(name) {
            return Err(Error::invalid(
                "folder",
                format!(
                    "{:?} is not a series folder name",
                    name.chars().take(80).collect::<String>()
                ),
            ));
        }
        let path = self.root.join(name);
        let canonical = match std::fs::canonicalize(&path) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        if !canonical.starts_with(&self.canonical_root) || canonical == self.canonical_root {
            return Ok(None);
        }
        if !canonical.is_dir() {
            return Ok(None);
        }
        match self.scan_series_folder(name, &path, &canonical, now_ns()) {
            FolderResult::Scanned { state, .. } => Ok(Some((state.series, state.warnings))),
            FolderResult::Unchanged {
                series, warnings, ..
            } => Ok(Some((series, warnings))),
            FolderResult::Failed(w) => Err(Error::io(w.path, std::io::Error::other(w.message))),
        }
    }

    fn decode_state(&self, shards: Vec<(u32, Vec<u8>)>) -> RememberedState {
        let state = RememberedState::decode(shards);
        for (shard, reason) in state.damaged() {
            tracing::info!(library = %self.root.display(), shard, %reason, "remembered scan state not used: reading its folders again");
        }
        state
    }

    /// Scans without any remembered state (every folder is read).
    pub fn scan_fresh(&self) -> Result<ScanReport> {
        Ok(self.scan_blocking(&RememberedState::default())?.report)
    }

    /// The scan itself (blocking, parallel), against the state a previous scan left.
    pub fn scan_blocking(&self, previous: &RememberedState) -> Result<ScanOutcome> {
        Ok(self.scan_listed(self.listing(previous.root())?, previous))
    }

    /// The series folders in the library root: the remembered listing while the root's
    /// modification time is the remembered one, else the root listed again.
    fn listing(&self, root_record: Option<&[u8]>) -> Result<Listing> {
        if let Some(record) = root_record
            && let Ok(meta) = std::fs::metadata(&self.root)
        {
            match remembered_listing(record, mtime(&meta), is_series_folder_name) {
                Ok(Some(names)) => {
                    return Ok(Listing {
                        folders: names.into_iter().map(|n| (n, None)).collect(),
                        warnings: Vec::new(),
                        root_record: None,
                    });
                }
                Ok(None) => {}
                Err(reason) => {
                    tracing::info!(library = %self.root.display(), %reason, "remembered listing not used: listing the library again");
                }
            }
        }
        self.list_folders()
    }

    /// Lists the series folders in the library root, sorted by name.
    fn list_folders(&self) -> Result<Listing> {
        // Taken before listing, so a change during the listing shows next time.
        let root_mtime = std::fs::metadata(&self.root).map(|m| mtime(&m));
        let started = now_ns();
        let mut symlinks = false;
        let mut warnings = Vec::new();
        let entries = std::fs::read_dir(&self.root).map_err(|e| Error::io(&self.root, e))?;
        let mut folders: Vec<(String, Option<PathBuf>)> = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(io_warning(&self.root, &e, "cannot list the library"));
                    continue;
                }
            };
            let Some(name) = utf8_name(&entry, &mut warnings) else {
                continue;
            };
            if is_ignored_name(&name) {
                continue;
            }
            let Ok(file_type) = entry.file_type() else {
                warnings.push(warning(
                    &entry.path(),
                    "cannot tell what kind of entry this is",
                ));
                continue;
            };
            if file_type.is_symlink() {
                symlinks = true;
                match self.follow_top_level_symlink(&entry.path()) {
                    Ok(Some(target)) => folders.push((name, Some(target))),
                    Ok(None) => {}
                    Err(w) => warnings.push(w),
                }
            } else if file_type.is_dir() {
                folders.push((name, None));
            } else if is_video(&name) {
                warnings.push(warning(
                    &entry.path(),
                    "video file directly in the library root (not in a series folder): not scanned",
                ));
            }
        }
        folders.sort_by(|a, b| a.0.cmp(&b.0));
        // Only a plain listing is remembered: a symlink's target can change without the root
        // changing, and warnings are to be shown on every scan.
        let remember = match root_mtime {
            Ok(m) => (!symlinks && warnings.is_empty() && !is_racy(m, started)).then_some(m),
            Err(_) => None,
        };
        let root_record =
            encode_root(remember.map(|m| (m, folders.iter().map(|(name, _)| name.as_str()))));
        Ok(Listing {
            folders,
            warnings,
            root_record: Some(root_record),
        })
    }

    /// Scans the listed folders, reusing every unchanged one from `previous`.
    fn scan_listed(&self, listing: Listing, previous: &RememberedState) -> ScanOutcome {
        let Listing {
            folders,
            warnings,
            root_record,
        } = listing;
        let mut outcome = ScanOutcome::default();
        outcome.report.warnings = warnings;
        let started = now_ns();
        let total = folders.len() as u64;
        let done = AtomicU64::new(0);
        // Each result says whether the folder was remembered: a shard where fewer remembered
        // folders are found than it holds has lost some.
        let results: Vec<(bool, FolderResult<'_>)> = folders
            .par_iter()
            .map(|(name, target)| {
                let remembered = previous.get(name);
                let result = self.scan_or_reuse(name, target, remembered, started);
                // Counted only for a listener: the shared counter costs both cores otherwise.
                if let Some(progress) = &self.progress {
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    progress(n, total, name);
                }
                (remembered.is_some(), result)
            })
            .collect();

        // A shard is written again only when it changes: a folder in it read again, one that
        // failed and was remembered before, one that is gone, or the shard could not be read.
        let shards = SHARDS as usize;
        let mut changed = vec![false; shards];
        let mut found = vec![0usize; shards];
        for (shard, _) in previous.damaged() {
            if let Some(c) = changed.get_mut(*shard as usize) {
                *c = true;
            }
        }
        let mut entries: Vec<Vec<Cow<'_, [u8]>>> = vec![Vec::new(); shards];
        outcome.report.series.reserve(results.len());
        outcome.report.reused.reserve(results.len());
        for ((name, _), (known, result)) in folders.iter().zip(results) {
            let shard = shard_of(name) as usize;
            found[shard] += usize::from(known);
            match result {
                FolderResult::Unchanged {
                    series,
                    warnings,
                    entry,
                } => {
                    outcome.report.folders_unchanged += 1;
                    entries[shard].push(Cow::Borrowed(entry));
                    outcome.report.warnings.extend(warnings);
                    outcome.report.series.push(series);
                    outcome.report.reused.push(true);
                }
                FolderResult::Scanned { state, encoded } => {
                    outcome.report.folders_rescanned += 1;
                    changed[shard] = true;
                    if let Some(entry) = encoded {
                        entries[shard].push(Cow::Owned(entry));
                    }
                    outcome.report.warnings.extend(state.warnings);
                    outcome.report.series.push(state.series);
                    outcome.report.reused.push(false);
                }
                FolderResult::Failed(w) => {
                    outcome.report.folders_rescanned += 1;
                    changed[shard] |= known;
                    outcome.report.warnings.push(w);
                }
            }
        }
        for (shard, entries) in entries.iter().enumerate() {
            let number = shard as u32;
            if changed[shard] || found[shard] < previous.count_in(number) {
                let value = assemble(entries.iter().map(AsRef::as_ref));
                outcome.state.push((number, value));
            }
        }
        if let Some(record) = root_record
            && previous.root() != Some(record.as_slice())
        {
            outcome.state.push((ROOT_SHARD, record));
        }
        outcome
    }

    /// A top-level symlink is scanned as a series folder only when it points to a folder inside
    /// the library root (and not to the root itself).
    fn follow_top_level_symlink(
        &self,
        path: &Path,
    ) -> std::result::Result<Option<PathBuf>, ScanWarning> {
        let target = std::fs::canonicalize(path)
            .map_err(|e| io_warning(path, &e, "broken symlink: not followed"))?;
        if !target.starts_with(&self.canonical_root) {
            return Err(warning(
                path,
                "symlink points outside the library root: not followed",
            ));
        }
        if target == self.canonical_root {
            return Err(warning(
                path,
                "symlink loop (points to the library root): not followed",
            ));
        }
        Ok(target.is_dir().then_some(target))
    }

    /// `target`: where a top-level symlink points (canonical); `None` for a plain folder.
    fn scan_or_reuse<'a>(
        &self,
        name: &str,
        target: &Option<PathBuf>,
        previous: Option<RememberedFolder<'a>>,
        started: i128,
    ) -> FolderResult<'a> {
        // A damaged record is no error: the folder is just read again.
        if let Some(remembered) = previous
            && let Some(fingerprint) = remembered.fingerprint
            && let Ok((metadata_file, mut subdirs)) = remembered.subdirs()
            && remembered_fingerprint(&self.root, name, metadata_file, &mut subdirs)
                == Some(fingerprint)
            && let Ok(rest) = subdirs.rest()
            && let Ok((series, warnings)) = RememberedFolder::finish(name, rest)
        {
            return FolderResult::Unchanged {
                series,
                warnings,
                entry: remembered.entry,
            };
        }
        let path = self.root.join(name);
        let canonical = match target {
            Some(t) => Cow::Borrowed(t.as_path()),
            None => Cow::Owned(self.canonical_root.join(name)),
        };
        self.scan_series_folder(name, &path, &canonical, started)
    }

    /// Reads one series folder completely.
    pub(crate) fn scan_series_folder(
        &self,
        name: &str,
        path: &Path,
        canonical: &Path,
        started: i128,
    ) -> FolderResult<'static> {
        let mut warnings = Vec::new();
        let mut fingerprint = Fingerprint::new();
        // Modification times are taken before listing, so a change during the scan shows next time.
        let folder_mtime = match std::fs::metadata(path) {
            Ok(m) => mtime(&m),
            Err(e) => {
                return FolderResult::Failed(io_warning(path, &e, "cannot read series folder"));
            }
        };
        let (meta_file, read) = SeriesMetadata::read_with_file_meta(path);
        let meta_file_mtime = meta_file.map_or(-1, |m| mtime(&m));
        fingerprint.add("", folder_mtime);
        fingerprint.add(METADATA_FILE, meta_file_mtime);

        let metadata = match read {
            Ok(m) => m,
            Err(e) => {
                warnings.push(warning(
                    &path.join(METADATA_FILE),
                    &format!("metadata file ignored: {e}"),
                ));
                None
            }
        };

        let mut walk = SeriesWalk {
            canonical_root: &self.canonical_root,
            series_canonical: canonical,
            followed: HashSet::new(),
            episodes: LocalEpisodes::new(),
            unparsed: Vec::new(),
            subdirs: Vec::new(),
            warnings,
            complete: true,
        };
        let root_listing = std::fs::read_dir(path);
        let root_listing = match root_listing {
            Ok(l) => l,
            Err(e) => {
                return FolderResult::Failed(io_warning(path, &e, "cannot read series folder"));
            }
        };
        walk.walk_listing(root_listing, path, canonical, name, None, 0);

        walk.subdirs.sort_by(|a, b| a.0.cmp(&b.0));
        for (rel, m) in &walk.subdirs {
            fingerprint.add(rel, *m);
        }
        let newest = walk
            .subdirs
            .iter()
            .map(|(_, m)| *m)
            .chain([folder_mtime, meta_file_mtime])
            .max()
            .unwrap_or(0);
        let racy = is_racy(newest, started);
        walk.episodes.sort();
        walk.unparsed.sort();

        let (key, site, display_name, year, suggested_key) = match metadata {
            Some(m) => (Some(m.key), Some(m.site), m.name, m.year, None),
            None => (None, None, name.to_owned(), None, SeriesKey::suggest(name)),
        };
        let state = FolderState {
            series: ScannedSeries {
                key,
                site,
                folder: name.to_owned(),
                name: display_name,
                year,
                episodes: walk.episodes,
                unparsed: walk.unparsed,
                suggested_key,
            },
            warnings: walk.warnings,
            subdirs: walk.subdirs.into_iter().map(|(rel, _)| rel).collect(),
            metadata_file: meta_file_mtime != -1,
        };
        // A racy fingerprint never matches, so the folder is read again next time. A folder part
        // of which could not be read is not remembered at all.
        let fingerprint = (!racy).then(|| fingerprint.finish());
        let encoded = if walk.complete {
            encode_folder(&state, fingerprint)
        } else {
            None
        };
        FolderResult::Scanned { state, encoded }
    }
}

pub(crate) enum FolderResult<'a> {
    /// Reused from the remembered state; `entry` is its encoded form, kept as is.
    Unchanged {
        series: ScannedSeries,
        warnings: Vec<ScanWarning>,
        entry: &'a [u8],
    },
    Scanned {
        state: FolderState,
        /// The folder's entry for the next state; `None` when it is not to be remembered.
        encoded: Option<Vec<u8>>,
    },
    Failed(ScanWarning),
}

/// State of the walk below one series folder.
struct SeriesWalk<'a> {
    canonical_root: &'a Path,
    series_canonical: &'a Path,
    /// Canonical targets of folder symlinks already followed (breaks loops between folders).
    followed: HashSet<PathBuf>,
    episodes: LocalEpisodes,
    unparsed: Vec<String>,
    /// (path relative to the series folder, mtime) of every subfolder walked.
    subdirs: Vec<(String, i128)>,
    warnings: Vec<ScanWarning>,
    complete: bool,
}

impl SeriesWalk<'_> {
    /// `dir` is the real path, `canonical` its symlink-free form, `rel` its path relative to the
    /// library root (`/`-separated), `season` the season of the nearest season folder.
    fn walk_listing(
        &mut self,
        listing: std::fs::ReadDir,
        dir: &Path,
        canonical: &Path,
        rel: &str,
        season: Option<u32>,
        depth: usize,
    ) {
        for entry in listing {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.complete = false;
                    self.warnings
                        .push(io_warning(dir, &e, "cannot list folder"));
                    continue;
                }
            };
            let Some(name) = utf8_name(&entry, &mut self.warnings) else {
                continue;
            };
            if is_ignored_name(&name) {
                continue;
            }
            let Ok(file_type) = entry.file_type() else {
                self.warnings.push(warning(
                    &entry.path(),
                    "cannot tell what kind of entry this is",
                ));
                continue;
            };
            // Paths are only built for folders and videos: most entries need neither.
            if file_type.is_dir() {
                let child_rel = format!("{rel}/{name}");
                let child_canonical = canonical.join(&name);
                self.enter_dir(
                    &entry.path(),
                    &child_canonical,
                    &name,
                    &child_rel,
                    season,
                    depth,
                );
            } else if file_type.is_symlink() {
                let child_rel = format!("{rel}/{name}");
                self.follow_symlink(&entry.path(), canonical, &name, &child_rel, season, depth);
            } else {
                self.add_file(&name, rel, season);
            }
        }
    }

    fn enter_dir(
        &mut self,
        path: &Path,
        canonical: &Path,
        name: &str,
        rel: &str,
        parent_season: Option<u32>,
        depth: usize,
    ) {
        if is_sample_folder(name) {
            return;
        }
        if depth + 1 > MAX_DEPTH {
            self.warnings.push(warning(
                path,
                &format!("nested deeper than {MAX_DEPTH} folders: not scanned"),
            ));
            return;
        }
        let m = match std::fs::metadata(path) {
            Ok(m) => mtime(&m),
            Err(e) => {
                self.complete = false;
                self.warnings
                    .push(io_warning(path, &e, "cannot read folder"));
                return;
            }
        };
        let listing = match std::fs::read_dir(path) {
            Ok(l) => l,
            Err(e) => {
                self.complete = false;
                self.warnings
                    .push(io_warning(path, &e, "cannot read folder"));
                return;
            }
        };
        let series_rel = rel.split_once('/').map_or("", |(_, r)| r).to_owned();
        self.subdirs.push((series_rel, m));
        let season = season_from_folder(name).or(parent_season);
        self.walk_listing(listing, path, canonical, rel, season, depth + 1);
    }

    /// Symlinks are followed only inside the library root, never into a folder already on the
    /// walk (loops) or already walked.
    fn follow_symlink(
        &mut self,
        path: &Path,
        parent_canonical: &Path,
        name: &str,
        rel: &str,
        season: Option<u32>,
        depth: usize,
    ) {
        let target = match std::fs::canonicalize(path) {
            Ok(t) => t,
            Err(e) => {
                self.warnings
                    .push(io_warning(path, &e, "broken symlink: not followed"));
                return;
            }
        };
        if !target.starts_with(self.canonical_root) {
            self.warnings.push(warning(
                path,
                "symlink points outside the library root: not followed",
            ));
            return;
        }
        if target.is_dir() {
            if parent_canonical.starts_with(&target) {
                self.warnings.push(warning(
                    path,
                    "symlink loop (points to a parent folder): not followed",
                ));
                return;
            }
            if target.starts_with(self.series_canonical) || !self.followed.insert(target.clone()) {
                self.warnings.push(warning(
                    path,
                    "symlink to a folder that is scanned anyway: not followed",
                ));
                return;
            }
            self.enter_dir(path, &target, name, rel, season, depth);
        } else {
            let parent = rel.rsplit_once('/').map_or(rel, |(p, _)| p);
            self.add_file(name, parent, season);
        }
    }

    /// `dir_rel` is the folder holding the file, relative to the library root.
    fn add_file(&mut self, name: &str, dir_rel: &str, season: Option<u32>) {
        if !is_video(name) || is_sample(name) {
            return;
        }
        match parse_episode(name, season) {
            Some(parsed) => {
                self.episodes
                    .push_joined(parsed.season, &parsed.episodes, &[dir_rel, "/", name]);
            }
            None => self.unparsed.push(format!("{dir_rel}/{name}")),
        }
    }
}

/// What a remembered listing may hold: a name the root's listing would give a series folder,
/// never a path.
fn is_series_folder_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\0']) && !is_ignored_name(name)
}

/// Hidden entries, NAS metadata folders and partial downloads are never part of a scan.
fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.')
        || IGNORED_FOLDERS.iter().any(|f| name.eq_ignore_ascii_case(f))
        || name.ends_with(".part")
}

/// The entry's name, or a warning when it is not UTF-8 (its path is only built then).
fn utf8_name(entry: &std::fs::DirEntry, warnings: &mut Vec<ScanWarning>) -> Option<String> {
    match entry.file_name().into_string() {
        Ok(n) => Some(n),
        Err(_) => {
            // The lossy form keeps the warning serialisable (JSON paths are strings).
            let shown = PathBuf::from(entry.path().to_string_lossy().into_owned());
            warnings.push(warning(&shown, "name is not valid UTF-8: skipped"));
            None
        }
    }
}

fn warning(path: &Path, message: &str) -> ScanWarning {
    ScanWarning {
        path: path.to_path_buf(),
        message: message.to_owned(),
    }
}

/// Maps an I/O error while scanning to a warning that names the path and the cause.
pub(crate) fn io_warning(path: &Path, error: &std::io::Error, what: &str) -> ScanWarning {
    ScanWarning {
        path: path.to_path_buf(),
        message: format!("{what}: {error}"),
    }
}

/// Nanoseconds since the epoch (negative before it); 0 when the platform has no mtime.
fn mtime(meta: &std::fs::Metadata) -> i128 {
    match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        },
        Err(_) => 0,
    }
}

/// Whether a modification at `mtime` is too close to a scan started at `started` for a later
/// change in the same clock tick to be told apart (see [`RACY_WINDOW_NS`]).
fn is_racy(mtime: i128, started: i128) -> bool {
    mtime >= started - RACY_WINDOW_NS
}

fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// The fingerprint series folder `name` would have now if its subfolders are still the
/// remembered ones; `None` when something remembered is gone. `metadata_file`: whether it had
/// one last time.
fn remembered_fingerprint(
    root: &Path,
    name: &str,
    metadata_file: bool,
    subdirs: &mut Subdirs<'_>,
) -> Option<u64> {
    let mtime_of = |path: &Path| std::fs::metadata(path).ok().map(|m| mtime(&m));
    let mut fingerprint = Fingerprint::new();
    let folder = root.join(name);
    fingerprint.add("", mtime_of(&folder)?);
    // One stat fewer per folder without a metadata file: adding one moves the folder's mtime.
    let meta = if metadata_file {
        mtime_of(&folder.join(METADATA_FILE)).unwrap_or(-1)
    } else {
        -1
    };
    fingerprint.add(METADATA_FILE, meta);
    // A damaged list is a mismatch: the folder is read again.
    while let Some(sub) = subdirs.next().ok()? {
        fingerprint.add(sub, mtime_of(&folder.join(sub))?);
    }
    Some(fingerprint.finish())
}

/// FNV-1a over (relative path, mtime) pairs: stable across runs and Rust versions.
struct Fingerprint(u64);

impl Fingerprint {
    fn new() -> Self {
        Fingerprint(FNV_OFFSET)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.0 = fnv1a(self.0, bytes);
    }

    fn add(&mut self, rel: &str, mtime: i128) {
        self.bytes(rel.as_bytes());
        self.bytes(&[0]);
        self.bytes(&mtime.to_le_bytes());
    }

    fn finish(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    /// The scan state kept in memory, as the database keeps it in the app.
    #[derive(Default)]
    struct MemoryState(std::sync::Mutex<std::collections::HashMap<(String, u32), Vec<u8>>>);

    #[async_trait::async_trait]
    impl StateStore for MemoryState {
        async fn load(
            &self,
            library: &str,
            shards: std::ops::Range<u32>,
        ) -> Result<Vec<(u32, Vec<u8>)>> {
            let map = self.0.lock().unwrap();
            Ok(map
                .iter()
                .filter(|((l, s), _)| l == library && shards.contains(s))
                .map(|((_, s), v)| (*s, v.clone()))
                .collect())
        }
    }

    impl MemoryState {
        fn scan_state(&self) -> &Self {
            self
        }

        fn save(&self, library: &str, shards: &[(u32, Vec<u8>)]) {
            let mut map = self.0.lock().unwrap();
            for (shard, value) in shards {
                map.insert((library.to_owned(), *shard), value.clone());
            }
        }

        fn load_all(&self, library: &str) -> Vec<(u32, Vec<u8>)> {
            let map = self.0.lock().unwrap();
            map.iter()
                .filter(|((l, _), _)| l == library)
                .map(|((_, s), v)| (*s, v.clone()))
                .collect()
        }

        fn load_shard(&self, library: &str, shard: u32) -> Option<Vec<u8>> {
            self.0
                .lock()
                .unwrap()
                .get(&(library.to_owned(), shard))
                .cloned()
        }
    }

    /// Scans against `state` and keeps the new state there, as the library service does.
    async fn scan_saved(scanner: &LibraryScanner, state: &MemoryState) -> ScanReport {
        let outcome = scanner.scan(state).await.unwrap();
        state.save(&scanner.library_id(), &outcome.state);
        outcome.report
    }

    struct Lib {
        dir: tempfile::TempDir,
    }

    impl Lib {
        fn new() -> Self {
            Lib {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn root(&self) -> PathBuf {
            self.dir.path().join("library")
        }

        fn file(&self, rel: &str) -> PathBuf {
            let path = self.root().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"x").unwrap();
            path
        }

        fn dir(&self, rel: &str) -> PathBuf {
            let path = self.root().join(rel);
            std::fs::create_dir_all(&path).unwrap();
            path
        }

        fn meta(&self, folder: &str, key: &str) {
            let m = SeriesMetadata {
                key: SeriesKey::parse(key).unwrap(),
                site: "aniworld".into(),
                name: format!("Name of {key}"),
                year: Some(2013),
            };
            m.write(&self.dir(folder)).unwrap();
        }

        /// Creates `files`, ages the tree, and scans it once into a fresh database.
        async fn remembered(&self, files: &[&str]) -> (MemoryState, LibraryScanner, ScanReport) {
            for f in files {
                self.file(f);
            }
            self.age();
            let store = MemoryState::default();
            let scanner = self.scanner();
            let first = scan_saved(&scanner, &store).await;
            (store, scanner, first)
        }

        fn scanner(&self) -> LibraryScanner {
            std::fs::create_dir_all(self.root()).unwrap();
            LibraryScanner::new(self.root()).unwrap()
        }

        fn scan(&self) -> ScanReport {
            self.scanner().scan_fresh().unwrap()
        }

        /// Moves every modification time in the library an hour back, out of the racy window.
        fn age(&self) {
            let past = SystemTime::now() - Duration::from_secs(3600);
            for entry in walkdir::WalkDir::new(self.root()) {
                let entry = entry.unwrap();
                if entry.path_is_symlink() {
                    continue;
                }
                let f = std::fs::File::open(entry.path()).unwrap();
                f.set_modified(past).unwrap();
            }
        }
    }

    fn series<'r>(report: &'r ScanReport, folder: &str) -> &'r ScannedSeries {
        report
            .series
            .iter()
            .find(|s| s.folder == folder)
            .unwrap_or_else(|| panic!("no series {folder:?} in {report:#?}"))
    }

    fn pairs(s: &ScannedSeries) -> Vec<(u32, u32)> {
        s.episodes.iter().map(|e| (e.season, e.episode)).collect()
    }

    fn has_warning(report: &ScanReport, needle: &str) -> bool {
        report.warnings.iter().any(|w| w.message.contains(needle))
    }

    #[test]
    fn reads_identity_from_metadata_file() {
        let lib = Lib::new();
        lib.meta("Attack on Titan (2013)", "attack-on-titan");
        lib.file("Attack on Titan (2013)/S01E01.mkv");
        let report = lib.scan();
        let s = series(&report, "Attack on Titan (2013)");
        assert_eq!(s.key.as_ref().unwrap().as_str(), "attack-on-titan");
        assert_eq!(s.site.as_deref(), Some("aniworld"));
        assert_eq!(s.name, "Name of attack-on-titan");
        assert_eq!(s.year, Some(2013));
        assert_eq!(s.suggested_key, None);
    }

    #[test]
    fn unmatched_folder_gets_a_suggested_key() {
        let lib = Lib::new();
        lib.file("Mädchen Show (2020)/S01E01.mkv");
        let report = lib.scan();
        let s = series(&report, "Mädchen Show (2020)");
        assert_eq!(s.key, None);
        assert_eq!(s.name, "Mädchen Show (2020)");
        assert_eq!(
            s.suggested_key.as_ref().unwrap().as_str(),
            "maedchen-show-2020"
        );
    }

    #[test]
    fn broken_metadata_file_is_a_warning_and_the_folder_counts_as_unmatched() {
        let lib = Lib::new();
        lib.file("Show/S01E01.mkv");
        std::fs::write(lib.root().join("Show").join(METADATA_FILE), "{oops").unwrap();
        let report = lib.scan();
        assert_eq!(series(&report, "Show").key, None);
        assert!(has_warning(&report, "metadata file ignored"));
    }

    #[test]
    fn finds_videos_flat_and_in_season_folders_at_any_depth() {
        let lib = Lib::new();
        lib.file("Show/Show S01E01.mkv");
        lib.file("Show/Season 02/Episode 3.mp4");
        lib.file("Show/Staffel 3/Folge 4.avi");
        lib.file("Show/Season 04/extra/deeper/E05.webm");
        lib.file("Show/Specials/Film 1.mov");
        lib.file("Show/Show - 2x06.ts");
        lib.file("Show/Show s5e7.m4v");
        let report = lib.scan();
        assert_eq!(
            pairs(series(&report, "Show")),
            vec![(0, 1), (1, 1), (2, 3), (2, 6), (3, 4), (4, 5), (5, 7)]
        );
        let s = series(&report, "Show");
        assert!(
            s.episodes
                .iter()
                .any(|e| e.path == "Show/Season 02/Episode 3.mp4")
        );
    }

    #[test]
    fn multi_episode_file_lists_each_episode_with_the_same_path() {
        let lib = Lib::new();
        lib.file("Show/Show S01E05-E06.mkv");
        let report = lib.scan();
        let s = series(&report, "Show");
        assert_eq!(pairs(s), vec![(1, 5), (1, 6)]);
        assert!(
            s.episodes
                .iter()
                .all(|e| e.path == "Show/Show S01E05-E06.mkv")
        );
    }

    #[test]
    fn ignores_hidden_nas_partial_sample_and_non_video_files() {
        let lib = Lib::new();
        lib.file("Show/.hidden/S01E01.mkv");
        lib.file("Show/.S01E02.mkv");
        lib.file("Show/@eaDir/S01E03.mkv");
        lib.file("Show/S01E04.mp4.part");
        lib.file("Show/Sample/S01E05.mkv");
        lib.file("Show/S01E06.sample.mkv");
        lib.file("Show/S01E07.srt");
        lib.file("Show/cover.jpg");
        lib.file(".hidden-series/S01E01.mkv");
        lib.file("@eaDir/S01E01.mkv");
        let report = lib.scan();
        assert_eq!(report.series.len(), 1);
        let s = series(&report, "Show");
        assert!(s.episodes.is_empty(), "{s:?}");
        assert!(s.unparsed.is_empty(), "{s:?}");
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    #[test]
    fn unparsed_videos_are_reported_not_dropped() {
        let lib = Lib::new();
        lib.file("Show/Season 01/random clip.mkv");
        lib.file("Show/behind the scenes.mp4");
        let report = lib.scan();
        assert_eq!(
            series(&report, "Show").unparsed,
            vec![
                "Show/Season 01/random clip.mkv".to_owned(),
                "Show/behind the scenes.mp4".to_owned()
            ]
        );
    }

    #[test]
    fn video_in_library_root_is_a_warning() {
        let lib = Lib::new();
        lib.file("Loose S01E01.mkv");
        lib.file("notes.txt");
        let report = lib.scan();
        assert!(report.series.is_empty());
        assert!(has_warning(&report, "directly in the library root"));
        assert_eq!(report.warnings.len(), 1);
    }

    #[test]
    fn series_are_sorted_by_folder() {
        let lib = Lib::new();
        for name in ["b", "C", "a"] {
            lib.dir(name);
        }
        let folders: Vec<_> = lib.scan().series.into_iter().map(|s| s.folder).collect();
        assert_eq!(folders, vec!["C", "a", "b"]);
    }

    #[test]
    fn unicode_long_and_dot_dot_names() {
        let lib = Lib::new();
        lib.file("進撃の巨人/進撃の巨人 S01E01 ✨.mkv");
        let long = format!("{} S01E02.mkv", "ä".repeat(110));
        lib.file(&format!("進撃の巨人/{long}"));
        lib.file("進撃の巨人/x..S01E03...mkv");
        lib.file("進撃の巨人/a..b/c.. S01E04.mkv");
        lib.file("...dots/S01E01.mkv");
        let report = lib.scan();
        let s = series(&report, "進撃の巨人");
        assert_eq!(pairs(s), vec![(1, 1), (1, 2), (1, 3), (1, 4)]);
        assert!(
            s.episodes
                .iter()
                .any(|e| e.path == format!("進撃の巨人/{long}"))
        );
        assert!(report.series.iter().all(|s| s.folder != "...dots"));
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_names_are_warnings() {
        use std::os::unix::ffi::OsStrExt;
        let lib = Lib::new();
        let show = lib.dir("Show");
        let bad = std::ffi::OsStr::from_bytes(b"bad \xff S01E01.mkv");
        std::fs::write(show.join(bad), b"x").unwrap();
        let report = lib.scan();
        assert!(series(&report, "Show").episodes.is_empty());
        assert!(has_warning(&report, "not valid UTF-8"));
        serde_json::to_string(&report).expect("the report stays serialisable");
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loop_is_a_warning_and_terminates() {
        let lib = Lib::new();
        lib.file("Show/Season 01/S01E01.mkv");
        std::os::unix::fs::symlink("..", lib.root().join("Show/Season 01/up")).unwrap();
        std::os::unix::fs::symlink(".", lib.root().join("Show/self")).unwrap();
        let report = lib.scan();
        assert_eq!(pairs(series(&report, "Show")), vec![(1, 1)]);
        assert!(
            has_warning(&report, "symlink loop"),
            "{:?}",
            report.warnings
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlink_cycle_between_series_terminates() {
        let lib = Lib::new();
        lib.file("A/S01E01.mkv");
        lib.file("B/S01E02.mkv");
        std::os::unix::fs::symlink(lib.root().join("B"), lib.root().join("A/to-b")).unwrap();
        std::os::unix::fs::symlink(lib.root().join("A"), lib.root().join("B/to-a")).unwrap();
        let report = lib.scan();
        assert_eq!(report.series.len(), 2);
        assert!(!report.warnings.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_root_are_not_followed() {
        let lib = Lib::new();
        let outside = lib.dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("Secret S01E01.mkv"), b"x").unwrap();
        lib.dir("Show");
        std::os::unix::fs::symlink(&outside, lib.root().join("Show/escape")).unwrap();
        std::os::unix::fs::symlink(
            outside.join("Secret S01E01.mkv"),
            lib.root().join("Show/file-escape S01E01.mkv"),
        )
        .unwrap();
        std::os::unix::fs::symlink(&outside, lib.root().join("Outside Series")).unwrap();
        std::os::unix::fs::symlink("/", lib.root().join("Root")).unwrap();
        let report = lib.scan();
        assert_eq!(report.series.len(), 1);
        assert!(series(&report, "Show").episodes.is_empty());
        let escapes = report
            .warnings
            .iter()
            .filter(|w| w.message.contains("outside the library root"))
            .count();
        assert_eq!(escapes, 4, "{:?}", report.warnings);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_inside_the_root_are_followed() {
        let lib = Lib::new();
        lib.file("Store/Season 01/S01E01.mkv");
        lib.dir("Show");
        std::os::unix::fs::symlink(
            lib.root().join("Store/Season 01"),
            lib.root().join("Show/Season 01"),
        )
        .unwrap();
        let report = lib.scan();
        let s = series(&report, "Show");
        assert_eq!(pairs(s), vec![(1, 1)]);
        assert_eq!(s.episodes.get(0).unwrap().path, "Show/Season 01/S01E01.mkv");
    }

    #[cfg(unix)]
    #[test]
    fn dangling_symlink_is_a_warning() {
        let lib = Lib::new();
        lib.dir("Show");
        std::os::unix::fs::symlink("/nonexistent/target", lib.root().join("Show/gone")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/series", lib.root().join("Gone Series")).unwrap();
        let report = lib.scan();
        assert_eq!(report.series.len(), 1);
        let broken = report
            .warnings
            .iter()
            .filter(|w| w.message.contains("broken symlink"));
        assert_eq!(broken.count(), 2, "{:?}", report.warnings);
    }

    #[test]
    fn too_deep_nesting_is_a_warning() {
        let lib = Lib::new();
        let deep = (0..MAX_DEPTH + 2)
            .map(|i| format!("d{i}"))
            .collect::<Vec<_>>()
            .join("/");
        lib.file(&format!("Show/{deep}/S01E01.mkv"));
        lib.file("Show/S01E02.mkv");
        let report = lib.scan();
        assert_eq!(pairs(series(&report, "Show")), vec![(1, 2)]);
        assert!(has_warning(&report, "nested deeper"));
    }

    // Tests run as root, where permission bits do not make a folder unreadable. Instead the real
    // I/O error path is driven by a folder that vanishes between listing and reading (a race any
    // live library can hit), and the error-to-warning mapping is checked for PermissionDenied.
    #[test]
    fn folder_that_cannot_be_read_is_a_warning_not_a_failure() {
        let lib = Lib::new();
        let scanner = lib.scanner();
        let gone = lib.root().join("Vanished");
        match scanner.scan_series_folder("Vanished", &gone, &gone, now_ns()) {
            FolderResult::Failed(w) => {
                assert_eq!(w.path, gone);
                assert!(
                    w.message.contains("cannot read series folder"),
                    "{}",
                    w.message
                );
            }
            _ => panic!("a folder that cannot be read must fail with a warning"),
        }
    }

    #[test]
    fn io_errors_become_warnings_naming_path_and_cause() {
        let err = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let w = io_warning(Path::new("/lib/Show"), &err, "cannot read folder");
        assert_eq!(w.path, Path::new("/lib/Show"));
        assert!(w.message.starts_with("cannot read folder: "));
        assert!(
            w.message.to_lowercase().contains("permission denied"),
            "{}",
            w.message
        );
    }

    #[test]
    fn missing_or_non_folder_library_is_an_error_naming_the_path() {
        let lib = Lib::new();
        let missing = lib.dir.path().join("nope");
        let err = LibraryScanner::new(&missing).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let file = lib.dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let err = LibraryScanner::new(&file).unwrap_err();
        assert!(err.to_string().contains("not a folder"), "{err}");
    }

    #[tokio::test]
    async fn unchanged_folders_are_reused_on_rescan() {
        let lib = Lib::new();
        lib.meta("A", "a-key");
        lib.file("A/Season 01/S01E01.mkv");
        lib.file("B/S01E01.mkv");
        lib.age();
        let store = MemoryState::default();
        let first = scan_saved(&lib.scanner(), &store).await;
        assert_eq!(first.folders_rescanned, 2);
        let second = scan_saved(&lib.scanner(), &store).await;
        assert_eq!(second.folders_unchanged, 2);
        assert_eq!(second.folders_rescanned, 0);
        assert_eq!(first.series, second.series);
    }

    #[tokio::test]
    async fn changes_in_a_season_folder_are_picked_up() {
        let lib = Lib::new();
        lib.file("A/Season 01/S01E01.mkv");
        lib.file("B/S01E01.mkv");
        lib.age();
        let store = MemoryState::default();
        scan_saved(&lib.scanner(), &store).await;
        lib.file("A/Season 01/S01E02.mkv");
        let report = scan_saved(&lib.scanner(), &store).await;
        assert_eq!(report.folders_rescanned, 1);
        assert_eq!(report.folders_unchanged, 1);
        assert_eq!(pairs(series(&report, "A")), vec![(1, 1), (1, 2)]);
    }

    #[tokio::test]
    async fn metadata_edited_in_place_is_picked_up() {
        let lib = Lib::new();
        lib.meta("A", "old-key");
        lib.age();
        let store = MemoryState::default();
        scan_saved(&lib.scanner(), &store).await;
        // Rewrites the file without touching the folder's own mtime.
        std::fs::write(
            lib.root().join("A").join(METADATA_FILE),
            r#"{"key":"new-key","site":"sto","name":"A"}"#,
        )
        .unwrap();
        let report = scan_saved(&lib.scanner(), &store).await;
        assert_eq!(
            series(&report, "A").key.as_ref().unwrap().as_str(),
            "new-key"
        );
    }

    #[tokio::test]
    async fn metadata_file_added_to_a_folder_without_one_is_picked_up() {
        let lib = Lib::new();
        lib.file("A/S01E01.mkv");
        lib.age();
        let store = MemoryState::default();
        let first = scan_saved(&lib.scanner(), &store).await;
        assert_eq!(series(&first, "A").key, None);
        lib.meta("A", "a-key");
        let report = scan_saved(&lib.scanner(), &store).await;
        assert_eq!(report.folders_rescanned, 1);
        assert_eq!(series(&report, "A").key.as_ref().unwrap().as_str(), "a-key");
    }

    #[tokio::test]
    async fn damaged_or_foreign_state_means_a_rescan_not_an_error() {
        let lib = Lib::new();
        for f in ["A", "B", "C", "D", "E", "F"] {
            lib.file(&format!("{f}/S01E01.mkv"));
        }
        lib.age();
        let store = MemoryState::default();
        let scanner = lib.scanner();
        let first = scan_saved(&scanner, &store).await;
        let id = scanner.library_id();
        let shard = shard_of("A");
        let in_shard_a = ["A", "B", "C", "D", "E", "F"]
            .iter()
            .filter(|f| shard_of(f) == shard)
            .count() as u64;
        let good = store.scan_state().load_all(&id);
        let good_a = good.iter().find(|(s, _)| *s == shard).unwrap().1.clone();
        for bad in [
            b"{\"A\":\"old JSON state\"}".to_vec(),
            good_a[..good_a.len() - 3].to_vec(),
            Vec::new(),
        ] {
            store.scan_state().save(&id, &[(shard, bad)]);
            let report = scan_saved(&scanner, &store).await;
            // Only the damaged shard's folders are read again.
            assert_eq!(report.folders_rescanned, in_shard_a);
            assert_eq!(report.folders_unchanged, 6 - in_shard_a);
            assert_eq!(report.series, first.series);
            // The damaged shard was replaced: the next scan reuses every folder again.
            let again = scan_saved(&scanner, &store).await;
            assert_eq!(again.folders_unchanged, 6);
        }
    }

    #[tokio::test]
    async fn a_changed_folder_rewrites_only_its_shard() {
        let lib = Lib::new();
        let names: Vec<String> = (0..40).map(|i| format!("Show {i}")).collect();
        for n in &names {
            lib.file(&format!("{n}/S01E01.mkv"));
        }
        lib.age();
        let store = MemoryState::default();
        let scanner = lib.scanner();
        scan_saved(&scanner, &store).await;
        lib.file("Show 7/S01E02.mkv");
        let previous = scanner.remembered(&store).await.unwrap();
        let outcome = scanner.scan_blocking(&previous).unwrap();
        assert_eq!(outcome.report.folders_rescanned, 1);
        let written: Vec<u32> = outcome.state.iter().map(|(s, _)| *s).collect();
        assert_eq!(written, vec![shard_of("Show 7")]);
        // Removing a folder rewrites its shard, without it, and the root's listing.
        std::fs::remove_dir_all(lib.root().join("Show 12")).unwrap();
        let outcome = scanner.scan_blocking(&previous).unwrap();
        let written: Vec<u32> = outcome.state.iter().map(|(s, _)| *s).collect();
        let mut expected = vec![shard_of("Show 7"), shard_of("Show 12"), ROOT_SHARD];
        expected.sort();
        expected.dedup();
        assert_eq!(written, expected);
        let rewritten = RememberedState::decode(outcome.state);
        assert!(rewritten.folders().all(|f| f != "Show 12"));
        assert!(rewritten.folders().any(|f| f == "Show 7"));
    }

    /// Sets the root's modification time back to what it was, hiding a change from it.
    fn hide_root_change(lib: &Lib, before: SystemTime) {
        std::fs::File::open(lib.root())
            .unwrap()
            .set_modified(before)
            .unwrap();
    }

    #[tokio::test]
    async fn the_root_is_listed_again_only_when_it_changed() {
        let lib = Lib::new();
        let (store, scanner, _) = lib.remembered(&["A/S01E01.mkv", "B/S01E01.mkv"]).await;
        let aged = std::fs::metadata(lib.root()).unwrap().modified().unwrap();

        // Unchanged root: the remembered listing is used. Proof: a folder added behind the
        // root's back (its time set back) is not seen.
        lib.file("C/S01E01.mkv");
        hide_root_change(&lib, aged);
        let report = scan_saved(&scanner, &store).await;
        let folders: Vec<&str> = report.series.iter().map(|s| s.folder.as_str()).collect();
        assert_eq!(folders, ["A", "B"]);
        assert_eq!(report.folders_unchanged, 2);

        // Any real change to the root (here: a folder removed) moves its time: listed again.
        std::fs::remove_dir_all(lib.root().join("B")).unwrap();
        let report = scan_saved(&scanner, &store).await;
        let folders: Vec<&str> = report.series.iter().map(|s| s.folder.as_str()).collect();
        assert_eq!(folders, ["A", "C"]);
        assert_eq!(report.folders_rescanned, 1);
        // Changed just now, so that listing is not remembered: the next scan lists again.
        lib.file("D/S01E01.mkv");
        let report = scan_saved(&scanner, &store).await;
        assert_eq!(report.series.len(), 3);
    }

    #[tokio::test]
    async fn a_root_with_symlinks_or_warnings_is_always_listed() {
        let lib = Lib::new();
        lib.file("A/S01E01.mkv");
        lib.file("Target/S01E01.mkv");
        #[cfg(unix)]
        std::os::unix::fs::symlink(lib.root().join("Target"), lib.root().join("Link")).unwrap();
        lib.age();
        let store = MemoryState::default();
        let scanner = lib.scanner();
        let first = scan_saved(&scanner, &store).await;
        let aged = std::fs::metadata(lib.root()).unwrap().modified().unwrap();
        lib.file("B/S01E01.mkv");
        hide_root_change(&lib, aged);
        let report = scan_saved(&scanner, &store).await;
        assert_eq!(report.series.len(), first.series.len() + 1);

        let lib = Lib::new();
        lib.file("A/S01E01.mkv");
        lib.file("stray S01E01.mkv");
        lib.age();
        let scanner = lib.scanner();
        scan_saved(&scanner, &store).await;
        let aged = std::fs::metadata(lib.root()).unwrap().modified().unwrap();
        hide_root_change(&lib, aged);
        let report = scan_saved(&scanner, &store).await;
        assert!(has_warning(&report, "directly in the library root"));
    }

    #[tokio::test]
    async fn a_damaged_root_record_means_listing_again() {
        let lib = Lib::new();
        let (store, scanner, first) = lib.remembered(&["A/S01E01.mkv", "B/S01E01.mkv"]).await;
        let id = scanner.library_id();
        let mtime = mtime(&std::fs::metadata(lib.root()).unwrap());
        let hostile = [
            encode_root(Some((mtime, ["../../etc"].into_iter()))),
            encode_root(Some((mtime, ["B", "A"].into_iter()))),
            encode_root(Some((mtime, ["A", "A"].into_iter()))),
            encode_root(Some((mtime, [".hidden"].into_iter()))),
            b"not a root record".to_vec(),
        ];
        for bad in hostile {
            store.scan_state().save(&id, &[(ROOT_SHARD, bad)]);
            let report = scan_saved(&scanner, &store).await;
            assert_eq!(report.series, first.series);
            assert!(report.warnings.is_empty(), "{:?}", report.warnings);
            // Repaired: the stored record is a good one again.
            let stored = store.scan_state().load_shard(&id, ROOT_SHARD).unwrap();
            assert_eq!(
                remembered_listing(&stored, mtime, is_series_folder_name),
                Ok(Some(vec!["A".to_owned(), "B".to_owned()]))
            );
        }
    }

    #[tokio::test]
    async fn unchanged_rescan_writes_nothing() {
        let lib = Lib::new();
        lib.file("A/S01E01.mkv");
        lib.age();
        let store = MemoryState::default();
        let scanner = lib.scanner();
        scan_saved(&scanner, &store).await;
        let previous = scanner.remembered(&store).await.unwrap();
        let outcome = scanner.scan_blocking(&previous).unwrap();
        assert_eq!(outcome.report.folders_unchanged, 1);
        assert!(outcome.state.is_empty());
    }

    #[tokio::test]
    async fn recently_modified_folders_are_read_again() {
        let lib = Lib::new();
        lib.file("A/S01E01.mkv");
        let store = MemoryState::default();
        scan_saved(&lib.scanner(), &store).await;
        let report = scan_saved(&lib.scanner(), &store).await;
        assert_eq!(report.folders_rescanned, 1);
    }

    #[tokio::test]
    async fn removed_folders_are_forgotten() {
        let lib = Lib::new();
        let (store, scanner, _) = lib.remembered(&["A/S01E01.mkv", "B/S01E01.mkv"]).await;
        std::fs::remove_dir_all(lib.root().join("B")).unwrap();
        let report = scan_saved(&scanner, &store).await;
        assert_eq!(report.series.len(), 1);
        let remembered = scanner.remembered(&store).await.unwrap();
        assert_eq!(remembered.folders().collect::<Vec<_>>(), vec!["A"]);
    }

    #[test]
    fn stored_state_round_trips_hostile_names() {
        let lib = Lib::new();
        lib.meta("Show", "show");
        lib.file("Show/Season 01/tab\there S01E01.mkv");
        lib.file("Show/new\nline \"quoted\" S01E02.mkv");
        lib.file("Show/進撃 ✨ S01E03E04.mkv");
        lib.file("Show/unparsed.mkv");
        let report = lib.scan();
        let state = FolderState {
            series: series(&report, "Show").clone(),
            warnings: vec![warning(Path::new("/x"), "w")],
            subdirs: vec!["Season 01".into()],
            metadata_file: true,
        };
        let entry = encode_folder(&state, Some(42)).unwrap();
        let remembered = RememberedState::decode(vec![(
            shard_of("Show"),
            assemble([entry.as_slice()].into_iter()),
        )]);
        let folder = remembered.get("Show").unwrap();
        assert_eq!(folder.fingerprint, Some(42));
        assert_eq!(folder.state("Show").unwrap(), state);
    }

    #[test]
    fn progress_is_reported_per_folder() {
        let lib = Lib::new();
        lib.dir("A");
        lib.dir("B");
        let seen = Arc::new(AtomicU64::new(0));
        let counter = seen.clone();
        let scanner = lib.scanner().with_progress(Arc::new(move |_, total, _| {
            assert_eq!(total, 2);
            counter.fetch_add(1, Ordering::Relaxed);
        }));
        scanner.scan_fresh().unwrap();
        assert_eq!(seen.load(Ordering::Relaxed), 2);
    }
}
