//! `/api/queue`: the persistent download queue (`aniworld_core::queue::DownloadQueue`).

use aniworld_core::model::SeriesKey;
use aniworld_core::queue::{
    AddOutcome, DownloadQueue, EpisodeRequest, ItemStatus, MAX_EPISODE, MAX_SEASON, QueueItem,
    QueuePage, QueueStatus, SkipReason,
};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::common::Language;
use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult, Errors, can};

/// What every queue operation can answer besides its own errors: the queue is not running (503),
/// the database failed (500).
const QUEUE: u32 = can::UNAVAILABLE | can::INTERNAL;

/// Most episodes one add may carry.
const MAX_ADD: usize = 2_000;

#[derive(Debug, Object)]
pub struct QueueItemView {
    pub id: i64,
    pub key: String,
    pub site: String,
    pub folder: Option<String>,
    pub season: u32,
    pub episode: u32,
    /// The forced language, or (once downloading) the language being downloaded.
    pub language: Option<Language>,
    pub status: QueueItemStatus,
    pub priority: i64,
    pub position: i64,
    pub bytes: u64,
    pub total: Option<u64>,
    /// Bytes per second.
    pub speed: Option<f64>,
    /// Seconds left.
    pub eta: Option<u64>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Target file, once known.
    pub path: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<QueueItem> for QueueItemView {
    fn from(i: QueueItem) -> Self {
        QueueItemView {
            id: i.id,
            key: i.key.to_string(),
            site: i.site,
            folder: i.folder,
            season: i.season,
            episode: i.episode,
            language: i.language.map(Language::from),
            status: i.status.into(),
            priority: i.priority,
            position: i.position,
            bytes: i.bytes,
            total: i.total,
            speed: i.speed,
            eta: i.eta,
            attempts: i.attempts,
            last_error: i.last_error,
            path: i.path,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

#[derive(Debug, Object)]
pub struct QueueStatusView {
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
    /// Items matching the `status`/`key` filters (every visible item without one): the pages' total.
    pub total: u64,
    /// 1-based page number of `items`.
    pub page: u32,
    pub per_page: u32,
    /// One page of the items, in queue order.
    pub items: Vec<QueueItemView>,
}

impl From<QueueStatus> for QueueStatusView {
    fn from(s: QueueStatus) -> Self {
        QueueStatusView {
            running: s.running,
            paused: s.paused,
            max_parallel: s.max_parallel,
            pending: s.pending,
            downloading: s.downloading,
            paused_items: s.paused_items,
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            total: s.total,
            page: s.page,
            per_page: s.per_page,
            items: s.items.into_iter().map(QueueItemView::from).collect(),
        }
    }
}

/// A queue item's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum QueueItemStatus {
    Pending,
    Downloading,
    Paused,
    Completed,
    Failed,
    Cancelled,
}

impl From<ItemStatus> for QueueItemStatus {
    fn from(s: ItemStatus) -> Self {
        match s {
            ItemStatus::Pending => QueueItemStatus::Pending,
            ItemStatus::Downloading => QueueItemStatus::Downloading,
            ItemStatus::Paused => QueueItemStatus::Paused,
            ItemStatus::Completed => QueueItemStatus::Completed,
            ItemStatus::Failed => QueueItemStatus::Failed,
            ItemStatus::Cancelled => QueueItemStatus::Cancelled,
        }
    }
}

impl From<QueueItemStatus> for ItemStatus {
    fn from(s: QueueItemStatus) -> Self {
        match s {
            QueueItemStatus::Pending => ItemStatus::Pending,
            QueueItemStatus::Downloading => ItemStatus::Downloading,
            QueueItemStatus::Paused => ItemStatus::Paused,
            QueueItemStatus::Completed => ItemStatus::Completed,
            QueueItemStatus::Failed => ItemStatus::Failed,
            QueueItemStatus::Cancelled => ItemStatus::Cancelled,
        }
    }
}

#[derive(Debug, Object)]
pub struct EpisodeToQueue {
    #[oai(validator(pattern = "^[A-Za-z0-9][A-Za-z0-9-]{0,127}$"))]
    pub key: String,
    /// Provider id; taken from the library (or `aniworld`) when absent.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub site: Option<String>,
    /// 0 = movies/specials.
    #[oai(validator(maximum(value = "1000")))]
    pub season: u32,
    #[oai(validator(minimum(value = "1"), maximum(value = "99999")))]
    pub episode: u32,
    /// Force a language; else the configured preference decides.
    pub language: Option<Language>,
    /// Higher first.
    pub priority: Option<i64>,
}

#[derive(Debug, Object)]
pub struct QueueAddRequest {
    #[oai(validator(min_items = 1, max_items = 2000))]
    pub episodes: Vec<EpisodeToQueue>,
}

#[derive(Debug, Object)]
pub struct SkippedView {
    pub key: String,
    pub season: u32,
    pub episode: u32,
    pub reason: SkipReasonKind,
    /// For `already_queued`: the live item.
    pub item_id: Option<i64>,
    /// For `on_disk`: the file.
    pub path: Option<String>,
    /// For `invalid`: why.
    pub message: Option<String>,
}

/// Why an episode was not added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "SkipReason", rename_all = "snake_case")]
pub enum SkipReasonKind {
    /// Already in the queue (`item_id`).
    AlreadyQueued,
    /// Already in the library (`path`).
    OnDisk,
    /// Not a valid episode (`message`).
    Invalid,
}

#[derive(Debug, Object)]
pub struct QueueAddResult {
    pub added: Vec<QueueItemView>,
    /// Episodes not added (already queued, already on disk, invalid), with the reason.
    pub skipped: Vec<SkippedView>,
}

impl From<AddOutcome> for QueueAddResult {
    fn from(o: AddOutcome) -> Self {
        QueueAddResult {
            added: o.added.into_iter().map(QueueItemView::from).collect(),
            skipped: o
                .skipped
                .into_iter()
                .map(|s| {
                    let (reason, item_id, path, message) = match s.reason {
                        SkipReason::AlreadyQueued { item_id } => {
                            (SkipReasonKind::AlreadyQueued, Some(item_id), None, None)
                        }
                        SkipReason::OnDisk { path } => {
                            (SkipReasonKind::OnDisk, None, Some(path), None)
                        }
                        SkipReason::Invalid { message } => {
                            (SkipReasonKind::Invalid, None, None, Some(message))
                        }
                    };
                    SkippedView {
                        key: s.key.to_string(),
                        season: s.season,
                        episode: s.episode,
                        reason,
                        item_id,
                        path,
                        message,
                    }
                })
                .collect(),
        }
    }
}

#[derive(Debug, Object)]
pub struct RetryResult {
    /// Items set back to pending.
    pub retried: Vec<i64>,
}

#[derive(Debug, Object)]
pub struct ClearResult {
    /// Completed items removed from the list.
    pub removed: u64,
}

#[derive(ApiResponse)]
pub enum RemovedResponse {
    /// Removed; a running download was cancelled and its partial file deleted.
    #[oai(status = 204)]
    Removed,
}

fn queue(state: &AppState) -> Result<&DownloadQueue, ApiError> {
    state
        .queue()
        .ok_or_else(|| ApiError::unavailable("the download queue is not running"))
}

async fn status_view(q: &DownloadQueue) -> Result<Json<QueueStatusView>, ApiError> {
    Ok(Json(q.status().await?.into()))
}

/// The page a status request asks for; errors name the bad parameter.
fn queue_page(
    page: Option<u32>,
    per_page: Option<u32>,
    status: Option<QueueItemStatus>,
    key: Option<String>,
) -> Result<QueuePage, ApiError> {
    let key = key
        .map(|k| SeriesKey::parse(&k))
        .transpose()
        .map_err(|e| ApiError::invalid("key", e.to_string()))?;
    let page = page.unwrap_or(1);
    let per_page = per_page.unwrap_or(QueuePage::DEFAULT_PER_PAGE);
    if page == 0 {
        return Err(ApiError::invalid("page", "pages start at 1"));
    }
    if per_page == 0 || per_page > QueuePage::MAX_PER_PAGE {
        return Err(ApiError::invalid(
            "per_page",
            format!("must be between 1 and {}", QueuePage::MAX_PER_PAGE),
        ));
    }
    Ok(QueuePage {
        status: status.map(ItemStatus::from),
        key,
        page,
        per_page,
    })
}

pub struct QueueApi;

#[OpenApi(prefix_path = "/api/queue", tag = "ApiTags::Queue")]
impl QueueApi {
    /// The queue's state: counts per status (always complete) and one page of the items in queue
    /// order.
    #[oai(path = "/status", method = "get", operation_id = "queue_status")]
    async fn status(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        /// 1-based page number.
        #[oai(validator(minimum(value = "1")))]
        page: Query<Option<u32>>,
        /// Items per page (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        per_page: Query<Option<u32>>,
        /// Only items in this state.
        status: Query<Option<QueueItemStatus>>,
        /// Only items of this series.
        #[oai(validator(pattern = "^[A-Za-z0-9][A-Za-z0-9-]{0,127}$"))]
        key: Query<Option<String>>,
    ) -> ApiResult<Json<QueueStatusView>, Errors<QUEUE>> {
        let page = queue_page(page.0, per_page.0, status.0, key.0)?;
        Ok(Json(queue(&state)?.status_page(&page).await?.into()))
    }

    /// Queues episodes. Episodes already queued or already in the library are not added twice;
    /// `skipped` says which and why.
    #[oai(path = "/add", method = "post", operation_id = "queue_add")]
    async fn add(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<QueueAddRequest>,
    ) -> ApiResult<Json<QueueAddResult>, Errors<{ QUEUE | can::UNPROCESSABLE }>> {
        let q = queue(&state)?;
        let episodes = body.0.episodes;
        if episodes.is_empty() || episodes.len() > MAX_ADD {
            return Err(
                ApiError::invalid("episodes", format!("give 1 to {MAX_ADD} episodes")).into(),
            );
        }
        let mut requests = Vec::with_capacity(episodes.len());
        // One library lookup per series, however many of its episodes are queued.
        let mut known_series = std::collections::HashMap::new();
        for (i, e) in episodes.into_iter().enumerate() {
            let key = SeriesKey::parse(&e.key)
                .map_err(|err| ApiError::invalid(&format!("episodes[{i}].key"), err.to_string()))?;
            let language = e.language.map(aniworld_core::model::Language::from);
            let known = match known_series.get(&key) {
                Some(known) => Option::clone(known),
                None => {
                    let found = state.store().series().get_by_key(&key).await?;
                    known_series.insert(key.clone(), found.clone());
                    found
                }
            };
            let site = e
                .site
                .or_else(|| known.as_ref().map(|r| r.site.clone()))
                .unwrap_or_else(|| "aniworld".to_owned());
            if e.season > MAX_SEASON {
                return Err(ApiError::invalid(
                    &format!("episodes[{i}].season"),
                    format!("season {} is out of range (0 to {MAX_SEASON})", e.season),
                )
                .into());
            }
            if e.episode == 0 || e.episode > MAX_EPISODE {
                return Err(ApiError::invalid(
                    &format!("episodes[{i}].episode"),
                    format!("episode {} is out of range (1 to {MAX_EPISODE})", e.episode),
                )
                .into());
            }
            let mut request = EpisodeRequest::new(key, site, e.season, e.episode);
            request.language = language;
            request.priority = e.priority.unwrap_or(0);
            request.folder = known.map(|r| r.folder);
            requests.push(request);
        }
        Ok(Json(q.add(requests).await?.into()))
    }

    /// Removes an item; a running download is cancelled and its partial file deleted.
    #[oai(path = "/:item_id", method = "delete", operation_id = "queue_remove")]
    async fn remove(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        item_id: Path<i64>,
    ) -> ApiResult<RemovedResponse, Errors<{ QUEUE | can::NOT_FOUND | can::CONFLICT }>> {
        queue(&state)?.remove(item_id.0).await?;
        Ok(RemovedResponse::Removed)
    }

    /// Starts the queue (it stays started across restarts).
    #[oai(path = "/start", method = "post", operation_id = "queue_start")]
    async fn start(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<QueueStatusView>, Errors<{ QUEUE | can::CONFLICT }>> {
        let q = queue(&state)?;
        q.start().await?;
        Ok(status_view(q).await?)
    }

    /// Stops the queue: running downloads are interrupted (partial files stay for resuming).
    #[oai(path = "/stop", method = "post", operation_id = "queue_stop")]
    async fn stop(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<QueueStatusView>, Errors<{ QUEUE | can::CONFLICT }>> {
        let q = queue(&state)?;
        q.stop().await?;
        Ok(status_view(q).await?)
    }

    /// Pauses: running downloads finish, nothing new starts.
    #[oai(path = "/pause", method = "post", operation_id = "queue_pause")]
    async fn pause(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<QueueStatusView>, Errors<{ QUEUE | can::CONFLICT }>> {
        let q = queue(&state)?;
        q.pause().await?;
        Ok(status_view(q).await?)
    }

    /// Resumes after a pause.
    #[oai(path = "/resume", method = "post", operation_id = "queue_resume")]
    async fn resume(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<QueueStatusView>, Errors<{ QUEUE | can::CONFLICT }>> {
        let q = queue(&state)?;
        q.resume().await?;
        Ok(status_view(q).await?)
    }

    /// Sets every failed item back to pending.
    #[oai(path = "/retry", method = "post", operation_id = "queue_retry")]
    async fn retry(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<RetryResult>, Errors<QUEUE>> {
        let retried = queue(&state)?.retry_failed().await?;
        Ok(Json(RetryResult { retried }))
    }

    /// Removes completed items from the list (the files stay).
    #[oai(
        path = "/completed",
        method = "delete",
        operation_id = "queue_clear_completed"
    )]
    async fn clear_completed(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<ClearResult>, Errors<QUEUE>> {
        let removed = queue(&state)?.clear_completed().await?;
        Ok(Json(ClearResult { removed }))
    }
}
