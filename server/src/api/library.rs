//! `/api/library`: the indexing state of the library folder, the folders without
//! `.aniworld.json` with provider suggestions, and matching such a folder to a series.

use std::time::Duration;

use aniworld_core::library::SuggestionState;
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::anime::{AnimeSummary, SearchHit, summary};
use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::error::{ApiResult, Errors, can};

/// How long a page of unmatched folders waits for suggestion searches before it answers with
/// what it has (the rest follow as `suggestions_ready` events).
const SUGGESTIONS_WAIT: Duration = Duration::from_millis(1500);

#[derive(Debug, Object)]
pub struct ScanState {
    pub scan_id: String,
    /// Folders read so far.
    pub done: u64,
    /// Folders in the library (0 while the scanner is still listing them).
    pub total: u64,
}

#[derive(Debug, Object)]
pub struct LibraryStatus {
    /// `library.path` in effect.
    pub path: String,
    /// Whether that folder exists and can be read.
    pub readable: bool,
    /// Why it cannot be indexed, when it cannot.
    pub error: Option<String>,
    /// The running scan (the first index after start, a rescan); null when none runs. Progress
    /// arrives on the WebSocket room `scan_progress`.
    pub scan: Option<ScanState>,
    /// Series in the library.
    pub series: u64,
    /// Folders without `.aniworld.json` (see `GET /api/library/unmatched`).
    pub unmatched: u64,
    /// Whether providers are being asked about series in the background.
    pub refreshing: bool,
}

/// Where a folder's suggestions stand (`suggestions_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum SuggestionsState {
    /// The search answered (`suggestions` may still be empty).
    Ready,
    /// The search runs; a `suggestions_ready` event (room `system`) names the folder when done.
    Pending,
    /// Every provider failed (`reason` says why); asked again a minute later.
    Failed,
}

#[derive(Debug, Object)]
pub struct UnmatchedFolder {
    /// Folder name in the library: pass it to `POST /api/library/match`.
    pub folder: String,
    /// Episode files found in it.
    pub episodes: u64,
    /// A key derived from the folder name (a guess, not checked with any site).
    pub suggested_key: Option<String>,
    /// The text the providers were searched for (the folder name without year and tags).
    pub query: String,
    /// The year the folder name gives.
    pub year: Option<i32>,
    /// Provider series that may be the one, best first.
    pub suggestions: Vec<SearchHit>,
    pub suggestions_state: SuggestionsState,
    /// Whether the first suggestion is the one: same name (and year, when known) and no other
    /// suggestion of that name. "Accept best suggestions" takes only these.
    pub confident: bool,
    /// Why there are no suggestions (`blocked: ...`, `site_down: ...`), when the search failed.
    pub reason: Option<String>,
}

#[derive(Debug, Object)]
pub struct UnmatchedList {
    pub items: Vec<UnmatchedFolder>,
    /// Folders matching the filter (all pages).
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Object)]
pub struct MatchRequest {
    /// The folder's name in the library (as `GET /api/library/unmatched` lists it).
    /// A plain folder name: not hidden, no `/`; at most 255 bytes.
    #[oai(validator(max_length = 255, pattern = r"^[^./\x00][^/\x00]*$"))]
    pub folder: String,
    /// A provider link (`/anime/stream/{key}`), a full URL, or a bare key.
    #[oai(validator(min_length = 1, max_length = 2048))]
    pub link: String,
    /// Provider id; guessed from the link when absent.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub site: Option<String>,
}

#[derive(ApiResponse)]
pub enum MatchResponse {
    /// `.aniworld.json` was written into the folder; the series is in the library.
    #[oai(status = 201)]
    Created(Json<AnimeSummary>),
}

pub struct LibraryApi;

