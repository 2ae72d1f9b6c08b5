//! Sandboxed rhai scripts: script providers, script hosters and hook scripts.
//!
//! [`ScriptHost`] compiles every `*.rhai` file of `scripts.dir` once (ASTs are cached), registers
//! providers and hosters into the [`Registry`] as [`Source::Script`] (which overrides built-ins and
//! native plugins of the same name), runs hook functions on events, and implements
//! [`DownloadHooks`] for `before_download`. A file that fails to compile is reported with file, line
//! and message; its previous good version stays active.

mod adapters;
mod connections;
pub mod hooks;
mod host_fns;
pub mod runtime;
pub mod sandbox;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak, mpsc};
use std::time::Duration;

use aniworld_core::events::{CallbackManager, DownloadHooks, Event, EventContext, HookDecision};
use aniworld_core::registry::{ComponentKind, ComponentReport, Origin, Problem, Registry, Source};
use async_trait::async_trait;
use rhai::{Dynamic, Map};
use serde::Serialize;

pub use adapters::{ScriptHoster, ScriptProvider};
pub use host_fns::host_allowed;
pub use runtime::{CompiledScript, HOOK_NAMES, ScriptError, ScriptKind, ScriptRuntime};
pub use sandbox::ScriptLimits;

/// Where scripts come from and what they may do.
#[derive(Debug, Clone)]
pub struct ScriptHostConfig {
    pub dir: PathBuf,
    pub limits: ScriptLimits,
    /// `scripts.settings`, readable with `config(name)`.
    pub settings: BTreeMap<String, String>,
}

impl ScriptHostConfig {
    /// From the server config; `data_dir` anchors a relative `scripts.dir`.
    pub fn from_config(config: &aniworld_core::config::Config, data_dir: &Path) -> Self {
        let dir = if config.scripts.dir.is_absolute() {
            config.scripts.dir.clone()
        } else {
            data_dir.join(&config.scripts.dir)
        };
        ScriptHostConfig {
            dir,
            limits: ScriptLimits {
                max_operations: config.scripts.max_operations,
                time_limit: Duration::from_millis(config.scripts.time_limit_ms.max(1)),
                ..ScriptLimits::default()
            },
            settings: config.scripts.settings.clone(),
        }
    }
}

/// A compile or load problem, as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptProblem {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl From<&ScriptError> for ScriptProblem {
    fn from(e: &ScriptError) -> Self {
        let file = match e {
            ScriptError::Compile { file, .. }
            | ScriptError::TimeLimit { file, .. }
            | ScriptError::Runtime { file, .. }
            | ScriptError::Invalid { file, .. } => file.clone(),
        };
        ScriptProblem {
            file,
            line: e.line(),
            message: e.to_string(),
        }
    }
}

/// One row of the script listing (`GET /api/plugins`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptStatus {
    /// File name inside the scripts folder.
    pub file: String,
    pub path: String,
    /// Provider id / hoster name (file stem when it declares none).
    pub id: String,
    pub name: String,
    /// `provider`, `hoster` or `hooks`.
    pub kind: String,
    pub version: String,
    /// Hook functions it defines.
    pub hooks: Vec<String>,
    /// Whether a good version is in use (possibly an older one, when `error` is set).
    pub active: bool,
    /// The latest version's problem, if it has one.
    pub error: Option<ScriptProblem>,
}

struct ScriptEntry {
    file: String,
    path: PathBuf,
    active: Option<Arc<CompiledScript>>,
    /// Text of the latest version seen, to skip recompiling unchanged files.
    last_source: String,
    error: Option<ScriptError>,
}

