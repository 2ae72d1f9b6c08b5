//! `/api/anime`: the library with missing episodes, details, provider search, adding series, rescans.

use std::collections::BTreeMap;
use std::time::Duration;

use aniworld_core::library::{
    ListQuery, Missing, MissingState as CoreMissingState, ProviderDataState, SeriesEntry, SortBy,
    StateFilter, UnknownReason,
};
use aniworld_core::model::SeriesKey;
use aniworld_core::model::follow::{FollowSettings, Monitor};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::common::Language;
use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult, ErrorCode, Errors, can};

#[derive(Debug, Clone, Object)]
pub struct AnimeSummary {
    /// Provider-assigned series id, used in every other call.
    pub key: String,
    pub name: String,
    /// Provider id (`aniworld`, `sto`, a plugin's id).
    pub site: String,
    /// Folder name in the library.
    pub folder: String,
    pub year: Option<i32>,
    /// Regular episodes (seasons ≥ 1) the provider lists that are not on disk; null = unknown
    /// (see `missing_state`), never "nothing missing".
    pub missing_episodes: Option<u64>,
    /// Movies/specials (season 0) not on disk; null = unknown.
    pub missing_specials: Option<u64>,
    /// The missing episodes per season (regular seasons in order, then season 0 = movies/specials);
    /// empty when nothing is missing or when it is unknown (`missing_state` tells which).
    pub missing: Vec<MissingSeason>,
    // Enum fields carry no doc of their own: the enums document themselves, and a described
    // enum reference (`allOf`) is more than some client generators take. An optional enum is left
    // out rather than sent as null, which its schema (an enum of strings) does not allow.
    pub missing_state: MissingState,
    #[oai(skip_serializing_if_is_none)]
    pub missing_reason: Option<MissingReason>,
    /// The last failure's message, when there was one.
    pub missing_error: Option<String>,
    /// When the provider last answered (unix seconds); null = never.
    pub checked_at: Option<i64>,
    /// Episode files on disk (as of the last scan or download).
    pub episodes_on_disk: u64,
    /// A signed URL of the series' cover for `<img>` (see `GET /api/anime/{id}/cover`); null when
    /// no cover can be known yet (the provider never answered and none is stored).
    pub cover_url: Option<String>,
    /// The provider's page of the series.
    pub link: Option<String>,
    /// Whether follow checks look for the series' new episodes (`PUT /api/anime/{id}/follow`).
    pub followed: bool,
    pub monitor: MonitorMode,
    /// The language a check queues in; null = `download.languages` decides.
    pub language: Option<String>,
}

/// Which episodes a follow check queues: `none` (only reported), `new` (episodes that appear
/// after following), `all` (every episode not on disk, today's missing ones included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum MonitorMode {
    None,
    New,
    All,
}

impl From<Monitor> for MonitorMode {
    fn from(m: Monitor) -> Self {
        match m {
            Monitor::None => MonitorMode::None,
            Monitor::New => MonitorMode::New,
            Monitor::All => MonitorMode::All,
        }
    }
}

impl From<MonitorMode> for Monitor {
    fn from(m: MonitorMode) -> Self {
        match m {
            MonitorMode::None => Monitor::None,
            MonitorMode::New => Monitor::New,
            MonitorMode::All => Monitor::All,
        }
    }
}

/// `PUT /api/anime/{id}/follow`.
#[derive(Debug, Object)]
pub struct FollowRequest {
    pub followed: bool,
    /// Default: `new` when following, `none` when not.
    pub monitor: Option<MonitorMode>,
    /// The language queued episodes are forced to; null = `download.languages` decides.
    pub language: Option<Language>,
}

/// Whether a series' missing episodes are known: `known` (the provider answered; the counts are
/// real), `unknown` (not asked yet, or no enabled provider for the site), `failed` (never answered
/// and the last ask failed; `missing_reason` says why). With `unknown` or `failed` the counts are
/// null and nothing may be called complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum MissingState {
    Known,
    Unknown,
    Failed,
}

