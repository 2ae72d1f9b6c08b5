//! Native plugins and rhai scripts, loaded into the app's registry and event manager.
//!
//! A broken plugin or script never stops the server: each problem is recorded in its status
//! (`GET /api/plugins`) and logged.

use std::path::Path;
use std::sync::Arc;

use aniworld_core::config::Config;
use aniworld_core::connections::CustomConnections;
use aniworld_core::events::{CallbackManager, DownloadHooks, NoHooks};
use aniworld_core::registry::Registry;
use aniworld_plugins::{PluginHost, PluginHostConfig, PluginStatus};
use aniworld_scripts::{ScriptHost, ScriptHostConfig, ScriptStatus};

pub struct Extensions {
    pub plugins: PluginHost,
    /// `None` only when the script runtime itself could not start (reason in `scripts_error`).
    pub scripts: Option<ScriptHost>,
    pub scripts_error: Option<String>,
}

impl Extensions {
    /// Loads every plugin and script once and subscribes hook scripts to `events`. `create`:
    /// create the plugins and scripts folders when missing. `watch`: reload scripts when their
    /// files change (when `scripts.watch` is on too).
    pub async fn load(
        config: &Config,
        data_dir: &Path,
        registry: &Registry,
        events: &CallbackManager,
        create: bool,
        watch: bool,
    ) -> Extensions {
        let plugin_config = PluginHostConfig::from_config(config, data_dir);
        if create && let Err(e) = std::fs::create_dir_all(&plugin_config.dir) {
            tracing::warn!(dir = %plugin_config.dir.display(), error = %e, "cannot create plugins dir");
        }
        let plugins = PluginHost::new(registry.clone(), plugin_config);
        plugins.reload().await;

        let script_config = ScriptHostConfig::from_config(config, data_dir);
        if create && let Err(e) = std::fs::create_dir_all(&script_config.dir) {
            tracing::warn!(dir = %script_config.dir.display(), error = %e, "cannot create scripts dir");
        }
        let client = ScriptHost::client_with(&config.network).unwrap_or_else(|e| {
            tracing::error!(error = %e, "scripts go without the proxy");
            ScriptHost::default_client()
        });
        let (scripts, scripts_error) = match ScriptHost::new(
            registry.clone(),
            script_config,
            client,
        ) {
            Ok(host) => {
                host.reload().await;
                host.attach(events);
                if watch
                    && config.scripts.watch
                    && let Err(e) = host.watch()
                {
                    tracing::warn!(error = %e, "cannot watch the scripts folder; reload through the API");
                }
                (Some(host), None)
            }
            Err(e) => {
                tracing::error!(error = %e, "script runtime did not start");
                (None, Some(e.to_string()))
            }
        };
        Extensions {
            plugins,
            scripts,
            scripts_error,
        }
    }

    /// Picks up new/changed plugin files and script edits.
    pub async fn reload(&self) -> (Vec<PluginStatus>, Vec<ScriptStatus>) {
        let plugins = self.plugins.reload().await;
        let scripts = match &self.scripts {
            Some(s) => s.reload().await,
            None => Vec::new(),
        };
        (plugins, scripts)
    }

    /// What the download engine asks before each episode (`before_download` hooks).
    pub fn download_hooks(&self) -> Arc<dyn DownloadHooks> {
        match &self.scripts {
            Some(s) => Arc::new(s.clone()),
            None => Arc::new(NoHooks),
        }
    }

    /// Connection scripts: what sends the `script:<id>` connection kinds.
    pub fn custom_connections(&self) -> Option<Arc<dyn CustomConnections>> {
        self.scripts
            .as_ref()
            .map(|s| Arc::new(s.clone()) as Arc<dyn CustomConnections>)
    }
}
