//! Follow settings of a series: whether its new episodes are looked for and queued by themselves.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{EpisodeSet, Language, SeriesKey};

/// Which episodes a check queues for a followed series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Monitor {
    /// Nothing is queued; new episodes are still reported.
    #[default]
    None,
    /// Episodes that appear after following (or after the last check).
    New,
    /// Every episode not on disk, the missing ones of today included.
    All,
}

impl Monitor {
    pub fn as_str(self) -> &'static str {
        match self {
            Monitor::None => "none",
            Monitor::New => "new",
            Monitor::All => "all",
        }
    }
}

impl fmt::Display for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Monitor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Monitor::None),
            "new" => Ok(Monitor::New),
            "all" => Ok(Monitor::All),
            _ => Err(Error::invalid("monitor", "must be none, new or all")),
        }
    }
}

/// What the user chose for a series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowSettings {
    pub followed: bool,
    pub monitor: Monitor,
    /// The language to queue in; `None` = `download.languages` decides.
    pub language: Option<Language>,
}

/// A series' follow record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowRecord {
    pub site: String,
    pub key: SeriesKey,
    pub settings: FollowSettings,
    /// What the provider listed at the last good check; `None` = no baseline yet.
    pub seen: Option<EpisodeSet>,
    pub followed_at: i64,
    /// The last check that read the series' provider data.
    pub checked_at: Option<i64>,
    /// Why the last check could not: (error code, message, unix seconds).
    pub failure: Option<(String, String, i64)>,
}

/// An episode a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEpisode {
    pub site: String,
    pub key: SeriesKey,
    pub season: u32,
    pub episode: u32,
    pub found_at: i64,
    /// Whether a check queued it (then never again).
    pub queued: bool,
    pub item_id: Option<i64>,
}

/// One entry of a site's list of latest releases (aniworld.to `/neue-episoden`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub key: SeriesKey,
    pub season: u32,
    pub episode: u32,
    pub language: Option<Language>,
    /// The day it was listed, when the page says.
    pub date: Option<chrono::NaiveDate>,
}
