//! Host side of native (C ABI) provider and hoster plugins.
//!
//! [`PluginHost::reload`] scans `plugins.dir` for `.so`/`.dylib`/`.dll` files, checks each one's
//! ABI version and metadata before calling anything else, and registers the good ones into the
//! [`Registry`] as [`Source::Native`]. A plugin that panics, answers with invalid JSON or exceeds the
//! call timeout is disabled with a recorded reason; the server keeps serving. Libraries are never
//! unloaded.

mod adapters;
mod library;
mod worker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

use aniworld_core::registry::{ComponentKind, ComponentReport, Origin, Problem, Registry, Source};
use aniworld_plugin_sdk::{ABI_VERSION, PluginKind, PluginMetadata, Request, Response};
use serde::Serialize;

pub use adapters::{NativeHoster, NativeProvider};
pub use library::NativeLibrary;
use worker::CallPool;

/// Why a plugin could not be loaded or was disabled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginFailure {
    #[error("could not load: {0}")]
    Load(String),
    #[error("wrong ABI version {plugin} (this server speaks {host})")]
    AbiMismatch { plugin: u32, host: u32 },
    #[error("bad metadata: {0}")]
    Metadata(String),
    #[error("invalid JSON reply: {0}")]
    InvalidJson(String),
    #[error("panicked: {0}")]
    Panicked(String),
    #[error("timed out after {0} ms in {1}")]
    Timeout(u64, String),
    #[error("init failed: {0}")]
    Init(String),
    #[error("duplicate id {0:?}: already provided by {1}")]
    Duplicate(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum PluginState {
    Active,
    Disabled { reason: String },
}

/// One row of the plugin listing (`GET /api/plugins`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginStatus {
    /// The plugin's id, or the file stem when the file never said.
    pub id: String,
    pub name: String,
    /// `provider`, `hoster`.
    pub kinds: Vec<String>,
    pub version: String,
    pub path: String,
    #[serde(flatten)]
    pub state: PluginState,
}

impl PluginStatus {
    pub fn is_active(&self) -> bool {
        self.state == PluginState::Active
    }
}

/// Where plugins come from and how long a call may take.
#[derive(Debug, Clone)]
pub struct PluginHostConfig {
    pub dir: PathBuf,
    pub call_timeout: Duration,
    /// `providers.<id>` sections of the server config, handed to the plugin of that id at init.
    pub provider_settings: BTreeMap<String, serde_json::Value>,
}

impl PluginHostConfig {
    /// From the server config; `data_dir` anchors a relative `plugins.dir`.
    pub fn from_config(config: &aniworld_core::config::Config, data_dir: &Path) -> Self {
        let dir = if config.plugins.dir.is_absolute() {
            config.plugins.dir.clone()
        } else {
            data_dir.join(&config.plugins.dir)
        };
        let provider_settings = config
            .providers
            .iter()
            .filter_map(|(id, p)| Some((id.clone(), serde_json::to_value(p).ok()?)))
            .collect();
        PluginHostConfig {
            dir,
            call_timeout: Duration::from_millis(config.plugins.call_timeout_ms.max(1)),
            provider_settings,
        }
    }
}

/// A plugin file that was seen, loaded or not.
pub(crate) struct LoadedPlugin {
    pub(crate) meta: Option<PluginMetadata>,
    pub(crate) path: PathBuf,
    stamp: Option<(u64, SystemTime)>,
    pub(crate) pool: Option<CallPool>,
    state: RwLock<PluginState>,
    pub(crate) timeout: Duration,
    host: Weak<HostInner>,
}

impl LoadedPlugin {
    pub(crate) fn id(&self) -> String {
        match &self.meta {
            Some(m) => m.id.clone(),
            None => file_stem(&self.path),
        }
    }

    pub(crate) fn disabled_reason(&self) -> Option<String> {
        match &*self.state.read().expect("plugin state lock") {
            PluginState::Active => None,
            PluginState::Disabled { reason } => Some(reason.clone()),
        }
    }

