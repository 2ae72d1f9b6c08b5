//! `database.redis_url`: what several instances share through Redis.
//!
//! - Events: every event this instance emits is published to `aniworld:events:<db>`, tagged with
//!   this process's instance id; every message from another instance is relayed to this
//!   instance's WebSocket clients ([`CallbackManager::relay`], so hooks and connections run only
//!   where the event happened). Pub/sub channels are not scoped by database number, so the channel
//!   name carries it: deployments on different database numbers never see each other's events.
//! - Login attempts: counted per client address under `aniworld:login:<address>` with one atomic
//!   script (INCR + PEXPIRE), so the limit holds across instances.
//!
//! Redis is never needed to serve: when it goes away the instance keeps running with local
//! events and the local login limiter, says so in `/health`, and reconnects with backoff.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use aniworld_core::config::redact_url_password;
use aniworld_core::events::{CallbackManager, Event, SubscriptionId};
use aniworld_core::{Error, Result};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Connecting (TCP + handshake) may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// One command (publish, the login script, ping) may take this long.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);
/// First and longest wait between reconnection attempts.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Events waiting to be published; more are dropped (local clients have them anyway).
const PUBLISH_BUFFER: usize = 4096;

/// Counts one login attempt of `KEYS[1]` unless `ARGV[1]` are already counted; the count expires
/// `ARGV[2]` ms after the first attempt. Returns `{counted (1|0), ms until the count expires}`.
const RESERVE_SCRIPT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  end
  return {0, ttl}
end
n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {1, redis.call('PTTL', KEYS[1])}
";

/// What `/health` says about Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisStatus {
    Ok,
    Down(String),
}

/// One event on the channel.
#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The publishing process.
    instance: String,
    event: Event,
}

/// The connection to Redis: event fan-out and the shared login counter. Cheap to clone.
#[derive(Clone)]
pub struct RedisLink {
    inner: Arc<LinkInner>,
}

struct LinkInner {
    client: redis::Client,
    /// The URL without its password (for logs and errors).
    shown: String,
    instance: String,
    channel: String,
    /// `None` while the subscriber is connected; the last problem otherwise.
    down: RwLock<Option<String>>,
    /// The command connection (publish, login script), made on first use after each loss.
    commands: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    events: CallbackManager,
    subscription: Mutex<Option<SubscriptionId>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("url", &self.inner.shown)
            .field("instance", &self.inner.instance)
            .finish_non_exhaustive()
    }
}

/// The database number of a `redis://HOST:PORT/N` URL (0 when absent).
fn database_number(url: &str) -> Result<i64> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| {
        Error::invalid(
            "database.redis_url",
            format!("{:?} is not a URL: {e}", redact_url_password(url)),
        )
    })?;
    let path = parsed.path().trim_matches('/');
    if path.is_empty() {
        return Ok(0);
    }
    path.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
        Error::invalid(
            "database.redis_url",
            format!(
                "{:?}: the path must be a database number (redis://HOST:PORT/N)",
                redact_url_password(url)
            ),
        )
    })
}

impl RedisLink {
    /// Starts the fan-out for `url`. A malformed URL is an error; a Redis that cannot be reached
    /// is not: the instance starts with Redis down and keeps trying.
    pub fn start(url: &str, events: &CallbackManager) -> Result<RedisLink> {
        let shown = redact_url_password(url);
        let db = database_number(url)?;
        let client = redis::Client::open(url.trim()).map_err(|e| {
            Error::invalid(
                "database.redis_url",
                format!("{shown:?} cannot be used: {e}"),
            )
        })?;
        let link = RedisLink {
            inner: Arc::new(LinkInner {
                client,
                shown,
                instance: uuid::Uuid::new_v4().to_string(),
                channel: format!("aniworld:events:{db}"),
                down: RwLock::new(Some("not connected yet".to_owned())),
                commands: tokio::sync::Mutex::new(None),
                events: events.clone(),
                subscription: Mutex::new(None),
                tasks: Mutex::new(Vec::new()),
            }),
        };
        let (tx, rx) = mpsc::channel::<Event>(PUBLISH_BUFFER);
        let id = events.on_event(move |event| {
            // Full or closed: the event still reached this instance's clients.
            let _ = tx.try_send(event.clone());
        });
        *link.inner.subscription.lock().expect("redis lock") = Some(id);
        let subscriber = tokio::spawn(link.clone().subscribe_loop());
        let publisher = tokio::spawn(link.clone().publish_loop(rx));
        link.inner
            .tasks
            .lock()
            .expect("redis lock")
            .extend([subscriber, publisher]);
        tracing::info!(url = %link.inner.shown, instance = %link.inner.instance, "sharing events through Redis");
        Ok(link)
    }

