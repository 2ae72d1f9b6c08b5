//! What the library already holds: the series folder of a key and episode files in it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::metadata::SeriesMetadata;
use crate::model::SeriesKey;

/// Video containers counted as "the episode is on disk".
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mkv", "ts", "m4v", "avi", "webm"];

/// The top-level folder whose `.aniworld.json` names `key`.
pub fn find_series_folder(root: &Path, key: &SeriesKey) -> Option<String> {
    let entries = std::fs::read_dir(root).ok()?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if let Ok(Some(meta)) = SeriesMetadata::read(&path)
            && &meta.key == key
        {
            return entry.file_name().to_str().map(str::to_owned);
        }
    }
    None
}

/// A finished video file of `season`/`episode` anywhere (up to 3 levels) below `folder`, found by
/// its `SxxEyy` tag.
pub fn episode_on_disk(folder: &Path, season: u32, episode: u32) -> Option<PathBuf> {
    find_in(folder, season, episode, 3)
}

/// Every finished video file below `folder` (up to 3 levels) by its `SxxEyy` tag; where several
/// files carry the same tag, the one [`episode_on_disk`] would find.
pub fn episodes_on_disk(folder: &Path) -> HashMap<(u32, u32), PathBuf> {
    let mut found = HashMap::new();
    collect_in(folder, 3, &mut found);
    found
}

fn collect_in(dir: &Path, depth: u32, found: &mut HashMap<(u32, u32), PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subdirs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            subdirs.push(path);
            continue;
        }
        if is_video(&path)
            && let Some(tag) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(episode_tag)
        {
            found.entry(tag).or_insert(path);
        }
    }
    if depth > 0 {
        for d in subdirs {
            collect_in(&d, depth - 1, found);
        }
    }
}

fn is_video(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn find_in(dir: &Path, season: u32, episode: u32, depth: u32) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut subdirs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            subdirs.push(path);
            continue;
        }
        if is_video(&path)
            && let Some(name) = path.file_name().and_then(|n| n.to_str())
            && episode_tag(name) == Some((season, episode))
        {
            return Some(path);
        }
    }
    if depth == 0 {
        return None;
    }
    subdirs
        .into_iter()
        .find_map(|d| find_in(&d, season, episode, depth - 1))
}

/// `... S01E005 ...` → (1, 5). The first tag in the name wins.
pub fn episode_tag(name: &str) -> Option<(u32, u32)> {
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].eq_ignore_ascii_case(&b's') && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        {
            let s_start = i + 1;
            let mut j = s_start;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            if j > s_start && j < bytes.len() && bytes[j].eq_ignore_ascii_case(&b'e') {
                let e_start = j + 1;
                let mut k = e_start;
                while k < bytes.len() && bytes[k].is_ascii_digit() {
                    k += 1;
                }
                if k > e_start && (k == bytes.len() || !bytes[k].is_ascii_alphanumeric()) {
                    let season = name[s_start..j].parse().ok()?;
                    let episode = name[e_start..k].parse().ok()?;
                    return Some((season, episode));
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episode_tags_are_read_from_names() {
        assert_eq!(episode_tag("X - S01E005 - (German Dub).mp4"), Some((1, 5)));
        assert_eq!(episode_tag("x.s2e13.mkv"), Some((2, 13)));
        assert_eq!(episode_tag("Seasons E1.mp4"), None);
        assert_eq!(episode_tag("nothing.mp4"), None);
    }

    #[test]
    fn finds_episode_files_below_the_series_folder_but_not_partials() {
        let dir = tempfile::tempdir().unwrap();
        let season = dir.path().join("Season 01");
        std::fs::create_dir_all(&season).unwrap();
        std::fs::write(season.join("T - S01E002 - (German Dub).mp4.part"), b"x").unwrap();
        assert!(episode_on_disk(dir.path(), 1, 2).is_none());
        std::fs::write(season.join("T - S01E002 - (German Dub).ts"), b"x").unwrap();
        assert!(episode_on_disk(dir.path(), 1, 2).is_some());
        assert!(episode_on_disk(dir.path(), 1, 3).is_none());
        let all = episodes_on_disk(dir.path());
        assert_eq!(all.len(), 1);
        assert_eq!(all.get(&(1, 2)), episode_on_disk(dir.path(), 1, 2).as_ref());
    }
}