    /// Disables the plugin and takes it out of the registry (built-ins of the same name come back).
    pub(crate) fn disable(&self, failure: &PluginFailure) {
        {
            let mut state = self.state.write().expect("plugin state lock");
            if *state != PluginState::Active {
                return;
            }
            *state = PluginState::Disabled {
                reason: failure.to_string(),
            };
        }
        tracing::error!(plugin = %self.id(), path = %self.path.display(), reason = %failure, "plugin disabled");
        if let Some(host) = self.host.upgrade() {
            host.sync_registry();
        }
    }

    /// One call with the timeout; misbehaviour disables the plugin.
    pub(crate) async fn call(&self, request: Request) -> aniworld_core::Result<serde_json::Value> {
        let method = method_name(&request);
        if let Some(reason) = self.disabled_reason() {
            return Err(self.error(format!("disabled: {reason}")));
        }
        let Some(pool) = &self.pool else {
            return Err(self.error("not loaded".into()));
        };
        let outcome = pool.call(request, self.timeout).await;
        self.finish(method, outcome)
    }

    /// Same as [`call`](Self::call), blocking the current thread (for the trait's sync methods).
    pub(crate) fn call_blocking(
        &self,
        request: Request,
        timeout: Duration,
    ) -> aniworld_core::Result<serde_json::Value> {
        let method = method_name(&request);
        if let Some(reason) = self.disabled_reason() {
            return Err(self.error(format!("disabled: {reason}")));
        }
        let Some(pool) = &self.pool else {
            return Err(self.error("not loaded".into()));
        };
        let outcome = pool.call_blocking(request, timeout);
        self.finish(method, outcome)
    }

    fn finish(
        &self,
        method: &str,
        outcome: Option<worker::CallOutcome>,
    ) -> aniworld_core::Result<serde_json::Value> {
        match outcome {
            None => {
                let failure =
                    PluginFailure::Timeout(self.timeout.as_millis() as u64, method.to_owned());
                self.disable(&failure);
                Err(aniworld_core::Error::Timeout(format!(
                    "plugin {}: {failure}",
                    self.id()
                )))
            }
            Some(Err(failure)) => {
                self.disable(&failure);
                Err(self.error(failure.to_string()))
            }
            Some(Ok(Response::Ok(value))) => Ok(value),
            Some(Ok(Response::Error(e))) => {
                if e.kind == aniworld_plugin_sdk::ErrorKind::Internal {
                    let failure = PluginFailure::Panicked(e.message.clone());
                    self.disable(&failure);
                }
                Err(adapters::map_error(&self.id(), e))
            }
        }
    }

    pub(crate) fn error(&self, message: String) -> aniworld_core::Error {
        aniworld_core::Error::Plugin {
            id: self.id(),
            message,
        }
    }

    fn status(&self) -> PluginStatus {
        let state = self.state.read().expect("plugin state lock").clone();
        match &self.meta {
            Some(m) => PluginStatus {
                id: m.id.clone(),
                name: m.name.clone(),
                kinds: m.kinds.iter().map(|k| kind_name(*k).to_owned()).collect(),
                version: m.version.clone(),
                path: self.path.display().to_string(),
                state,
            },
            None => PluginStatus {
                id: file_stem(&self.path),
                name: file_stem(&self.path),
                kinds: Vec::new(),
                version: String::new(),
                path: self.path.display().to_string(),
                state,
            },
        }
    }

    /// What the listing says about this file: one row per kind it provides.
    fn reports(&self) -> Vec<ComponentReport> {
        let status = self.status();
        let kinds: Vec<ComponentKind> = match &self.meta {
            Some(m) if !m.kinds.is_empty() => m
                .kinds
                .iter()
                .map(|k| match k {
                    PluginKind::Provider => ComponentKind::Provider,
                    PluginKind::Hoster => ComponentKind::Hoster,
                })
                .collect(),
            _ => vec![ComponentKind::Unknown],
        };
        let problem = match &status.state {
            PluginState::Active => None,
            PluginState::Disabled { reason } => Some(Problem {
                message: reason.clone(),
                line: None,
            }),
        };
        kinds
            .into_iter()
            .map(|kind| ComponentReport {
                kind,
                // Hosters are registered under their name.
                id: match (kind, &self.meta) {
                    (ComponentKind::Hoster, Some(m)) => m.name.clone(),
                    _ => status.id.clone(),
                },
                name: status.name.clone(),
                version: status.version.clone(),
                path: status.path.clone(),
                usable: status.is_active(),
                problem: problem.clone(),
                hooks: Vec::new(),
            })
            .collect()
    }

