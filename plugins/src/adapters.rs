//! A loaded plugin seen through `core`'s [`Provider`] and [`Hoster`] traits.

use std::sync::Arc;
use std::time::Duration;

use aniworld_core::model::{EpisodeStreams, MediaSource, SearchResult, SeriesInfo, SeriesKey};
use aniworld_core::traits::{Hoster, Provider};
use aniworld_core::{Error, Result};
use aniworld_plugin_sdk::{ErrorKind, PluginError, Request};
use async_trait::async_trait;
use serde::de::DeserializeOwned;

use crate::LoadedPlugin;

/// `key_from_link` is synchronous in the trait and called on request paths: keep it short.
const KEY_FROM_LINK_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn map_error(id: &str, e: PluginError) -> Error {
    let message = format!("plugin {id}: {}", e.message);
    match e.kind {
        ErrorKind::NotFound => Error::NotFound(message),
        ErrorKind::Blocked => Error::Blocked {
            site: id.to_owned(),
            reason: e.message,
        },
        ErrorKind::Parse => Error::parse(message),
        ErrorKind::Invalid => Error::invalid("plugin input", message),
        ErrorKind::Http => Error::Http(message),
        ErrorKind::Timeout => Error::Timeout(message),
        ErrorKind::Unsupported => Error::Unsupported(message),
        ErrorKind::Internal => Error::Plugin {
            id: id.to_owned(),
            message: e.message,
        },
    }
}

/// Reply shapes are checked against `core`'s types (keys validated, languages known).
fn decode<T: DeserializeOwned>(
    plugin: &LoadedPlugin,
    what: &str,
    value: serde_json::Value,
) -> Result<T> {
    serde_json::from_value(value)
        .map_err(|e| plugin.error(format!("{what} reply does not fit the protocol: {e}")))
}

pub struct NativeProvider {
    plugin: Arc<LoadedPlugin>,
    id: String,
    name: String,
}

impl NativeProvider {
    pub(crate) fn new(plugin: Arc<LoadedPlugin>) -> Self {
        let (id, name) = plugin
            .meta
            .as_ref()
            .map(|m| (m.id.clone(), m.name.clone()))
            .unwrap_or_default();
        NativeProvider { plugin, id, name }
    }
}

#[async_trait]
impl Provider for NativeProvider {
    fn id(&self) -> &str {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn search(&self, query: &str) -> Result<Vec<SearchResult>> {
        let v = self
            .plugin
            .call(Request::Search {
                query: query.to_owned(),
            })
            .await?;
        decode(&self.plugin, "search", v)
    }

    async fn series(&self, key: &SeriesKey) -> Result<SeriesInfo> {
        let v = self
            .plugin
            .call(Request::Series {
                key: key.to_string(),
            })
            .await?;
        decode(&self.plugin, "series", v)
    }

    async fn episode(&self, key: &SeriesKey, season: u32, episode: u32) -> Result<EpisodeStreams> {
        let v = self
            .plugin
            .call(Request::Episode {
                key: key.to_string(),
                season,
                episode,
            })
            .await?;
        decode(&self.plugin, "episode", v)
    }

    async fn resolve_redirect(&self, link: &str) -> Result<String> {
        let v = self
            .plugin
            .call(Request::ResolveRedirect {
                link: link.to_owned(),
            })
            .await?;
        decode(&self.plugin, "resolve_redirect", v)
    }

    fn key_from_link(&self, link: &str) -> Option<SeriesKey> {
        let timeout = self.plugin.timeout.min(KEY_FROM_LINK_TIMEOUT);
        let request = Request::KeyFromLink {
            link: link.to_owned(),
        };
        // Called from async code: let the runtime move other tasks off this thread meanwhile.
        let reply = match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.plugin.call_blocking(request, timeout))
            }
            _ => self.plugin.call_blocking(request, timeout),
        };
        let value: Option<String> = decode(&self.plugin, "key_from_link", reply.ok()?).ok()?;
        SeriesKey::parse(&value?).ok()
    }
}

pub struct NativeHoster {
    plugin: Arc<LoadedPlugin>,
    name: String,
    domains: Vec<String>,
}

impl NativeHoster {
    pub(crate) fn new(plugin: Arc<LoadedPlugin>) -> Self {
        let (name, domains) = plugin
            .meta
            .as_ref()
            .map(|m| {
                (
                    m.hoster_name.clone().unwrap_or_else(|| m.name.clone()),
                    m.hoster_domains.clone(),
                )
            })
            .unwrap_or_default();
        NativeHoster {
            plugin,
            name,
            domains,
        }
    }
}

#[async_trait]
impl Hoster for NativeHoster {
    fn name(&self) -> &str {
        &self.name
    }

    fn domains(&self) -> Vec<String> {
        self.domains.clone()
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource> {
        let v = self
            .plugin
            .call(Request::Extract {
                embed_url: embed_url.to_owned(),
            })
            .await?;
        decode(&self.plugin, "extract", v)
    }
}
