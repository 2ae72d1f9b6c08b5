//! `GET /health` (public): database and queue state, the base URL each site is reached on and which
//! sites and hosters are down.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use crate::app::AppState;
use poem::web::Data;

#[derive(Debug, Object)]
pub struct ComponentHealth {
    pub ok: bool,
    /// Why it is not ok.
    pub error: Option<String>,
}

#[derive(Debug, Object)]
pub struct QueueHealth {
    pub running: bool,
    pub paused: bool,
    pub pending: u64,
    pub downloading: u64,
    pub completed: u64,
    pub failed: u64,
}

/// A provider site as the network sees it.
#[derive(Debug, Object)]
pub struct SiteHealth {
    /// Provider id (`aniworld`, `sto`).
    pub id: String,
    /// The base URL requests go to first: the configured one, or the mirror that answered last.
    pub base_url: String,
    /// `providers.<id>.base_url` followed by `providers.<id>.mirrors`.
    pub base_urls: Vec<String>,
    /// Down: failed `network.down_after` times in a row; requests fail at once until the cooldown
    /// ends.
    pub down: bool,
    /// Seconds until the site is asked again (while down).
    pub retry_in_secs: Option<u64>,
    /// The last problem (while down).
    pub error: Option<String>,
}

/// A hoster that is down.
#[derive(Debug, Object)]
pub struct HosterDown {
    pub name: String,
    pub retry_in_secs: u64,
    pub error: String,
}

/// `ok`, or `degraded` when a component (the database) is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Degraded,
}

#[derive(Debug, Object)]
pub struct Health {
    pub status: HealthStatus,
    pub version: String,
    pub uptime_secs: u64,
    pub database: ComponentHealth,
    /// Null until the download queue is running.
    pub queue: Option<QueueHealth>,
    /// Built-in provider sites (a down site does not make the server unhealthy).
    pub sites: Vec<SiteHealth>,
    /// Hosters that are down right now.
    pub hosters_down: Vec<HosterDown>,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// A component (e.g. the database) is down.
    #[oai(status = 503)]
    Degraded(Json<Health>),
}

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::System")]
impl HealthApi {
    /// Liveness and component state. Public.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self, state: Data<&AppState>) -> HealthResponse {
        let database = match state.store().ping().await {
            Ok(()) => ComponentHealth {
                ok: true,
                error: None,
            },
            Err(e) => ComponentHealth {
                ok: false,
                error: Some(e.code().to_owned()),
            },
        };
        let queue = state.queue_health().await;
        let sites = state
            .network()
            .sites()
            .into_iter()
            .map(|s| SiteHealth {
                down: s.down.is_some(),
                retry_in_secs: s.down.as_ref().map(|d| d.retry_in_secs),
                error: s.down.map(|d| d.reason),
                id: s.id,
                base_url: s.base_url,
                base_urls: s.base_urls,
            })
            .collect();
        let hosters_down = state
            .network()
            .hosters_down()
            .into_iter()
            .map(|d| HosterDown {
                name: d.name,
                retry_in_secs: d.retry_in_secs,
                error: d.reason,
            })
            .collect();
        let ok = database.ok;
        let health = Health {
            status: if ok {
                HealthStatus::Ok
            } else {
                HealthStatus::Degraded
            },
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_secs: state.uptime().as_secs(),
            database,
            queue,
            sites,
            hosters_down,
        };
        if ok {
            HealthResponse::Ok(Json(health))
        } else {
            HealthResponse::Degraded(Json(health))
        }
    }
}