#[OpenApi(prefix_path = "/api/library", tag = "ApiTags::Library")]
impl LibraryApi {
    /// The library folder: whether it can be read, the running scan with its progress (the
    /// library is indexed at start), series and unmatched folder counts.
    #[oai(path = "/status", method = "get", operation_id = "library_status")]
    async fn status(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<LibraryStatus>, Errors<{ can::NOTHING }>> {
        let library = state.library();
        let root = library.root();
        let error = match std::fs::read_dir(&root) {
            Ok(_) => None,
            Err(e) => Some(format!("{} cannot be read: {e}", root.display())),
        };
        Ok(Json(LibraryStatus {
            path: root.display().to_string(),
            readable: error.is_none(),
            error,
            scan: library.current_scan().map(|s| ScanState {
                scan_id: s.id,
                done: s.done,
                total: s.total,
            }),
            series: library.len() as u64,
            unmatched: library.unmatched().len() as u64,
            refreshing: library.is_refreshing(),
        }))
    }

    /// Folders of the library without `.aniworld.json` (as the last scan found them), in name
    /// order, paged, with provider suggestions from a search of each folder's cleaned name.
    /// Suggestions are searched only for the folders on the page asked for, a few at a time,
    /// and remembered; the answer comes within about two seconds, with the folders whose search
    /// still runs marked `pending` (a `suggestions_ready` event follows for each).
    #[oai(
        path = "/unmatched",
        method = "get",
        operation_id = "library_unmatched"
    )]
    async fn unmatched(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        /// 1-based page number.
        #[oai(validator(minimum(value = "1")))]
        page: Query<Option<u32>>,
        /// Folders per page (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        per_page: Query<Option<u32>>,
        /// Case-insensitive text in the folder name.
        q: Query<Option<String>>,
    ) -> ApiResult<Json<UnmatchedList>, Errors<{ can::NOTHING }>> {
        let page = page.0.unwrap_or(1);
        let per_page = per_page.0.unwrap_or(20);
        // `page` and `per_page` are in range: their validators are checked before this runs.
        let library = state.library();
        let (folders, total) = library.unmatched_page(
            q.0.as_deref(),
            (page as usize - 1).saturating_mul(per_page as usize),
            per_page as usize,
        );
        let found = library.suggestions(&folders, SUGGESTIONS_WAIT).await;
        let items = found
            .into_iter()
            .map(|s| UnmatchedFolder {
                folder: s.folder.folder,
                episodes: s.folder.episodes,
                suggested_key: s.folder.suggested_key.map(|k| k.to_string()),
                query: s.query,
                year: s.year,
                confident: s.confident,
                suggestions: s.hits.into_iter().map(SearchHit::from).collect(),
                suggestions_state: match s.state {
                    SuggestionState::Ready => SuggestionsState::Ready,
                    SuggestionState::Pending => SuggestionsState::Pending,
                    SuggestionState::Failed => SuggestionsState::Failed,
                },
                reason: s
                    .failure
                    .map(|(code, message)| format!("{code}: {message}")),
            })
            .collect();
        Ok(Json(UnmatchedList {
            items,
            total: total as u64,
            page,
            per_page,
        }))
    }

    /// Matches a folder without `.aniworld.json` to a provider series: writes `.aniworld.json`
    /// into the folder (nothing else in it changes) and adds the series with the episodes on
    /// disk; the provider is asked what exists (when its site does not answer, the folder is
    /// matched anyway and its missing episodes stay unknown until it does). 404 for an unknown
    /// folder or series, 409 when the folder is already matched or the series is in another
    /// folder, 422 for a name that is not a plain folder name (`..`, `/`, hidden).
    #[oai(path = "/match", method = "post", operation_id = "library_match")]
    async fn match_folder(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<MatchRequest>,
    ) -> ApiResult<
        MatchResponse,
        Errors<
            { can::NOT_FOUND | can::CONFLICT | can::UNPROCESSABLE | can::INTERNAL | can::UPSTREAM },
        >,
    > {
        let entry = state
            .library()
            .match_folder(&body.0.folder, &body.0.link, body.0.site.as_deref())
            .await?;
        Ok(MatchResponse::Created(Json(summary(&state, &entry))))
    }
}
