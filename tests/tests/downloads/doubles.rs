//! Small stand-ins for a provider and hosters that point at the fixture's media server.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aniworld_core::catalogue::Catalogue;
use aniworld_core::config::Config;
use aniworld_core::events::{CallbackManager, DownloadHooks, Event, NoHooks};
use aniworld_core::library::Library;
use aniworld_core::model::{
    EpisodeStreams, Language, MediaKind, MediaSource, SearchResult, Season, SeriesInfo, SeriesKey,
    StreamLink,
};
use aniworld_core::queue::{DownloadQueue, QueueItem};
use aniworld_core::registry::{Origin, Registry};
use aniworld_core::storage::Store;
use aniworld_core::traits::{Hoster, Provider};
use aniworld_core::{Error, Result};
use aniworld_testkit::{FixtureSite, FixtureState, media};
use async_trait::async_trait;

/// An episode the fake provider lists: its title and hoster entries.
#[derive(Clone, Default)]
pub struct FakeEpisode {
    pub title: Option<String>,
    pub links: Vec<StreamLink>,
}

/// `mp4:<video>` / `hls:<video>` links on hoster `hoster`.
pub fn link(language: Language, hoster: &str, media: &str) -> StreamLink {
    StreamLink {
        language,
        hoster: hoster.to_owned(),
        url: media.to_owned(),
    }
}

pub struct FakeProvider {
    pub name: String,
    pub year: Option<i32>,
    pub episodes: BTreeMap<(u32, u32), FakeEpisode>,
}

#[async_trait]
impl Provider for FakeProvider {
    fn id(&self) -> &str {
        "aniworld"
    }

    async fn search(&self, _query: &str) -> Result<Vec<SearchResult>> {
        Ok(Vec::new())
    }

    async fn series(&self, key: &SeriesKey) -> Result<SeriesInfo> {
        let mut seasons: BTreeMap<u32, Season> = BTreeMap::new();
        for (s, e) in self.episodes.keys() {
            seasons
                .entry(*s)
                .or_insert_with(|| Season {
                    number: *s,
                    episodes: Vec::new(),
                })
                .episodes
                .push(aniworld_core::model::Episode {
                    number: *e,
                    ..Default::default()
                });
        }
        Ok(SeriesInfo {
            key: key.clone(),
            site: "aniworld".into(),
            name: self.name.clone(),
            year: self.year,
            end_year: None,
            description: None,
            cover: None,
            genres: vec![],
            alternative_titles: vec![],
            seasons: seasons.into_values().collect(),
            url: format!("http://fake/anime/stream/{key}"),
        })
    }

    async fn episode(&self, key: &SeriesKey, season: u32, episode: u32) -> Result<EpisodeStreams> {
        let ep = self
            .episodes
            .get(&(season, episode))
            .ok_or_else(|| Error::NotFound(format!("episode {season}/{episode}")))?;
        Ok(EpisodeStreams {
            key: key.clone(),
            season,
            episode,
            title_de: ep.title.clone(),
            title_en: None,
            languages: ep.links.iter().map(|l| l.language).collect(),
            links: ep.links.clone(),
        })
    }

    async fn resolve_redirect(&self, link: &str) -> Result<String> {
        Ok(link.to_owned())
    }

    fn key_from_link(&self, _link: &str) -> Option<SeriesKey> {
        None
    }
}

/// Turns `mp4:<video>` / `hls:<video>` into the fixture's media URL, asking for a Referer.
pub struct FakeHoster {
    pub name: String,
    pub state: Arc<FixtureState>,
}

#[async_trait]
impl Hoster for FakeHoster {
    fn name(&self) -> &str {
        &self.name
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource> {
        let (kind, video) = embed_url
            .split_once(':')
            .ok_or_else(|| Error::parse("fake embed"))?;
        let mut headers = BTreeMap::new();
        headers.insert(
            "Referer".to_owned(),
            format!("http://{}.example/", self.name),
        );
        let (url, kind) = match kind {
            "mp4" => (media::mp4_url(&self.state, video), MediaKind::Mp4),
            "hls" => (media::hls_url(&self.state, video), MediaKind::Hls),
            _ => return Err(Error::parse("fake embed kind")),
        };
        Ok(MediaSource { url, kind, headers })
    }
}

/// A fixture site, a library and a queue over a file database, wired with the doubles.
pub struct Env {
    pub site: FixtureSite,
    pub dir: tempfile::TempDir,
    pub registry: Registry,
    pub callbacks: CallbackManager,
    pub events: Arc<std::sync::Mutex<Vec<Event>>>,
    pub config: Config,
    pub queue: DownloadQueue,
}

impl Env {
    pub async fn start(provider: FakeProvider) -> Env {
        Self::start_with(provider, |_| {}).await
    }