/// Why missing episodes are unknown, or why known ones are old (the last ask failed); the field
/// is left out when the provider's last answer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum MissingReason {
    /// The site has not been asked yet.
    NotAsked,
    /// No enabled provider serves the series' site.
    NoProvider,
    /// The site shows a bot check.
    Blocked,
    /// The site could not be reached (down, refused, timed out, proxy failed).
    SiteDown,
    /// The site does not know the series.
    NotFound,
    /// Anything else (see `missing_error`).
    Failed,
}

/// A list filter by what is known of missing episodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum AnimeStateFilter {
    /// Known to miss episodes.
    Missing,
    /// The provider answered and nothing is missing.
    Complete,
    /// Not known (not asked yet, or the site failed).
    Unknown,
}

impl From<CoreMissingState> for MissingState {
    fn from(s: CoreMissingState) -> Self {
        match s {
            CoreMissingState::Known => MissingState::Known,
            CoreMissingState::Unknown => MissingState::Unknown,
            CoreMissingState::Failed => MissingState::Failed,
        }
    }
}

impl From<UnknownReason> for MissingReason {
    fn from(r: UnknownReason) -> Self {
        match r {
            UnknownReason::NotAsked => MissingReason::NotAsked,
            UnknownReason::NoProvider => MissingReason::NoProvider,
            UnknownReason::Blocked => MissingReason::Blocked,
            UnknownReason::SiteDown => MissingReason::SiteDown,
            UnknownReason::NotFound => MissingReason::NotFound,
            UnknownReason::Failed => MissingReason::Failed,
        }
    }
}

