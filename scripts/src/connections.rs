//! Connection scripts: `meta().kind == "connection"` with `fn send(connection, event)` handles
//! the connections whose kind is `script:<meta().id>`.
//!
//! `connection` is `#{name, kind, url, token}` (token `()` when unset), `event` the webhook body as
//! a map. The script may reach its declared hosts plus the connection URL's host. It returns
//! `()` (sent), a string (a message) or the reply map of `http_post`/`http_get` (its `status`
//! decides: 2xx/3xx sent, else failed); `throw` fails the delivery with that message.

use std::time::Duration;

use aniworld_core::config::ConnectionConfig;
use aniworld_core::connections::{CustomConnections, Delivered, DeliveryError, Notification};
use async_trait::async_trait;
use rhai::{Dynamic, Map};

use crate::ScriptHost;
use crate::runtime::{CompiledScript, ScriptError, ScriptKind};

fn connection_map(connection: &ConnectionConfig) -> Map {
    let mut m = Map::new();
    m.insert("name".into(), connection.name.clone().into());
    m.insert("kind".into(), connection.kind.clone().into());
    m.insert("url".into(), connection.url.clone().into());
    m.insert(
        "token".into(),
        connection
            .token
            .clone()
            .map_or(Dynamic::UNIT, Dynamic::from),
    );
    m
}

/// What the script's return value means.
fn outcome(value: Dynamic) -> Result<Delivered, DeliveryError> {
    if let Some(map) = value.clone().try_cast::<Map>()
        && let Some(status) = map.get("status").and_then(|s| s.as_int().ok())
    {
        let status = u16::try_from(status).unwrap_or(0);
        if (200..400).contains(&status) {
            return Ok(Delivered {
                status: Some(status),
                message: format!("HTTP {status}"),
            });
        }
        return Err(DeliveryError {
            message: format!("answered HTTP {status}"),
            status: Some(status),
            retryable: status >= 500 || status == 429,
        });
    }
    if value.is_string() {
        return Ok(Delivered {
            status: None,
            message: value.to_string(),
        });
    }
    Ok(Delivered {
        status: None,
        message: "sent by the script".into(),
    })
}

impl ScriptHost {
    fn connection_script(&self, id: &str) -> Option<std::sync::Arc<CompiledScript>> {
        self.active_scripts()
            .into_iter()
            .find(|s| s.meta.kind == Some(ScriptKind::Connection) && s.meta.id == id)
    }

    /// Runs the script's `send` on the current (blocking) thread.
    pub fn send_connection_blocking(
        &self,
        script: &CompiledScript,
        connection: &ConnectionConfig,
        event: &serde_json::Value,
    ) -> Result<Delivered, DeliveryError> {
        let event = rhai::serde::to_dynamic(event).map_err(|e| DeliveryError {
            message: format!("the event does not convert for scripts: {e}"),
            status: None,
            retryable: false,
        })?;
        let host = url::Url::parse(&connection.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        let result = self.runtime().call_with_hosts(
            script,
            "send",
            vec![Dynamic::from_map(connection_map(connection)), event],
            true,
            host.as_slice(),
        );
        match result {
            Ok(value) => outcome(value),
            Err(e) => Err(DeliveryError {
                retryable: matches!(
                    e,
                    ScriptError::Runtime { .. } | ScriptError::TimeLimit { .. }
                ),
                message: e.to_string(),
                status: None,
            }),
        }
    }
}

#[async_trait]
impl CustomConnections for ScriptHost {
    async fn send(
        &self,
        id: &str,
        connection: &ConnectionConfig,
        notification: &Notification,
        timeout: Duration,
    ) -> Option<Result<Delivered, DeliveryError>> {
        let script = self.connection_script(id)?;
        let host = self.clone();
        let connection = connection.clone();
        let event = notification.to_json();
        let task = tokio::task::spawn_blocking(move || {
            host.send_connection_blocking(&script, &connection, &event)
        });
        // The script's own HTTP timeout ends the blocking call eventually; the delivery does not wait.
        let limit =
            timeout + Duration::from_millis(self.runtime().limits.time_limit.as_millis() as u64);
        Some(match tokio::time::timeout(limit, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(DeliveryError {
                message: format!("the connection script stopped: {e}"),
                status: None,
                retryable: false,
            }),
            Err(_) => Err(DeliveryError {
                message: format!(
                    "the connection script did not finish within {} s",
                    limit.as_secs_f64()
                ),
                status: None,
                retryable: true,
            }),
        })
    }
}
