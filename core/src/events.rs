//! Typed events and the [`CallbackManager`] that fans them out.
//!
//! Subscribers: the WebSocket service, the database, and hook scripts. Callbacks run on the
//! emitting thread and must be quick (hand work off to a channel); a panicking callback is caught
//! and logged, never propagated to the emitter. Async subscribers use [`CallbackManager::subscribe`]
//! (a bounded broadcast channel: a slow receiver lags, it never slows the emitter).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::model::{Language, SeriesKey};

/// Who/what an event is about. Always carries `key`; everything else is optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventContext {
    pub key: SeriesKey,
    pub site: Option<String>,
    pub folder: Option<String>,
    pub season: Option<u32>,
    pub episode: Option<u32>,
    pub language: Option<Language>,
    pub path: Option<String>,
}

impl EventContext {
    pub fn new(key: SeriesKey) -> Self {
        EventContext {
            key,
            site: None,
            folder: None,
            season: None,
            episode: None,
            language: None,
            path: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownloadProgress {
    pub item_id: i64,
    pub bytes: u64,
    pub total: Option<u64>,
    /// Bytes per second, smoothed.
    pub speed: f64,
    /// Seconds left, when known.
    pub eta: Option<u64>,
    /// 0.0..=100.0 when the total is known.
    pub percent: Option<f64>,
}

/// A (season, episode) in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EpisodeNumber {
    pub season: u32,
    pub episode: u32,
}

/// A followed series a check could not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowFailure {
    pub key: String,
    pub site: String,
    /// The error code (`blocked`, `site_down`, `not_found`, ...).
    pub code: String,
    pub message: String,
}

/// Serialisable both ways: other instances' events arrive through Redis as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Event {
    ScanStarted {
        scan_id: String,
        library: String,
    },
    ScanProgress {
        scan_id: String,
        done: u64,
        total: u64,
        folder: Option<String>,
    },
    ScanCompleted {
        scan_id: String,
        series: u64,
        episodes: u64,
        unmatched: u64,
        missing: Option<u64>,
        duration_ms: u64,
    },
    ScanFailed {
        scan_id: String,
        error: String,
    },
    SeriesAdded {
        context: EventContext,
        name: String,
    },
    /// What a provider lists for a series was asked again (missing episodes may have changed).
    SeriesUpdated {
        key: SeriesKey,
        site: String,
    },
    /// The provider search for an unmatched folder's suggestions has answered (or failed).
    SuggestionsReady {
        folder: String,
    },
    DownloadQueued {
        item_id: i64,
        context: EventContext,
    },
    DownloadStarted {
        item_id: i64,
        context: EventContext,
    },
    DownloadProgress {
        context: EventContext,
        progress: DownloadProgress,
    },
    DownloadCompleted {
        item_id: i64,
        context: EventContext,
        size: u64,
    },
    DownloadFailed {
        item_id: i64,
        context: EventContext,
        error: String,
    },
    /// The queue's state changed (started/stopped/paused, counts).
    QueueStatus {
        running: bool,
        paused: bool,
        pending: u64,
        downloading: u64,
        completed: u64,
        failed: u64,
    },
    /// A hook script failed; the queue carries on.
    HookFailed {
        script: String,
        hook: String,
        error: String,
    },
    /// A follow check found episodes of a followed series that appeared since the last check,
    /// or queued missing ones (`queued` lists what it queued).
    NewEpisodes {
        key: SeriesKey,
        site: String,
        folder: Option<String>,
        name: String,
        episodes: Vec<EpisodeNumber>,
        queued: Vec<EpisodeNumber>,
    },
    /// A follow check ended: what it read, queued, and which series it could not read (and why).
    FollowCheckCompleted {
        check_id: String,
        /// `manual`, `schedule` or `startup` (a check missed while the server was down).
        trigger: String,
        ok: bool,
        series: u64,
        read: u64,
        queued: u64,
        found: u64,
        /// Sites whose list of latest releases told which series changed.
        release_lists: Vec<String>,
        failures: Vec<FollowFailure>,
        message: Option<String>,
        duration_ms: u64,
    },
    /// A connection gave up on a notification after its retries (the error never holds secrets).
    ConnectionFailed {
        name: String,
        kind: String,
        event: String,
        error: String,
        attempts: u32,
    },
}

