//! The `.part` file of a download in progress and its small JSON sidecar, which says what the
//! partial bytes belong to so a later run (or a restart) can resume them instead of starting over.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::MediaKind;

/// `NAME.part` next to the final file.
pub fn part_path(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// `NAME.part.json` next to the `.part` file.
pub fn sidecar_path(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_owned();
    s.push(".part.json");
    PathBuf::from(s)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialState {
    /// Which candidate produced the bytes (`German Dub|VOE`): another source's bytes never mix in.
    pub identity: String,
    pub kind: MediaKind,
    /// MP4: the full length the server announced.
    pub total: Option<u64>,
    /// HLS: segments written, in order, and the bytes they fill.
    pub segments_done: u64,
    pub segment_count: u64,
    pub bytes: u64,
}

impl PartialState {
    pub fn new(identity: &str, kind: MediaKind) -> Self {
        PartialState {
            identity: identity.to_owned(),
            kind,
            total: None,
            segments_done: 0,
            segment_count: 0,
            bytes: 0,
        }
    }

    /// The sidecar of `target`, if present and readable (a corrupt one means "start over").
    pub fn load(target: &Path) -> Option<Self> {
        let bytes = std::fs::read(sidecar_path(target)).ok()?;
        if bytes.len() > 64 * 1024 {
            return None;
        }
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes the sidecar atomically (temp file + rename).
    pub async fn save(&self, target: &Path) -> Result<()> {
        let path = sidecar_path(target);
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let body = serde_json::to_vec(self).expect("partial state serialises");
        tokio::fs::write(&tmp, body)
            .await
            .map_err(|e| Error::io(&tmp, e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| Error::io(&path, e))
    }
}

/// Deletes a target's `.part` file and sidecar (missing files are fine).
pub async fn remove_partial(target: &Path) {
    for p in [part_path(target), sidecar_path(target)] {
        if let Err(e) = tokio::fs::remove_file(&p).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %p.display(), error = %e, "could not delete partial file");
        }
    }
}
