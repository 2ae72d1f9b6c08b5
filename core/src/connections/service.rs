//! [`ConnectionService`]: takes events off the [`CallbackManager`], delivers them to every
//! connection that wants them (one worker per connection, retries with backoff), keeps each
//! connection's last result and answers `test`.

use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::senders::{Attempt, Delivered, DeliveryError};
use super::{ConnectionKind, Notification, events_of, scrub};
use crate::config::ConnectionConfig;
use crate::error::{Error, Result};
use crate::events::{CallbackManager, Event};
use crate::storage::Store;
use crate::storage::connections::ConnectionResult;

/// How hard delivery tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Limit of one attempt (each HTTP request, or one script call).
    pub timeout: Duration,
    /// Attempts per notification (1 = no retry).
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub backoff: Duration,
    /// Notifications waiting per connection before new ones are dropped.
    pub queue_len: usize,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            timeout: Duration::from_secs(10),
            attempts: 3,
            backoff: Duration::from_secs(2),
            queue_len: 100,
        }
    }
}

/// Connection kinds of one's own (`script:<id>`), supplied by the script layer.
#[async_trait]
pub trait CustomConnections: Send + Sync {
    /// Sends `notification` through the connection script `id`; `None` when no loaded script has
    /// that id. `timeout` bounds the whole call.
    async fn send(
        &self,
        id: &str,
        connection: &ConnectionConfig,
        notification: &Notification,
        timeout: Duration,
    ) -> Option<Result<Delivered, DeliveryError>>;
}

/// One row of `GET /api/connections`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStatus {
    pub name: String,
    pub kind: String,
    pub last_ok: Option<bool>,
    pub last_error: Option<String>,
    /// Unix seconds.
    pub last_at: Option<i64>,
}

/// The answer of a test delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    pub ok: bool,
    pub status: Option<u16>,
    pub message: String,
}

/// Notifications waiting for the fan-out task.
const DISPATCH_QUEUE: usize = 1024;

struct Worker {
    config: Arc<ConnectionConfig>,
    queue: mpsc::Sender<Arc<Notification>>,
}

struct Inner {
    client: reqwest::Client,
    store: Store,
    events: CallbackManager,
    policy: RwLock<DeliveryPolicy>,
    custom: RwLock<Option<Arc<dyn CustomConnections>>>,
    workers: Mutex<Vec<Worker>>,
    dispatch: mpsc::Sender<Notification>,
}

/// Delivers events to the configured connections. Cheap to clone.
#[derive(Clone)]
pub struct ConnectionService {
    inner: Arc<Inner>,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("aniworld-server/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::limited(5))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("static reqwest client configuration is valid")
}

impl ConnectionService {
    /// Subscribes to `events` and starts the fan-out task (call inside a tokio runtime).
    /// `custom` sends the `script:<id>` kinds.
    pub fn start(
        store: Store,
        events: &CallbackManager,
        connections: &[ConnectionConfig],
        custom: Option<Arc<dyn CustomConnections>>,
    ) -> ConnectionService {
        let (dispatch, rx) = mpsc::channel(DISPATCH_QUEUE);
        let service = ConnectionService {
            inner: Arc::new(Inner {
                client: client(),
                store,
                events: events.clone(),
                policy: RwLock::new(DeliveryPolicy::default()),
                custom: RwLock::new(custom),
                workers: Mutex::new(Vec::new()),
                dispatch,
            }),
        };
        service.set_connections(connections);
        tokio::spawn(fan_out(Arc::downgrade(&service.inner), rx));
        let weak = Arc::downgrade(&service.inner);
        events.on_event(move |event| {
            let Some(inner) = weak.upgrade() else { return };
            inner.offer(event);
        });
        service
    }

    /// Changes timeouts and retries (applies to workers started afterwards and to tests).
    pub fn set_policy(&self, policy: DeliveryPolicy) {
        *self.inner.policy.write().expect("policy lock") = policy;
        let current: Vec<ConnectionConfig> = self.connections();
        // Restart the workers so their queues get the new length.
        self.inner.workers.lock().expect("workers lock").clear();
        self.set_connections(&current);
    }

    pub fn policy(&self) -> DeliveryPolicy {
        self.inner.policy.read().expect("policy lock").clone()
    }

    /// The connections in effect, in config order.
    pub fn connections(&self) -> Vec<ConnectionConfig> {
        self.inner
            .workers
            .lock()
            .expect("workers lock")
            .iter()
            .map(|w| (*w.config).clone())
            .collect()
    }