#[derive(Debug, Object)]
pub struct AnimeList {
    pub items: Vec<AnimeSummary>,
    /// Series matching the filter (all pages).
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum AnimeSort {
    Name,
    Key,
    Missing,
    Added,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

#[derive(Debug, Clone, Object)]
pub struct MissingSeason {
    /// 0 = movies/specials.
    pub season: u32,
    pub episodes: Vec<u32>,
}

#[derive(Debug, Object)]
pub struct LocalEpisodeFile {
    pub season: u32,
    pub episode: u32,
    /// Path relative to the library root.
    pub path: String,
}

#[derive(Debug, Object)]
pub struct EpisodeDetail {
    pub number: u32,
    pub title_de: Option<String>,
    pub title_en: Option<String>,
    /// Languages offered; empty when the listing did not say.
    pub languages: Vec<Language>,
    pub on_disk: bool,
}

#[derive(Debug, Object)]
pub struct SeasonDetail {
    /// 0 = movies/specials.
    pub number: u32,
    pub episodes: Vec<EpisodeDetail>,
}

#[derive(Debug, Object)]
pub struct AnimeDetail {
    pub key: String,
    /// The series name (as `name` in `AnimeSummary`).
    pub name: String,
    /// The series name: the same as `name`, which replaces it.
    #[oai(deprecated)]
    pub title: String,
    pub site: String,
    pub folder: String,
    pub year: Option<i32>,
    pub description: Option<String>,
    pub cover: Option<String>,
    pub link: Option<String>,
    /// Episode files on disk.
    pub episodes: Vec<LocalEpisodeFile>,
    /// Seasons and episodes as the provider lists them (empty when the provider could not be reached).
    pub seasons: Vec<SeasonDetail>,
    /// Not on disk, by season.
    pub missing: Vec<MissingSeason>,
    pub missing_episodes: Option<u64>,
    /// Movies/specials not on disk; null = unknown.
    pub missing_specials: Option<u64>,
    pub missing_state: MissingState,
    #[oai(skip_serializing_if_is_none)]
    pub missing_reason: Option<MissingReason>,
    /// A signed URL of the cover for `<img>`; null when no cover can be known yet.
    pub cover_url: Option<String>,
    pub provider_state: ProviderState,
    /// When the provider last answered (unix seconds); null = never.
    pub checked_at: Option<i64>,
    /// Why the provider's data is absent or old, when the last ask failed.
    pub provider_error: Option<String>,
    /// Whether follow checks look for the series' new episodes.
    pub followed: bool,
    pub monitor: MonitorMode,
    /// The language a check queues in; null = `download.languages` decides.
    pub language: Option<String>,
}

/// How current a series page's `seasons` and `missing` are; fresh data arrives as a
/// `series_updated` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ProviderState {
    /// Asked within `cache.series_ttl`.
    Fresh,
    /// Older than the TTL; a refresh is on its way.
    Stale,
    /// Never answered yet; a request is on its way.
    Pending,
    /// The last ask failed (`provider_error` says why); older data may be shown.
    Failed,
}

impl From<ProviderDataState> for ProviderState {
    fn from(s: ProviderDataState) -> Self {
        match s {
            ProviderDataState::Fresh => ProviderState::Fresh,
            ProviderDataState::Stale => ProviderState::Stale,
            ProviderDataState::Pending => ProviderState::Pending,
            ProviderDataState::Failed => ProviderState::Failed,
        }
    }
}

#[derive(Debug, Object)]
pub struct SearchRequest {
    /// Text to search for.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub query: String,
    /// Only this provider; all providers when absent.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub site: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct SearchHit {
    pub key: String,
    pub site: String,
    pub name: String,
    pub year: Option<i32>,
    pub description: Option<String>,
    pub cover: Option<String>,
    /// Series page; pass it to `POST /api/anime/add`.
    pub link: String,
}

impl From<aniworld_core::model::SearchResult> for SearchHit {
    fn from(r: aniworld_core::model::SearchResult) -> Self {
        SearchHit {
            key: r.key.to_string(),
            site: r.site,
            name: r.name,
            year: r.year,
            description: r.description,
            cover: r.cover,
            link: r.link,
        }
    }
}

#[derive(Debug, Object)]
pub struct AddRequest {
    /// A provider link (`/anime/stream/{key}`), a full URL, or a bare key.
    #[oai(validator(min_length = 1, max_length = 2048))]
    pub link: String,
    /// Provider id; guessed from the link when absent.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub site: Option<String>,
}

#[derive(Debug, Object)]
pub struct ScanAccepted {
    /// Follow it on the WebSocket room `scan_progress`.
    pub scan_id: String,
    /// False when a scan was already running (its id is returned).
    pub started: bool,
}

#[derive(ApiResponse)]
pub enum AddResponse {
    /// The folder and its `.aniworld.json` were created.
    #[oai(status = 201)]
    Created(Json<AnimeSummary>),
}

#[derive(ApiResponse)]
pub enum RescanResponse {
    #[oai(status = 202)]
    Accepted(Json<ScanAccepted>),
}

/// How long a series page waits for its provider before it answers with what it has.
const DETAIL_WAIT: Duration = Duration::from_millis(1500);

/// The provider page of a series, when the site's URL scheme is known.
fn series_link(base_url: Option<&str>, site: &str, key: &SeriesKey) -> Option<String> {
    let base = base_url?.trim_end_matches('/');
    match site {
        "aniworld" => Some(format!("{base}/anime/stream/{key}")),
        "sto" => Some(format!("{base}/serie/{key}")),
        _ => None,
    }
}

fn link_of(state: &AppState, site: &str, key: &SeriesKey) -> Option<String> {
    let config = state.config();
    let base = config.providers.get(site).map(|p| p.base_url.as_str());
    series_link(base, site, key)
}

/// Missing episodes by season: regular seasons in order, then season 0 (movies/specials).
fn missing_seasons(m: &Missing) -> Vec<MissingSeason> {
    let Some(missing) = &m.episodes else {
        return Vec::new();
    };
    let mut seasons: Vec<MissingSeason> = missing
        .seasons
        .iter()
        .filter(|(_, episodes)| !episodes.is_empty())
        .map(|(season, episodes)| MissingSeason {
            season: *season,
            episodes: episodes.clone(),
        })
        .collect();
    if !missing.specials.is_empty() {
        seasons.push(MissingSeason {
            season: 0,
            episodes: missing.specials.clone(),
        });
    }
    seasons
}

fn reason_of(state: &AppState, e: &SeriesEntry) -> Option<MissingReason> {
    let enabled = state.registry().provider(&e.site).is_ok();
    e.missing.reason(enabled).map(Into::into)
}

/// The signed cover URL, when a cover is stored or the provider has answered (and so may
/// have named one).
fn cover_url_of(state: &AppState, e: &SeriesEntry) -> Option<String> {
    let possible =
        e.missing.checked_at.is_some() || state.covers().stored(&e.site, &e.key).is_some();
    possible.then(|| state.cover_signer().url(&e.key))
}

pub(crate) fn summary(state: &AppState, e: &SeriesEntry) -> AnimeSummary {
    let missing = e.missing.episodes.as_ref();
    AnimeSummary {
        missing_state: e.missing.state().into(),
        missing_reason: reason_of(state, e),
        missing_error: e.missing.failure.as_ref().map(|f| f.message.clone()),
        checked_at: e.missing.checked_at,
        episodes_on_disk: e.on_disk.len() as u64,
        cover_url: cover_url_of(state, e),
        key: e.key.to_string(),
        name: e.name.clone(),
        site: e.site.clone(),
        folder: e.folder.clone(),
        year: e.year,
        missing_episodes: missing.map(|m| m.regular_count() as u64),
        missing_specials: missing.map(|m| m.specials.len() as u64),
        missing: missing_seasons(&e.missing),
        link: link_of(state, &e.site, &e.key),
        followed: e.follow.followed,
        monitor: e.follow.monitor.into(),
        language: e.follow.language.map(|l| l.to_string()),
    }
}

pub struct AnimeApi;

#[OpenApi(prefix_path = "/api/anime", tag = "ApiTags::Anime")]
impl AnimeApi {
    /// Series in the library with their missing-episode counts: paginated, filterable, sortable.
    #[oai(path = "/", method = "get", operation_id = "anime_list")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        /// 1-based page number.
        #[oai(validator(minimum(value = "1")))]
        page: Query<Option<u32>>,
        /// Items per page (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        per_page: Query<Option<u32>>,
        /// Case-insensitive text in name, key or folder.
        q: Query<Option<String>>,
        /// Only series known to miss episodes (series whose missing episodes are unknown never
        /// match); the same as `state=missing`.
        missing: Query<Option<bool>>,
        /// Only series in this state: `missing`, `complete` (the provider answered and nothing is
        /// missing) or `unknown` (not asked yet, or the site failed).
        #[oai(name = "state")]
        state_filter: Query<Option<AnimeStateFilter>>,
        /// Only series of this provider.
        site: Query<Option<String>>,
        /// Only followed (`true`) or not followed (`false`) series.
        followed: Query<Option<bool>>,
        sort: Query<Option<AnimeSort>>,
        order: Query<Option<SortOrder>>,
    ) -> ApiResult<Json<AnimeList>, Errors<{ can::NOTHING }>> {
        let page = page.0.unwrap_or(1);
        let per_page = per_page.0.unwrap_or(50);
        // `page` and `per_page` are in range: their validators are checked before this runs.
        let sort = match sort.0.unwrap_or(AnimeSort::Name) {
            AnimeSort::Name => SortBy::Name,
            AnimeSort::Key => SortBy::Key,
            AnimeSort::Missing => SortBy::Missing,
            AnimeSort::Added => SortBy::Added,
        };
        let filter = match (state_filter.0, missing.0) {
            (Some(AnimeStateFilter::Missing), _) | (None, Some(true)) => Some(StateFilter::Missing),
            (Some(AnimeStateFilter::Complete), _) => Some(StateFilter::Complete),
            (Some(AnimeStateFilter::Unknown), _) => Some(StateFilter::Unknown),
            (None, _) => None,
        };
        let query = ListQuery {
            text: q.0.as_deref(),
            state: filter,
            site: site.0.as_deref(),
            followed: followed.0,
            sort,
            descending: order.0 == Some(SortOrder::Desc),
            offset: (page as usize - 1).saturating_mul(per_page as usize),
            limit: per_page as usize,
        };
        let (items, total) = state.library().list(&query);
        Ok(Json(AnimeList {
            items: items.iter().map(|e| summary(&state, e)).collect(),
            total: total as u64,
            page,
            per_page,
        }))
    }