impl Event {
    /// The event's `type` string as it appears on the WebSocket.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ScanStarted { .. } => "scan_started",
            Event::ScanProgress { .. } => "scan_progress",
            Event::ScanCompleted { .. } => "scan_complete",
            Event::ScanFailed { .. } => "scan_failed",
            Event::SeriesAdded { .. } => "series_added",
            Event::SeriesUpdated { .. } => "series_updated",
            Event::SuggestionsReady { .. } => "suggestions_ready",
            Event::DownloadQueued { .. } => "download_queued",
            Event::DownloadStarted { .. } => "download_started",
            Event::DownloadProgress { .. } => "download_progress",
            Event::DownloadCompleted { .. } => "download_complete",
            Event::DownloadFailed { .. } => "download_failed",
            Event::QueueStatus { .. } => "queue_status",
            Event::HookFailed { .. } => "hook_failed",
            Event::ConnectionFailed { .. } => "connection_failed",
            Event::NewEpisodes { .. } => "new_episodes",
            Event::FollowCheckCompleted { .. } => "follow_check_complete",
        }
    }
}

pub type Callback = Arc<dyn Fn(&Event) + Send + Sync>;

/// Thread-safe fan-out of events to several subscribers, with per-item progress throttling.
#[derive(Clone)]
pub struct CallbackManager {
    inner: Arc<CallbackInner>,
}

struct CallbackInner {
    next_id: AtomicU64,
    callbacks: RwLock<Vec<(u64, Callback)>>,
    sender: broadcast::Sender<Event>,
    last_progress: Mutex<HashMap<i64, Instant>>,
    min_interval: Duration,
}

/// Handle returned by [`CallbackManager::on_event`]; pass it to `remove` to unsubscribe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionId(u64);

impl Default for CallbackManager {
    fn default() -> Self {
        Self::new()
    }
}

impl CallbackManager {
    /// At most 10 progress updates a second per item.
    pub fn new() -> Self {
        Self::with_progress_interval(Duration::from_millis(100))
    }

    pub fn with_progress_interval(min_interval: Duration) -> Self {
        let (sender, _) = broadcast::channel(1024);
        CallbackManager {
            inner: Arc::new(CallbackInner {
                next_id: AtomicU64::new(1),
                callbacks: RwLock::new(Vec::new()),
                sender,
                last_progress: Mutex::new(HashMap::new()),
                min_interval,
            }),
        }
    }

    /// Calls `f` for every event.
    pub fn on_event(&self, f: impl Fn(&Event) + Send + Sync + 'static) -> SubscriptionId {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner
            .callbacks
            .write()
            .expect("callbacks lock poisoned")
            .push((id, Arc::new(f)));
        SubscriptionId(id)
    }

    /// Calls `f` for progress events only.
    pub fn on_progress(
        &self,
        f: impl Fn(&EventContext, &DownloadProgress) + Send + Sync + 'static,
    ) -> SubscriptionId {
        self.on_event(move |e| {
            if let Event::DownloadProgress { context, progress } = e {
                f(context, progress)
            }
        })
    }

    /// Calls `f` for download and scan failures.
    pub fn on_error(&self, f: impl Fn(&Event) + Send + Sync + 'static) -> SubscriptionId {
        self.on_event(move |e| {
            if matches!(
                e,
                Event::DownloadFailed { .. } | Event::ScanFailed { .. } | Event::HookFailed { .. }
            ) {
                f(e)
            }
        })
    }

    /// Calls `f` for completed downloads and scans.
    pub fn on_completion(&self, f: impl Fn(&Event) + Send + Sync + 'static) -> SubscriptionId {
        self.on_event(move |e| {
            if matches!(
                e,
                Event::DownloadCompleted { .. } | Event::ScanCompleted { .. }
            ) {
                f(e)
            }
        })
    }

    pub fn remove(&self, id: SubscriptionId) {
        self.inner
            .callbacks
            .write()
            .expect("callbacks lock poisoned")
            .retain(|(i, _)| *i != id.0);
    }

