//! The persistent download queue.
//!
//! [`DownloadQueue`] keeps its items in the database (`queue_items`), runs up to
//! `download.max_parallel` of them at once through the [`DownloadEngine`], and reports through
//! the [`CallbackManager`]. Started/paused survive restarts; items left `downloading` by a
//! previous process go back to pending and resume from their partial files.
//!
//! Several instances may share one database: each claims an item with a lease
//! (`download.lease_secs`) that it renews while downloading; an item whose lease ran out is
//! taken over by another instance and resumed from its partial file. Start/stop/pause are
//! shared through the database and noticed by every instance within [`POLL`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::download::{
    DownloadEngine, EpisodeJob, EpisodeOutcome, ProgressSink, RateLimiter, partial,
};
use crate::error::{Error, Result};
use crate::events::{CallbackManager, DownloadHooks, DownloadProgress, Event, EventContext};
use crate::library::Library;
use crate::model::Language;
use crate::registry::Registry;
use crate::storage::Store;
use crate::storage::queue::QueueRepo;

mod adder;

pub use crate::model::queue::{
    AddOutcome, EpisodeRequest, ItemStatus, MAX_EPISODE, MAX_SEASON, QueueCounts, QueueItem,
    QueuePage, QueueStatus, SkipReason, SkippedEpisode,
};
pub use adder::QueueAdder;

const FLAG_RUNNING: &str = "queue.running";
const FLAG_PAUSED: &str = "queue.paused";
/// How long stop/remove wait for a cancelled download to let go of its files.
const WIND_DOWN: Duration = Duration::from_secs(30);
/// How often an instance looks at the shared queue (items added or freed elsewhere, start/stop/pause).
const POLL: Duration = Duration::from_secs(1);

/// Handle to the queue. Cheap to clone; every clone drives the same queue.
#[derive(Clone)]
pub struct DownloadQueue {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    registry: Registry,
    /// Where series folders are and what they hold.
    library: Library,
    engine: DownloadEngine,
    config: RwLock<Arc<Config>>,
    callbacks: CallbackManager,
    state: Mutex<State>,
    /// Bumped on every change; waiters watch it.
    changes: watch::Sender<u64>,
    /// One pump at a time, so two callers never start the same item.
    pump_lock: tokio::sync::Mutex<()>,
    /// Items a previous process left downloading (now pending again).
    recovered: Vec<i64>,
    /// The shared start/stop/pause flags as last read from the database.
    shared: Mutex<(bool, bool)>,
    /// Ends the poll loop.
    closed: CancellationToken,
}

#[derive(Default)]
struct State {
    running: bool,
    paused: bool,
    active: HashMap<i64, Arc<ActiveDownload>>,
}

struct ActiveDownload {
    cancel: CancellationToken,
    target: Mutex<Option<PathBuf>>,
}

impl DownloadQueue {
    /// Opens the queue over `store`. Items a previous process left `downloading` become pending
    /// (their partial files stay), and if the queue was started before, it starts again.
    pub async fn new(
        store: Store,
        registry: Registry,
        library: Library,
        config: Config,
        callbacks: CallbackManager,
        hooks: Arc<dyn DownloadHooks>,
    ) -> Result<Self> {
        let limiter = Arc::new(RateLimiter::new(config.download.rate_limit));
        let engine = DownloadEngine::new(registry.clone(), hooks, limiter);
        let repo = store.queue();
        let recovered = repo.recover_interrupted().await?;
        if !recovered.is_empty() {
            tracing::info!(items = ?recovered, "resuming downloads interrupted by a restart");
        }
        // `download.autostart`: the queue runs from the start; else it is as it was left.
        let flag_running = repo.flag(FLAG_RUNNING).await?.unwrap_or(false);
        let running = config.download.autostart || flag_running;
        let paused = repo.flag(FLAG_PAUSED).await?.unwrap_or(false);
        let (changes, _) = watch::channel(0);
        let queue = DownloadQueue {
            inner: Arc::new(Inner {
                store,
                registry,
                library,
                engine,
                config: RwLock::new(Arc::new(config)),
                callbacks,
                state: Mutex::new(State {
                    running,
                    paused,
                    active: HashMap::new(),
                }),
                changes,
                pump_lock: tokio::sync::Mutex::new(()),
                recovered,
                shared: Mutex::new((flag_running, paused)),
                closed: CancellationToken::new(),
            }),
        };
        if running {
            queue.inner.clone().pump().await;
        }
        tokio::spawn(poll_shared(Arc::downgrade(&queue.inner)));
        Ok(queue)
    }

