//! The config file operations the API uses, in one place (all implemented by
//! `aniworld_core::config::Config`): load, parse+validate, save with backup, backups, restore.

use std::path::{Path, PathBuf};

use aniworld_core::config::Config;
use aniworld_core::{Error, Result};

pub fn load_or_create(data_dir: &Path) -> Result<Config> {
    Config::load_or_create(data_dir)
}

/// Parses and validates a config document; errors name the bad key.
pub fn from_value(value: serde_json::Value) -> Result<Config> {
    Config::from_value(value)
}

/// Atomic write; the previous file is first copied into the backup folder (its name returned).
pub fn save(config: &Config, data_dir: &Path) -> Result<Option<String>> {
    config.save(data_dir)
}

pub fn backup_dir(data_dir: &Path) -> PathBuf {
    Config::backup_dir(data_dir)
}

/// Backup names, newest first.
pub fn list_backups(data_dir: &Path) -> Result<Vec<String>> {
    Config::list_backups(data_dir)
}

/// Reads and validates a backup without applying it.
pub fn read_backup(data_dir: &Path, name: &str) -> Result<Config> {
    Config::read_backup(data_dir, name)
}

/// Makes a backup the current config (the current file is backed up first).
pub fn restore_backup(data_dir: &Path, name: &str) -> Result<Config> {
    Config::restore_backup(data_dir, name)
}

/// The raw document in `config.json` (no environment overrides), for merging a change into.
pub fn read_document(data_dir: &Path) -> Result<serde_json::Value> {
    let p = Config::path(data_dir);
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(p.display().to_string(), format!("not valid JSON: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(serde_json::to_value(Config::default()).expect("config serialises"))
        }
        Err(e) => Err(Error::io(p, e)),
    }
}