    /// One series by key, or by folder name when no series has that key: the episode files on
    /// disk now, and the provider's seasons and what is missing. Answers within about two
    /// seconds whatever the provider does: with the cached data and `provider_state` saying how
    /// current it is; fresh data then arrives as a `series_updated` event.
    #[oai(path = "/:id", method = "get", operation_id = "anime_get")]
    async fn get(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        /// Series key or folder name.
        id: Path<String>,
    ) -> ApiResult<Json<AnimeDetail>, Errors<{ can::NOT_FOUND | can::INTERNAL | can::UPSTREAM }>>
    {
        let entry = state
            .library()
            .find(&id.0)
            .ok_or_else(|| not_found_or_unmatched(&state, &id.0))?;
        let detail = state.library().detail(&entry.key, DETAIL_WAIT).await?;
        let on_disk = &detail.entry.on_disk;
        let seasons = detail
            .info
            .as_ref()
            .map(|i| {
                i.seasons
                    .iter()
                    .map(|s| SeasonDetail {
                        number: s.number,
                        episodes: s
                            .episodes
                            .iter()
                            .map(|e| EpisodeDetail {
                                number: e.number,
                                title_de: e.title_de.clone(),
                                title_en: e.title_en.clone(),
                                languages: e.languages.iter().map(|l| Language::from(*l)).collect(),
                                on_disk: on_disk.contains(&(s.number, e.number)),
                            })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut missing_by_season: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        if let Some(m) = &detail.entry.missing.episodes {
            for (s, e) in m.pairs() {
                missing_by_season.entry(s).or_default().push(e);
            }
        }
        let e = &detail.entry;
        Ok(Json(AnimeDetail {
            link: link_of(&state, &e.site, &e.key),
            key: e.key.to_string(),
            name: e.name.clone(),
            title: e.name.clone(),
            site: e.site.clone(),
            folder: e.folder.clone(),
            year: e.year,
            description: detail.description.clone(),
            cover: detail.cover.clone(),
            episodes: detail
                .files
                .iter()
                .map(|f| LocalEpisodeFile {
                    season: f.season,
                    episode: f.episode,
                    path: f.path.clone(),
                })
                .collect(),
            seasons,
            missing: missing_by_season
                .into_iter()
                .map(|(season, episodes)| MissingSeason { season, episodes })
                .collect(),
            missing_episodes: e
                .missing
                .episodes
                .as_ref()
                .map(|m| m.regular_count() as u64),
            missing_specials: e.missing.episodes.as_ref().map(|m| m.specials.len() as u64),
            missing_state: e.missing.state().into(),
            missing_reason: reason_of(&state, e),
            cover_url: cover_url_of(&state, e).or_else(|| {
                detail
                    .cover
                    .is_some()
                    .then(|| state.cover_signer().url(&e.key))
            }),
            provider_state: detail.provider_state.into(),
            checked_at: detail.checked_at,
            provider_error: detail.failure.map(|f| f.message),
            followed: e.follow.followed,
            monitor: e.follow.monitor.into(),
            language: e.follow.language.map(|l| l.to_string()),
        }))
    }

    /// Follows or unfollows a series: a followed series' new episodes are looked for by every
    /// follow check (`POST /api/follow/check`, and every `follow.interval` seconds) and queued as
    /// `monitor` says. Following records what the provider lists now, so `new` queues only what
    /// appears later.
    #[oai(path = "/:id/follow", method = "put", operation_id = "anime_follow")]
    async fn follow(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        /// Series key or folder name.
        id: Path<String>,
        body: Json<FollowRequest>,
    ) -> ApiResult<Json<AnimeSummary>, Errors<{ can::NOT_FOUND | can::INTERNAL }>> {
        let body = body.0;
        let language = body.language.map(aniworld_core::model::Language::from);
        let monitor = body.monitor.map(Monitor::from).unwrap_or(if body.followed {
            Monitor::New
        } else {
            Monitor::None
        });
        if state.library().find(&id.0).is_none() {
            return Err(not_found_or_unmatched(&state, &id.0).into());
        }
        let entry = state
            .follow()
            .set(
                &id.0,
                FollowSettings {
                    followed: body.followed,
                    monitor,
                    language,
                },
            )
            .await?;
        Ok(Json(summary(&state, &entry)))
    }

    /// Searches the providers (one, or all at once).
    #[oai(path = "/search", method = "post", operation_id = "anime_search")]
    async fn search(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<SearchRequest>,
    ) -> ApiResult<
        Json<Vec<SearchHit>>,
        Errors<{ can::NOT_FOUND | can::UNPROCESSABLE | can::UPSTREAM }>,
    > {
        let outcome =
            aniworld_core::search::search(state.registry(), &body.0.query, body.0.site.as_deref())
                .await?;
        Ok(Json(
            outcome.hits.into_iter().map(SearchHit::from).collect(),
        ))
    }

    /// Adds a series from a provider link or URL: creates its folder and `.aniworld.json` in the
    /// library. A series already in the library is a 409.
    #[oai(path = "/add", method = "post", operation_id = "anime_add")]
    async fn add(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<AddRequest>,
    ) -> ApiResult<
        AddResponse,
        Errors<
            { can::NOT_FOUND | can::CONFLICT | can::UNPROCESSABLE | can::INTERNAL | can::UPSTREAM },
        >,
    > {
        let entry = state
            .library()
            .add(&body.0.link, body.0.site.as_deref())
            .await?;
        Ok(AddResponse::Created(Json(summary(&state, &entry))))
    }

    /// Rescans the library folder in the background. Progress arrives on the WebSocket room
    /// `scan_progress`; while a scan runs, another call returns the running scan's id.
    #[oai(path = "/rescan", method = "post", operation_id = "anime_rescan")]
    async fn rescan(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<RescanResponse, Errors<{ can::NOT_FOUND | can::UNPROCESSABLE | can::INTERNAL }>>
    {
        let (scan_id, started) = state.library().start_scan()?;
        Ok(RescanResponse::Accepted(Json(ScanAccepted {
            scan_id,
            started,
        })))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(100).collect()
}

/// A 404 for an id that names no series; for a folder without `.aniworld.json` it says so and
/// points to where it can be matched (`error: "unmatched_folder"`).
fn not_found_or_unmatched(state: &AppState, id: &str) -> ApiError {
    match state.library().unmatched().iter().find(|u| u.folder == id) {
        Some(u) => ApiError::not_found_with(
            ErrorCode::UnmatchedFolder,
            format!(
                "folder {:?} has no .aniworld.json yet, so it is not a series of the library: \
                 match it to a provider series with POST /api/library/match \
                 (suggestions: GET /api/library/unmatched)",
                truncate(id)
            ),
            serde_json::json!({
                "folder": u.folder,
                "episodes": u.episodes,
                "suggested_key": u.suggested_key.as_ref().map(|k| k.to_string()),
                "unmatched": "/api/library/unmatched",
                "match": "/api/library/match",
            }),
        ),
        None => ApiError::not_found(format!("no series with key or folder {:?}", truncate(id))),
    }
}