    /// This process's id on the event channel.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// Whether Redis answers now: the subscriber's state, then a `PING`.
    pub async fn status(&self) -> RedisStatus {
        if let Some(problem) = self.down_reason() {
            return RedisStatus::Down(problem);
        }
        match self.ping().await {
            Ok(()) => RedisStatus::Ok,
            Err(e) => RedisStatus::Down(e),
        }
    }

    fn down_reason(&self) -> Option<String> {
        self.inner.down.read().expect("redis lock").clone()
    }

    async fn ping(&self) -> std::result::Result<(), String> {
        self.command(
            |mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await },
        )
        .await
        .map(|_| ())
    }

    /// Counts a login attempt of `client` across instances before its password is checked:
    /// `Ok(Ok(()))` counted, `Ok(Err(secs))` refused for `secs` more seconds, `Err` when Redis
    /// cannot answer (the caller counts locally instead).
    pub async fn reserve_login_attempt(
        &self,
        client: &str,
        max_attempts: u32,
        window: Duration,
    ) -> std::result::Result<std::result::Result<(), u64>, String> {
        let key = format!("aniworld:login:{client}");
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let max = max_attempts.max(1);
        let (counted, ttl_ms): (i64, i64) = self
            .command(move |mut conn| async move {
                redis::Script::new(RESERVE_SCRIPT)
                    .key(&key)
                    .arg(max)
                    .arg(window_ms)
                    .invoke_async::<(i64, i64)>(&mut conn)
                    .await
            })
            .await?;
        if counted == 1 {
            return Ok(Ok(()));
        }
        let ttl_ms = u64::try_from(ttl_ms).unwrap_or(window_ms).max(1);
        Ok(Err(ttl_ms.div_ceil(1000)))
    }

    /// Forgets `client`'s attempts after a successful login.
    pub async fn forget_login_attempts(&self, client: &str) -> std::result::Result<(), String> {
        let key = format!("aniworld:login:{client}");
        self.command(move |mut conn| async move {
            redis::cmd("DEL")
                .arg(&key)
                .query_async::<i64>(&mut conn)
                .await
        })
        .await
        .map(|_| ())
    }

    /// Runs one command on the shared command connection (connecting first when needed), with
    /// a timeout. Fails at once while the subscriber knows Redis is down. A failed command drops
    /// the connection so the next one reconnects.
    async fn command<T, F, Fut>(&self, run: F) -> std::result::Result<T, String>
    where
        F: FnOnce(redis::aio::MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if let Some(problem) = self.down_reason() {
            return Err(problem);
        }
        let conn = {
            let mut slot = self.inner.commands.lock().await;
            match slot.as_ref() {
                Some(conn) => conn.clone(),
                None => {
                    let conn = tokio::time::timeout(
                        CONNECT_TIMEOUT,
                        self.inner.client.get_multiplexed_async_connection(),
                    )
                    .await
                    .map_err(|_| format!("connecting to {} timed out", self.inner.shown))?
                    .map_err(|e| describe(&e))?;
                    *slot = Some(conn.clone());
                    conn
                }
            }
        };
        match tokio::time::timeout(COMMAND_TIMEOUT, run(conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                *self.inner.commands.lock().await = None;
                Err(describe(&e))
            }
            Err(_) => {
                *self.inner.commands.lock().await = None;
                Err(format!(
                    "Redis did not answer within {} ms",
                    COMMAND_TIMEOUT.as_millis()
                ))
            }
        }
    }

    fn set_down(&self, problem: String) {
        let mut down = self.inner.down.write().expect("redis lock");
        if down.is_none() {
            tracing::warn!(url = %self.inner.shown, error = %problem, "Redis is down: events stay on this instance, logins are counted locally; reconnecting");
        }
        *down = Some(problem);
    }

    fn set_up(&self) {
        let mut down = self.inner.down.write().expect("redis lock");
        if down.take().is_some() {
            tracing::info!(url = %self.inner.shown, "connected to Redis: events are shared again");
        }
    }

    /// Keeps a subscription to the event channel, reconnecting with backoff, and relays other
    /// instances' events to this instance's clients.
    async fn subscribe_loop(self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.subscribe_once().await {
                Ok(()) => {
                    // Was connected: the next attempt starts with a short wait again.
                    backoff = FIRST_BACKOFF;
                }
                Err(problem) => self.set_down(problem),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One subscription until the connection is lost (`Ok`) or cannot be made (`Err`).
    async fn subscribe_once(&self) -> std::result::Result<(), String> {
        let mut pubsub =
            tokio::time::timeout(CONNECT_TIMEOUT, self.inner.client.get_async_pubsub())
                .await
                .map_err(|_| format!("connecting to {} timed out", self.inner.shown))?
                .map_err(|e| describe(&e))?;
        tokio::time::timeout(CONNECT_TIMEOUT, pubsub.subscribe(&self.inner.channel))
            .await
            .map_err(|_| "subscribing timed out".to_owned())?
            .map_err(|e| describe(&e))?;
        // A command connection from before the loss is dead: make a new one on next use.
        *self.inner.commands.lock().await = None;
        self.set_up();
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let Ok(payload) = message.get_payload::<String>() else {
                continue;
            };
            match serde_json::from_str::<Envelope>(&payload) {
                Ok(envelope) if envelope.instance == self.inner.instance => {}
                Ok(envelope) => self.inner.events.relay(envelope.event),
                Err(e) => {
                    tracing::debug!(error = %e, "ignoring a message on the event channel that is not an event");
                }
            }
        }
        self.set_down("the connection to Redis was lost".to_owned());
        Ok(())
    }

    /// Publishes this instance's events in order; while Redis is down they are dropped.
    async fn publish_loop(self, mut rx: mpsc::Receiver<Event>) {
        while let Some(event) = rx.recv().await {
            if self.down_reason().is_some() {
                continue;
            }
            let payload = match serde_json::to_string(&Envelope {
                instance: self.inner.instance.clone(),
                event,
            }) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "an event cannot be serialised");
                    continue;
                }
            };
            let channel = self.inner.channel.clone();
            let sent = self
                .command(move |mut conn| async move {
                    redis::cmd("PUBLISH")
                        .arg(&channel)
                        .arg(payload)
                        .query_async::<i64>(&mut conn)
                        .await
                })
                .await;
            if let Err(e) = sent {
                tracing::debug!(error = %e, "an event was not published");
            }
        }
    }

    /// Stops publishing and relaying.
    pub fn stop(&self) {
        if let Some(id) = self.inner.subscription.lock().expect("redis lock").take() {
            self.inner.events.remove(id);
        }
        for task in self.inner.tasks.lock().expect("redis lock").drain(..) {
            task.abort();
        }
    }
}

/// A Redis error as one line (no URL, so no password).
fn describe(e: &redis::RedisError) -> String {
    if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_dropped() {
        "the connection was dropped".to_owned()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_number_scopes_the_channel() {
        assert_eq!(database_number("redis://127.0.0.1:6379").unwrap(), 0);
        assert_eq!(database_number("redis://127.0.0.1:6379/").unwrap(), 0);
        assert_eq!(database_number("redis://:pw@127.0.0.1:6379/3").unwrap(), 3);
        let e = database_number("redis://:secret@127.0.0.1:6379/abc").unwrap_err();
        assert!(e.to_string().contains("database number"), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