    /// Ids of the items a previous process left downloading; they resume first-come as pending.
    pub fn recovered(&self) -> &[i64] {
        &self.inner.recovered
    }

    fn repo(&self) -> QueueRepo {
        self.inner.store.queue()
    }

    /// Applies a changed configuration (parallelism, rate limit, naming, preferences).
    pub async fn set_config(&self, config: Config) {
        self.inner
            .engine
            .limiter()
            .set_rate(config.download.rate_limit);
        *self.inner.config.write().expect("config lock") = Arc::new(config);
        self.inner.clone().pump().await;
    }

    /// Queues episodes. An episode already queued (pending, downloading or paused) or already in
    /// the library is not added again; the answer lists those with the reason. The new items are
    /// written in one transaction.
    pub async fn add(&self, requests: Vec<EpisodeRequest>) -> Result<AddOutcome> {
        let outcome = self.adder().add(requests).await?;
        if !outcome.added.is_empty() {
            self.inner.changed();
            self.inner.clone().pump().await;
        }
        Ok(outcome)
    }

    /// What adds items for this queue (without starting them).
    pub fn adder(&self) -> QueueAdder {
        QueueAdder::new(
            self.inner.store.clone(),
            self.inner.registry.clone(),
            self.inner.library.clone(),
            self.inner.callbacks.clone(),
        )
    }

    /// Removes an item: a running download is cancelled and its partial file deleted.
    pub async fn remove(&self, id: i64) -> Result<()> {
        let item = self.repo().get(id).await?;
        self.repo().remove(id).await?;
        let active = self.inner.active(id);
        if let Some(a) = &active {
            a.cancel.cancel();
            self.wait_inactive(id).await;
        }
        let target = active
            .and_then(|a| a.target.lock().expect("target lock").clone())
            .or_else(|| item.path.as_ref().map(PathBuf::from));
        if item.status != ItemStatus::Completed
            && let Some(target) = target
        {
            partial::remove_partial(&target).await;
        }
        self.inner.changed();
        self.inner.clone().pump().await;
        Ok(())
    }

    /// Starts (or restarts after stop/pause) the whole queue.
    pub async fn start(&self) -> Result<()> {
        self.repo().set_flag(FLAG_RUNNING, true).await?;
        self.repo().set_flag(FLAG_PAUSED, false).await?;
        *self.inner.shared.lock().expect("shared flags lock") = (true, false);
        {
            let mut s = self.inner.lock();
            s.running = true;
            s.paused = false;
        }
        self.inner.changed();
        self.inner.clone().pump().await;
        Ok(())
    }

    /// Stops the whole queue: running downloads are interrupted (their partial files stay and
    /// they go back to pending), nothing new starts until [`start`](Self::start).
    pub async fn stop(&self) -> Result<()> {
        self.repo().set_flag(FLAG_RUNNING, false).await?;
        self.inner.shared.lock().expect("shared flags lock").0 = false;
        self.interrupt_all().await
    }

    /// For process shutdown: interrupts running downloads like [`stop`](Self::stop) (partial
    /// files stay, items back to pending) but remembers that the queue was running, so the next
    /// start of the process carries on.
    pub async fn shutdown(&self) -> Result<()> {
        self.inner.closed.cancel();
        self.interrupt_all().await
    }

