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

/// The whole queue at a glance.
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
    /// Every visible item in queue order.
    pub items: Vec<QueueItem>,
}