    /// A bounded async stream of every event; a receiver that falls behind gets `Lagged`.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.sender.subscribe()
    }

    /// Hands an event another instance emitted to this instance's subscribers (the WebSocket
    /// clients) only: callbacks (hooks, connections, this instance's own fan-out) run where the
    /// event happened, so they never run twice.
    pub fn relay(&self, event: Event) {
        // No receivers is fine.
        let _ = self.inner.sender.send(event);
    }

    /// Emits an event. Progress events for one item closer together than the throttle interval are
    /// dropped (the final state always arrives as a completed/failed event).
    pub fn emit(&self, event: Event) {
        if let Event::DownloadProgress { progress, .. } = &event {
            let now = Instant::now();
            let mut last = self
                .inner
                .last_progress
                .lock()
                .expect("progress lock poisoned");
            let done = progress.total.is_some_and(|t| progress.bytes >= t);
            if let Some(prev) = last.get(&progress.item_id)
                && now.duration_since(*prev) < self.inner.min_interval
                && !done
            {
                return;
            }
            last.insert(progress.item_id, now);
        }
        if let Event::DownloadCompleted { item_id, .. } | Event::DownloadFailed { item_id, .. } =
            &event
        {
            self.inner
                .last_progress
                .lock()
                .expect("progress lock poisoned")
                .remove(item_id);
        }
        let callbacks: Vec<Callback> = self
            .inner
            .callbacks
            .read()
            .expect("callbacks lock poisoned")
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
        for cb in callbacks {
            if std::panic::catch_unwind(AssertUnwindSafe(|| cb(&event))).is_err() {
                tracing::error!(event = event.kind(), "an event callback panicked");
            }
        }
        // No receivers is fine.
        let _ = self.inner.sender.send(event);
    }
}

/// What `before_download` hooks decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookDecision {
    Continue,
    /// Use this file name (a name only; sanitised and kept inside the series folder by the engine).
    Rename(String),
    Skip,
}

/// Hooks that can change what the download engine does. Implemented by the script layer;
/// `core` only calls it. Notifications (completed/failed/scan/series added) go through
/// [`CallbackManager`] instead.
#[async_trait]
pub trait DownloadHooks: Send + Sync {
    async fn before_download(&self, context: &EventContext, file_name: &str) -> HookDecision;
}

/// No hooks.
pub struct NoHooks;

#[async_trait]
impl DownloadHooks for NoHooks {
    async fn before_download(&self, _: &EventContext, _: &str) -> HookDecision {
        HookDecision::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn progress(item_id: i64, bytes: u64) -> Event {
        Event::DownloadProgress {
            context: EventContext::new(SeriesKey::parse("k").unwrap()),
            progress: DownloadProgress {
                item_id,
                bytes,
                total: Some(100),
                speed: 0.0,
                eta: None,
                percent: None,
            },
        }
    }

    #[test]
    fn progress_is_throttled_per_item() {
        let m = CallbackManager::with_progress_interval(Duration::from_secs(60));
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        m.on_progress(move |_, _| {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        for i in 0..50 {
            m.emit(progress(1, i));
            m.emit(progress(2, i));
        }
        m.emit(progress(1, 100)); // final update always passes
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn relayed_events_reach_subscribers_but_not_callbacks() {
        let m = CallbackManager::new();
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        m.on_event(move |_| {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        let mut rx = m.subscribe();
        let event = Event::DownloadCompleted {
            item_id: 7,
            context: EventContext::new(SeriesKey::parse("k").unwrap()),
            size: 3,
        };
        let wire = serde_json::to_string(&event).unwrap();
        m.relay(serde_json::from_str(&wire).unwrap());
        assert_eq!(rx.try_recv().unwrap(), event);
        assert_eq!(n.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn panicking_callback_does_not_reach_emitter() {
        let m = CallbackManager::new();
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        m.on_event(|_| panic!("boom"));
        m.on_event(move |_| {
            n2.fetch_add(1, Ordering::SeqCst);
        });
        m.emit(progress(1, 1));
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }
}