    pub async fn start_with(provider: FakeProvider, tweak: impl FnOnce(&mut Config)) -> Env {
        Self::start_with_hooks(provider, tweak, Arc::new(NoHooks)).await
    }

    pub async fn start_with_hooks(
        provider: FakeProvider,
        tweak: impl FnOnce(&mut Config),
        hooks: Arc<dyn DownloadHooks>,
    ) -> Env {
        let site = FixtureSite::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::new();
        registry.register_provider(Arc::new(provider), Origin::builtin());
        for name in ["VOE", "Vidoza", "Streamtape"] {
            registry.register_hoster(
                Arc::new(FakeHoster {
                    name: name.to_owned(),
                    state: site.state.clone(),
                }),
                Origin::builtin(),
            );
        }
        let mut config = Config::default();
        config.library.path = dir.path().join("library");
        config.download.hosters = vec!["VOE".into(), "Vidoza".into(), "Streamtape".into()];
        config.download.attempts_per_candidate = 1;
        // The tests start the queue themselves.
        config.download.autostart = false;
        tweak(&mut config);
        let callbacks = CallbackManager::new();
        let events = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = events.clone();
        callbacks.on_event(move |e| sink.lock().unwrap().push(e.clone()));
        let store = Store::open_sqlite(&dir.path().join("aniworld.db"))
            .await
            .expect("open db");
        let library = open_library(&store, &registry, &callbacks, &config).await;
        let queue = DownloadQueue::new(
            store,
            registry.clone(),
            library,
            config.clone(),
            callbacks.clone(),
            hooks,
        )
        .await
        .expect("queue");
        Env {
            site,
            dir,
            registry,
            callbacks,
            events,
            config,
            queue,
        }
    }

    /// A second queue over the same database and library, as after a restart.
    pub async fn reopen(&self) -> DownloadQueue {
        let store = Store::open_sqlite(&self.dir.path().join("aniworld.db"))
            .await
            .expect("open db");
        let library = open_library(&store, &self.registry, &self.callbacks, &self.config).await;
        DownloadQueue::new(
            store,
            self.registry.clone(),
            library,
            self.config.clone(),
            self.callbacks.clone(),
            Arc::new(NoHooks),
        )
        .await
        .expect("queue")
    }

    pub fn library(&self) -> PathBuf {
        self.config.library.path.clone()
    }

    pub fn state(&self) -> &FixtureState {
        &self.site.state
    }

    /// Media requests that carried a `Range` header.
    pub fn range_requests(&self) -> Vec<String> {
        self.state()
            .requests()
            .into_iter()
            .filter(|r| r.server == "media")
            .filter_map(|r| r.headers.get("range").cloned())
            .collect()
    }
}

pub fn key(k: &str) -> SeriesKey {
    SeriesKey::parse(k).expect("valid key")
}

/// Waits (bounded) for the items to finish and returns them.
pub async fn finish(queue: &DownloadQueue, ids: &[i64]) -> Vec<QueueItem> {
    tokio::time::timeout(Duration::from_secs(60), queue.wait_finished(ids))
        .await
        .expect("downloads finish within a minute")
        .expect("queue answers")
}

/// Every file below `root` (relative paths), sorted.
pub fn files_below(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The library the queue asks what is on disk, over the same database.
async fn open_library(
    store: &Store,
    registry: &Registry,
    callbacks: &CallbackManager,
    config: &Config,
) -> Library {
    let catalogue = Catalogue::open(registry.clone(), store.clone(), config.cache.series_ttl)
        .await
        .expect("catalogue");
    Library::open(
        store.clone(),
        catalogue,
        callbacks.clone(),
        config.library.path.clone(),
    )
    .await
    .expect("library")
}