impl ScriptEntry {
    fn status(&self) -> ScriptStatus {
        let meta = self.active.as_ref().map(|s| &s.meta);
        let stem = Path::new(&self.file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        ScriptStatus {
            file: self.file.clone(),
            path: self.path.display().to_string(),
            id: meta.map_or(stem.clone(), |m| m.id.clone()),
            name: meta.map_or(stem, |m| m.name.clone()),
            kind: match meta.and_then(|m| m.kind) {
                Some(ScriptKind::Provider) => "provider",
                Some(ScriptKind::Hoster) => "hoster",
                Some(ScriptKind::Connection) => "connection",
                None => "hooks",
            }
            .to_owned(),
            version: meta.map(|m| m.version.clone()).unwrap_or_default(),
            hooks: self
                .active
                .as_ref()
                .map(|s| s.hooks().into_iter().map(str::to_owned).collect())
                .unwrap_or_default(),
            active: self.active.is_some(),
            error: self.error.as_ref().map(ScriptProblem::from),
        }
    }
}

struct Inner {
    runtime: Arc<ScriptRuntime>,
    registry: Registry,
    dir: PathBuf,
    scripts: RwLock<Vec<ScriptEntry>>,
    /// Names registered into the registry by the last sync: (is_provider, id).
    registered: Mutex<BTreeSet<(bool, String)>>,
    callbacks: RwLock<Option<CallbackManager>>,
    hook_queue: Mutex<Option<mpsc::Sender<(&'static str, Map)>>>,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
    reloading: Mutex<()>,
}

/// Loads, lists, reloads and runs scripts.
#[derive(Clone)]
pub struct ScriptHost {
    inner: Arc<Inner>,
}

impl ScriptHost {
    /// `client` is the shared HTTP client scripts' requests go through (redirects are followed by
    /// the host function itself, each hop checked against the script's declared hosts, so give it
    /// `redirect::Policy::none()`).
    pub fn new(
        registry: Registry,
        config: ScriptHostConfig,
        client: reqwest::Client,
    ) -> std::io::Result<ScriptHost> {
        let runtime = ScriptRuntime::new(
            &config.dir,
            config.limits.clone(),
            config.settings.clone(),
            client,
        )?;
        Ok(ScriptHost {
            inner: Arc::new(Inner {
                runtime: Arc::new(runtime),
                registry,
                dir: config.dir,
                scripts: RwLock::new(Vec::new()),
                registered: Mutex::new(BTreeSet::new()),
                callbacks: RwLock::new(None),
                hook_queue: Mutex::new(None),
                watcher: Mutex::new(None),
                reloading: Mutex::new(()),
            }),
        })
    }

    /// A client suitable for [`new`](Self::new): browser-like, no automatic redirects.
    pub fn default_client() -> reqwest::Client {
        Self::client_with(&aniworld_core::config::NetworkConfig::default())
            .expect("a client without a proxy builds")
    }

    /// [`default_client`](Self::default_client) through `network.proxy` (script providers and
    /// hosters are site traffic too). The error names the key when the proxy URL is unusable.
    pub fn client_with(
        network: &aniworld_core::config::NetworkConfig,
    ) -> aniworld_core::Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            .user_agent(aniworld_core::http::USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10));
        if let Some(proxy) =
            aniworld_core::network::ProxySetting::parse("network.proxy", &network.proxy)?
        {
            builder = builder.proxy(proxy.to_reqwest()?);
        }
        builder
            .build()
            .map_err(|e| aniworld_core::Error::Http(format!("cannot build the script client: {e}")))
    }