    /// Applies a (re)loaded config: unchanged connections keep their worker and queue; changed
    /// or new ones get a fresh worker; removed ones stop after what they already hold.
    pub fn set_connections(&self, connections: &[ConnectionConfig]) {
        let queue_len = self.policy().queue_len.max(1);
        let mut workers = self.inner.workers.lock().expect("workers lock");
        let mut old: Vec<Worker> = std::mem::take(&mut *workers);
        for c in connections {
            let kept = old
                .iter()
                .position(|w| *w.config == *c)
                .map(|i| old.swap_remove(i));
            let worker = kept.unwrap_or_else(|| {
                let config = Arc::new(c.clone());
                let (queue, rx) = mpsc::channel(queue_len);
                tokio::spawn(deliver_queue(
                    Arc::downgrade(&self.inner),
                    config.clone(),
                    rx,
                ));
                Worker { config, queue }
            });
            workers.push(worker);
        }
    }

    /// Each configured connection with its last result.
    pub async fn statuses(&self) -> Result<Vec<ConnectionStatus>> {
        let results = self.inner.store.connections().list().await?;
        Ok(self
            .connections()
            .into_iter()
            .map(|c| {
                let last = results
                    .iter()
                    .find(|r| r.name == c.name && r.kind == c.kind);
                ConnectionStatus {
                    last_ok: last.map(|r| r.ok),
                    last_error: last.and_then(|r| r.error.clone()),
                    last_at: last.map(|r| r.at),
                    name: c.name,
                    kind: c.kind,
                }
            })
            .collect())
    }

    /// Sends a test notification to connection `name` right now (one attempt) and records the
    /// result as its last one.
    pub async fn test(&self, name: &str) -> Result<TestOutcome> {
        let Some(config) = self
            .inner
            .workers
            .lock()
            .expect("workers lock")
            .iter()
            .find(|w| w.config.name == name)
            .map(|w| w.config.clone())
        else {
            return Err(Error::NotFound(format!(
                "connection {:?}",
                name.chars().take(80).collect::<String>()
            )));
        };
        let notification = Notification::test(&config.name);
        let result = self.inner.attempt(&config, &notification).await;
        self.inner.record(&config, &result).await;
        Ok(match result {
            Ok(delivered) => {
                let d = delivered.unwrap_or(Delivered {
                    status: None,
                    message: "nothing to do".into(),
                });
                TestOutcome {
                    ok: true,
                    status: d.status,
                    message: d.message,
                }
            }
            Err(e) => TestOutcome {
                ok: false,
                status: e.status,
                message: e.message,
            },
        })
    }
}

impl Inner {
    /// On the emitting thread: only a cheap check and a non-blocking send.
    fn offer(&self, event: &Event) {
        let Some(notification) = Notification::from_event(event) else {
            return;
        };
        let wanted = self
            .workers
            .lock()
            .expect("workers lock")
            .iter()
            .any(|w| events_of(&w.config).contains(&notification.event));
        if !wanted {
            return;
        }
        if self.dispatch.try_send(notification).is_err() {
            tracing::warn!(
                event = event.kind(),
                "connections are behind; a notification was dropped"
            );
        }
    }

