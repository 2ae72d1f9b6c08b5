//! `/api/connections`: each configured connection's last result, and test deliveries. The
//! connections themselves are config (`connections` in `/api/config`).

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::error::{ApiResult, Errors, can};

/// A connection and how its last delivery went. Never shows the URL or token.
#[derive(Debug, Object)]
pub struct ConnectionState {
    pub name: String,
    /// `webhook`, `jellyfin`, `emby`, `plex`, `ntfy`, `discord` or `script:<id>`.
    pub kind: String,
    /// Whether the last delivery (or test) worked; `null` before the first one.
    pub last_ok: Option<bool>,
    /// Why the last delivery failed.
    pub last_error: Option<String>,
    /// When the last delivery ended, unix seconds.
    pub last_at: Option<i64>,
}

#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct TestConnectionRequest {
    /// The connection's `name` in the config.
    #[oai(validator(min_length = 1))]
    pub name: String,
}

/// The answer of a test delivery (also recorded as the connection's last result).
#[derive(Debug, Object)]
pub struct TestConnectionResult {
    pub ok: bool,
    /// HTTP status of the receiver's answer, when there was one.
    pub status: Option<u16>,
    /// What happened, in words (`HTTP 200`, `answered HTTP 500: ...`, `cannot connect: ...`).
    pub message: String,
}

pub struct ConnectionsApi;

#[OpenApi(prefix_path = "/api/connections", tag = "ApiTags::Connections")]
impl ConnectionsApi {
    /// Every configured connection with its last result, in config order.
    #[oai(path = "/", method = "get", operation_id = "connections_list")]
    async fn list(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<Vec<ConnectionState>>, Errors<{ can::INTERNAL }>> {
        let rows = state.connections().statuses().await?;
        Ok(Json(
            rows.into_iter()
                .map(|r| ConnectionState {
                    name: r.name,
                    kind: r.kind,
                    last_ok: r.last_ok,
                    last_error: r.last_error,
                    last_at: r.last_at,
                })
                .collect(),
        ))
    }

    /// Sends a `test` notification to one connection now (one attempt, whatever its `events`)
    /// and answers how it went; 404 when no connection has that name. A failed test is still a
    /// 200 answer with `ok: false`.
    #[oai(path = "/test", method = "post", operation_id = "connections_test")]
    async fn test(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<TestConnectionRequest>,
    ) -> ApiResult<Json<TestConnectionResult>, Errors<{ can::NOT_FOUND | can::INTERNAL }>> {
        let outcome = state.connections().test(&body.0.name).await?;
        Ok(Json(TestConnectionResult {
            ok: outcome.ok,
            status: outcome.status,
            message: outcome.message,
        }))
    }
}
