//! `/api/plugins`: what is loaded (built-in, native, script providers/hosters and hook scripts),
//! with version, source and status or error; and reloading plugins and scripts.

use std::collections::BTreeMap;

use aniworld_core::registry::{ComponentKind, Source};
use aniworld_plugins::{PluginState, PluginStatus};
use aniworld_scripts::ScriptStatus;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum PluginKind {
    Provider,
    Hoster,
    Hook,
    /// A connection script (handles `script:<id>` connections).
    Connection,
    /// A native library that never said what it is (it failed before its metadata).
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum PluginSource {
    Builtin,
    Native,
    Script,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum PluginStatusKind {
    /// In use.
    Active,
    /// Loaded, but an entry of the same name from a higher-priority source (script > native >
    /// built-in) is used instead.
    Overridden,
    /// A native plugin switched off for misbehaving (wrong ABI, panic, invalid JSON, timeout).
    Disabled,
    /// A script that has no good version (compile or load error).
    Error,
}

/// One provider, hoster or hook script.
#[derive(Debug, Clone, Object)]
pub struct PluginEntry {
    /// Provider id, hoster name, or (hook scripts, unknown libraries) the file stem.
    pub id: String,
    pub name: String,
    pub kind: PluginKind,
    pub source: PluginSource,
    pub version: String,
    /// Library or script file, if any.
    pub path: Option<String>,
    pub status: PluginStatusKind,
    /// Why it is disabled, or the latest problem of a script (even when an older good version is
    /// still active).
    pub error: Option<String>,
    /// Line of a script error, when known.
    pub line: Option<u64>,
    /// Hook functions a script defines.
    pub hooks: Vec<String>,
}

#[derive(Debug, Object)]
pub struct PluginList {
    /// The C ABI version native plugins must target.
    pub abi_version: u32,
    pub plugins_dir: String,
    pub scripts_dir: Option<String>,
    pub items: Vec<PluginEntry>,
}

fn kind_of(k: ComponentKind) -> PluginKind {
    match k {
        ComponentKind::Provider => PluginKind::Provider,
        ComponentKind::Hoster => PluginKind::Hoster,
        ComponentKind::Hook => PluginKind::Hook,
    }
}

fn source_of(s: Source) -> PluginSource {
    match s {
        Source::Builtin => PluginSource::Builtin,
        Source::Native => PluginSource::Native,
        Source::Script => PluginSource::Script,
    }
}

fn kind_named(k: &str) -> PluginKind {
    match k {
        "provider" => PluginKind::Provider,
        "hoster" => PluginKind::Hoster,
        "hooks" => PluginKind::Hook,
        "connection" => PluginKind::Connection,
        _ => PluginKind::Unknown,
    }
}

/// Registry rows first (everything usable), then what the registry cannot show: disabled native
/// plugins, hook scripts and scripts without a good version.
fn listing(
    state: &AppState,
    natives: &[PluginStatus],
    scripts: &[ScriptStatus],
) -> Vec<PluginEntry> {
    let native_by_path: BTreeMap<&str, &PluginStatus> =
        natives.iter().map(|p| (p.path.as_str(), p)).collect();
    let script_by_path: BTreeMap<&str, &ScriptStatus> =
        scripts.iter().map(|s| (s.path.as_str(), s)).collect();
    let mut items = Vec::new();
    for c in state.registry().components() {
        let path = c.origin.path.clone();
        let native = path.as_deref().and_then(|p| native_by_path.get(p));
        let script = path.as_deref().and_then(|p| script_by_path.get(p));
        let name = native
            .map(|n| n.name.clone())
            .or_else(|| script.map(|s| s.name.clone()))
            .unwrap_or_else(|| c.id.clone());
        let problem = script.and_then(|s| s.error.clone());
        items.push(PluginEntry {
            id: c.id.clone(),
            name,
            kind: kind_of(c.kind),
            source: source_of(c.origin.source),
            version: c.origin.version.clone(),
            path,
            status: if c.active {
                PluginStatusKind::Active
            } else {
                PluginStatusKind::Overridden
            },
            error: problem.as_ref().map(|p| p.message.clone()),
            line: problem.and_then(|p| p.line).map(|l| l as u64),
            hooks: script.map(|s| s.hooks.clone()).unwrap_or_default(),
        });
    }
    for p in natives {
        let PluginState::Disabled { reason } = &p.state else {
            continue;
        };
        let kinds: Vec<PluginKind> = if p.kinds.is_empty() {
            vec![PluginKind::Unknown]
        } else {
            p.kinds.iter().map(|k| kind_named(k)).collect()
        };
        for kind in kinds {
            items.push(PluginEntry {
                id: p.id.clone(),
                name: p.name.clone(),
                kind,
                source: PluginSource::Native,
                version: p.version.clone(),
                path: Some(p.path.clone()),
                status: PluginStatusKind::Disabled,
                error: Some(reason.clone()),
                line: None,
                hooks: Vec::new(),
            });
        }
    }
    for s in scripts {
        // Hook and connection scripts are not in the registry.
        let hook_script = matches!(s.kind.as_str(), "hooks" | "connection");
        if s.active && !hook_script {
            continue; // listed from the registry above
        }
        items.push(PluginEntry {
            id: s.id.clone(),
            name: s.name.clone(),
            kind: kind_named(&s.kind),
            source: PluginSource::Script,
            version: s.version.clone(),
            path: Some(s.path.clone()),
            status: if s.active {
                PluginStatusKind::Active
            } else {
                PluginStatusKind::Error
            },
            error: s.error.as_ref().map(|e| e.message.clone()),
            line: s.error.as_ref().and_then(|e| e.line).map(|l| l as u64),
            hooks: s.hooks.clone(),
        });
    }
    items
}

fn list(state: &AppState, natives: &[PluginStatus], scripts: &[ScriptStatus]) -> PluginList {
    let ext = state.extensions();
    PluginList {
        abi_version: aniworld_plugin_sdk_abi(),
        plugins_dir: ext
            .map(|e| e.plugins.dir().display().to_string())
            .unwrap_or_default(),
        scripts_dir: ext
            .and_then(|e| e.scripts.as_ref())
            .map(|s| s.dir().display().to_string()),
        items: listing(state, natives, scripts),
    }
}

fn aniworld_plugin_sdk_abi() -> u32 {
    aniworld_plugins::PluginHost::abi_version()
}

pub struct PluginsApi;

#[OpenApi(prefix_path = "/api/plugins", tag = "ApiTags::Plugins")]
impl PluginsApi {
    /// Every provider, hoster and hook script: built-in, native plugin or rhai script, with
    /// version, source and status (active, overridden, disabled with the reason, or a script error
    /// with file and line).
    #[oai(path = "/", method = "get", operation_id = "plugins_list")]
    async fn list(&self, _auth: BearerAuth, state: Data<&AppState>) -> ApiResult<Json<PluginList>> {
        let ext = state
            .extensions()
            .ok_or_else(|| ApiError::unavailable("plugins are still loading"))?;
        let natives = ext.plugins.statuses();
        let scripts = ext
            .scripts
            .as_ref()
            .map(|s| s.statuses())
            .unwrap_or_default();
        Ok(Json(list(&state, &natives, &scripts)))
    }

    /// Loads new or changed plugin libraries and recompiles changed scripts (a script that no
    /// longer compiles keeps its previous good version and reports the error). Returns the new
    /// listing.
    #[oai(path = "/reload", method = "post", operation_id = "plugins_reload")]
    async fn reload(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<PluginList>> {
        let ext = state
            .extensions()
            .ok_or_else(|| ApiError::unavailable("plugins are still loading"))?;
        let (natives, scripts) = ext.reload().await;
        Ok(Json(list(&state, &natives, &scripts)))
    }
}
