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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentKind {
    Provider,
    Hoster,
    Hook,
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
}

/// A listing row.
#[derive(Debug, Clone, Serialize)]
pub struct RegisteredComponent {
    pub id: String,
    pub kind: ComponentKind,
    pub origin: Origin,
    /// False when a higher-priority source overrides this entry.
    pub active: bool,
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

    /// Everything registered, overridden entries included, for listings.
    pub fn components(&self) -> Vec<RegisteredComponent> {
        let inner = self.inner.read().expect("registry lock poisoned");
        let mut out = Vec::new();
        for (kind, map) in [
            (ComponentKind::Provider, listing(&inner.providers)),
            (ComponentKind::Hoster, listing(&inner.hosters)),
        ] {
            for (id, origin, active) in map {
                out.push(RegisteredComponent {
                    id,
                    kind,
                    origin,
                    active,
                });
            }
        }
        out
    }
}

fn listing<T: ?Sized>(map: &BTreeMap<String, Vec<Entry<T>>>) -> Vec<(String, Origin, bool)> {
    let mut out = Vec::new();
    for (id, entries) in map {
        let best = pick(entries).map(|e| e.origin.source);
        for e in entries {
            out.push((id.clone(), e.origin.clone(), Some(e.origin.source) == best));
        }
    }
    out
}