    async fn interrupt_all(&self) -> Result<()> {
        let active: Vec<(i64, Arc<ActiveDownload>)> = {
            let mut s = self.inner.lock();
            s.running = false;
            s.active.iter().map(|(k, v)| (*k, v.clone())).collect()
        };
        for (id, a) in &active {
            self.repo()
                .transition(*id, &[ItemStatus::Downloading], ItemStatus::Pending, false)
                .await?;
            a.cancel.cancel();
        }
        for (id, _) in &active {
            self.wait_inactive(*id).await;
        }
        self.inner.changed();
        Ok(())
    }

    /// Pauses the queue: current downloads finish, nothing new starts.
    pub async fn pause(&self) -> Result<()> {
        self.repo().set_flag(FLAG_PAUSED, true).await?;
        self.inner.shared.lock().expect("shared flags lock").1 = true;
        self.inner.lock().paused = true;
        self.inner.changed();
        Ok(())
    }

    /// Undoes [`pause`](Self::pause).
    pub async fn resume(&self) -> Result<()> {
        self.repo().set_flag(FLAG_PAUSED, false).await?;
        self.inner.shared.lock().expect("shared flags lock").1 = false;
        self.inner.lock().paused = false;
        self.inner.changed();
        self.inner.clone().pump().await;
        Ok(())
    }

    /// Pauses one item (a running download is interrupted; its partial file stays).
    pub async fn pause_item(&self, id: i64) -> Result<()> {
        let moved = self
            .repo()
            .transition(
                id,
                &[ItemStatus::Pending, ItemStatus::Downloading],
                ItemStatus::Paused,
                false,
            )
            .await?;
        if !moved {
            self.repo().get(id).await?;
            return Err(Error::Conflict(format!(
                "queue item {id} is not pending or downloading"
            )));
        }
        if let Some(a) = self.inner.active(id) {
            a.cancel.cancel();
            self.wait_inactive(id).await;
        }
        self.inner.changed();
        self.inner.clone().pump().await;
        Ok(())
    }

    /// Puts a paused item back in line.
    pub async fn resume_item(&self, id: i64) -> Result<()> {
        if !self
            .repo()
            .transition(id, &[ItemStatus::Paused], ItemStatus::Pending, false)
            .await?
        {
            self.repo().get(id).await?;
            return Err(Error::Conflict(format!("queue item {id} is not paused")));
        }
        self.inner.changed();
        self.inner.clone().pump().await;
        Ok(())
    }

    /// Puts every failed item back in line (attempts reset). Returns the ids retried; failed
    /// items whose episode is already queued again are left alone.
    pub async fn retry_failed(&self) -> Result<Vec<i64>> {
        let mut retried = Vec::new();
        for id in self.repo().failed_ids().await? {
            if self.retry_item(id).await? {
                retried.push(id);
            }
        }
        self.inner.changed();
        self.inner.clone().pump().await;
        Ok(retried)
    }

    /// Puts one failed or cancelled item back in line. `false` when it was not failed/cancelled
    /// or the episode is already queued again.
    pub async fn retry_item(&self, id: i64) -> Result<bool> {
        let moved = self
            .repo()
            .transition(
                id,
                &[ItemStatus::Failed, ItemStatus::Cancelled],
                ItemStatus::Pending,
                true,
            )
            .await?;
        if moved {
            self.inner.changed();
            self.inner.clone().pump().await;
        }
        Ok(moved)
    }

    /// Removes every completed item from the list (files stay). Returns how many.
    pub async fn clear_completed(&self) -> Result<u64> {
        let n = self.repo().clear_completed().await?;
        self.inner.changed();
        Ok(n)
    }

    /// Moves an item to `position` (1 = next) and optionally changes its priority.
    pub async fn reorder(&self, id: i64, position: usize, priority: Option<i64>) -> Result<()> {
        self.repo().reorder(id, position, priority).await?;
        self.inner.changed();
        Ok(())
    }

