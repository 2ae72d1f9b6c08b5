//! What `search`, `info` and `scan` share: the config of a data dir and a registry holding the
//! built-in providers configured there.

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
