//! The HTTP application over the [`Runtime`]: state shared by handlers, routes, middleware and
//! serving. `aniworld serve` and every black-box test call [`App::build`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aniworld_core::Result;
use aniworld_core::catalogue::Catalogue;
use aniworld_core::config::Config;
use aniworld_core::connections::ConnectionService;
use aniworld_core::events::CallbackManager;
use aniworld_core::library::Library;
use aniworld_core::network::Network;
use aniworld_core::queue::DownloadQueue;
use aniworld_core::registry::Registry;
use aniworld_core::storage::Store;
use poem::endpoint::BoxEndpoint;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Request, Response, Route, get};

use crate::api;
use crate::api::health::QueueHealth;
use crate::auth::{AuthService, load_or_create_secret};
use crate::error::{error_response, json_errors};
use crate::extensions::Extensions;
use crate::runtime::{Overrides, Runtime, RuntimeOptions};
use crate::{ui, ws};

/// What `aniworld serve` (or a test) decides besides the config file.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    pub data_dir: PathBuf,
    /// Overrides `library.path` for this run (not written to the config file).
    pub library: Option<PathBuf>,
    /// Overrides `server.bind` for this run.
    pub bind: Option<String>,
}

/// Everything request handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

struct StateInner {
    runtime: Runtime,
    config_write: tokio::sync::Mutex<()>,
    auth: AuthService,
    started: Instant,
}

impl AppState {
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.runtime.data_dir
    }

    /// The config in effect (file + environment overrides + command-line overrides).
    pub fn config(&self) -> Arc<Config> {
        self.inner.runtime.config()
    }

    /// Re-reads `config.json` after a change through the API and hands it to the services.
    pub async fn reload_config(&self) -> Result<()> {
        self.inner.runtime.reload_config().await
    }

    /// Serialises config writers (PUT, restore).
    pub async fn config_write_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.config_write.lock().await
    }

    pub fn store(&self) -> &Store {
        &self.inner.runtime.store
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.runtime.registry
    }

    pub fn events(&self) -> &CallbackManager {
        &self.inner.runtime.events
    }

    pub fn auth(&self) -> &AuthService {
        &self.inner.auth
    }

    pub fn library(&self) -> &Library {
        &self.inner.runtime.library
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.inner.runtime.catalogue
    }

    /// Native plugins and scripts.
    pub fn extensions(&self) -> &Arc<Extensions> {
        &self.inner.runtime.extensions
    }

    /// The download queue (always present in the server; `Option` keeps handlers honest).
    pub fn queue(&self) -> Option<&DownloadQueue> {
        self.inner.runtime.queue.as_ref()
    }

    /// Notifications and media-server refreshes (config `connections`).
    pub fn connections(&self) -> &ConnectionService {
        self.inner
            .runtime
            .connections
            .as_ref()
            .expect("the server's runtime delivers connections")
    }

    /// Proxy, the base URL each site answers on, and which sites and hosters are down.
    pub fn network(&self) -> &Network {
        &self.inner.runtime.network
    }

    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// Queue counters for `/health`; `None` while no queue runs.
    pub async fn queue_health(&self) -> Option<QueueHealth> {
        let status = self.queue()?.status().await.ok()?;
        Some(QueueHealth {
            running: status.running,
            paused: status.paused,
            pending: status.pending,
            downloading: status.downloading,
            completed: status.completed,
            failed: status.failed,
        })
    }
}

/// The built application: state plus the complete HTTP endpoint.
pub struct App {
    pub state: AppState,
    endpoint: Arc<BoxEndpoint<'static, Response>>,
}

impl App {
    /// Opens the data dir through the [`Runtime`] (config, database, registry, services), the
    /// login secret, and assembles the routes. The library is indexed in the background.
    pub async fn build(options: AppOptions) -> Result<App> {
        let runtime = Runtime::open(RuntimeOptions::server(
            options.data_dir,
            Overrides {
                library: options.library,
                bind: options.bind,
            },
        ))
        .await?;
        let purged = runtime
            .store
            .sessions()
            .purge_expired(aniworld_core::storage::now())
            .await?;
        if purged > 0 {
            tracing::info!(sessions = purged, "forgot expired login sessions");
        }
        let secret = load_or_create_secret(&runtime.data_dir)?;
        let auth = AuthService::new(runtime.store.clone(), &secret);
        index_at_start(&runtime.library);
        let state = AppState {
            inner: Arc::new(StateInner {
                runtime,
                config_write: tokio::sync::Mutex::new(()),
                auth,
                started: Instant::now(),
            }),
        };
        let endpoint = Arc::new(routes(&state));
        Ok(App { state, endpoint })
    }

