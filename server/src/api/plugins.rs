//! `/api/plugins`: what is loaded (built-in, native, script providers/hosters and hook scripts),
//! with version, source and status or error; and reloading plugins and scripts.

use std::collections::BTreeMap;

use aniworld_core::network::{DownState, SiteState};
use aniworld_core::registry::{ComponentKind, ComponentStatus, Source};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};

use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::error::{ApiResult, Errors, can};

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
    /// Built-in provider sites: the base URL in use (the configured one, or the mirror that
    /// answered last).
    pub base_url: Option<String>,
    /// Built-in provider sites: the configured base URL followed by the mirrors.
    pub base_urls: Vec<String>,
    /// Built-in provider sites: the proxy in use (password hidden).
    pub proxy: Option<String>,
    /// Set while the site or hoster is down: why, and when it is asked again.
    pub down: Option<DownInfo>,
}

/// A site or hoster that failed several times in a row and is left alone for a while.
#[derive(Debug, Clone, Object)]
pub struct DownInfo {
    pub error: String,
    pub retry_in_secs: u64,
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
        ComponentKind::Connection => PluginKind::Connection,
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

/// The registry's listing, as the API shows it, with the network state of sites and hosters.
fn list(state: &AppState) -> PluginList {
    let ext = state.extensions();
    let sites: BTreeMap<String, SiteState> = state
        .network()
        .sites()
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let hosters_down: BTreeMap<String, DownState> = state
        .network()
        .hosters_down()
        .into_iter()
        .map(|d| (d.name.to_ascii_lowercase(), d))
        .collect();
    let down_info = |d: &DownState| DownInfo {
        error: d.reason.clone(),
        retry_in_secs: d.retry_in_secs,
    };
    PluginList {
        abi_version: aniworld_plugins::PluginHost::abi_version(),
        plugins_dir: ext.plugins.dir().display().to_string(),
        scripts_dir: ext.scripts.as_ref().map(|s| s.dir().display().to_string()),
        items: state
            .registry()
            .components()
            .into_iter()
            .map(|c| {
                let builtin_site = (c.kind == ComponentKind::Provider
                    && c.source == Source::Builtin)
                    .then(|| sites.get(&c.id))
                    .flatten();
                let down = match c.kind {
                    ComponentKind::Provider => {
                        builtin_site.and_then(|s| s.down.as_ref()).map(down_info)
                    }
                    ComponentKind::Hoster => {
                        hosters_down.get(&c.id.to_ascii_lowercase()).map(down_info)
                    }
                    _ => None,
                };
                PluginEntry {
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
                    base_url: builtin_site.map(|s| s.base_url.clone()),
                    base_urls: builtin_site
                        .map(|s| s.base_urls.clone())
                        .unwrap_or_default(),
                    proxy: builtin_site.and_then(|s| s.proxy.clone()),
                    down,
                }
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
    async fn list(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<PluginList>, Errors<{ can::NOTHING }>> {
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
    ) -> ApiResult<Json<PluginList>, Errors<{ can::NOTHING }>> {
        state.extensions().reload().await;
        Ok(Json(list(&state)))
    }
}
