//! `/api/follow`: run a follow check now, the followed series, and what the last checks found.

use aniworld_core::events::FollowFailure;
use aniworld_core::follow::{CheckReport, Trigger};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::anime::MonitorMode;
use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::error::{ApiResult, Errors, can};

/// Most found episodes one `GET /api/follow/found` returns.
const MAX_FOUND: u32 = 1000;

#[derive(Debug, Object)]
pub struct CheckAccepted {
    /// The check's id; its result arrives as `follow_check_complete` (room `system`).
    pub check_id: String,
    /// False when a check was already running (its id is returned).
    pub started: bool,
}

#[derive(ApiResponse)]
pub enum CheckResponse {
    #[oai(status = 202)]
    Accepted(Json<CheckAccepted>),
}

/// What started a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum CheckTrigger {
    /// `POST /api/follow/check` or `aniworld check`.
    Manual,
    /// Every `follow.interval` seconds.
    Schedule,
    /// At start, for a check missed while the server was down.
    Startup,
}

impl From<Trigger> for CheckTrigger {
    fn from(t: Trigger) -> Self {
        match t {
            Trigger::Manual => CheckTrigger::Manual,
            Trigger::Schedule => CheckTrigger::Schedule,
            Trigger::Startup => CheckTrigger::Startup,
        }
    }
}

/// A followed series a check could not read.
#[derive(Debug, Clone, Object)]
pub struct CheckFailure {
    pub key: String,
    pub site: String,
    /// `blocked`, `site_down`, `not_found`, ...
    pub code: String,
    pub message: String,
}

impl From<FollowFailure> for CheckFailure {
    fn from(f: FollowFailure) -> Self {
        CheckFailure {
            key: f.key,
            site: f.site,
            code: f.code,
            message: f.message,
        }
    }
}

/// The result of a follow check.
#[derive(Debug, Clone, Object)]
pub struct FollowCheck {
    pub check_id: String,
    pub trigger: CheckTrigger,
    /// Unix seconds.
    pub started_at: i64,
    pub finished_at: i64,
    /// Every followed series was read (or needed no reading).
    pub ok: bool,
    /// Followed series.
    pub series: u64,
    /// Series whose provider pages were read.
    pub read: u64,
    /// Episodes that appeared since the check before.
    pub found: u64,
    /// Episodes queued.
    pub queued: u64,
    /// Sites whose list of latest releases told which series changed.
    pub release_lists: Vec<String>,
    pub failures: Vec<CheckFailure>,
    /// Why it failed, in one line; null when ok.
    pub message: Option<String>,
}

impl From<CheckReport> for FollowCheck {
    fn from(r: CheckReport) -> Self {
        FollowCheck {
            check_id: r.check_id,
            trigger: r.trigger.into(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            ok: r.ok,
            series: r.series,
            read: r.read,
            found: r.found,
            queued: r.queued,
            release_lists: r.release_lists,
            failures: r.failures.into_iter().map(Into::into).collect(),
            message: r.message,
        }
    }
}

/// A followed series.
#[derive(Debug, Object)]
pub struct FollowedSeries {
    pub key: String,
    pub site: String,
    /// The library's name; the key when the series left the library.
    pub name: String,
    pub folder: Option<String>,
    pub monitor: MonitorMode,
    pub language: Option<String>,
    /// Unix seconds.
    pub followed_at: i64,
    /// The last check that read it; null = none yet.
    pub checked_at: Option<i64>,
    /// Why the last check could not read it; null when it could.
    pub error: Option<String>,
    pub error_code: Option<String>,
}

#[derive(Debug, Object)]
pub struct FollowOverview {
    /// `follow.interval`, seconds.
    pub interval: u64,
    /// The id of the check under way, if any.
    pub running: Option<String>,
    pub last_check: Option<FollowCheck>,
    pub series: Vec<FollowedSeries>,
}

/// An episode a check found.
#[derive(Debug, Object)]
pub struct FoundEpisode {
    pub key: String,
    pub site: String,
    pub name: String,
    pub season: u32,
    pub episode: u32,
    /// Unix seconds.
    pub found_at: i64,
    /// A check queued it (then never again).
    pub queued: bool,
    /// The queue item, when a check queued it.
    pub item_id: Option<i64>,
}

pub struct FollowApi;

#[OpenApi(prefix_path = "/api/follow", tag = "ApiTags::Follow")]
impl FollowApi {
    /// Followed series, the follow interval and the last check's result.
    #[oai(path = "/", method = "get", operation_id = "follow_list")]
    async fn list(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<FollowOverview>, Errors<{ can::INTERNAL }>> {
        let follow = state.follow();
        let series = follow
            .list()
            .await?
            .into_iter()
            .map(|f| {
                let r = f.record;
                let (error_code, error) = match r.failure {
                    Some((code, message, _)) => (Some(code), Some(message)),
                    None => (None, None),
                };
                FollowedSeries {
                    name: f
                        .entry
                        .as_ref()
                        .map_or_else(|| r.key.to_string(), |e| e.name.clone()),
                    folder: f.entry.map(|e| e.folder),
                    key: r.key.to_string(),
                    site: r.site,
                    monitor: r.settings.monitor.into(),
                    language: r.settings.language.map(|l| l.to_string()),
                    followed_at: r.followed_at,
                    checked_at: r.checked_at,
                    error,
                    error_code,
                }
            })
            .collect();
        Ok(Json(FollowOverview {
            interval: follow.interval(),
            running: follow.running(),
            last_check: follow.last_check().map(Into::into),
            series,
        }))
    }

    /// Checks every followed series for new episodes now, in the background; the result arrives
    /// on the WebSocket room `system` (`new_episodes`, `follow_check_complete`) and in
    /// `GET /api/follow` and `/health`.
    #[oai(path = "/check", method = "post", operation_id = "follow_check")]
    async fn check(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<CheckResponse, Errors<{ can::NOTHING }>> {
        let (check_id, started) = state.follow().start_check(Trigger::Manual);
        Ok(CheckResponse::Accepted(Json(CheckAccepted {
            check_id,
            started,
        })))
    }

    /// Episodes the last checks found, newest first: the "Upcoming / new" list.
    #[oai(path = "/found", method = "get", operation_id = "follow_found")]
    async fn found(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        /// At most this many (1 to 1000, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<Vec<FoundEpisode>>, Errors<{ can::INTERNAL }>> {
        let limit = limit.0.unwrap_or(100).min(MAX_FOUND);
        let found = state.follow().found(limit).await?;
        Ok(Json(
            found
                .into_iter()
                .map(|f| FoundEpisode {
                    name: state
                        .library()
                        .get(&f.key)
                        .map_or_else(|| f.key.to_string(), |e| e.name),
                    key: f.key.to_string(),
                    site: f.site,
                    season: f.season,
                    episode: f.episode,
                    found_at: f.found_at,
                    queued: f.queued,
                    item_id: f.item_id,
                })
                .collect(),
        ))
    }
}
