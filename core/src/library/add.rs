//! Adding a series from a provider link: its folder, its `.aniworld.json`, its index entry.

use std::path::Path;

use super::Library;
use super::index::{Missing, SeriesEntry};
use crate::error::{Error, Result};
use crate::events::{Event, EventContext};
use crate::metadata::SeriesMetadata;
use crate::model::{EpisodeSet, SeriesInfo, SeriesKey};
use crate::storage::now;
use crate::storage::series::SeriesUpsert;

/// Longest folder name we create, in bytes (file systems allow 255 per name).
const MAX_FOLDER_BYTES: usize = 200;

/// A folder name from a series name: no path separators, control, reserved or invisible
/// formatting characters, no leading dots, bounded length in bytes. Never empty (falls back to
/// the key).
pub fn folder_name(name: &str, year: Option<i32>, key: &SeriesKey) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .filter(|c| !is_invisible_format(*c))
        .collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed = collapsed.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let suffix = year.map(|y| format!(" ({y})")).unwrap_or_default();
    let budget = MAX_FOLDER_BYTES - suffix.len();
    let mut base = String::new();
    for c in trimmed.chars() {
        if base.len() + c.len_utf8() > budget {
            break;
        }
        base.push(c);
    }
    let base = base.trim_end().to_owned();
    let base = if base.is_empty() {
        key.to_string()
    } else {
        base
    };
    match year {
        Some(y) if !base.ends_with(&format!("({y})")) => format!("{base}{suffix}"),
        _ => base,
    }
}

/// Bidi overrides and zero-width characters: they make a name look like another one.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

impl Library {
    /// Adds a series from a provider link (a path, a full URL or a bare key): asks the provider
    /// about it, creates its folder with `.aniworld.json`, and records it. `Conflict` when the
    /// key is already in the library.
    pub async fn add(&self, link: &str, site: Option<&str>) -> Result<SeriesEntry> {
        let (provider, key) = self.catalogue().registry().series_of_link(link, site)?;
        let site = provider.id().to_owned();
        let _writer = self.writer().await;
        if let Some(existing) = self.get(&key) {
            return Err(Error::Conflict(format!(
                "series {} is already in the library (folder {:?})",
                existing.key, existing.folder
            )));
        }
        let info = self.catalogue().refresh(&site, &key).await?;
        let root = self.root();
        let folder = create_folder(&root, &info, &site)?;
        let on_disk: EpisodeSet = match self.read_folder(&folder).await? {
            Some(scanned) => scanned
                .episodes
                .iter()
                .map(|e| (e.season, e.episode))
                .collect(),
            None => EpisodeSet::new(),
        };
        let upsert = SeriesUpsert {
            key: key.clone(),
            site: site.clone(),
            name: info.name.clone(),
            folder: folder.clone(),
            year: info.year,
            episodes: on_disk,
        };
        self.store()
            .series()
            .apply(std::slice::from_ref(&upsert), &[])
            .await?;
        self.store()
            .series()
            .set_details(&key, info.description.as_deref(), info.cover.as_deref())
            .await?;
        let missing = Missing::compute(
            &upsert.episodes,
            self.catalogue().entry(&site, &key).as_ref(),
        );
        let entry = SeriesEntry::from_parts(upsert, now(), missing);
        self.index_write().apply(vec![entry.clone()], &[]);
        let mut context = EventContext::new(key.clone());
        context.site = Some(site);
        context.folder = Some(folder);
        self.events().emit(Event::SeriesAdded {
            context,
            name: info.name.clone(),
        });
        Ok(entry)
    }
}

/// Creates the series folder (or takes the one that already names this key) with its
/// `.aniworld.json`; returns the folder name.
fn create_folder(root: &Path, info: &SeriesInfo, site: &str) -> Result<String> {
    std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
    let base = folder_name(&info.name, info.year, &info.key);
    for candidate in [base.clone(), format!("{base} [{}]", info.key)] {
        let dir = root.join(&candidate);
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
        assert_eq!(folder_name("a\u{202E}b\u{200B}c", None, &key), "abc");
        assert!(folder_name(&"x".repeat(1000), None, &key).len() <= MAX_FOLDER_BYTES);
        let umlauts = folder_name(&"Ü".repeat(130), Some(2020), &key);
        assert!(umlauts.len() <= MAX_FOLDER_BYTES, "{}", umlauts.len());
        assert!(umlauts.ends_with(" (2020)"));
    }
}
