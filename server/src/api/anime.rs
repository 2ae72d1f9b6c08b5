//! `/api/anime`: the library with missing episodes, details, provider search, adding series, rescans.

use std::collections::BTreeMap;

use aniworld_core::model::SeriesKey;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::library::{ListQuery, MissingState, SeriesEntry, SortBy, series_link};

const MAX_PER_PAGE: u32 = 500;

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
    /// Regular episodes (seasons ≥ 1) the provider lists that are not on disk; null = not checked yet.
    pub missing_episodes: Option<u64>,
    /// Movies/specials (season 0) not on disk; null = not checked yet.
    pub missing_specials: Option<u64>,
    /// The missing episodes per season (regular seasons in order, then season 0 = movies/specials);
    /// empty when nothing is missing or the site was not asked yet.
    pub missing: Vec<MissingSeason>,
    /// The provider's page of the series.
    pub link: Option<String>,
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
    /// Languages offered (`German Dub`, ...); empty when the listing did not say.
    pub languages: Vec<String>,
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
    /// The series name.
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
    /// Why the provider's data is absent, when it is.
    pub provider_error: Option<String>,
}

#[derive(Debug, Object)]
pub struct SearchRequest {
    /// Text to search for (1 to 200 characters).
    pub query: String,
    /// Only this provider; all providers when absent.
    pub site: Option<String>,
}

#[derive(Debug, Object)]
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

