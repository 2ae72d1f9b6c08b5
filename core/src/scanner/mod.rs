//! Library scanner and file-name parser.
//!
//! Every top-level folder of the library root is a series; its identity comes from
//! `.aniworld.json` (see [`crate::metadata`]). Video files are found at any depth below it.

mod episodes;
pub mod filename;
mod library;
mod state;

use std::ops::Range;
use std::path::PathBuf;

use async_trait::async_trait;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::SeriesKey;

pub use episodes::{Iter as LocalEpisodesIter, LocalEpisode, LocalEpisodeRef, LocalEpisodes};
pub use library::{LibraryScanner, MAX_DEPTH, ProgressFn, ScanOutcome};
pub use state::{RememberedState, StateError};

/// One series folder as the scanner saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScannedSeries {
    /// From `.aniworld.json`; `None` for unmatched folders.
    pub key: Option<SeriesKey>,
    pub site: Option<String>,
    /// Folder name (not a path).
    pub folder: String,
    /// From the metadata file, else the folder name.
    pub name: String,
    pub year: Option<i32>,
    pub episodes: LocalEpisodes,
    /// Video files whose names could not be parsed (paths relative to the library root).
    pub unparsed: Vec<String>,
    /// For unmatched folders: a key derived from the folder name.
    pub suggested_key: Option<SeriesKey>,
}

/// Something the scanner skipped or could not read; the scan goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanWarning {
    pub path: PathBuf,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScanReport {
    pub series: Vec<ScannedSeries>,
    pub warnings: Vec<ScanWarning>,
    /// `reused[i]`: `series[i]` came unchanged from the remembered state (its folder's
    /// fingerprint did not move), so whatever was recorded for it still holds.
    pub reused: Vec<bool>,
    /// Folders re-read this scan (the rest came from the remembered state).
    pub folders_rescanned: u64,
    pub folders_unchanged: u64,
}

/// What the scanner remembers about one series folder between scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderState {
    pub series: ScannedSeries,
    pub warnings: Vec<ScanWarning>,
    /// Subfolders walked (relative to the series folder, `/`-separated), for the fingerprint check.
    pub subdirs: Vec<String>,
    /// Whether the folder had a metadata file. When it had none, a rescan need not look for one:
    /// creating it changes the folder's own modification time.
    pub metadata_file: bool,
}

/// Where a library's remembered scan state is kept between scans (the database, in the app).
/// The values are opaque to the keeper: shard numbers and bytes the scanner encodes.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The stored shards of `library` whose numbers are in `shards`.
    async fn load(&self, library: &str, shards: Range<u32>) -> Result<Vec<(u32, Vec<u8>)>>;
}
