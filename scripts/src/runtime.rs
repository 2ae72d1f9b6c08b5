//! Compiling script files and calling their functions inside the sandbox.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rhai::{AST, CallFnOptions, Dynamic, Engine, EvalAltResult, Map, Scope};
use serde::Serialize;

use crate::host_fns::{self, HttpAccess};
use crate::sandbox::{self, CallContext, CallScope, ScriptLimits, TIME_LIMIT_TOKEN};

/// Hook functions a script may define; each takes the event map.
pub const HOOK_NAMES: [&str; 5] = [
    "on_series_added",
    "before_download",
    "on_download_completed",
    "on_download_failed",
    "on_scan_completed",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScriptError {
    #[error("{file}:{line}: {message}", line = line.map_or("?".to_owned(), |l| l.to_string()))]
    Compile {
        file: String,
        line: Option<usize>,
        message: String,
    },
    #[error("{file}: {function} exceeded the time limit of {limit_ms} ms")]
    TimeLimit {
        file: String,
        function: String,
        limit_ms: u64,
    },
    #[error("{file}:{line}: {function}: {message}", line = line.map_or("?".to_owned(), |l| l.to_string()))]
    Runtime {
        file: String,
        function: String,
        line: Option<usize>,
        message: String,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

impl ScriptError {
    pub fn line(&self) -> Option<usize> {
        match self {
            ScriptError::Compile { line, .. } | ScriptError::Runtime { line, .. } => *line,
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScriptKind {
    Provider,
    Hoster,
    /// Handles connections of kind `script:<id>` with `fn send(connection, event)`.
    Connection,
}

/// What `fn meta()` declares. Scripts without `meta()` may only be hook scripts without network access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptMeta {
    pub kind: Option<ScriptKind>,
    /// Provider id or hoster name; defaults to the file stem.
    pub id: String,
    pub name: String,
    pub version: String,
    /// Hosts (and their subdomains) the script's HTTP calls may reach.
    pub allowed_hosts: Vec<String>,
    /// For hosters: domains for guessing the hoster from an embed URL.
    pub domains: Vec<String>,
}

/// A compiled script file: the AST is compiled once and reused for every call.
pub struct CompiledScript {
    pub file: String,
    pub path: PathBuf,
    pub source: String,
    pub ast: AST,
    pub meta: ScriptMeta,
    pub functions: BTreeSet<String>,
    context_name: Arc<str>,
    allowed: Arc<[String]>,
}

impl CompiledScript {
    pub fn defines(&self, function: &str) -> bool {
        self.functions.contains(function)
    }

    pub fn hooks(&self) -> Vec<&'static str> {
        HOOK_NAMES
            .iter()
            .copied()
            .filter(|h| self.defines(h))
            .collect()
    }
}

/// The engine (built once), its host functions and limits.
pub struct ScriptRuntime {
    engine: Engine,
    pub limits: ScriptLimits,
    /// Owned when the host was created outside a tokio runtime (benchmarks, tools).
    _own_runtime: Option<tokio::runtime::Runtime>,
}

fn string_list(value: Option<&Dynamic>) -> Vec<String> {
    value
        .and_then(|v| v.read_lock::<rhai::Array>().map(|a| a.clone()))
        .map(|a| {
            a.into_iter()
                .filter(|v| !v.is_unit())
                .map(|v| v.to_string())
                .collect()
        })
        .unwrap_or_default()
}

impl ScriptRuntime {
    pub fn new(
        scripts_dir: &Path,
        limits: ScriptLimits,
        settings: BTreeMap<String, String>,
        client: reqwest::Client,
    ) -> std::io::Result<ScriptRuntime> {
        let (runtime, own) = match tokio::runtime::Handle::try_current() {
            Ok(handle) => (handle, None),
            Err(_) => {
                // A current-thread runtime's handle cannot drive I/O from other threads.
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("scripts-http")
                    .enable_all()
                    .build()?;
                (rt.handle().clone(), Some(rt))
            }
        };
        let mut engine = sandbox::build_engine(scripts_dir, &limits);
        host_fns::register(
            &mut engine,
            Arc::new(HttpAccess {
                client,
                runtime,
                limits: limits.clone(),
            }),
            Arc::new(settings),
        );
        Ok(ScriptRuntime {
            engine,
            limits,
            _own_runtime: own,
        })
    }

    /// Compiles a file's text and reads its `meta()`.
    pub fn compile(
        &self,
        file: &str,
        path: &Path,
        source: &str,
    ) -> Result<CompiledScript, ScriptError> {
        let mut ast = self
            .engine
            .compile(source)
            .map_err(|e| ScriptError::Compile {
                file: file.to_owned(),
                line: e.position().line(),
                message: e.err_type().to_string(),
            })?;
        ast.set_source(file);
        let functions: BTreeSet<String> = ast.iter_functions().map(|f| f.name.to_owned()).collect();
        let stem = Path::new(file)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut script = CompiledScript {
            file: file.to_owned(),
            path: path.to_owned(),
            source: source.to_owned(),
            ast,
            meta: ScriptMeta {
                kind: None,
                id: stem.clone(),
                name: stem,
                version: "0.0.0".to_owned(),
                allowed_hosts: Vec::new(),
                domains: Vec::new(),
            },
            functions,
            context_name: Arc::from(file),
            allowed: Arc::from(Vec::new()),
        };
        if script.defines("meta") {
            let value = self.call(&script, "meta", Vec::new(), false)?;
            let map = value
                .try_cast::<Map>()
                .ok_or_else(|| ScriptError::Invalid {
                    file: file.to_owned(),
                    message: "meta() must return a map".to_owned(),
                })?;
            let text = |k: &str| map.get(k).filter(|v| !v.is_unit()).map(|v| v.to_string());
            let kind = match text("kind").as_deref() {
                None | Some("hooks") => None,
                Some("provider") => Some(ScriptKind::Provider),
                Some("hoster") => Some(ScriptKind::Hoster),
                Some("connection") => Some(ScriptKind::Connection),
                Some(other) => {
                    return Err(ScriptError::Invalid {
                        file: file.to_owned(),
                        message: format!(
                            "meta().kind {other:?} is not provider, hoster, connection or hooks"
                        ),
                    });
                }
            };
            let meta = &mut script.meta;
            meta.kind = kind;
            if let Some(id) = text("id") {
                meta.id = id;
            }
            meta.name = text("name").unwrap_or_else(|| meta.id.clone());
            if let Some(v) = text("version") {
                meta.version = v;
            }
            meta.allowed_hosts = string_list(map.get("allowed_hosts"));
            meta.domains = string_list(map.get("domains"));
            script.allowed = Arc::from(meta.allowed_hosts.clone());
        }
        let required: &[&str] = match script.meta.kind {
            Some(ScriptKind::Provider) => &["search", "series", "episode"],
            Some(ScriptKind::Hoster) => &["extract"],
            Some(ScriptKind::Connection) => &["send"],
            None => &[],
        };
        if let Some(missing) = required.iter().find(|f| !script.defines(f)) {
            return Err(ScriptError::Invalid {
                file: file.to_owned(),
                message: format!(
                    "declares itself a {:?} but has no fn {missing}",
                    script.meta.kind
                ),
            });
        }
        if script.meta.kind == Some(ScriptKind::Provider)
            && aniworld_core::SeriesKey::parse(&script.meta.id).is_err()
        {
            return Err(ScriptError::Invalid {
                file: file.to_owned(),
                message: format!("provider id {:?} is not [A-Za-z0-9-]", script.meta.id),
            });
        }
        if script.meta.kind == Some(ScriptKind::Connection)
            && !aniworld_core::connections::valid_script_id(&script.meta.id)
        {
            return Err(ScriptError::Invalid {
                file: file.to_owned(),
                message: format!(
                    "connection id {:?} is not [A-Za-z0-9_-] (at most 64)",
                    script.meta.id
                ),
            });
        }
        Ok(script)
    }

    /// Calls one function with the limits. `may_block` allows network host functions (only on
    /// threads outside the async runtime's workers).
    pub fn call(
        &self,
        script: &CompiledScript,
        function: &str,
        args: Vec<Dynamic>,
        may_block: bool,
    ) -> Result<Dynamic, ScriptError> {
        self.call_with_hosts(script, function, args, may_block, &[])
    }

    /// [`call`](Self::call) with `extra_hosts` reachable besides the declared ones (a connection
    /// script may reach the URL its connection is configured with).
    pub fn call_with_hosts(
        &self,
        script: &CompiledScript,
        function: &str,
        args: Vec<Dynamic>,
        may_block: bool,
        extra_hosts: &[String],
    ) -> Result<Dynamic, ScriptError> {
        let allowed_hosts = if extra_hosts.is_empty() {
            script.allowed.clone()
        } else {
            script
                .allowed
                .iter()
                .chain(extra_hosts)
                .cloned()
                .collect::<Vec<_>>()
                .into()
        };
        let _scope_guard = CallScope::enter(CallContext {
            script: script.context_name.clone(),
            allowed_hosts,
            may_block,
            deadline: Instant::now() + self.limits.time_limit,
        });
        let mut scope = Scope::new();
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        self.engine
            .call_fn_with_options::<Dynamic>(options, &mut scope, &script.ast, function, args)
            .map_err(|e| self.map_error(script, function, *e))
    }

    fn map_error(&self, script: &CompiledScript, function: &str, e: EvalAltResult) -> ScriptError {
        if let EvalAltResult::ErrorTerminated(token, _) = &e
            && token.to_string() == TIME_LIMIT_TOKEN
        {
            return ScriptError::TimeLimit {
                file: script.file.clone(),
                function: function.to_owned(),
                limit_ms: self.limits.time_limit.as_millis() as u64,
            };
        }
        // The innermost error carries the useful message and line.
        let mut inner = &e;
        while let EvalAltResult::ErrorInFunctionCall(_, _, next, _) = inner {
            inner = next;
        }
        if let EvalAltResult::ErrorTerminated(token, _) = inner
            && token.to_string() == TIME_LIMIT_TOKEN
        {
            return ScriptError::TimeLimit {
                file: script.file.clone(),
                function: function.to_owned(),
                limit_ms: self.limits.time_limit.as_millis() as u64,
            };
        }
        ScriptError::Runtime {
            file: script.file.clone(),
            function: function.to_owned(),
            line: inner.position().line().or(e.position().line()),
            message: inner.to_string(),
        }
    }
}
