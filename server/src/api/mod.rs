//! REST API (poem-openapi): one module per resource. The document these types generate is the
//! published contract, committed as `openapi/openapi.json`.

use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::{OpenApiService, SecurityScheme, Tags};

use crate::app::AppState;
use crate::auth::Claims;
use crate::error::ApiError;

pub mod anime;
pub mod auth;
pub mod common;
pub mod config;
mod config_types;
pub mod connections;
pub mod contract;
pub mod covers;
pub mod follow;
pub mod health;
pub mod library;
pub mod plugins;
pub mod queue;

#[derive(Tags)]
pub enum ApiTags {
    /// Master password, login sessions.
    Auth,
    /// `DATA_DIR/config.json`: read, change, validate, backups.
    Config,
    /// The library: series with missing episodes, provider search, adding series, rescans.
    Anime,
    /// The library folder: indexing state, folders without `.aniworld.json` and matching them.
    Library,
    /// The persistent download queue.
    Queue,
    /// Loaded providers, hosters and hook scripts.
    Plugins,
    /// Notifications and media-server refreshes: last results and test deliveries.
    Connections,
    /// Followed series: checks for new episodes, what they found.
    Follow,
    /// Health and metadata.
    System,
}

/// Bearer JWT from `POST /api/auth/login`. Every endpoint that takes it answers 401 for a
/// missing, malformed, expired or revoked token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(pub Claims);

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Claims> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| ApiError::internal("application state missing"))?;
    Ok(state.auth().verify(&bearer.token).await?)
}

/// Every API area, in the order the document lists them.
pub type Apis = (
    health::HealthApi,
    auth::AuthApi,
    config::ConfigApi,
    anime::AnimeApi,
    covers::CoversApi,
    library::LibraryApi,
    queue::QueueApi,
    plugins::PluginsApi,
    connections::ConnectionsApi,
    follow::FollowApi,
);

pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            health::HealthApi,
            auth::AuthApi,
            config::ConfigApi,
            anime::AnimeApi,
            covers::CoversApi,
            library::LibraryApi,
            queue::QueueApi,
            plugins::PluginsApi,
            connections::ConnectionsApi,
            follow::FollowApi,
        ),
        "Aniworld Server",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Keeps an anime/series library complete. Every endpoint except `/health`, \
         `/api/auth/setup`, `/api/auth/login` and `/api/auth/status` needs `Authorization: Bearer <token>` \
         (from `POST /api/auth/login`). Errors always have the body `{\"error\", \"message\", \"details\"}`. \
         Live events: WebSocket `/ws/connect?token=<token>` (see the README). Prometheus metrics: \
         `GET /metrics` (text format, not part of this document; bearer token unless \
         `server.metrics_public`).",
    )
}

/// The OpenAPI document as pretty JSON: what `aniworld openapi` prints, `/openapi.json` serves and
/// `openapi/openapi.json` holds.
pub fn spec_json() -> String {
    serde_json::to_string_pretty(&contract::document()).expect("the document serialises")
}
