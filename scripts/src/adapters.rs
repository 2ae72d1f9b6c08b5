//! Script providers and hosters seen through `core`'s [`Provider`] and [`Hoster`] traits.

use std::sync::Arc;

use aniworld_core::model::{EpisodeStreams, MediaSource, SearchResult, SeriesInfo, SeriesKey};
use aniworld_core::traits::{Hoster, Provider};
use aniworld_core::{Error, Result};
use async_trait::async_trait;
use rhai::Dynamic;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::runtime::{CompiledScript, ScriptError, ScriptRuntime};

pub(crate) fn to_core_error(script: &CompiledScript, e: ScriptError) -> Error {
    match e {
        ScriptError::TimeLimit { .. } => Error::Timeout(e.to_string()),
        other => Error::Plugin {
            id: script.file.clone(),
            message: other.to_string(),
        },
    }
}

/// Runs one script function on a blocking thread (it may do HTTP) and converts the result to JSON.
async fn call_json(
    runtime: &Arc<ScriptRuntime>,
    script: &Arc<CompiledScript>,
    function: &'static str,
    args: Vec<Dynamic>,
) -> Result<Value> {
    let rt = runtime.clone();
    let sc = script.clone();
    let out = tokio::task::spawn_blocking(move || {
        let value = rt.call(&sc, function, args, true)?;
        rhai::serde::from_dynamic::<Value>(&value).map_err(|e| ScriptError::Invalid {
            file: sc.file.clone(),
            message: format!("{function} returned something that is not JSON-like: {e}"),
        })
    })
    .await
    .map_err(|e| Error::Plugin {
        id: script.file.clone(),
        message: format!("script task failed: {e}"),
    })?;
    out.map_err(|e| to_core_error(script, e))
}

fn decode<T: DeserializeOwned>(script: &CompiledScript, what: &str, value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Plugin {
        id: script.file.clone(),
        message: format!("{what} returned an unexpected shape: {e}"),
    })
}

/// Fills fields a script may leave out, so small scripts stay small.
fn with_defaults(mut value: Value, defaults: &[(&str, Value)]) -> Value {
    if let Value::Object(map) = &mut value {
        for (k, v) in defaults {
            let entry = map.entry((*k).to_owned()).or_insert(Value::Null);
            if entry.is_null() && !v.is_null() {
                *entry = v.clone();
            }
        }
    }
    value
}

fn fill_episode_lists(value: &mut Value) {
    if let Some(seasons) = value.get_mut("seasons").and_then(Value::as_array_mut) {
        for season in seasons {
            if let Some(eps) = season.get_mut("episodes").and_then(Value::as_array_mut) {
                for ep in eps {
                    if let Value::Object(m) = ep {
                        let langs = m.entry("languages").or_insert(Value::Null);
                        if langs.is_null() {
                            *langs = Value::Array(Vec::new());
                        }
                    }
                }
            }
        }
    }
}

pub struct ScriptProvider {
    runtime: Arc<ScriptRuntime>,
    script: Arc<CompiledScript>,
}

impl ScriptProvider {
    pub(crate) fn new(runtime: Arc<ScriptRuntime>, script: Arc<CompiledScript>) -> Self {
        ScriptProvider { runtime, script }
    }
}

#[async_trait]
impl Provider for ScriptProvider {
    fn id(&self) -> &str {
        &self.script.meta.id
    }

    fn name(&self) -> &str {
        &self.script.meta.name
    }

    async fn search(&self, query: &str) -> Result<Vec<SearchResult>> {
        let v = call_json(&self.runtime, &self.script, "search", vec![query.into()]).await?;
        let site = Value::from(self.script.meta.id.clone());
        let items = match v {
            Value::Array(items) => items
                .into_iter()
                .map(|i| with_defaults(i, &[("site", site.clone())]))
                .collect(),
            other => other,
        };
        decode(&self.script, "search", items)
    }

    async fn series(&self, key: &SeriesKey) -> Result<SeriesInfo> {
        let v = call_json(
            &self.runtime,
            &self.script,
            "series",
            vec![key.to_string().into()],
        )
        .await?;
        let mut v = with_defaults(
            v,
            &[
                ("key", Value::from(key.to_string())),
                ("site", Value::from(self.script.meta.id.clone())),
                ("genres", Value::Array(Vec::new())),
                ("alternative_titles", Value::Array(Vec::new())),
                ("seasons", Value::Array(Vec::new())),
                ("url", Value::from("")),
            ],
        );
        fill_episode_lists(&mut v);
        decode(&self.script, "series", v)
    }

    async fn episode(&self, key: &SeriesKey, season: u32, episode: u32) -> Result<EpisodeStreams> {
        let args = vec![
            key.to_string().into(),
            Dynamic::from(i64::from(season)),
            Dynamic::from(i64::from(episode)),
        ];
        let v = call_json(&self.runtime, &self.script, "episode", args).await?;
        let v = with_defaults(
            v,
            &[
                ("key", Value::from(key.to_string())),
                ("season", Value::from(season)),
                ("episode", Value::from(episode)),
                ("languages", Value::Array(Vec::new())),
                ("links", Value::Array(Vec::new())),
            ],
        );
        decode(&self.script, "episode", v)
    }

    async fn resolve_redirect(&self, link: &str) -> Result<String> {
        if !self.script.defines("resolve_redirect") {
            return Ok(link.to_owned());
        }
        let v = call_json(
            &self.runtime,
            &self.script,
            "resolve_redirect",
            vec![link.into()],
        )
        .await?;
        decode(&self.script, "resolve_redirect", v)
    }

    fn key_from_link(&self, link: &str) -> Option<SeriesKey> {
        if !self.script.defines("key_from_link") {
            return None;
        }
        // Runs inline (it is synchronous in the trait): no network, short by nature, still limited.
        let value = self
            .runtime
            .call(&self.script, "key_from_link", vec![link.into()], false)
            .map_err(
                |e| tracing::warn!(script = %self.script.file, error = %e, "key_from_link failed"),
            )
            .ok()?;
        if value.is_unit() {
            return None;
        }
        SeriesKey::parse(&value.to_string()).ok()
    }
}

pub struct ScriptHoster {
    runtime: Arc<ScriptRuntime>,
    script: Arc<CompiledScript>,
}

impl ScriptHoster {
    pub(crate) fn new(runtime: Arc<ScriptRuntime>, script: Arc<CompiledScript>) -> Self {
        ScriptHoster { runtime, script }
    }
}

#[async_trait]
impl Hoster for ScriptHoster {
    fn name(&self) -> &str {
        &self.script.meta.name
    }

    fn domains(&self) -> Vec<String> {
        self.script.meta.domains.clone()
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource> {
        let v = call_json(
            &self.runtime,
            &self.script,
            "extract",
            vec![embed_url.into()],
        )
        .await?;
        let v = with_defaults(
            v,
            &[
                ("kind", Value::from("mp4")),
                ("headers", Value::Object(Default::default())),
            ],
        );
        decode(&self.script, "extract", v)
    }
}