    pub async fn item(&self, id: i64) -> Result<QueueItem> {
        self.repo().get(id).await
    }

    /// Every visible item, in queue order.
    pub async fn list(&self) -> Result<Vec<QueueItem>> {
        self.repo().list().await
    }

    /// Counts and the first page of items.
    pub async fn status(&self) -> Result<QueueStatus> {
        self.status_page(&QueuePage::default()).await
    }

    /// Counts (always complete) and one page of items.
    pub async fn status_page(&self, page: &QueuePage) -> Result<QueueStatus> {
        self.inner.status(page).await
    }

    /// Visible items per status.
    pub async fn counts(&self) -> Result<QueueCounts> {
        self.repo().counts().await
    }

    /// Started (and not stopped), and paused.
    pub fn running_paused(&self) -> (bool, bool) {
        let s = self.inner.lock();
        (s.running, s.paused)
    }

    /// Waits until none of `ids` is pending, downloading or paused any more (removed counts as
    /// finished). Returns the items as they ended (removed ones left out).
    pub async fn wait_finished(&self, ids: &[i64]) -> Result<Vec<QueueItem>> {
        let mut rx = self.inner.changes.subscribe();
        loop {
            let mut done = Vec::new();
            let mut open = false;
            for id in ids {
                match self.repo().get(*id).await {
                    Ok(item) => {
                        let live = matches!(
                            item.status,
                            ItemStatus::Pending | ItemStatus::Downloading | ItemStatus::Paused
                        ) || self.inner.active(*id).is_some();
                        if live {
                            open = true;
                        } else {
                            done.push(item);
                        }
                    }
                    Err(Error::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if !open {
                return Ok(done);
            }
            // A timeout too, so a change we raced with is still noticed.
            let _ = tokio::time::timeout(Duration::from_secs(1), rx.changed()).await;
        }
    }

    /// Waits until no download runs and nothing would start now.
    pub async fn wait_idle(&self) -> Result<()> {
        let mut rx = self.inner.changes.subscribe();
        loop {
            let (running, paused, active) = {
                let s = self.inner.lock();
                (s.running, s.paused, s.active.len())
            };
            if active == 0 {
                let pending = self.repo().has_pending().await?;
                if !running || paused || !pending {
                    return Ok(());
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), rx.changed()).await;
        }
    }

    async fn wait_inactive(&self, id: i64) {
        let mut rx = self.inner.changes.subscribe();
        let deadline = Instant::now() + WIND_DOWN;
        while self.inner.active(id).is_some() && Instant::now() < deadline {
            let _ = tokio::time::timeout(Duration::from_millis(200), rx.changed()).await;
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("queue state lock")
    }

    fn config(&self) -> Arc<Config> {
        self.config.read().expect("config lock").clone()
    }

    fn active(&self, id: i64) -> Option<Arc<ActiveDownload>> {
        self.lock().active.get(&id).cloned()
    }

    fn changed(self: &Arc<Self>) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
        let inner = self.clone();
        tokio::spawn(async move {
            if let Ok(counts) = inner.store.queue().counts().await {
                let (running, paused) = {
                    let s = inner.lock();
                    (s.running, s.paused)
                };
                inner.callbacks.emit(Event::QueueStatus {
                    running,
                    paused,
                    pending: counts.pending,
                    downloading: counts.downloading,
                    completed: counts.completed,
                    failed: counts.failed,
                });
            }
        });
    }

    async fn status(&self, page: &QueuePage) -> Result<QueueStatus> {
        let repo = self.store.queue();
        let counts = repo.counts().await?;
        let per_page = page.per_page.clamp(1, QueuePage::MAX_PER_PAGE);
        let offset = u64::from(page.page.max(1) - 1) * u64::from(per_page);
        let key = page.key.as_ref().map(|k| k.as_str());
        let items = repo.page(page.status, key, offset, per_page).await?;
        let total = match key {
            Some(key) => repo.count_of_series(page.status, key).await?,
            None => page.status.map_or(counts.total(), |s| counts.of(s)),
        };
        let (running, paused) = {
            let s = self.lock();
            (s.running, s.paused)
        };
        Ok(QueueStatus {
            running,
            paused,
            max_parallel: self.config().download.max_parallel.max(1),
            pending: counts.pending,
            downloading: counts.downloading,
            paused_items: counts.paused,
            completed: counts.completed,
            failed: counts.failed,
            cancelled: counts.cancelled,
            total,
            page: page.page.max(1),
            per_page,
            items,
        })
    }

    /// Runs [`pump`](Self::pump) on its own task (a sync boundary, so pump's future is not recursive).
    fn kick(self: Arc<Self>) {
        tokio::spawn(self.pump());
    }

    /// Starts pending items while the queue runs and slots are free.
    async fn pump(self: Arc<Self>) {
        let _guard = self.pump_lock.lock().await;
        loop {
            let max = usize::try_from(self.config().download.max_parallel.max(1)).unwrap_or(1);
            {
                let s = self.lock();
                if !s.running || s.paused || s.active.len() >= max {
                    return;
                }
            }
            let lease = self.config().download.lease_secs;
            let next = match self
                .store
                .queue()
                .claim(self.store.instance_id(), lease)
                .await
            {
                Ok(Some(item)) => item,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, "queue: cannot claim the next item");
                    return;
                }
            };
            let active = Arc::new(ActiveDownload {
                cancel: CancellationToken::new(),
                target: Mutex::new(None),
            });
            self.lock().active.insert(next.id, active.clone());
            let inner = self.clone();
            tokio::spawn(async move {
                let id = next.id;
                let worker = tokio::spawn(inner.clone().run_item(next, active));
                if let Err(e) = worker.await {
                    // A panic in one download must not wedge the queue.
                    tracing::error!(item = id, error = %e, "download task panicked");
                    let _ = inner
                        .store
                        .queue()
                        .mark_failed(id, &format!("internal error: {e}"))
                        .await;
                }
                inner.lock().active.remove(&id);
                inner.changed();
                inner.kick();
            });
            self.changed();
        }
    }

    async fn run_item(self: Arc<Self>, item: QueueItem, active: Arc<ActiveDownload>) {
        let config = self.config();
        let mut context = EventContext::new(item.key.clone());
        context.site = Some(item.site.clone());
        context.folder = item.folder.clone();
        context.season = Some(item.season);
        context.episode = Some(item.episode);
        context.language = item.language;
        self.callbacks.emit(Event::DownloadStarted {
            item_id: item.id,
            context: context.clone(),
        });
        let (snapshots, snapshot_rx) = watch::channel(Snapshot::default());
        let writer = tokio::spawn(write_progress(self.store.queue(), item.id, snapshot_rx));
        let renewer = tokio::spawn(renew_lease(self.clone(), item.id, active.clone()));
        let sink = QueueSink {
            item_id: item.id,
            callbacks: self.callbacks.clone(),
            context: Mutex::new(context),
            active: active.clone(),
            snapshots,
            speed: Mutex::new(SpeedMeter::default()),
        };
        let job = EpisodeJob {
            item_id: item.id,
            key: item.key.clone(),
            site: item.site.clone(),
            season: item.season,
            episode: item.episode,
            language: item.language,
            folder: self.library.folder_of(&item.key).or(item.folder.clone()),
        };
        let result = self
            .engine
            .download_episode(&config, &job, &sink, &active.cancel)
            .await;
        renewer.abort();
        let context = sink.context.lock().expect("context lock").clone();
        drop(sink);
        // The last progress write lands before the final status.
        let _ = writer.await;
        let repo = self.store.queue();
        let finish = match result {
            Ok(EpisodeOutcome::Downloaded { path, size, .. }) => {
                self.completed(&repo, item.id, context, &path, size).await
            }
            Ok(EpisodeOutcome::AlreadyOnDisk { path }) => {
                let size = tokio::fs::metadata(&path)
                    .await
                    .map(|m| m.len())
                    .unwrap_or(0);
                self.completed(&repo, item.id, context, &path, size).await
            }
            Ok(EpisodeOutcome::Skipped { reason }) => repo.mark_cancelled(item.id, &reason).await,
            // Whoever cancelled already set the status (stop → pending, pause → paused, remove).
            Err(Error::Cancelled) => Ok(()),
            Err(e) => {
                let message = e.to_string();
                let r = repo.mark_failed(item.id, &message).await;
                self.callbacks.emit(Event::DownloadFailed {
                    item_id: item.id,
                    context,
                    error: message,
                });
                r
            }
        };
        if let Err(e) = finish {
            tracing::error!(item = item.id, error = %e, "queue: cannot record the result");
        }
    }

    async fn completed(
        &self,
        repo: &QueueRepo,
        id: i64,
        mut context: EventContext,
        path: &Path,
        size: u64,
    ) -> Result<()> {
        let path_str = path.display().to_string();
        // The library knows of the new file before anyone is told the download is done.
        let root = self.library.root();
        let folder = path
            .strip_prefix(&root)
            .ok()
            .and_then(|rel| rel.components().next())
            .and_then(|c| c.as_os_str().to_str());
        if let Some(folder) = folder
            && let Err(e) = self.library.record_download(&context.key, folder).await
        {
            tracing::warn!(key = %context.key, error = %e, "the library does not know of the download yet");
        }
        repo.mark_completed(id, &path_str, size).await?;
        context.path = Some(path_str);
        self.callbacks.emit(Event::DownloadCompleted {
            item_id: id,
            context,
            size,
        });
        Ok(())
    }
}

/// Keeps this instance's lease on a downloading item, renewed at a third of its length. When
/// the item is no longer downloading under this instance (paused, stopped or removed on another
/// instance, or taken over after the lease ran out), the download here is cancelled.
async fn renew_lease(inner: Arc<Inner>, id: i64, active: Arc<ActiveDownload>) {
    loop {
        let lease = inner.config().download.lease_secs;
        tokio::time::sleep(Duration::from_secs(lease.max(3) / 3)).await;
        match inner
            .store
            .queue()
            .renew(id, inner.store.instance_id(), lease)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(
                    item = id,
                    "the item is no longer ours (changed elsewhere); stopping its download here"
                );
                active.cancel.cancel();
                return;
            }
            // A database hiccup: the next renewal tries again while the lease still runs.
            Err(e) => tracing::warn!(item = id, error = %e, "queue: cannot renew the lease"),
        }
    }
}

