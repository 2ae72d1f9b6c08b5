//! Library scanner and file-name parser.
//!
//! Every top-level folder of the library root is a series; its identity comes from
//! `.aniworld.json` (see [`crate::metadata`]). Video files are found at any depth below it.

mod episodes;
pub mod filename;
mod library;
mod state;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::SeriesKey;

pub use episodes::{Iter as LocalEpisodesIter, LocalEpisode, LocalEpisodeRef, LocalEpisodes};
pub use library::{FolderState, LibraryScanner, MAX_DEPTH, ProgressFn, ScanOutcome};
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
    /// Folders re-read this scan (the rest came from the remembered state).
    pub folders_rescanned: u64,
    pub folders_unchanged: u64,
}
