//! What `search`, `info` and `scan` share: the config of a data dir and a registry holding the
//! built-in providers configured there, overridden by the data dir's provider plugins and scripts
//! (so a dropped-in fix for a broken site works from the command line too).

use std::path::Path;

use aniworld_core::config::Config;
use aniworld_core::providers::register_builtin;
use aniworld_core::registry::Registry;
use aniworld_core::traits::Provider;

use super::CliError;

/// `DATA_DIR/config.json` (created with defaults when missing) with `ANIWORLD_*` overrides.
pub fn load_config(data_dir: &Path) -> Result<Config, CliError> {
    Config::load_or_create(data_dir).map_err(|e| {
        CliError::new(format!(
            "cannot load config from {}: {e}",
            data_dir.display()
        ))
    })
}

/// A registry with the built-in providers enabled in `config`.
pub fn registry(config: &Config) -> Result<Registry, CliError> {
    let registry = Registry::new();
    register_builtin(&registry, config)?;
    Ok(registry)
}

/// A registry with the built-in providers, the native plugins of `plugins.dir` and the scripts of
/// `scripts.dir`. The plugin and script hosts live as long as this value.
pub struct Sites {
    pub registry: Registry,
    _plugins: Option<aniworld_plugins::PluginHost>,
    _scripts: Option<aniworld_scripts::ScriptHost>,
}

/// Builds [`Sites`]; plugins and scripts that fail to load are warnings on stderr.
pub async fn sites(config: &Config, data_dir: &Path) -> Result<Sites, CliError> {
    let registry = registry(config)?;
    let plugin_config = aniworld_plugins::PluginHostConfig::from_config(config, data_dir);
    let plugins = if plugin_config.dir.is_dir() {
        let host = aniworld_plugins::PluginHost::new(registry.clone(), plugin_config);
        for status in host.reload().await {
            if !status.is_active() {
                eprintln!("warning: plugin {} ({}) not loaded", status.id, status.path);
            }
        }
        Some(host)
    } else {
        None
    };
    let script_config = aniworld_scripts::ScriptHostConfig::from_config(config, data_dir);
    let scripts = if script_config.dir.is_dir() {
        let host = aniworld_scripts::ScriptHost::new(
            registry.clone(),
            script_config,
            aniworld_scripts::ScriptHost::default_client(),
        )
        .map_err(|e| CliError::new(format!("cannot load scripts: {e}")))?;
        for status in host.reload().await {
            if let Some(problem) = status.error {
                eprintln!(
                    "warning: script {} not loaded: {}",
                    problem.file, problem.message
                );
            }
        }
        Some(host)
    } else {
        None
    };
    Ok(Sites {
        registry,
        _plugins: plugins,
        _scripts: scripts,
    })
}

/// The providers a command asks: the one named by `--site`, else every registered one.
pub fn chosen(
    registry: &Registry,
    site: Option<&str>,
) -> Result<Vec<std::sync::Arc<dyn Provider>>, CliError> {
    match site {
        Some(id) => registry.provider(id).map(|p| vec![p]).map_err(|_| {
            let known: Vec<String> = registry
                .providers()
                .iter()
                .map(|p| p.id().to_owned())
                .collect();
            CliError::usage(format!(
                "unknown or disabled site {id:?} (available: {})",
                known.join(", ")
            ))
        }),
        None => {
            let all = registry.providers();
            if all.is_empty() {
                Err(CliError::new(
                    "no provider is enabled (providers.<id>.enabled)",
                ))
            } else {
                Ok(all)
            }
        }
    }
}
