//! `.aniworld.json`: a series folder's identity (`{"key","site","name","year"?}`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::SeriesKey;

pub const METADATA_FILE: &str = ".aniworld.json";

/// Largest metadata file we read; anything bigger is not ours.
const MAX_METADATA_BYTES: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesMetadata {
    pub key: SeriesKey,
    pub site: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
}

impl SeriesMetadata {
    /// Reads `folder/.aniworld.json`. `Ok(None)` when the file does not exist.
    pub fn read(folder: &Path) -> Result<Option<Self>> {
        let path = folder.join(METADATA_FILE);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        if meta.len() > MAX_METADATA_BYTES {
            return Err(Error::invalid(
                path.display().to_string(),
                "metadata file is too large",
            ));
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))
    }

    /// [`SeriesMetadata::read`] plus the file's own metadata (the scanner fingerprints its mtime),
    /// from a single open; the file metadata is `None` when the file is missing or unreadable.
    pub fn read_with_file_meta(folder: &Path) -> (Option<std::fs::Metadata>, Result<Option<Self>>) {
        use std::io::Read;
        let path = folder.join(METADATA_FILE);
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (None, Ok(None)),
            // Unreadable but present: its mtime still counts, so fixing the permissions shows.
            Err(e) => return (std::fs::metadata(&path).ok(), Err(Error::io(path, e))),
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => return (None, Err(Error::io(path, e))),
        };
        if meta.len() > MAX_METADATA_BYTES {
            let err = Error::invalid(path.display().to_string(), "metadata file is too large");
            return (Some(meta), Err(err));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
        if let Err(e) = file.read_to_end(&mut bytes) {
            return (Some(meta), Err(Error::io(&path, e)));
        }
        let parsed = serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::invalid(path.display().to_string(), e.to_string()));
        (Some(meta), parsed)
    }

    /// Writes `folder/.aniworld.json` atomically (temp file + rename).
    pub fn write(&self, folder: &Path) -> Result<()> {
        let path = folder.join(METADATA_FILE);
        let tmp = folder.join(format!("{METADATA_FILE}.tmp"));
        let body = serde_json::to_vec_pretty(self).expect("metadata serialises");
        std::fs::write(&tmp, body).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SeriesMetadata::read(dir.path()).unwrap().is_none());
        let m = SeriesMetadata {
            key: SeriesKey::parse("k-1").unwrap(),
            site: "aniworld".into(),
            name: "K".into(),
            year: Some(2020),
        };
        m.write(dir.path()).unwrap();
        assert_eq!(SeriesMetadata::read(dir.path()).unwrap(), Some(m));
    }

    #[test]
    fn bad_key_in_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(METADATA_FILE),
            r#"{"key":"../etc","site":"x","name":"y"}"#,
        )
        .unwrap();
        let err = SeriesMetadata::read(dir.path()).unwrap_err();
        assert!(err.to_string().contains("key"), "{err}");
    }
}
