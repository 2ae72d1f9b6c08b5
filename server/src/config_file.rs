//! Config file operations the API needs, in one place: load, parse+validate, save with backup,
//! list and restore backups. Delegates to `aniworld_core::config` where it provides them.

use std::path::{Path, PathBuf};

use aniworld_core::config::Config;
use aniworld_core::{Error, Result};

const CONFIG_FILE: &str = "config.json";
const BACKUP_DIR: &str = "config_backups";

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(CONFIG_FILE)
}

pub fn backup_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(BACKUP_DIR)
}

pub fn load_or_create(data_dir: &Path) -> Result<Config> {
    std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
    let p = path(data_dir);
    if !p.exists() {
        write_atomically(&p, &to_json(&Config::default()))?;
    }
    let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(p.display().to_string(), format!("not valid JSON: {e}")))?;
    from_value(value)
}

/// Parses and validates a config document.
pub fn from_value(value: serde_json::Value) -> Result<Config> {
    serde_json::from_value(value).map_err(|e| Error::invalid("config", e.to_string()))
}

fn to_json(config: &Config) -> String {
    serde_json::to_string_pretty(config).expect("config serialises")
}

/// Atomic write; the previous file is first copied into the backup folder (its name returned).
pub fn save(config: &Config, data_dir: &Path) -> Result<Option<String>> {
    let p = path(data_dir);
    let backup = if p.exists() {
        let dir = backup_dir(data_dir);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let mut chosen = None;
        for n in 0..1000u32 {
            let name = if n == 0 {
                format!("config-{stamp}.json")
            } else {
                format!("config-{stamp}-{n:03}.json")
            };
            let target = dir.join(&name);
            if !target.exists() {
                std::fs::copy(&p, &target).map_err(|e| Error::io(&target, e))?;
                chosen = Some(name);
                break;
            }
        }
        chosen
    } else {
        None
    };
    write_atomically(&p, &to_json(config))?;
    Ok(backup)
}

fn is_backup_name(name: &str) -> bool {
    name.starts_with("config-")
        && name.ends_with(".json")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
}

/// Backup names, newest first.
pub fn list_backups(data_dir: &Path) -> Result<Vec<String>> {
    let dir = backup_dir(data_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| is_backup_name(n))
        .collect();
    names.sort_unstable_by(|a, b| b.cmp(a));
    Ok(names)
}

/// Makes a backup the current config (the current file is backed up first).
pub fn restore_backup(data_dir: &Path, name: &str) -> Result<Config> {
    if name.contains(['/', '\\']) || name.contains("..") || !is_backup_name(name) {
        return Err(Error::invalid(
            "name",
            format!(
                "{:?} is not a config backup name",
                name.chars().take(80).collect::<String>()
            ),
        ));
    }
    let p = backup_dir(data_dir).join(name);
    if !p.is_file() {
        return Err(Error::NotFound(format!("config backup {name}")));
    }
    let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(name, format!("not valid JSON: {e}")))?;
    let config = from_value(value)?;
    save(&config, data_dir)?;
    Ok(config)
}

fn write_atomically(p: &Path, body: &str) -> Result<()> {
    use std::io::Write;
    let dir = p.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{CONFIG_FILE}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body.as_bytes())?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    std::fs::rename(&tmp, p).map_err(|e| Error::io(p, e))
}

/// The raw document in `config.json` (no environment overrides), for merging a change into.
pub fn read_document(data_dir: &Path) -> Result<serde_json::Value> {
    let p = path(data_dir);
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(p.display().to_string(), format!("not valid JSON: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(serde_json::to_value(Config::default()).expect("config serialises"))
        }
        Err(e) => Err(Error::io(p, e)),
    }
}
