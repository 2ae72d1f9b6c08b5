//! The only way the rest of the code reaches providers and hosters.
//!
//! Entries come from three sources. When two entries share an id/name, the one from the
//! higher-priority source wins (script > native > built-in): that is how a user fixes a broken
//! built-in hoster by dropping in a script.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::traits::{Hoster, Provider};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Builtin,
    Native,
    Script,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    Provider,
    Hoster,
    /// A hook script (runs on events, registers nothing).
    Hook,
    /// A connection script (sends the events of `connections` entries of kind `script:<id>`).
    Connection,
    /// A native library that failed before it said what it is.
    Unknown,
}

/// Whether a listed component is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentStatus {
    /// In use.
    Active,
    /// Loaded, but an entry of the same name from a higher-priority source is used instead.
    Overridden,
    /// A native plugin switched off for misbehaving (wrong ABI, panic, invalid JSON, timeout).
    Disabled,
    /// A script without a good version (compile or load error).
    Error,
}

/// A problem the plugin or script layer found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub message: String,
    /// Line of a script error, when known.
    pub line: Option<u64>,
}

/// What the plugin or script layer says about one file it loaded (or could not): merged with
/// the registered providers and hosters into [`Registry::components`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentReport {
    pub kind: ComponentKind,
    /// Provider id, hoster name, or (hook scripts, unknown libraries) the file stem.
    pub id: String,
    pub name: String,
    pub version: String,
    pub path: String,
    /// Whether a good version of it is in use (registered, or a hook script that runs).
    pub usable: bool,
    /// Why it is not usable, or the latest version's problem while an older one is in use.
    pub problem: Option<Problem>,
    /// Hook functions a script defines.
    pub hooks: Vec<String>,
}

/// One row of the listing of everything the registry knows (`GET /api/plugins`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    pub id: String,
    pub name: String,
    pub kind: ComponentKind,
    pub source: Source,
    pub version: String,
    /// Library or script file, if any.
    pub path: Option<String>,
    pub status: ComponentStatus,
    pub problem: Option<Problem>,
    pub hooks: Vec<String>,
}

/// Where a registered component came from, for listings (`GET /api/plugins`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub source: Source,
    pub version: String,
    /// File it was loaded from (native library or script), if any.
    pub path: Option<String>,
}

impl Origin {
    pub fn builtin() -> Self {
        Origin {
            source: Source::Builtin,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            path: None,
        }
    }
}

struct Entry<T: ?Sized> {
    origin: Origin,
    item: Arc<T>,
}

#[derive(Default)]
struct Inner {
    /// id → entries from different sources.
    providers: BTreeMap<String, Vec<Entry<dyn Provider>>>,
    /// lowercase name → entries from different sources.
    hosters: BTreeMap<String, Vec<Entry<dyn Hoster>>>,
    /// What each extension layer said about its files at its last (re)load.
    reports: BTreeMap<Source, Vec<ComponentReport>>,
}

#[derive(Default, Clone)]
pub struct Registry {
    inner: Arc<RwLock<Inner>>,
}

