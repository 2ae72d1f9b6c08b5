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

impl Library {
    /// Links an existing folder without `.aniworld.json` to a provider series (a link, URL or
    /// bare key): writes `.aniworld.json` into it (nothing else in the folder is touched),
    /// records the series with the episodes on disk, and asks the provider what exists. When the
    /// provider cannot be reached the folder is matched all the same, named after the folder, and
    /// its missing episodes stay unknown (with the reason) until the provider answers.
    ///
    /// Errors: `Invalid` for a name that is no plain folder name (path separators, `..`, hidden),
    /// `NotFound` when the library has no such folder or the provider no such series,
    /// `Conflict` when the folder already has `.aniworld.json` or the series is in another folder.
    pub async fn match_folder(
        &self,
        folder: &str,
        link: &str,
        site: Option<&str>,
    ) -> Result<SeriesEntry> {
        let (provider, key) = self.catalogue().registry().series_of_link(link, site)?;
        let site = provider.id().to_owned();
        let _writer = self.writer().await;
        if let Some(existing) = self.get(&key) {
            return Err(Error::Conflict(format!(
                "series {} is already in the library (folder {:?})",
                existing.key, existing.folder
            )));
        }
        let shown: String = folder.chars().take(100).collect();
        if folder.len() > 255 {
            return Err(Error::invalid(
                "folder",
                "is longer than a folder name can be (255 bytes)",
            ));
        }
        let scanned = self
            .read_folder(folder)
            .await?
            .ok_or_else(|| Error::NotFound(format!("folder {shown:?} in the library")))?;
        if let (Some(matched), Some(matched_site)) = (&scanned.key, &scanned.site) {
            return Err(Error::Conflict(format!(
                "folder {shown:?} is already matched to series {matched} on {matched_site}"
            )));
        }
        let dir = self.root().join(&scanned.folder);
        if dir.join(crate::metadata::METADATA_FILE).exists() {
            return Err(Error::Conflict(format!(
                "folder {shown:?} has a {} that cannot be read: fix or delete it first",
                crate::metadata::METADATA_FILE
            )));
        }
        let info = match self.catalogue().refresh(&site, &key).await {
            Ok(info) => Some(info),
            Err(e @ Error::NotFound(_)) => return Err(e),
            Err(e) => {
                tracing::info!(%key, error = %e, "matching a folder while its site does not answer");
                None
            }
        };
        let (folder_name, folder_year) = super::search_text_of_folder(&scanned.folder);
        let (name, year) = match &info {
            Some(i) => (i.name.clone(), i.year),
            None => (folder_name, folder_year),
        };
        SeriesMetadata {
            key: key.clone(),
            site: site.clone(),
            name: name.clone(),
            year,
        }
        .write(&dir)?;
        let upsert = SeriesUpsert {
            key: key.clone(),
            site: site.clone(),
            name: name.clone(),
            folder: scanned.folder.clone(),
            year,
            episodes: scanned
                .episodes
                .iter()
                .map(|e| (e.season, e.episode))
                .collect(),
        };
        self.store()
            .series()
            .apply(std::slice::from_ref(&upsert), &[])
            .await?;
        if let Some(info) = &info {
            self.store()
                .series()
                .set_details(&key, info.description.as_deref(), info.cover.as_deref())
                .await?;
        }
        let missing = Missing::compute(
            &upsert.episodes,
            self.catalogue().entry(&site, &key).as_ref(),
        );
        let entry = SeriesEntry::from_parts(upsert, now(), missing);
        {
            let mut index = self.index_write();
            index.apply(vec![entry.clone()], &[]);
            index.remove_unmatched(&scanned.folder);
        }
        self.inner
            .suggestions
            .lock()
            .expect("suggestions lock")
            .forget(&scanned.folder);
        let mut context = EventContext::new(key.clone());
        context.site = Some(site);
        context.folder = Some(scanned.folder.clone());
        self.events().emit(Event::SeriesAdded { context, name });
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
