//! The one sandboxed rhai engine: explicit limits, a per-call wall-clock limit, no `eval`, module
//! imports only from the scripts folder, `print`/`debug` into `tracing`.
//!
//! Per-call state (which script runs, which hosts it may reach, its deadline) lives in a
//! thread-local set by [`CallScope`]: rhai runs a call on the calling thread.

use std::cell::RefCell;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::module_resolvers::FileModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Module, ModuleResolver, Position, Shared};

/// Limits of one script call. Debug and release builds of rhai default differently, so every
/// limit is set explicitly.
#[derive(Debug, Clone)]
pub struct ScriptLimits {
    pub max_operations: u64,
    pub time_limit: Duration,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
    pub max_function_expr_depth: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub max_map_size: usize,
    pub max_variables: usize,
    pub max_modules: usize,
    /// Timeout of one HTTP request made by a script (the wall-clock limit cannot interrupt it).
    pub http_timeout: Duration,
    /// Largest HTTP response body a script receives.
    pub max_http_body: usize,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            max_operations: 5_000_000,
            time_limit: Duration::from_millis(1_000),
            max_call_levels: 32,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 8 * 1024 * 1024,
            max_array_size: 100_000,
            max_map_size: 10_000,
            max_variables: 1_000,
            max_modules: 16,
            http_timeout: Duration::from_secs(15),
            max_http_body: 8 * 1024 * 1024,
        }
    }
}

/// What the currently running call may do.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub script: Arc<str>,
    pub allowed_hosts: Arc<[String]>,
    /// Whether host functions may block on network I/O (false on async worker threads).
    pub may_block: bool,
    pub deadline: Instant,
}

thread_local! {
    static CURRENT: RefCell<Option<CallContext>> = const { RefCell::new(None) };
}

/// Installs a call context for the duration of a call (restores the previous one after, so
/// nested calls from host functions stay correct).
pub struct CallScope {
    previous: Option<CallContext>,
}

impl CallScope {
    pub fn enter(ctx: CallContext) -> CallScope {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(ctx));
        CallScope { previous }
    }
}

impl Drop for CallScope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The running call's context, if any.
pub fn current() -> Option<CallContext> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Time spent blocked in a host function does not count against the script's wall-clock limit.
pub fn extend_deadline(by: Duration) {
    CURRENT.with(|c| {
        if let Some(ctx) = c.borrow_mut().as_mut() {
            ctx.deadline += by;
        }
    });
}

fn script_name() -> String {
    current()
        .map(|c| c.script.to_string())
        .unwrap_or_else(|| "?".to_owned())
}

/// Value `on_progress` returns to stop a script that ran out of time.
pub const TIME_LIMIT_TOKEN: &str = "time limit exceeded";

/// Imports resolve only to `*.rhai` files inside the scripts folder.
struct ScriptsFolderResolver {
    dir: PathBuf,
    inner: FileModuleResolver,
}

impl ModuleResolver for ScriptsFolderResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let relative = Path::new(path);
        let plain = !path.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/'));
        if !plain {
            return Err(Box::new(EvalAltResult::ErrorModuleNotFound(
                format!("{path} (imports are plain names inside the scripts folder)"),
                pos,
            )));
        }
        let file = self.dir.join(format!("{path}.rhai"));
        let inside = file
            .canonicalize()
            .ok()
            .zip(self.dir.canonicalize().ok())
            .is_some_and(|(f, d)| f.starts_with(d));
        if !inside {
            return Err(Box::new(EvalAltResult::ErrorModuleNotFound(
                path.to_owned(),
                pos,
            )));
        }
        // The imported file is reported relative to the scripts folder, never as an absolute path.
        let _ = source;
        self.inner.resolve(engine, None, path, pos)
    }
}

/// Builds the engine. Host functions are registered by the caller.
pub fn build_engine(scripts_dir: &Path, limits: &ScriptLimits) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_variables(limits.max_variables)
        .set_max_modules(limits.max_modules);
    engine.disable_symbol("eval");
    engine.set_module_resolver(ScriptsFolderResolver {
        dir: scripts_dir.to_owned(),
        inner: FileModuleResolver::new_with_path(scripts_dir),
    });
    engine.on_progress(|ops| {
        // Reading the clock every operation is measurable; every 256th is plenty for a 1 s limit.
        if ops & 0xFF != 0 {
            return None;
        }
        let expired = CURRENT.with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|ctx| Instant::now() >= ctx.deadline)
        });
        expired.then(|| Dynamic::from(TIME_LIMIT_TOKEN))
    });
    engine.on_print(|text| {
        tracing::info!(script = %script_name(), "{text}");
    });
    engine.on_debug(|text, _source, pos| {
        tracing::debug!(script = %script_name(), line = pos.line(), "{text}");
    });
    engine
}