fn pick<T: ?Sized>(entries: &[Entry<T>]) -> Option<&Entry<T>> {
    entries.iter().max_by_key(|e| e.origin.source)
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces the entry of the same source for) a provider.
    pub fn register_provider(&self, provider: Arc<dyn Provider>, origin: Origin) {
        let id = provider.id().to_owned();
        let mut inner = self.inner.write().expect("registry lock poisoned");
        let entries = inner.providers.entry(id).or_default();
        entries.retain(|e| e.origin.source != origin.source);
        entries.push(Entry {
            origin,
            item: provider,
        });
    }

    pub fn register_hoster(&self, hoster: Arc<dyn Hoster>, origin: Origin) {
        let name = hoster.name().to_ascii_lowercase();
        let mut inner = self.inner.write().expect("registry lock poisoned");
        let entries = inner.hosters.entry(name).or_default();
        entries.retain(|e| e.origin.source != origin.source);
        entries.push(Entry {
            origin,
            item: hoster,
        });
    }

    /// Removes every provider and hoster of a source (used before reloading scripts or plugins).
    pub fn unregister_source(&self, source: Source) {
        let mut inner = self.inner.write().expect("registry lock poisoned");
        for entries in inner.providers.values_mut() {
            entries.retain(|e| e.origin.source != source);
        }
        for entries in inner.hosters.values_mut() {
            entries.retain(|e| e.origin.source != source);
        }
        inner.providers.retain(|_, v| !v.is_empty());
        inner.hosters.retain(|_, v| !v.is_empty());
    }

    pub fn provider(&self, id: &str) -> Result<Arc<dyn Provider>> {
        let inner = self.inner.read().expect("registry lock poisoned");
        inner
            .providers
            .get(id)
            .and_then(|v| pick(v))
            .map(|e| e.item.clone())
            .ok_or_else(|| Error::NotFound(format!("provider {id:?}")))
    }

    /// [`Registry::provider`], with an error that lists the providers there are.
    pub fn provider_or_list(&self, id: &str) -> Result<Arc<dyn Provider>> {
        self.provider(id).map_err(|_| {
            let known: Vec<String> = self.providers().iter().map(|p| p.id().to_owned()).collect();
            Error::NotFound(format!(
                "unknown or disabled site {id:?} (available: {})",
                known.join(", ")
            ))
        })
    }

    /// The provider a series link belongs to (`site`, or the first that recognises it) and the
    /// series key in it. Links may be paths (`/anime/stream/{key}`), full URLs or bare keys.
    pub fn series_of_link(
        &self,
        link: &str,
        site: Option<&str>,
    ) -> Result<(Arc<dyn Provider>, crate::model::SeriesKey)> {
        let providers = match site {
            Some(s) => vec![self.provider_or_list(s)?],
            None => self.providers(),
        };
        providers
            .iter()
            .find_map(|p| p.key_from_link(link).map(|k| (p.clone(), k)))
            // A well-formed text that names no series anywhere: nothing is at that link.
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "a series at link {:?}: it is not a series link of any provider",
                    link.chars().take(200).collect::<String>()
                ))
            })
    }

    pub fn providers(&self) -> Vec<Arc<dyn Provider>> {
        let inner = self.inner.read().expect("registry lock poisoned");
        inner
            .providers
            .values()
            .filter_map(|v| pick(v).map(|e| e.item.clone()))
            .collect()
    }

    pub fn hoster(&self, name: &str) -> Result<Arc<dyn Hoster>> {
        let inner = self.inner.read().expect("registry lock poisoned");
        inner
            .hosters
            .get(&name.to_ascii_lowercase())
            .and_then(|v| pick(v))
            .map(|e| e.item.clone())
            .ok_or_else(|| Error::NotFound(format!("hoster {name:?}")))
    }

    pub fn hosters(&self) -> Vec<Arc<dyn Hoster>> {
        let inner = self.inner.read().expect("registry lock poisoned");
        inner
            .hosters
            .values()
            .filter_map(|v| pick(v).map(|e| e.item.clone()))
            .collect()
    }

    /// Guesses the hoster from an embed URL's host (`voe.sx`, a mirror `*.voe.sx`, ...).
    pub fn hoster_for_url(&self, url: &str) -> Option<Arc<dyn Hoster>> {
        let host = url::Url::parse(url).ok()?.host_str()?.to_ascii_lowercase();
        self.hosters().into_iter().find(|h| {
            h.domains().iter().any(|d| {
                let d = d.to_ascii_lowercase();
                host == d || host.ends_with(&format!(".{d}"))
            })
        })
    }

    /// Replaces what the `source` layer says about its files (after each load or reload).
    pub fn report(&self, source: Source, reports: Vec<ComponentReport>) {
        let mut inner = self.inner.write().expect("registry lock poisoned");
        inner.reports.insert(source, reports);
    }

    /// Everything the registry knows: registered providers and hosters (overridden ones
    /// included), hook scripts, and files that could not be used, with the reason.
    pub fn components(&self) -> Vec<Component> {
        let inner = self.inner.read().expect("registry lock poisoned");
        // A file gives at most one entry of each kind.
        let report_of = |source: Source, path: Option<&str>, kind: ComponentKind| {
            let path = path?;
            inner
                .reports
                .get(&source)?
                .iter()
                .find(|r| r.path == path && r.kind == kind)
        };
        let mut out = Vec::new();
        let mut matched: Vec<(Source, String, ComponentKind)> = Vec::new();
        let registered = listing(&inner.providers, ComponentKind::Provider, |p| {
            p.name().to_owned()
        })
        .into_iter()
        .chain(listing(&inner.hosters, ComponentKind::Hoster, |h| {
            h.name().to_owned()
        }));
        for (kind, id, name, origin, active) in registered {
            let report = report_of(origin.source, origin.path.as_deref(), kind);
            if let Some(r) = report {
                matched.push((origin.source, r.path.clone(), kind));
            }
            out.push(Component {
                id,
                name: report.map_or(name, |r| r.name.clone()),
                kind,
                source: origin.source,
                version: origin.version.clone(),
                path: origin.path.clone(),
                status: if active {
                    ComponentStatus::Active
                } else {
                    ComponentStatus::Overridden
                },
                problem: report.and_then(|r| r.problem.clone()),
                hooks: report.map(|r| r.hooks.clone()).unwrap_or_default(),
            });
        }
        for (source, reports) in &inner.reports {
            for r in reports {
                let seen = matched
                    .iter()
                    .any(|(s, path, kind)| s == source && *path == r.path && *kind == r.kind);
                if seen
                    || (r.usable
                        && !matches!(r.kind, ComponentKind::Hook | ComponentKind::Connection))
                {
                    continue;
                }
                out.push(Component {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    kind: r.kind,
                    source: *source,
                    version: r.version.clone(),
                    path: Some(r.path.clone()),
                    status: match (r.usable, source) {
                        (true, _) => ComponentStatus::Active,
                        (false, Source::Native) => ComponentStatus::Disabled,
                        (false, _) => ComponentStatus::Error,
                    },
                    problem: r.problem.clone(),
                    hooks: r.hooks.clone(),
                });
            }
        }
        out
    }
}

/// (kind, id, name, origin, active) of every entry of a map, overridden ones included.
fn listing<T: ?Sized>(
    map: &BTreeMap<String, Vec<Entry<T>>>,
    kind: ComponentKind,
    name: impl Fn(&T) -> String,
) -> Vec<(ComponentKind, String, String, Origin, bool)> {
    let mut out = Vec::new();
    for (id, entries) in map {
        let best = pick(entries).map(|e| e.origin.source);
        for e in entries {
            out.push((
                kind,
                id.clone(),
                name(&e.item),
                e.origin.clone(),
                Some(e.origin.source) == best,
            ));
        }
    }
    out
}
