//! `/api/plugins`: what is loaded (built-in, native, script providers/hosters and hook scripts),
//! with version, source and status or error; and reloading plugins and scripts.

use aniworld_core::registry::{ComponentKind, ComponentStatus, Source};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::error::ApiResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum PluginKind {
    Provider,
    Hoster,
    Hook,
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
        ComponentKind::Unknown => PluginKind::Unknown,
    }
}

fn source_of(s: Source) -> PluginSource {
    match s {
        Source::Builtin => PluginSource::Builtin,
        Source::Native => PluginSource::Native,
        Source::Script => PluginSource::Script,
    }
}

fn status_of(s: ComponentStatus) -> PluginStatusKind {
    match s {
        ComponentStatus::Active => PluginStatusKind::Active,
        ComponentStatus::Overridden => PluginStatusKind::Overridden,
        ComponentStatus::Disabled => PluginStatusKind::Disabled,
        ComponentStatus::Error => PluginStatusKind::Error,
    }
}

/// The registry's listing, as the API shows it.
fn list(state: &AppState) -> PluginList {
    let ext = state.extensions();
    PluginList {
        abi_version: aniworld_plugins::PluginHost::abi_version(),
        plugins_dir: ext.plugins.dir().display().to_string(),
        scripts_dir: ext.scripts.as_ref().map(|s| s.dir().display().to_string()),
        items: state
            .registry()
            .components()
            .into_iter()
            .map(|c| PluginEntry {
                id: c.id,
                name: c.name,
                kind: kind_of(c.kind),
                source: source_of(c.source),
                version: c.version,
                path: c.path,
                status: status_of(c.status),
                error: c.problem.as_ref().map(|p| p.message.clone()),
                line: c.problem.and_then(|p| p.line),
                hooks: c.hooks,
            })
            .collect(),
    }
}

pub struct PluginsApi;

#[OpenApi(prefix_path = "/api/plugins", tag = "ApiTags::Plugins")]
impl PluginsApi {
    /// Every provider, hoster and hook script: built-in, native plugin or rhai script, with
    /// version, source and status (active, overridden, disabled with the reason, or a script error
    /// with file and line).
    #[oai(path = "/", method = "get", operation_id = "plugins_list")]
    async fn list(&self, _auth: BearerAuth, state: Data<&AppState>) -> ApiResult<Json<PluginList>> {
        Ok(Json(list(&state)))
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
        state.extensions().reload().await;
        Ok(Json(list(&state)))
    }
}