/// Follows the shared queue while the queue lives: start/stop/pause set on another instance,
/// items added or freed elsewhere (a lease that ran out) are picked up within [`POLL`].
async fn poll_shared(inner: std::sync::Weak<Inner>) {
    loop {
        let closed = match inner.upgrade() {
            Some(inner) => inner.closed.clone(),
            None => return,
        };
        tokio::select! {
            _ = closed.cancelled() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        if let Err(e) = follow_shared(&inner).await {
            tracing::warn!(error = %e, "queue: cannot read the shared queue state");
        }
    }
}

async fn follow_shared(inner: &Arc<Inner>) -> Result<()> {
    let repo = inner.store.queue();
    let running = repo.flag(FLAG_RUNNING).await?.unwrap_or(false);
    let paused = repo.flag(FLAG_PAUSED).await?.unwrap_or(false);
    let before = std::mem::replace(
        &mut *inner.shared.lock().expect("shared flags lock"),
        (running, paused),
    );
    let mut changed = false;
    if before.0 != running {
        changed = true;
        if running {
            let mut s = inner.lock();
            s.running = true;
            s.paused = paused;
        } else {
            // Stopped elsewhere: what runs here goes back to pending, partial files kept.
            DownloadQueue {
                inner: inner.clone(),
            }
            .interrupt_all()
            .await?;
        }
    }
    if before.1 != paused {
        changed = true;
        inner.lock().paused = paused;
    }
    if changed {
        inner.changed();
    }
    inner.clone().pump().await;
    Ok(())
}

/// Latest progress of one item, written to the database at most once a second.
#[derive(Debug, Clone, Default, PartialEq)]
struct Snapshot {
    bytes: u64,
    total: Option<u64>,
    speed: Option<f64>,
    eta: Option<u64>,
    path: Option<String>,
    folder: Option<String>,
    language: Option<Language>,
}

async fn write_progress(repo: QueueRepo, id: i64, mut rx: watch::Receiver<Snapshot>) {
    let mut written_path: Option<String> = None;
    while rx.changed().await.is_ok() {
        let snap = rx.borrow_and_update().clone();
        if snap.path.is_some() && snap.path != written_path {
            if let Err(e) = repo
                .set_path(
                    id,
                    snap.path.as_deref().unwrap_or_default(),
                    snap.folder.as_deref(),
                )
                .await
            {
                tracing::warn!(item = id, error = %e, "queue: cannot record the target path");
            }
            written_path = snap.path.clone();
        }
        if let Err(e) = repo
            .update_progress(id, snap.bytes, snap.total, snap.speed, snap.eta)
            .await
        {
            tracing::warn!(item = id, error = %e, "queue: cannot record progress");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Smoothed bytes per second.
#[derive(Default)]
struct SpeedMeter {
    sample: Option<(Instant, u64)>,
    speed: Option<f64>,
}

impl SpeedMeter {
    fn update(&mut self, bytes: u64) -> Option<f64> {
        let now = Instant::now();
        match self.sample {
            None => self.sample = Some((now, bytes)),
            Some((at, before)) => {
                let dt = now.duration_since(at).as_secs_f64();
                if dt >= 0.5 {
                    let instant = bytes.saturating_sub(before) as f64 / dt;
                    self.speed = Some(match self.speed {
                        Some(s) => 0.7 * s + 0.3 * instant,
                        None => instant,
                    });
                    self.sample = Some((now, bytes));
                }
            }
        }
        self.speed
    }
}

struct QueueSink {
    item_id: i64,
    callbacks: CallbackManager,
    context: Mutex<EventContext>,
    active: Arc<ActiveDownload>,
    snapshots: watch::Sender<Snapshot>,
    speed: Mutex<SpeedMeter>,
}

impl ProgressSink for QueueSink {
    fn target(&self, path: &Path, folder: &str, language: Language) {
        *self.active.target.lock().expect("target lock") = Some(path.to_path_buf());
        {
            let mut c = self.context.lock().expect("context lock");
            c.path = Some(path.display().to_string());
            c.folder = Some(folder.to_owned());
            c.language = Some(language);
        }
        self.snapshots.send_modify(|s| {
            s.path = Some(path.display().to_string());
            s.folder = Some(folder.to_owned());
            s.language = Some(language);
        });
    }

    fn progress(&self, bytes: u64, total: Option<u64>) {
        let speed = self.speed.lock().expect("speed lock").update(bytes);
        let eta = match (total, speed) {
            (Some(t), Some(s)) if s > 0.0 => Some((t.saturating_sub(bytes) as f64 / s) as u64),
            _ => None,
        };
        let percent = total
            .filter(|t| *t > 0)
            .map(|t| (bytes as f64 / t as f64 * 100.0).min(100.0));
        self.snapshots.send_modify(|s| {
            s.bytes = bytes;
            s.total = total;
            s.speed = speed;
            s.eta = eta;
        });
        let context = self.context.lock().expect("context lock").clone();
        self.callbacks.emit(Event::DownloadProgress {
            context,
            progress: DownloadProgress {
                item_id: self.item_id,
                bytes,
                total,
                speed: speed.unwrap_or(0.0),
                eta,
                percent,
            },
        });
    }
}