#[derive(Debug, Object)]
pub struct AddRequest {
    /// A provider link (`/anime/stream/{key}`), a full URL, or a bare key.
    pub link: String,
    /// Provider id; guessed from the link when absent.
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

fn missing_counts(m: Option<&MissingState>) -> (Option<u64>, Option<u64>) {
    match m {
        Some(m) => (
            Some(m.missing.regular_count() as u64),
            Some(m.missing.specials.len() as u64),
        ),
        None => (None, None),
    }
}

fn summary(state: &AppState, e: &SeriesEntry, m: Option<&MissingState>) -> AnimeSummary {
    let config = state.config();
    let base = config.providers.get(&e.site).map(|p| p.base_url.as_str());
    let (missing_episodes, missing_specials) = missing_counts(m);
    let missing = m
        .map(|m| {
            let mut seasons: Vec<MissingSeason> = m
                .missing
                .seasons
                .iter()
                .filter(|(_, episodes)| !episodes.is_empty())
                .map(|(season, episodes)| MissingSeason {
                    season: *season,
                    episodes: episodes.clone(),
                })
                .collect();
            if !m.missing.specials.is_empty() {
                seasons.push(MissingSeason {
                    season: 0,
                    episodes: m.missing.specials.clone(),
                });
            }
            seasons
        })
        .unwrap_or_default();
    AnimeSummary {
        key: e.key.to_string(),
        name: e.name.clone(),
        site: e.site.clone(),
        folder: e.folder.clone(),
        year: e.year,
        missing_episodes,
        missing_specials,
        missing,
        link: series_link(base, &e.site, &e.key),
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
        page: Query<Option<u32>>,
        /// Items per page (1 to 500, default 50).
        per_page: Query<Option<u32>>,
        /// Case-insensitive text in name, key or folder.
        q: Query<Option<String>>,
        /// Only series with missing episodes.
        missing: Query<Option<bool>>,
        /// Only series of this provider.
        site: Query<Option<String>>,
        sort: Query<Option<AnimeSort>>,
        order: Query<Option<SortOrder>>,
    ) -> ApiResult<Json<AnimeList>> {
        let page = page.0.unwrap_or(1);
        let per_page = per_page.0.unwrap_or(50);
        if page == 0 {
            return Err(ApiError::invalid("page", "pages start at 1"));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(ApiError::invalid(
                "per_page",
                format!("must be between 1 and {MAX_PER_PAGE}"),
            ));
        }
        let sort = match sort.0.unwrap_or(AnimeSort::Name) {
            AnimeSort::Name => SortBy::Name,
            AnimeSort::Key => SortBy::Key,
            AnimeSort::Missing => SortBy::Missing,
            AnimeSort::Added => SortBy::Added,
        };
        let query = ListQuery {
            text: q.0.as_deref(),
            only_missing: missing.0.unwrap_or(false),
            site: site.0.as_deref(),
            sort,
            descending: order.0 == Some(SortOrder::Desc),
            offset: (page as usize - 1).saturating_mul(per_page as usize),
            limit: per_page as usize,
        };
        let (items, total) = state.library().list(&query);
        Ok(Json(AnimeList {
            items: items
                .iter()
                .map(|(e, m)| summary(&state, e, m.as_ref()))
                .collect(),
            total: total as u64,
            page,
            per_page,
        }))
    }

    /// One series by key, or by folder name when no series has that key. Includes the provider's
    /// seasons and what is missing (the provider is asked; if it fails, `provider_error` says why).
    #[oai(path = "/:id", method = "get", operation_id = "anime_get")]
    async fn get(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        /// Series key or folder name.
        id: Path<String>,
    ) -> ApiResult<Json<AnimeDetail>> {
        let library = state.library();
        let record = library.find(&id.0).await?.ok_or_else(|| {
            ApiError::not_found(format!(
                "no series with key or folder {:?}",
                truncate(&id.0)
            ))
        })?;
        let files = state.store().series().episodes(record.id).await?;
        let on_disk: std::collections::BTreeSet<(u32, u32)> = files
            .iter()
            .filter_map(|f| {
                Some((
                    u32::try_from(f.season).ok()?,
                    u32::try_from(f.episode).ok()?,
                ))
            })
            .collect();
        let (info, provider_error) = match library.refresh_missing(&record.key, &record.site).await
        {
            Ok(info) => (Some(info), None),
            Err(e) => {
                tracing::info!(key = %record.key, error = %e, "provider info unavailable for detail");
                (None, Some(e.to_string()))
            }
        };
        let missing_state = library.missing_of(&record.key);
        let mut missing_by_season: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        if let Some(m) = &missing_state {
            for (s, e) in m.missing.pairs() {
                missing_by_season.entry(s).or_default().push(e);
            }
        }
        let seasons = info
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
                                languages: e.languages.iter().map(|l| l.to_string()).collect(),
                                on_disk: on_disk.contains(&(s.number, e.number)),
                            })
                            .collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let config = state.config();
        let base = config
            .providers
            .get(&record.site)
            .map(|p| p.base_url.as_str());
        Ok(Json(AnimeDetail {
            link: series_link(base, &record.site, &record.key),
            key: record.key.to_string(),
            title: record.name.clone(),
            site: record.site.clone(),
            folder: record.folder.clone(),
            year: record.year,
            description: info
                .as_ref()
                .and_then(|i| i.description.clone())
                .or(record.description.clone()),
            cover: info
                .as_ref()
                .and_then(|i| i.cover.clone())
                .or(record.cover.clone()),
            episodes: files
                .iter()
                .filter_map(|f| {
                    Some(LocalEpisodeFile {
                        season: u32::try_from(f.season).ok()?,
                        episode: u32::try_from(f.episode).ok()?,
                        path: f.path.clone(),
                    })
                })
                .collect(),
            seasons,
            missing: missing_by_season
                .into_iter()
                .map(|(season, episodes)| MissingSeason { season, episodes })
                .collect(),
            missing_episodes: missing_counts(missing_state.as_ref()).0,
            provider_error,
        }))
    }

    /// Searches the providers (one, or all at once).
    #[oai(path = "/search", method = "post", operation_id = "anime_search")]
    async fn search(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<SearchRequest>,
    ) -> ApiResult<Json<Vec<SearchHit>>> {
        let query = body.0.query.trim().to_owned();
        if query.is_empty() || query.chars().count() > 200 {
            return Err(ApiError::invalid("query", "must have 1 to 200 characters"));
        }
        let providers = match body.0.site.as_deref() {
            Some(site) => vec![state.registry().provider(site)?],
            None => state.registry().providers(),
        };
        if providers.is_empty() {
            return Err(ApiError::unavailable("no provider is registered"));
        }
        let results = futures::future::join_all(providers.iter().map(|p| p.search(&query))).await;
        let mut hits = Vec::new();
        let mut first_error = None;
        let mut any_ok = false;
        for result in results {
            match result {
                Ok(found) => {
                    any_ok = true;
                    hits.extend(found.into_iter().map(|r| SearchHit {
                        key: r.key.to_string(),
                        site: r.site,
                        name: r.name,
                        year: r.year,
                        description: r.description,
                        cover: r.cover,
                        link: r.link,
                    }));
                }
                Err(e) => {
                    tracing::info!(error = %e, "a provider search failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match (any_ok, first_error) {
            (false, Some(e)) => Err(e.into()),
            _ => Ok(Json(hits)),
        }
    }

    /// Adds a series from a provider link or URL: creates its folder and `.aniworld.json` in the
    /// library. A series already in the library is a 409.
    #[oai(path = "/add", method = "post", operation_id = "anime_add")]
    async fn add(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<AddRequest>,
    ) -> ApiResult<AddResponse> {
        let root = state.config().library.path.clone();
        let record = state
            .library()
            .add(&root, &body.0.link, body.0.site.as_deref())
            .await?;
        let key: SeriesKey = record.key.clone();
        let entry = state
            .library()
            .entries()
            .iter()
            .find(|e| e.key == key)
            .cloned()
            .ok_or_else(|| ApiError::internal("added series missing from the index"))?;
        let missing = state.library().missing_of(&key);
        Ok(AddResponse::Created(Json(summary(
            &state,
            &entry,
            missing.as_ref(),
        ))))
    }

    /// Rescans the library folder in the background. Progress arrives on the WebSocket room
    /// `scan_progress`; while a scan runs, another call returns the running scan's id.
    #[oai(path = "/rescan", method = "post", operation_id = "anime_rescan")]
    async fn rescan(&self, _auth: BearerAuth, state: Data<&AppState>) -> ApiResult<RescanResponse> {
        let root = state.config().library.path.clone();
        let (scan_id, started) = state.library().start_scan(root)?;
        Ok(RescanResponse::Accepted(Json(ScanAccepted {
            scan_id,
            started,
        })))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(100).collect()
}
