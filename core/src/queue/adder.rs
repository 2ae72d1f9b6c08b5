//! Adding episodes to the queue: the checks every entry point shares (numbers, provider, already
//! queued, already on disk), without starting anything. The server's [`super::DownloadQueue`]
//! starts what it added; a CLI command only writes the items for the server to run.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::Result;
use crate::events::{CallbackManager, Event, EventContext};
use crate::library::Library;
use crate::model::queue::{AddOutcome, EpisodeRequest, SkipReason, SkippedEpisode};
use crate::model::{Language, SeriesKey};
use crate::registry::Registry;
use crate::storage::Store;
use crate::storage::queue::NewQueueItem;

/// Writes queue items. Cheap to clone.
#[derive(Clone)]
pub struct QueueAdder {
    store: Store,
    registry: Registry,
    library: Library,
    callbacks: CallbackManager,
}

impl QueueAdder {
    pub fn new(
        store: Store,
        registry: Registry,
        library: Library,
        callbacks: CallbackManager,
    ) -> Self {
        QueueAdder {
            store,
            registry,
            library,
            callbacks,
        }
    }

    /// Queues episodes. An episode already queued (pending, downloading or paused) or already in
    /// the library is not added again; the answer lists those with the reason. The new items are
    /// written in one transaction.
    pub async fn add(&self, requests: Vec<EpisodeRequest>) -> Result<AddOutcome> {
        enum Verdict {
            Skip(SkipReason),
            Insert(usize),
        }
        let repo = self.store.queue();
        let (folders, on_disk) = self.on_disk_all(&requests).await;
        // What is queued already, read once per series.
        let mut live: HashMap<&str, HashMap<(u32, u32), i64>> = HashMap::new();
        for req in &requests {
            if !live.contains_key(req.key.as_str()) {
                live.insert(
                    req.key.as_str(),
                    repo.live_episodes(req.key.as_str()).await?,
                );
            }
        }
        let mut verdicts = Vec::with_capacity(requests.len());
        let mut new_items = Vec::new();
        for ((req, on_disk), folder) in requests.iter().zip(on_disk).zip(&folders) {
            if let Some(message) = req.number_problem() {
                verdicts.push(Verdict::Skip(SkipReason::Invalid { message }));
                continue;
            }
            if let Err(e) = self.registry.provider(&req.site) {
                verdicts.push(Verdict::Skip(SkipReason::Invalid {
                    message: e.to_string(),
                }));
                continue;
            }
            if let Some(item_id) = live
                .get(req.key.as_str())
                .and_then(|episodes| episodes.get(&(req.season, req.episode)))
            {
                verdicts.push(Verdict::Skip(SkipReason::AlreadyQueued {
                    item_id: *item_id,
                }));
                continue;
            }
            if let Some(path) = on_disk {
                verdicts.push(Verdict::Skip(SkipReason::OnDisk {
                    path: path.display().to_string(),
                }));
                continue;
            }
            verdicts.push(Verdict::Insert(new_items.len()));
            new_items.push(NewQueueItem {
                key: req.key.as_str(),
                site: &req.site,
                folder: folder.as_deref(),
                season: req.season,
                episode: req.episode,
                language: req.language.map(Language::as_str),
                priority: req.priority,
            });
        }
        let mut inserted = repo.insert_many(&new_items).await?;
        let mut outcome = AddOutcome::default();
        for (req, verdict) in requests.iter().zip(verdicts) {
            let skip = |reason| SkippedEpisode {
                key: req.key.clone(),
                season: req.season,
                episode: req.episode,
                reason,
            };
            match verdict {
                Verdict::Skip(reason) => outcome.skipped.push(skip(reason)),
                Verdict::Insert(i) => match inserted[i].take() {
                    Some(item) => {
                        let mut ctx = EventContext::new(item.key.clone());
                        ctx.site = Some(item.site.clone());
                        ctx.folder = item.folder.clone();
                        ctx.season = Some(item.season);
                        ctx.episode = Some(item.episode);
                        ctx.language = item.language;
                        self.callbacks.emit(Event::DownloadQueued {
                            item_id: item.id,
                            context: ctx,
                        });
                        outcome.added.push(item);
                    }
                    // Queued meanwhile, or twice in this request.
                    None => {
                        let id = repo
                            .live_for_episode(req.key.as_str(), req.season, req.episode)
                            .await?
                            .map(|i| i.id)
                            .unwrap_or_default();
                        outcome
                            .skipped
                            .push(skip(SkipReason::AlreadyQueued { item_id: id }));
                    }
                },
            }
        }
        Ok(outcome)
    }

    /// For each request, its series folder and the file of the episode already in it, as the
    /// library answers (the scanner's parser); each series folder is read once per call.
    async fn on_disk_all(
        &self,
        requests: &[EpisodeRequest],
    ) -> (Vec<Option<String>>, Vec<Option<PathBuf>>) {
        let library = &self.library;
        let root = library.root();
        let mut files_of: HashMap<SeriesKey, Option<Vec<crate::scanner::LocalEpisode>>> =
            HashMap::new();
        let mut folders = Vec::with_capacity(requests.len());
        let mut on_disk = Vec::with_capacity(requests.len());
        for req in requests {
            let folder = library.folder_of(&req.key).or(req.folder.clone());
            if !files_of.contains_key(&req.key) {
                let files = library
                    .episodes_on_disk(&req.key, folder.as_deref())
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(key = %req.key, error = %e, "cannot tell which episodes are on disk");
                        None
                    });
                files_of.insert(req.key.clone(), files);
            }
            let file = files_of
                .get(&req.key)
                .and_then(Option::as_ref)
                .and_then(|files| {
                    files
                        .iter()
                        .find(|f| f.season == req.season && f.episode == req.episode)
                })
                .map(|f| root.join(&f.path));
            folders.push(folder);
            on_disk.push(file);
        }
        (folders, on_disk)
    }
}