    pub fn runtime(&self) -> &Arc<ScriptRuntime> {
        &self.inner.runtime
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// [`reload_blocking`](Self::reload_blocking) off the async runtime.
    pub async fn reload(&self) -> Vec<ScriptStatus> {
        let host = self.clone();
        match tokio::task::spawn_blocking(move || host.reload_blocking()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "script reload task failed");
                self.statuses()
            }
        }
    }

    /// Compiles new and changed files; keeps the previous good version of a file that no longer
    /// compiles; drops files that are gone; syncs the registry.
    pub fn reload_blocking(&self) -> Vec<ScriptStatus> {
        let _one_at_a_time = self.inner.reloading.lock().expect("reload lock");
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&self.inner.dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "rhai"))
                .collect(),
            Err(e) => {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(dir = %self.inner.dir.display(), error = %e, "cannot read scripts dir");
                }
                Vec::new()
            }
        };
        files.sort();
        let mut previous: Vec<ScriptEntry> =
            std::mem::take(&mut *self.inner.scripts.write().expect("scripts lock"));
        let mut next = Vec::new();
        for path in files {
            let file = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let old = previous
                .iter()
                .position(|e| e.path == path)
                .map(|i| previous.swap_remove(i));
            let source = match std::fs::read_to_string(&path) {
                Ok(s) => s,
                Err(e) => {
                    let error = ScriptError::Invalid {
                        file: file.clone(),
                        message: format!("cannot read: {e}"),
                    };
                    next.push(ScriptEntry {
                        file,
                        path,
                        active: old.and_then(|o| o.active),
                        last_source: String::new(),
                        error: Some(error),
                    });
                    continue;
                }
            };
            if let Some(old) = old.as_ref().filter(|o| o.last_source == source) {
                next.push(ScriptEntry {
                    file,
                    path,
                    active: old.active.clone(),
                    last_source: source,
                    error: old.error.clone(),
                });
                continue;
            }
            let entry = match self.inner.runtime.compile(&file, &path, &source) {
                Ok(script) => {
                    tracing::info!(script = %file, "script loaded");
                    ScriptEntry {
                        file,
                        path,
                        active: Some(Arc::new(script)),
                        last_source: source,
                        error: None,
                    }
                }
                Err(error) => {
                    tracing::error!(script = %file, %error, "script rejected; previous version (if any) stays active");
                    ScriptEntry {
                        file,
                        path,
                        active: old.and_then(|o| o.active),
                        last_source: source,
                        error: Some(error),
                    }
                }
            };
            next.push(entry);
        }
        *self.inner.scripts.write().expect("scripts lock") = next;
        self.sync_registry();
        self.statuses()
    }

    fn active_scripts(&self) -> Vec<Arc<CompiledScript>> {
        self.inner
            .scripts
            .read()
            .expect("scripts lock")
            .iter()
            .filter_map(|e| e.active.clone())
            .collect()
    }

    fn sync_registry(&self) {
        let mut wanted = BTreeSet::new();
        let scripts = self.active_scripts();
        for s in &scripts {
            match s.meta.kind {
                Some(ScriptKind::Provider) => {
                    wanted.insert((true, s.meta.id.clone()));
                }
                Some(ScriptKind::Hoster) => {
                    wanted.insert((false, s.meta.name.to_ascii_lowercase()));
                }
                Some(ScriptKind::Connection) | None => {}
            }
        }
        let mut registered = self.inner.registered.lock().expect("registered lock");
        // Entries replace same-source entries in place; only a vanished name needs a full clear.
        if !registered.is_subset(&wanted) {
            self.inner.registry.unregister_source(Source::Script);
        }
        for s in scripts {
            let origin = Origin {
                source: Source::Script,
                version: s.meta.version.clone(),
                path: Some(s.path.display().to_string()),
            };
            match s.meta.kind {
                Some(ScriptKind::Provider) => self.inner.registry.register_provider(
                    Arc::new(ScriptProvider::new(self.inner.runtime.clone(), s.clone())),
                    origin,
                ),
                Some(ScriptKind::Hoster) => self.inner.registry.register_hoster(
                    Arc::new(ScriptHoster::new(self.inner.runtime.clone(), s.clone())),
                    origin,
                ),
                Some(ScriptKind::Connection) | None => {}
            }
        }
        *registered = wanted;
        drop(registered);
        let reports = self.statuses().into_iter().map(report_of).collect();
        self.inner.registry.report(Source::Script, reports);
    }

    /// Every script file seen by the last reload, in file-name order.
    pub fn statuses(&self) -> Vec<ScriptStatus> {
        self.inner
            .scripts
            .read()
            .expect("scripts lock")
            .iter()
            .map(ScriptEntry::status)
            .collect()
    }

    fn report_failure(&self, script: &CompiledScript, hook: &str, error: &str) {
        tracing::warn!(script = %script.file, hook, error, "hook failed");
        let callbacks = self.inner.callbacks.read().expect("callbacks lock").clone();
        if let Some(cb) = callbacks {
            cb.emit(Event::HookFailed {
                script: script.file.clone(),
                hook: hook.to_owned(),
                error: error.to_owned(),
            });
        }
    }

    /// Runs one hook in every script that defines it, in file-name order, on the current thread
    /// (which must not be an async worker). Failures are logged and emitted as `HookFailed`.
    pub fn run_hook_blocking(
        &self,
        hook: &str,
        event: &Map,
    ) -> Vec<(String, Result<Dynamic, ScriptError>)> {
        let mut out = Vec::new();
        for script in self
            .active_scripts()
            .into_iter()
            .filter(|s| s.defines(hook))
        {
            let result = self.inner.runtime.call(
                &script,
                hook,
                vec![Dynamic::from_map(event.clone())],
                true,
            );
            if let Err(e) = &result {
                self.report_failure(&script, hook, &e.to_string());
            }
            out.push((script.file.clone(), result));
        }
        out
    }

    /// The `before_download` decision, on the current (blocking) thread.
    pub fn before_download_blocking(
        &self,
        context: &EventContext,
        file_name: &str,
    ) -> HookDecision {
        let mut name = file_name.to_owned();
        let mut renamed = false;
        for script in self
            .active_scripts()
            .into_iter()
            .filter(|s| s.defines("before_download"))
        {
            let mut map = hooks::event_map("before_download", Some(context));
            map.insert("file_name".into(), name.clone().into());
            match self.inner.runtime.call(
                &script,
                "before_download",
                vec![Dynamic::from_map(map)],
                true,
            ) {
                Ok(v) if v.as_bool() == Ok(false) => {
                    tracing::info!(script = %script.file, key = %context.key, "before_download skipped the episode");
                    return HookDecision::Skip;
                }
                Ok(v) if v.is_string() => {
                    let new = v.to_string();
                    if hooks::valid_file_name(&new) {
                        name = new.trim().to_owned();
                        renamed = true;
                    } else {
                        self.report_failure(
                            &script,
                            "before_download",
                            &format!("returned {new:?}, which is not a plain file name"),
                        );
                    }
                }
                Ok(_) => {}
                Err(e) => self.report_failure(&script, "before_download", &e.to_string()),
            }
        }
        if renamed {
            HookDecision::Rename(name)
        } else {
            HookDecision::Continue
        }
    }

    /// Subscribes the notification hooks to events (run in order on one background thread, so a
    /// slow hook never slows the emitter) and keeps the manager to report `HookFailed`.
    pub fn attach(&self, callbacks: &CallbackManager) {
        *self.inner.callbacks.write().expect("callbacks lock") = Some(callbacks.clone());
        let (tx, rx) = mpsc::channel::<(&'static str, Map)>();
        *self.inner.hook_queue.lock().expect("hook queue lock") = Some(tx);
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("script-hooks".into())
            .spawn(move || {
                while let Ok((hook, map)) = rx.recv() {
                    let Some(inner) = weak.upgrade() else { return };
                    ScriptHost { inner }.run_hook_blocking(hook, &map);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the hook thread; hooks will not run");
            return;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        callbacks.on_event(move |event| {
            let Some(inner) = weak.upgrade() else { return };
            let Some((hook, map)) = hooks::hook_for(event) else {
                return;
            };
            let wanted = inner
                .scripts
                .read()
                .expect("scripts lock")
                .iter()
                .any(|e| e.active.as_ref().is_some_and(|s| s.defines(hook)));
            if !wanted {
                return;
            }
            if let Some(tx) = inner.hook_queue.lock().expect("hook queue lock").as_ref() {
                let _ = tx.send((hook, map));
            }
        });
    }

    /// Reloads when files in the scripts folder change (debounced).
    pub fn watch(&self) -> notify::Result<()> {
        use notify::Watcher;
        std::fs::create_dir_all(&self.inner.dir).map_err(notify::Error::io)?;
        let (tx, rx) = mpsc::channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if res.is_ok() {
                    let _ = tx.send(());
                }
            })?;
        watcher.watch(&self.inner.dir, notify::RecursiveMode::NonRecursive)?;
        *self.inner.watcher.lock().expect("watcher lock") = Some(watcher);
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        std::thread::Builder::new()
            .name("script-watch".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    // Editors write in several steps: wait for the burst to end.
                    std::thread::sleep(Duration::from_millis(200));
                    while rx.try_recv().is_ok() {}
                    let Some(inner) = weak.upgrade() else { return };
                    ScriptHost { inner }.reload_blocking();
                }
            })
            .map_err(notify::Error::io)?;
        Ok(())
    }
}

#[async_trait]
impl DownloadHooks for ScriptHost {
    async fn before_download(&self, context: &EventContext, file_name: &str) -> HookDecision {
        let host = self.clone();
        let context = context.clone();
        let file_name = file_name.to_owned();
        tokio::task::spawn_blocking(move || host.before_download_blocking(&context, &file_name))
            .await
            .unwrap_or(HookDecision::Continue)
    }
}

/// What the listing says about one script file.
fn report_of(status: ScriptStatus) -> ComponentReport {
    let kind = match status.kind.as_str() {
        "provider" => ComponentKind::Provider,
        "hoster" => ComponentKind::Hoster,
        "connection" => ComponentKind::Connection,
        _ => ComponentKind::Hook,
    };
    ComponentReport {
        kind,
        id: status.id,
        name: status.name,
        version: status.version,
        path: status.path,
        usable: status.active,
        problem: status.error.map(|e| Problem {
            message: e.message,
            line: e.line.map(|l| l as u64),
        }),
        hooks: status.hooks,
    }
}