    /// One attempt, bounded in time whatever the kind does.
    async fn attempt(
        &self,
        config: &ConnectionConfig,
        notification: &Notification,
    ) -> std::result::Result<Option<Delivered>, DeliveryError> {
        let timeout = self.policy.read().expect("policy lock").timeout;
        let Some(kind) = ConnectionKind::parse(&config.kind) else {
            return Err(DeliveryError {
                message: format!("unknown kind {:?}", config.kind),
                status: None,
                retryable: false,
            });
        };
        let work = async {
            if let ConnectionKind::Script(id) = &kind {
                let custom = self.custom.read().expect("custom lock").clone();
                let answer = match custom {
                    Some(c) => c.send(id, config, notification, timeout).await,
                    None => None,
                };
                return match answer {
                    Some(result) => result.map(Some),
                    None => Err(DeliveryError {
                        message: format!(
                            "no connection script with id {id:?} is loaded (scripts.dir, meta().kind \"connection\")"
                        ),
                        status: None,
                        retryable: false,
                    }),
                };
            }
            Attempt {
                client: &self.client,
                connection: config,
                kind: &kind,
                timeout,
            }
            .send(notification)
            .await
        };
        // Plex makes two requests; a script may make several: bound the whole attempt too.
        let limit = timeout * 2 + Duration::from_secs(1);
        let result = match tokio::time::timeout(limit, work).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryError {
                message: format!("no answer within {} s", limit.as_secs_f64()),
                status: None,
                retryable: true,
            }),
        };
        result.map_err(|mut e| {
            e.message = scrub(&e.message, config);
            e
        })
    }

    /// Attempts with backoff until one succeeds, a failure is final, or attempts run out.
    async fn deliver(
        &self,
        config: &ConnectionConfig,
        notification: &Notification,
    ) -> (std::result::Result<Option<Delivered>, DeliveryError>, u32) {
        let policy = self.policy.read().expect("policy lock").clone();
        let attempts = policy.attempts.max(1);
        let mut wait = policy.backoff;
        let mut n = 0;
        loop {
            n += 1;
            match self.attempt(config, notification).await {
                Err(e) if e.retryable && n < attempts => {
                    tracing::info!(
                        connection = %config.name,
                        kind = %config.kind,
                        event = notification.event.as_str(),
                        attempt = n,
                        error = %e.message,
                        "connection attempt failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                other => return (other, n),
            }
        }
    }

    async fn record(
        &self,
        config: &ConnectionConfig,
        result: &std::result::Result<Option<Delivered>, DeliveryError>,
    ) {
        let row = match result {
            Ok(None) => return,
            Ok(Some(_)) => ConnectionResult {
                name: config.name.clone(),
                kind: config.kind.clone(),
                ok: true,
                error: None,
                at: crate::storage::now(),
            },
            Err(e) => ConnectionResult {
                name: config.name.clone(),
                kind: config.kind.clone(),
                ok: false,
                error: Some(e.message.clone()),
                at: crate::storage::now(),
            },
        };
        if let Err(e) = self.store.connections().record(&row).await {
            tracing::error!(connection = %config.name, error = %e, "cannot record a connection's result");
        }
    }
}

/// Adds what the event lacks (the series' name) once, then hands the notification to every
/// connection that wants it.
async fn fan_out(inner: Weak<Inner>, mut rx: mpsc::Receiver<Notification>) {
    while let Some(mut notification) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        if notification.name.is_none()
            && let Some(key) = notification
                .key
                .as_deref()
                .and_then(|k| crate::model::SeriesKey::parse(k).ok())
            && let Ok(Some(series)) = inner.store.series().get_by_key(&key).await
        {
            notification.name = Some(series.name);
        }
        let notification = Arc::new(notification);
        let targets: Vec<(Arc<ConnectionConfig>, mpsc::Sender<Arc<Notification>>)> = inner
            .workers
            .lock()
            .expect("workers lock")
            .iter()
            .filter(|w| events_of(&w.config).contains(&notification.event))
            .map(|w| (w.config.clone(), w.queue.clone()))
            .collect();
        for (config, queue) in targets {
            if queue.try_send(notification.clone()).is_err() {
                tracing::warn!(
                    connection = %config.name,
                    event = notification.event.as_str(),
                    "connection queue full; notification dropped"
                );
                let dropped = Err(DeliveryError {
                    message: format!(
                        "{} notification dropped: earlier ones are still waiting",
                        notification.event.as_str()
                    ),
                    status: None,
                    retryable: false,
                });
                inner.record(&config, &dropped).await;
            }
        }
    }
}

/// One connection's worker: delivers in order; a final failure is recorded, logged and emitted
/// as `connection_failed`.
async fn deliver_queue(
    inner: Weak<Inner>,
    config: Arc<ConnectionConfig>,
    mut rx: mpsc::Receiver<Arc<Notification>>,
) {
    while let Some(notification) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        let (result, attempts) = inner.deliver(&config, &notification).await;
        inner.record(&config, &result).await;
        match &result {
            Ok(Some(d)) => tracing::debug!(
                connection = %config.name,
                kind = %config.kind,
                event = notification.event.as_str(),
                result = %d.message,
                "connection notified"
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(
                    connection = %config.name,
                    kind = %config.kind,
                    event = notification.event.as_str(),
                    attempts,
                    error = %e.message,
                    "connection failed"
                );
                inner.events.emit(Event::ConnectionFailed {
                    name: config.name.clone(),
                    kind: config.kind.clone(),
                    event: notification.event.as_str().to_owned(),
                    error: e.message.clone(),
                    attempts,
                });
            }
        }
    }
}
