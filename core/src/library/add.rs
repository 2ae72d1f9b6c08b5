//! Adding a series from a provider link: its folder, its `.aniworld.json`, its index entry.

use std::path::Path;

use super::Library;
use super::index::{Missing, SeriesEntry};
use crate::download::naming;
use crate::error::{Error, Result};
use crate::events::{Event, EventContext};
use crate::metadata::SeriesMetadata;
use crate::model::{EpisodeSet, SeriesInfo, SeriesKey};
use crate::storage::now;
use crate::storage::series::SeriesUpsert;

/// A folder name from a series name (see [`naming::series_folder_name`]).
pub fn folder_name(name: &str, year: Option<i32>, key: &SeriesKey) -> String {
    naming::series_folder_name(name, year, key)
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
