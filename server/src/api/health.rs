//! `GET /health` (public): database, Redis and queue state, the base URL each site is reached on
//! and which sites and hosters are down.

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::ApiTags;
use crate::app::AppState;
use crate::redis_link::RedisStatus;
use poem::web::Data;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ComponentStatus {
    Ok,
    Down,
}

#[derive(Debug, Object)]
pub struct ComponentHealth {
    pub status: ComponentStatus,
    /// Same as `status == ok`.
    pub ok: bool,
    /// Why it is not ok.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum RedisHealthStatus {
    Ok,
    /// `database.redis_url` is set but Redis does not answer: events stay on this instance and
    /// logins are counted locally until it is back (the instance reconnects by itself).
    Down,
    /// No `database.redis_url`: this instance shares nothing through Redis.
    Disabled,
}

#[derive(Debug, Object)]
pub struct RedisHealth {
    pub status: RedisHealthStatus,
    /// Why it is down.
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
    /// `ok`, or `degraded` when the database or a configured Redis is down.
    pub status: HealthStatus,
    pub version: String,
    pub uptime_secs: u64,
    pub database: ComponentHealth,
    /// Event fan-out and the shared login limiter (`database.redis_url`).
    pub redis: RedisHealth,
    /// Null until the download queue is running.
    pub queue: Option<QueueHealth>,
    /// Built-in provider sites (a down site does not make the server unhealthy).
    pub sites: Vec<SiteHealth>,
    /// Hosters that are down right now.
    pub hosters_down: Vec<HosterDown>,
    /// The last follow check (null until one ran); a failed check does not make the server
    /// unhealthy.
    pub follow: Option<super::follow::FollowCheck>,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// The database is down. (A configured Redis that is down makes the status `degraded` with
    /// 200: the instance still serves.)
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
                status: ComponentStatus::Ok,
                ok: true,
                error: None,
            },
            Err(e) => ComponentHealth {
                status: ComponentStatus::Down,
                ok: false,
                error: Some(e.code().to_owned()),
            },
        };
        let redis = match &state.runtime().redis {
            None => RedisHealth {
                status: RedisHealthStatus::Disabled,
                error: None,
            },
            Some(link) => match link.status().await {
                RedisStatus::Ok => RedisHealth {
                    status: RedisHealthStatus::Ok,
                    error: None,
                },
                RedisStatus::Down(problem) => RedisHealth {
                    status: RedisHealthStatus::Down,
                    error: Some(problem),
                },
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
        let degraded = !ok || redis.status == RedisHealthStatus::Down;
        let health = Health {
            status: if degraded {
                HealthStatus::Degraded
            } else {
                HealthStatus::Ok
            },
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_secs: state.uptime().as_secs(),
            database,
            redis,
            queue,
            sites,
            hosters_down,
            follow: state.follow().last_check().map(Into::into),
        };
        if ok {
            HealthResponse::Ok(Json(health))
        } else {
            HealthResponse::Degraded(Json(health))
        }
    }
}
