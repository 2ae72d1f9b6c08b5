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
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Request, Response, Route, get};

use crate::api;
use crate::api::health::QueueHealth;
use crate::auth::{
    AuthService, SESSION_PURGE_INTERVAL, load_or_create_shared_secret, spawn_session_purge,
};
use crate::error::{error_response, json_errors};
use crate::extensions::Extensions;
use crate::metrics::Metrics;
use crate::runtime::{Overrides, Runtime, RuntimeOptions};
use crate::{allow_header, body_errors, http_server, metrics, ui, ws};

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
    cover_signer: crate::api::covers::CoverSigner,
    started: Instant,
    /// This instance's counters for `/metrics`.
    metrics: Arc<Metrics>,
    /// The periodic purge of expired sessions; stopped with the state.
    _session_purge: AbortOnDrop,
    /// Scheduled follow checks (`follow.interval`); stopped with the state.
    _follow_scheduler: AbortOnDrop,
}

/// Applies config changes published by other instances on the same database while the state
/// lives (it holds the state weakly, so it ends with it).
fn spawn_shared_config_follow(state: &AppState) {
    let weak = Arc::downgrade(&state.inner);
    tokio::spawn(async move {
        let mut seen = None;
        loop {
            tokio::time::sleep(crate::shared_config::FOLLOW).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let state = AppState { inner };
            if let Err(e) = crate::shared_config::follow_once(&state, &mut seen).await {
                tracing::warn!(error = %e, "cannot apply the config changed on another instance");
            }
        }
    });
}

/// A background task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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

    /// Series covers kept in the data dir.
    pub fn covers(&self) -> &aniworld_core::covers::Covers {
        &self.inner.runtime.covers
    }

    /// Signs and checks the cover URLs the UI puts into `<img>`.
    pub fn cover_signer(&self) -> &crate::api::covers::CoverSigner {
        &self.inner.cover_signer
    }

    /// Followed series and their checks.
    pub fn follow(&self) -> &aniworld_core::follow::FollowService {
        &self.inner.runtime.follow
    }

    /// Proxy, the base URL each site answers on, and which sites and hosters are down.
    pub fn network(&self) -> &Network {
        &self.inner.runtime.network
    }

    /// This instance's counters for `/metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// Queue counters for `/health`; `None` while no queue runs.
    pub async fn queue_health(&self) -> Option<QueueHealth> {
        let queue = self.queue()?;
        let counts = queue.counts().await.ok()?;
        let (running, paused) = queue.running_paused();
        Some(QueueHealth {
            running,
            paused,
            pending: counts.pending,
            downloading: counts.downloading,
            completed: counts.completed,
            failed: counts.failed,
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
        let session_purge = AbortOnDrop(spawn_session_purge(
            runtime.store.clone(),
            SESSION_PURGE_INTERVAL,
        ));
        let secret = load_or_create_shared_secret(&runtime.store, &runtime.data_dir).await?;
        let auth = AuthService::new(runtime.store.clone(), &secret)
            .with_shared_limiter(runtime.redis.clone());
        let metrics = Arc::new(Metrics::default());
        {
            let metrics = metrics.clone();
            runtime.events.on_event(move |event| metrics.observe(event));
        }
        index_at_start(&runtime.library);
        let follow_scheduler = AbortOnDrop(runtime.follow.spawn_scheduler());
        let state = AppState {
            inner: Arc::new(StateInner {
                runtime,
                config_write: tokio::sync::Mutex::new(()),
                auth,
                cover_signer: crate::api::covers::CoverSigner::new(&secret),
                started: Instant::now(),
                metrics,
                _session_purge: session_purge,
                _follow_scheduler: follow_scheduler,
            }),
        };
        if state.store().dialect() != aniworld_core::storage::Dialect::Sqlite {
            spawn_shared_config_follow(&state);
        }
        let endpoint = Arc::new(routes(&state));
        Ok(App { state, endpoint })
    }

    /// The complete HTTP endpoint (also usable with `poem::test::TestClient`).
    pub fn endpoint(&self) -> Arc<BoxEndpoint<'static, Response>> {
        self.endpoint.clone()
    }

    /// Binds `addr` (use `127.0.0.1:0` in tests) and serves in a background task.
    pub async fn spawn(self, addr: &str) -> std::io::Result<RunningServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = self.state.clone();
        let task = tokio::spawn(async move {
            let signal = async move {
                let _ = stop_rx.await;
            };
            if let Err(e) = serve_on(self, listener, signal).await {
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
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let a = listener.local_addr()?;
        tracing::info!(addr = %a, "listening");
        eprintln!("aniworld: listening on http://{a}");
        serve_on(self, listener, signal).await
    }
}

/// Serves with the connection limits of `server.*` (see [`http_server`]), then stops the services.
async fn serve_on(
    app: App,
    listener: tokio::net::TcpListener,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = app.state.clone();
    let limits = http_server::ConnectionLimits::from_config(&state.config().server);
    let result = http_server::serve(
        listener,
        app.endpoint,
        limits,
        signal,
        Duration::from_secs(10),
    )
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

/// The web UI's Content-Security-Policy: its own scripts and styles only (no inline code), covers
/// from anywhere, API calls and the WebSocket to this server only, never inside a frame.
const UI_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: http: https:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Browser protections on every response (the token sits in the UI's localStorage): no MIME
/// sniffing, no framing, no referrer to other sites; the UI also gets its CSP.
async fn security_headers<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    use poem::http::HeaderValue;
    use poem::http::header::{
        CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    let path = req.uri().path();
    let is_ui = ![
        "/api",
        "/health",
        "/metrics",
        "/openapi.json",
        "/asyncapi.json",
        "/docs",
        "/ws/",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix));
    let mut resp = ep.call(req).await?.into_response();
    let headers = resp.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    let csp = if is_ui {
        UI_CSP
    } else {
        "frame-ancestors 'none'"
    };
    headers
        .entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(csp));
    Ok(resp)
}

fn routes(state: &AppState) -> BoxEndpoint<'static, Response> {
    let service = api::service();
    // Swagger UI shows the published document, not poem-openapi's draft of it.
    let docs_html = service
        .swagger_ui_html()
        .replace(&service.spec(), &api::spec_json());
    let spec = api::spec_json();
    let spec_value: Arc<serde_json::Value> = Arc::new(api::contract::document());
    let operations = Arc::new(metrics::operation_paths(&spec_value));
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
        .nest(
            "/docs",
            Route::new().at(
                "/",
                get(poem::endpoint::make_sync(move |_| {
                    poem::web::Html(docs_html.clone()).into_response()
                })),
            ),
        )
        .at(
            "/asyncapi.json",
            get(poem::endpoint::make_sync(|_| {
                Response::builder()
                    .content_type("application/json")
                    .body(ws::ASYNCAPI)
            })),
        )
        .at("/ws/connect", get(ws::connect))
        .at("/metrics", get(metrics::endpoint))
        .nest("/", ui::endpoint())
        .around(move |ep, req| metrics::route_of(ep, req, operations.clone()));
    let counters = state.metrics().clone();
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
    let allow_spec = spec_value.clone();
    endpoint
        .around(move |ep, req| body_errors::name_the_field(ep, req, spec_value.clone()))
        .around(limits)
        .data(state.clone())
        .around(json_errors)
        .around(move |ep, req| metrics::count_requests(ep, req, counters.clone()))
        .around(move |ep, req| allow_header::allow_header(ep, req, allow_spec.clone()))
        .around(security_headers)
        .map_to_response()
        .boxed()
}
