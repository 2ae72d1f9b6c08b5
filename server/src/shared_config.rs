//! The config document shared by several instances on one PostgreSQL database: a change made
//! through the API on one instance (`PUT /api/config`, a restore) is published to the
//! `settings` table, and every other instance writes it into its own `config.json` and applies
//! it within [`FOLLOW`]. `database.*` and `server.*` stay per instance. With SQLite (one
//! instance) nothing is published.

use std::time::Duration;

use aniworld_core::Result;
use aniworld_core::storage::Dialect;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::config_file;

const SETTING: &str = "config.shared";
/// How often an instance looks for a config published by another.
pub const FOLLOW: Duration = Duration::from_secs(2);
/// Sections that stay per instance.
const LOCAL: [&str; 2] = ["database", "server"];

/// Publishes this instance's `config.json` (without the per-instance sections).
pub async fn publish(state: &AppState) -> Result<()> {
    let store = state.store();
    if store.dialect() == Dialect::Sqlite {
        return Ok(());
    }
    let mut doc = config_file::read_document(state.data_dir())?;
    if let Some(map) = doc.as_object_mut() {
        for section in LOCAL {
            map.remove(section);
        }
    }
    let stamp = json!({
        "by": store.instance_id(),
        "nonce": uuid::Uuid::new_v4().simple().to_string(),
        "config": doc,
    });
    store.settings().set(SETTING, &stamp.to_string()).await
}

/// Applies what another instance published last, if it is new; `seen` remembers the last one.
pub(crate) async fn follow_once(state: &AppState, seen: &mut Option<String>) -> Result<()> {
    let Some(raw) = state.store().settings().get(SETTING).await? else {
        return Ok(());
    };
    if seen.as_deref() == Some(raw.as_str()) {
        return Ok(());
    }
    let stamp: Value = serde_json::from_str(&raw)
        .map_err(|e| aniworld_core::Error::invalid(SETTING, e.to_string()))?;
    if stamp["by"] == state.store().instance_id() {
        *seen = Some(raw);
        return Ok(());
    }
    let Some(shared) = stamp["config"].as_object() else {
        *seen = Some(raw);
        return Ok(());
    };
    let _guard = state.config_write_lock().await;
    let mut doc = config_file::read_document(state.data_dir())?;
    if let Some(map) = doc.as_object_mut() {
        for (section, value) in shared {
            if !LOCAL.contains(&section.as_str()) {
                map.insert(section.clone(), value.clone());
            }
        }
    }
    let config = config_file::from_value(doc.clone())?;
    if config_file::from_value(config_file::read_document(state.data_dir())?)? != config {
        config_file::save(&config, state.data_dir())?;
        state.reload_config().await?;
        tracing::info!("applied the config changed on another instance");
    }
    *seen = Some(raw);
    Ok(())
}
