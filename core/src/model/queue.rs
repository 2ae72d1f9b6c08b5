//! The queue's public, serialisable types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{Language, SeriesKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Pending,
    Downloading,
    Paused,
    Completed,
    Failed,
    Cancelled,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Downloading => "downloading",
            ItemStatus::Paused => "paused",
            ItemStatus::Completed => "completed",
            ItemStatus::Failed => "failed",
            ItemStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ItemStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItemStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "pending" => ItemStatus::Pending,
            "downloading" => ItemStatus::Downloading,
            "paused" => ItemStatus::Paused,
            "completed" => ItemStatus::Completed,
            "failed" => ItemStatus::Failed,
            "cancelled" => ItemStatus::Cancelled,
            other => {
                return Err(Error::invalid(
                    "status",
                    format!("unknown status {other:?}"),
                ));
            }
        })
    }
}

/// One queue entry as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    pub id: i64,
    pub key: SeriesKey,
    pub site: String,
    pub folder: Option<String>,
    pub season: u32,
    pub episode: u32,
    /// The forced language, or (once downloading) the language being downloaded.
    pub language: Option<Language>,
    pub status: ItemStatus,
    /// Higher first.
    pub priority: i64,
    /// Order within the same priority, ascending.
    pub position: i64,
    pub bytes: u64,
    pub total: Option<u64>,
    /// Bytes per second.
    pub speed: Option<f64>,
    /// Seconds left.
    pub eta: Option<u64>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Target file (absolute), once known.
    pub path: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Ask to download one episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeRequest {
    pub key: SeriesKey,
    /// Provider id; `aniworld` when omitted.
    #[serde(default = "default_site")]
    pub site: String,
    pub season: u32,
    pub episode: u32,
    #[serde(default)]
    pub language: Option<Language>,
    /// Series folder name in the library, when the caller knows it.
    #[serde(default)]
    pub folder: Option<String>,
    #[serde(default)]
    pub priority: i64,
}

/// Highest season number a request may name (0 = movies/specials).
pub const MAX_SEASON: u32 = 1_000;
/// Highest episode number a request may name; episodes count from 1.
pub const MAX_EPISODE: u32 = 99_999;

fn default_site() -> String {
    "aniworld".to_owned()
}

impl EpisodeRequest {
    pub fn new(key: SeriesKey, site: impl Into<String>, season: u32, episode: u32) -> Self {
        EpisodeRequest {
            key,
            site: site.into(),
            season,
            episode,
            language: None,
            folder: None,
            priority: 0,
        }
    }

    /// Why the season/episode numbers cannot name an episode, if they cannot.
    pub fn number_problem(&self) -> Option<String> {
        if self.season > MAX_SEASON {
            Some(format!(
                "season {} is out of range (0 to {MAX_SEASON})",
                self.season
            ))
        } else if self.episode == 0 || self.episode > MAX_EPISODE {
            Some(format!(
                "episode {} is out of range (1 to {MAX_EPISODE})",
                self.episode
            ))
        } else {
            None
        }
    }

    /// One request per episode number of a season.
    pub fn many(
        key: &SeriesKey,
        site: &str,
        season: u32,
        episodes: impl IntoIterator<Item = u32>,
        language: Option<Language>,
    ) -> Vec<Self> {
        episodes
            .into_iter()
            .map(|e| EpisodeRequest {
                language,
                ..EpisodeRequest::new(key.clone(), site, season, e)
            })
            .collect()
    }
}

/// Why an episode was not added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// Already pending, downloading or paused in the queue.
    AlreadyQueued { item_id: i64 },
    /// A file of this episode is already in the library.
    OnDisk { path: String },
    /// The request itself was invalid (unknown site, ...).
    Invalid { message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEpisode {
    pub key: SeriesKey,
    pub season: u32,
    pub episode: u32,
    #[serde(flatten)]
    pub reason: SkipReason,
}

/// The answer to an add: what was queued and what was not, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AddOutcome {
    pub added: Vec<QueueItem>,
    pub skipped: Vec<SkippedEpisode>,
}

/// Visible items per status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueueCounts {
    pub pending: u64,
    pub downloading: u64,
    pub paused: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
}

impl QueueCounts {
    pub fn add(&mut self, status: ItemStatus, n: u64) {
        *self.slot(status) += n;
    }

    pub fn of(&self, status: ItemStatus) -> u64 {
        match status {
            ItemStatus::Pending => self.pending,
            ItemStatus::Downloading => self.downloading,
            ItemStatus::Paused => self.paused,
            ItemStatus::Completed => self.completed,
            ItemStatus::Failed => self.failed,
            ItemStatus::Cancelled => self.cancelled,
        }
    }

    /// Every visible item.
    pub fn total(&self) -> u64 {
        self.pending
            + self.downloading
            + self.paused
            + self.completed
            + self.failed
            + self.cancelled
    }

    fn slot(&mut self, status: ItemStatus) -> &mut u64 {
        match status {
            ItemStatus::Pending => &mut self.pending,
            ItemStatus::Downloading => &mut self.downloading,
            ItemStatus::Paused => &mut self.paused,
            ItemStatus::Completed => &mut self.completed,
            ItemStatus::Failed => &mut self.failed,
            ItemStatus::Cancelled => &mut self.cancelled,
        }
    }
}

/// Which items a status answer lists: one page in queue order, optionally of one status and/or
/// one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePage {
    pub status: Option<ItemStatus>,
    pub key: Option<SeriesKey>,
    /// From 1.
    pub page: u32,
    pub per_page: u32,
}

impl QueuePage {
    pub const DEFAULT_PER_PAGE: u32 = 100;
    pub const MAX_PER_PAGE: u32 = 1_000;
}

impl Default for QueuePage {
    fn default() -> Self {
        QueuePage {
            status: None,
            key: None,
            page: 1,
            per_page: Self::DEFAULT_PER_PAGE,
        }
    }
}

/// The whole queue at a glance: complete counts and one page of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueStatus {
    /// Started (and not stopped).
    pub running: bool,
    /// Paused: running downloads finish, nothing new starts.
    pub paused: bool,
    pub max_parallel: u32,
    pub pending: u64,
    pub downloading: u64,
    pub paused_items: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Items matching the page's filters (all visible items without one).
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    /// The page's items in queue order.
    pub items: Vec<QueueItem>,
}