    fn origin(&self) -> Origin {
        Origin {
            source: Source::Native,
            version: self
                .meta
                .as_ref()
                .map(|m| m.version.clone())
                .unwrap_or_default(),
            path: Some(self.path.display().to_string()),
        }
    }
}

fn kind_name(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Provider => "provider",
        PluginKind::Hoster => "hoster",
    }
}

fn method_name(request: &Request) -> &'static str {
    match request {
        Request::Metadata => "metadata",
        Request::Init { .. } => "init",
        Request::Search { .. } => "search",
        Request::Series { .. } => "series",
        Request::Episode { .. } => "episode",
        Request::ResolveRedirect { .. } => "resolve_redirect",
        Request::KeyFromLink { .. } => "key_from_link",
        Request::Extract { .. } => "extract",
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

struct HostInner {
    registry: Registry,
    config: RwLock<PluginHostConfig>,
    plugins: RwLock<Vec<Arc<LoadedPlugin>>>,
    /// One reload at a time.
    reloading: Mutex<()>,
}

impl HostInner {
    /// The registry's native entries = the active plugins.
    fn sync_registry(&self) {
        self.registry.unregister_source(Source::Native);
        let plugins = self.plugins.read().expect("plugins lock").clone();
        for plugin in plugins {
            if plugin.disabled_reason().is_some() {
                continue;
            }
            let Some(meta) = &plugin.meta else { continue };
            for kind in &meta.kinds {
                match kind {
                    PluginKind::Provider => self.registry.register_provider(
                        Arc::new(NativeProvider::new(plugin.clone())),
                        plugin.origin(),
                    ),
                    PluginKind::Hoster => self.registry.register_hoster(
                        Arc::new(NativeHoster::new(plugin.clone())),
                        plugin.origin(),
                    ),
                }
            }
        }
        let reports = self
            .plugins
            .read()
            .expect("plugins lock")
            .iter()
            .flat_map(|p| p.reports())
            .collect();
        self.registry.report(Source::Native, reports);
    }
}

/// Loads, lists and reloads native plugins.
#[derive(Clone)]
pub struct PluginHost {
    inner: Arc<HostInner>,
}

fn is_library(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    !hidden && matches!(ext.as_deref(), Some("so" | "dylib" | "dll"))
}

fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

impl PluginHost {
    pub fn new(registry: Registry, config: PluginHostConfig) -> PluginHost {
        PluginHost {
            inner: Arc::new(HostInner {
                registry,
                config: RwLock::new(config),
                plugins: RwLock::new(Vec::new()),
                reloading: Mutex::new(()),
            }),
        }
    }

    /// The ABI version this host speaks.
    pub fn abi_version() -> u32 {
        ABI_VERSION
    }

    /// Replaces the settings used for plugins loaded from now on (e.g. after a config change).
    pub fn set_config(&self, config: PluginHostConfig) {
        *self.inner.config.write().expect("config lock") = config;
    }

    /// Scans the folder: new or changed files are loaded, files that are gone are dropped from the
    /// listing and the registry (their code stays mapped), unchanged ones keep their state.
    /// Never fails: every problem is recorded in the file's status.
    pub async fn reload(&self) -> Vec<PluginStatus> {
        let host = self.clone();
        match tokio::task::spawn_blocking(move || host.reload_blocking()).await {
            Ok(statuses) => statuses,
            Err(e) => {
                tracing::error!(error = %e, "plugin reload task failed");
                self.statuses()
            }
        }
    }

    /// [`reload`](Self::reload) for callers outside the async runtime.
    pub fn reload_blocking(&self) -> Vec<PluginStatus> {
        let _one_at_a_time = self.inner.reloading.lock().expect("reload lock");
        let config = self.inner.config.read().expect("config lock").clone();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&config.dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_library(p))
                .collect(),
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(dir = %config.dir.display(), error = %e, "cannot read plugins dir");
                }
                Vec::new()
            }
        };
        files.sort();

        let previous = self.inner.plugins.read().expect("plugins lock").clone();
        let mut next: Vec<Arc<LoadedPlugin>> = Vec::new();
        for path in files {
            let current = stamp(&path);
            let kept = previous
                .iter()
                .find(|p| p.path == path && p.stamp.is_some() && p.stamp == current);
            let plugin = match kept {
                Some(p) => p.clone(),
                None => Arc::new(self.load(&path, current, &config)),
            };
            next.push(plugin);
        }
        // Two files claiming one id: the first (by file name) wins.
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        for plugin in &next {
            let Some(meta) = &plugin.meta else { continue };
            if plugin.disabled_reason().is_some() {
                continue;
            }
            match seen.get(&meta.id) {
                Some(first) => {
                    let failure =
                        PluginFailure::Duplicate(meta.id.clone(), first.display().to_string());
                    *plugin.state.write().expect("plugin state lock") = PluginState::Disabled {
                        reason: failure.to_string(),
                    };
                }
                None => {
                    seen.insert(meta.id.clone(), plugin.path.clone());
                }
            }
        }
        *self.inner.plugins.write().expect("plugins lock") = next;
        self.inner.sync_registry();
        let statuses = self.statuses();
        for s in &statuses {
            match &s.state {
                PluginState::Active => {
                    tracing::info!(plugin = %s.id, version = %s.version, path = %s.path, "native plugin active")
                }
                PluginState::Disabled { reason } => {
                    tracing::warn!(plugin = %s.id, path = %s.path, %reason, "native plugin disabled")
                }
            }
        }
        statuses
    }

    fn load(
        &self,
        path: &Path,
        stamp: Option<(u64, SystemTime)>,
        config: &PluginHostConfig,
    ) -> LoadedPlugin {
        let mut plugin = LoadedPlugin {
            meta: None,
            path: path.to_owned(),
            stamp,
            pool: None,
            state: RwLock::new(PluginState::Active),
            timeout: config.call_timeout,
            host: Arc::downgrade(&self.inner),
        };
        let owned = path.to_owned();
        let opened = worker::with_timeout(config.call_timeout, move || {
            let lib = NativeLibrary::open(&owned)?;
            let meta = lib.metadata()?;
            Ok::<_, PluginFailure>((lib, meta))
        });
        let (lib, meta) = match opened {
            Some(Ok(v)) => v,
            Some(Err(failure)) => {
                plugin.state = RwLock::new(PluginState::Disabled {
                    reason: failure.to_string(),
                });
                return plugin;
            }
            None => {
                let failure = PluginFailure::Timeout(
                    config.call_timeout.as_millis() as u64,
                    "loading".into(),
                );
                plugin.state = RwLock::new(PluginState::Disabled {
                    reason: failure.to_string(),
                });
                return plugin;
            }
        };
        let settings = config
            .provider_settings
            .get(&meta.id)
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        plugin.pool = Some(CallPool::new(&meta.id, lib));
        plugin.meta = Some(meta);
        let init = plugin
            .pool
            .as_ref()
            .and_then(|pool| pool.call_blocking(Request::Init { settings }, config.call_timeout));
        let failure = match init {
            Some(Ok(Response::Ok(_))) => None,
            Some(Ok(Response::Error(e))) => Some(PluginFailure::Init(e.message)),
            Some(Err(f)) => Some(f),
            None => Some(PluginFailure::Timeout(
                config.call_timeout.as_millis() as u64,
                "init".into(),
            )),
        };
        if let Some(failure) = failure {
            plugin.state = RwLock::new(PluginState::Disabled {
                reason: failure.to_string(),
            });
        }
        plugin
    }

    /// Every plugin file seen by the last reload, in file-name order.
    pub fn statuses(&self) -> Vec<PluginStatus> {
        self.inner
            .plugins
            .read()
            .expect("plugins lock")
            .iter()
            .map(|p| p.status())
            .collect()
    }

    pub fn dir(&self) -> PathBuf {
        self.inner.config.read().expect("config lock").dir.clone()
    }
}