    /// The complete HTTP endpoint (also usable with `poem::test::TestClient`).
    pub fn endpoint(&self) -> Arc<BoxEndpoint<'static, Response>> {
        self.endpoint.clone()
    }

    /// Binds `addr` (use `127.0.0.1:0` in tests) and serves in a background task.
    pub async fn spawn(self, addr: &str) -> std::io::Result<RunningServer> {
        let acceptor = TcpListener::bind(addr).into_acceptor().await?;
        let local = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| std::io::Error::other("listener has no socket address"))?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = self.state.clone();
        let task = tokio::spawn(async move {
            let signal = async move {
                let _ = stop_rx.await;
            };
            if let Err(e) = serve_with_acceptor(self, acceptor, signal).await {
                tracing::error!(error = %e, "server stopped with an error");
            }
        });
        Ok(RunningServer {
            addr: local,
            state,
            stop: Some(stop_tx),
            task,
        })
    }

    /// Serves on `addr` until `signal` completes, then shuts down gracefully.
    pub async fn serve(
        self,
        addr: &str,
        signal: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let acceptor = TcpListener::bind(addr).into_acceptor().await?;
        for a in acceptor.local_addr() {
            if let Some(a) = a.as_socket_addr() {
                tracing::info!(addr = %a, "listening");
                eprintln!("aniworld: listening on http://{a}");
            }
        }
        serve_with_acceptor(self, acceptor, signal).await
    }
}

async fn serve_with_acceptor<A: Acceptor + 'static>(
    app: App,
    acceptor: A,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = app.state.clone();
    let result = poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app.endpoint, signal, Some(Duration::from_secs(10)))
        .await;
    shutdown_services(&state).await;
    result
}

/// Stops background services (see [`Runtime::shutdown`]).
async fn shutdown_services(state: &AppState) {
    state.runtime().shutdown().await;
    tracing::info!("services stopped");
}

/// The library folder is indexed at start, so an existing library shows without a rescan; a
/// missing folder is only logged (the UI says so and the user can fix `library.path`).
fn index_at_start(library: &Library) {
    match library.start_scan() {
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "the library is not indexed at start"),
    }
}

/// A server running in the background (tests).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful shutdown; waits until the server and services have stopped.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Rejects bodies over the limit (declared or actual) and requests that take too long.
async fn limits<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let (body_limit, timeout) = match req.data::<AppState>() {
        Some(s) => {
            let c = s.config();
            (
                usize::try_from(c.server.body_limit).unwrap_or(usize::MAX),
                Duration::from_secs(c.server.request_timeout.max(1)),
            )
        }
        None => (1024 * 1024, Duration::from_secs(60)),
    };
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > body_limit as u64 => {
            return Ok(error_response(
                poem::http::StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body of {len} bytes exceeds the limit of {body_limit} bytes"),
            ));
        }
        Some(_) => {}
        None if !req.is_upgrade_websocket() => {
            // Chunked or unknown length: read it with the limit applied.
            let body = req.take_body();
            match body.into_bytes_limit(body_limit).await {
                Ok(bytes) => req.set_body(bytes),
                Err(_) => {
                    return Ok(error_response(
                        poem::http::StatusCode::PAYLOAD_TOO_LARGE,
                        format!("request body exceeds the limit of {body_limit} bytes"),
                    ));
                }
            }
        }
        None => {}
    }
    let websocket = req.is_upgrade_websocket();
    let call = ep.call(req);
    if websocket {
        return call.await.map(IntoResponse::into_response);
    }
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map(IntoResponse::into_response),
        Err(_) => Ok(error_response(
            poem::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("the request took longer than {} s", timeout.as_secs()),
        )),
    }
}

trait UpgradeCheck {
    fn is_upgrade_websocket(&self) -> bool;
}

impl UpgradeCheck for Request {
    fn is_upgrade_websocket(&self) -> bool {
        self.headers()
            .get(poem::http::header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    }
}

fn routes(state: &AppState) -> BoxEndpoint<'static, Response> {
    let service = api::service();
    let docs = service.swagger_ui();
    let spec = service.spec();
    let api_endpoint = Arc::new(service.into_endpoint());
    let route = Route::new()
        .nest_no_strip("/api", api_endpoint.clone())
        .at("/health", api_endpoint)
        .at(
            "/openapi.json",
            get(poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/json")
                    .body(spec.clone())
            })),
        )
        .nest("/docs", docs)
        .at("/ws/connect", get(ws::connect))
        .nest("/", ui::endpoint());
    let origins = state.config().server.cors_origins.clone();
    let cors = (!origins.is_empty()).then(|| {
        origins
            .iter()
            .fold(Cors::new(), |cors, origin| {
                cors.allow_origin(origin.as_str())
            })
            .allow_credentials(false)
    });
    let endpoint = match cors {
        Some(cors) => route.with(cors).boxed(),
        None => route.boxed(),
    };
    endpoint
        .around(limits)
        .data(state.clone())
        .around(json_errors)
        .map_to_response()
        .boxed()
}
