//! `DATA_DIR/config.json`: shape and defaults.
//!
//! Loading, environment overrides (`ANIWORLD_<SECTION>__<KEY>`), validation with errors that name
//! the bad key, and atomic writes with backups live in this module too.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub library: LibraryConfig,
    pub providers: BTreeMap<String, ProviderConfig>,
    pub download: DownloadConfig,
    pub plugins: PluginsConfig,
    pub scripts: ScriptsConfig,
    pub auth: AuthConfig,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub cache: CacheConfig,
}

impl Default for Config {
    fn default() -> Self {
        let mut providers = BTreeMap::new();
        providers.insert(
            "aniworld".to_owned(),
            ProviderConfig::new("https://aniworld.to"),
        );
        providers.insert("sto".to_owned(), ProviderConfig::new("https://s.to"));
        Config {
            library: LibraryConfig::default(),
            providers,
            download: DownloadConfig::default(),
            plugins: PluginsConfig::default(),
            scripts: ScriptsConfig::default(),
            auth: AuthConfig::default(),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            cache: CacheConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LibraryConfig {
    /// Library root; every top-level folder is a series.
    pub path: PathBuf,
    /// File name template, relative to the library root. Placeholders: `{folder}`, `{title}`,
    /// `{year}`, `{season}`, `{episode}`, `{language}`, `{episode_title}`, with optional padding
    /// `{season:02}` / `{episode:03}`.
    pub naming_template: String,
}

impl Default for LibraryConfig {
    fn default() -> Self {
        LibraryConfig {
            path: PathBuf::from("./library"),
            naming_template:
                "{folder}/Season {season:02}/{title} - S{season:02}E{episode:03} - ({language}).mp4"
                    .to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    pub base_url: String,
    pub enabled: bool,
    /// Requests per second to this site (per-site rate limit).
    pub rate_limit: f64,
    /// Request timeout in seconds.
    pub timeout: u64,
    /// Retries on timeouts and 5xx, with exponential backoff.
    pub retries: u32,
}

impl ProviderConfig {
    pub fn new(base_url: &str) -> Self {
        ProviderConfig {
            base_url: base_url.to_owned(),
            ..Default::default()
        }
    }
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            base_url: String::new(),
            enabled: true,
            rate_limit: 4.0,
            timeout: 20,
            retries: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DownloadConfig {
    /// Ordered language preference (`German Dub`, `German Sub`, `English Sub`, `English Dub`).
    pub languages: Vec<String>,
    /// Ordered hoster preference; hosters not listed are tried after these.
    pub hosters: Vec<String>,
    /// Downloads running at once.
    pub max_parallel: u32,
    /// HLS segments fetched at once per download.
    pub segment_parallelism: u32,
    /// Global bandwidth limit in bytes per second; 0 = unlimited.
    pub rate_limit: u64,
    /// Attempts per (language, hoster) candidate before moving to the next.
    pub attempts_per_candidate: u32,
    /// Highest HLS variant height to pick; 0 = best.
    pub max_height: u32,
    /// Remux HLS output with ffmpeg when it is on the PATH: `none`, `mp4` or `mkv`.
    pub remux: String,
}

impl Default for DownloadConfig {
    fn default() -> Self {
        DownloadConfig {
            languages: vec![
                "German Dub".to_owned(),
                "German Sub".to_owned(),
                "English Sub".to_owned(),
            ],
            hosters: vec![
                "VOE".to_owned(),
                "Filemoon".to_owned(),
                "Vidmoly".to_owned(),
                "Doodstream".to_owned(),
                "Vidoza".to_owned(),
                "Streamtape".to_owned(),
                "LoadX".to_owned(),
                "Luluvdo".to_owned(),
                "SpeedFiles".to_owned(),
            ],
            max_parallel: 2,
            segment_parallelism: 8,
            rate_limit: 0,
            attempts_per_candidate: 2,
            max_height: 0,
            remux: "none".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Folder scanned for native plugin libraries (`.so`/`.dylib`/`.dll`); relative to the data dir.
    pub dir: PathBuf,
    /// Timeout of one plugin call, milliseconds.
    pub call_timeout_ms: u64,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            dir: PathBuf::from("plugins"),
            call_timeout_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScriptsConfig {
    /// Folder of `*.rhai` provider/hoster/hook scripts; relative to the data dir.
    pub dir: PathBuf,
    /// Wall-clock limit of one script call, milliseconds.
    pub time_limit_ms: u64,
    /// Operation limit of one script call.
    pub max_operations: u64,
    /// Reload scripts when their files change.
    pub watch: bool,
    /// Free-form values scripts can read (`config("webhook_url")`).
    pub settings: BTreeMap<String, String>,
}

impl Default for ScriptsConfig {
    fn default() -> Self {
        ScriptsConfig {
            dir: PathBuf::from("scripts"),
            time_limit_ms: 1_000,
            max_operations: 5_000_000,
            watch: true,
            settings: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Token lifetime in seconds.
    pub token_ttl: u64,
    /// bcrypt cost for the master password.
    pub bcrypt_cost: u32,
    /// Failed logins per client address per minute before 429.
    pub max_failed_logins_per_minute: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            token_ttl: 86_400,
            bcrypt_cost: 12,
            max_failed_logins_per_minute: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: String,
    /// Allowed CORS origins; empty = CORS off.
    pub cors_origins: Vec<String>,
    /// Largest accepted request body, bytes.
    pub body_limit: u64,
    /// Request timeout, seconds.
    pub request_timeout: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8000".to_owned(),
            cors_origins: Vec::new(),
            body_limit: 1024 * 1024,
            request_timeout: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Empty = `DATA_DIR/aniworld.db` (SQLite). `postgres://...` selects Postgres.
    pub url: String,
    /// Redis URL for multi-instance event fan-out; empty = in-process only.
    pub redis_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// How long scraped series info stays fresh, seconds.
    pub series_ttl: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            series_ttl: 6 * 3600,
        }
    }
}
