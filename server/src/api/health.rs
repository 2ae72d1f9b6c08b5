//! `GET /health` (public): database and queue state.

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

#[derive(Debug, Object)]
pub struct Health {
    /// `ok`, or `degraded` when a component is down.
    pub status: String,
    pub version: String,
    pub uptime_secs: u64,
    pub database: ComponentHealth,
    /// Null until the download queue is running.
    pub queue: Option<QueueHealth>,
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
        let ok = database.ok;
        let health = Health {
            status: if ok { "ok" } else { "degraded" }.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_secs: state.uptime().as_secs(),
            database,
            queue,
        };
        if ok {
            HealthResponse::Ok(Json(health))
        } else {
            HealthResponse::Degraded(Json(health))
        }
    }
}
