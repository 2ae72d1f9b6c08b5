//! `DATA_DIR/config.json`: shape and defaults.
//!
//! Loading, environment overrides (`ANIWORLD_<SECTION>__<KEY>`), validation with errors that name
//! the bad key, and atomic writes with backups live in this module too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod connections;
pub mod redact;

pub use connections::ConnectionConfig;

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
    pub network: NetworkConfig,
    /// Checks of followed series for new episodes.
    pub follow: FollowConfig,
    /// Notifications and media-server refreshes ([`connections`]).
    pub connections: Vec<ConnectionConfig>,
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
            network: NetworkConfig::default(),
            follow: FollowConfig::default(),
            connections: Vec::new(),
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
    /// Proxy for this site only (`http://`, `https://`, `socks5://`); empty = `network.proxy`.
    pub proxy: String,
    /// Further base URLs of the same site, tried in order when the base URL cannot be reached or
    /// is blocked; the one that answered is remembered and tried first next time.
    pub mirrors: Vec<String>,
    /// Extra request headers (`Cookie`, `User-Agent`, ...), e.g. handed over from a browser that
    /// passed the site's bot check.
    pub headers: BTreeMap<String, String>,
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
            proxy: String::new(),
            mirrors: Vec::new(),
            headers: BTreeMap::new(),
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
    /// Start the queue when the server starts, so queued episodes download without pressing
    /// Start. A paused queue stays paused.
    pub autostart: bool,
    /// Seconds an instance holds a claimed queue item without renewing it; an item whose
    /// instance is gone is taken over by another after this long (several instances on one
    /// PostgreSQL database).
    pub lease_secs: u64,
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
            autostart: true,
            lease_secs: 30,
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
    /// Seconds a client has to send a complete request header; also how long an idle keep-alive
    /// connection stays open.
    pub header_read_timeout: u64,
    /// Open connections at most (lowered to fit the process's open-file limit).
    pub max_connections: u32,
    /// `GET /metrics` without a bearer token (for a Prometheus that cannot log in).
    pub metrics_public: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8000".to_owned(),
            cors_origins: Vec::new(),
            body_limit: 1024 * 1024,
            request_timeout: 60,
            header_read_timeout: 10,
            max_connections: 1024,
            metrics_public: false,
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

/// Shortest `follow.interval` (seconds): a check reads the sites, so it is never run in a loop.
pub const MIN_FOLLOW_INTERVAL: u64 = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FollowConfig {
    /// Seconds between scheduled checks of the followed series (at least 10; each wait is
    /// jittered by up to a tenth).
    pub interval: u64,
}

impl Default for FollowConfig {
    fn default() -> Self {
        FollowConfig { interval: 3600 }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            series_ttl: 6 * 3600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Proxy for provider, hoster and media traffic (`http://`, `https://`, `socks5://`, with
    /// optional `user:password@`); empty = none.
    pub proxy: String,
    /// Failed requests in a row after which a site or hoster counts as down.
    pub down_after: u32,
    /// First cooldown of a down site or hoster, seconds; doubled each time it is still down.
    pub cooldown: u64,
    /// Longest cooldown, seconds.
    pub max_cooldown: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            proxy: String::new(),
            down_after: 3,
            cooldown: 30,
            max_cooldown: 600,
        }
    }
}

/// Checks a proxy URL: `http`, `https`, `socks5` or `socks5h` with a host. The error names `field`.
pub fn check_proxy_url(field: &str, raw: &str) -> Result<()> {
    let shown = redact_url_password(raw);
    let url = url::Url::parse(raw.trim())
        .map_err(|e| Error::invalid(field, format!("{shown:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") {
        return Err(Error::invalid(
            field,
            format!(
                "{shown:?} uses {:?}; a proxy URL starts with http://, https:// or socks5://",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid(field, format!("{shown:?} has no host")));
    }
    if url.port_or_known_default().is_none() {
        return Err(Error::invalid(
            field,
            format!(
                "{shown:?} has no port (socks5 proxies need one, e.g. socks5://127.0.0.1:1080)"
            ),
        ));
    }
    reqwest::Proxy::all(url.as_str())
        .map_err(|e| Error::invalid(field, format!("{shown:?} cannot be used as a proxy: {e}")))?;
    Ok(())
}

/// A URL with its password replaced by `***` (for messages, logs and API answers).
pub fn redact_url_password(raw: &str) -> String {
    match url::Url::parse(raw.trim()) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}

/// File name of the config inside the data dir.
pub const CONFIG_FILE: &str = "config.json";
/// Folder inside the data dir that holds copies of earlier config files.
pub const BACKUP_DIR: &str = "config_backups";
/// Prefix of every environment override (`ANIWORLD_<SECTION>__<KEY>`).
pub const ENV_PREFIX: &str = "ANIWORLD_";
/// Config backups kept; older ones are deleted after each save.
pub const MAX_BACKUPS: usize = 50;
/// Smallest `server.body_limit`: below it the login and config requests themselves no longer fit.
pub const MIN_BODY_LIMIT: u64 = 64 * 1024;
/// Keys (or whole sections, ending in `.*`) that load code or expose the server: they are set in
/// `config.json` or the environment only, never through the API.
pub const FILE_ONLY_KEYS: [&str; 6] = [
    "plugins.dir",
    "scripts.dir",
    "server.bind",
    "server.cors_origins",
    "server.metrics_public",
    "database.*",
];

/// Object-valued keys whose children are free-form names (not struct fields), with the template
/// every child is checked against (`None` = any string value).
fn map_child_template(path: &str) -> Option<Option<serde_json::Value>> {
    match path {
        "providers" => Some(Some(
            serde_json::to_value(ProviderConfig::default()).expect("provider config serialises"),
        )),
        "scripts.settings" => Some(None),
        // `providers.<id>.headers`: header name → value.
        p if p.starts_with("providers.")
            && p.ends_with(".headers")
            && p.matches('.').count() == 2 =>
        {
            Some(None)
        }
        _ => None,
    }
}

impl Config {
    /// `DATA_DIR/config.json`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(CONFIG_FILE)
    }

    /// `DATA_DIR/config_backups`.
    pub fn backup_dir(data_dir: &Path) -> PathBuf {
        data_dir.join(BACKUP_DIR)
    }

    /// Reads `DATA_DIR/config.json` (writing the defaults there first if it does not exist), applies
    /// the `ANIWORLD_*` environment overrides and validates the result.
    pub fn load_or_create(data_dir: &Path) -> Result<Config> {
        Self::load_or_create_with_env(data_dir, std::env::vars())
    }

    /// [`Config::load_or_create`] with the environment given explicitly (tests, embedding).
    pub fn load_or_create_with_env(
        data_dir: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
        remove_stale_temp_files(data_dir);
        let path = Self::path(data_dir);
        if !path.exists() {
            write_atomically(&path, &Config::default().to_pretty_json())?;
            tracing::info!(path = %path.display(), "created config with defaults");
        }
        let mut value = read_json_file(&path)?;
        apply_env_overrides(&mut value, env)?;
        Config::from_value(value)
    }

    /// Parses and validates a config document (a file's content or an API request body).
    pub fn from_json_str(text: &str) -> Result<Config> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid("config", format!("not valid JSON: {e}")))?;
        Config::from_value(value)
    }

    /// Checks every key against the known ones (errors name the key), converts and validates.
    pub fn from_value(value: serde_json::Value) -> Result<Config> {
        let template = serde_json::to_value(Config::default()).expect("config serialises");
        check_shape(&value, &template, "")?;
        let config: Config = match serde_json::from_value(value.clone()) {
            Ok(c) => c,
            Err(e) => return Err(locate_conversion_error(&value, &template, e)),
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks values the types alone do not; the error names the first bad key.
    pub fn validate(&self) -> Result<()> {
        let template = &self.library.naming_template;
        if template.trim().is_empty() {
            return Err(Error::invalid(
                "library.naming_template",
                "must not be empty",
            ));
        }
        if !template.contains("{episode") {
            return Err(Error::invalid(
                "library.naming_template",
                "must contain {episode} (or a padded form like {episode:03})",
            ));
        }
        if template.starts_with('/')
            || template.starts_with('\\')
            || template.split(['/', '\\']).any(|part| part == "..")
        {
            return Err(Error::invalid(
                "library.naming_template",
                "must be a relative path without '..' parts",
            ));
        }
        check_placeholders(template)?;

        if self.providers.is_empty() {
            return Err(Error::invalid(
                "providers",
                "at least one provider is needed",
            ));
        }
        for (name, provider) in &self.providers {
            let field = |key: &str| format!("providers.{name}.{key}");
            if crate::model::SeriesKey::parse(name).is_err() {
                return Err(Error::invalid(
                    format!("providers.{name}"),
                    "provider ids are letters, digits and '-'",
                ));
            }
            match url::Url::parse(&provider.base_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => {
                    return Err(Error::invalid(
                        field("base_url"),
                        format!("{:?} is not an http(s) URL", provider.base_url),
                    ));
                }
            }
            if !(provider.rate_limit.is_finite()
                && provider.rate_limit > 0.0
                && provider.rate_limit <= 1000.0)
            {
                return Err(Error::invalid(
                    field("rate_limit"),
                    "must be a positive number of requests per second, at most 1000",
                ));
            }
            check_range(&field("timeout"), provider.timeout, 1, 600)?;
            if provider.retries > 10 {
                return Err(Error::invalid(field("retries"), "must be at most 10"));
            }
            if !provider.proxy.trim().is_empty() {
                check_proxy_url(&field("proxy"), &provider.proxy)?;
            }
            for (i, mirror) in provider.mirrors.iter().enumerate() {
                match url::Url::parse(mirror.trim()) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                    _ => {
                        return Err(Error::invalid(
                            format!("providers.{name}.mirrors[{i}]"),
                            format!(
                                "{mirror:?} is not an http(s) base URL like https://serienstream.to"
                            ),
                        ));
                    }
                }
            }
            for (header, value) in &provider.headers {
                let key = format!("providers.{name}.headers.{header}");
                if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    return Err(Error::invalid(key, "is not a valid HTTP header name"));
                }
                if reqwest::header::HeaderValue::from_str(value).is_err() {
                    return Err(Error::invalid(
                        key,
                        "the value must be one line of visible text",
                    ));
                }
            }
        }

        let d = &self.download;
        if d.languages.is_empty() {
            return Err(Error::invalid(
                "download.languages",
                "list at least one language",
            ));
        }
        let mut seen = Vec::new();
        for lang in &d.languages {
            let parsed: crate::model::Language = lang.parse().map_err(|_| {
                Error::invalid(
                    "download.languages",
                    format!(
                        "{lang:?} is not a language (German Dub, German Sub, English Sub, English Dub)"
                    ),
                )
            })?;
            if seen.contains(&parsed) {
                return Err(Error::invalid(
                    "download.languages",
                    format!("{lang:?} is listed twice"),
                ));
            }
            seen.push(parsed);
        }
        if d.hosters.iter().any(|h| h.trim().is_empty()) {
            return Err(Error::invalid(
                "download.hosters",
                "hoster names must not be empty",
            ));
        }
        check_range(
            "follow.interval",
            self.follow.interval,
            MIN_FOLLOW_INTERVAL,
            30 * 24 * 3600,
        )?;
        check_range("download.max_parallel", d.max_parallel.into(), 1, 32)?;
        check_range("download.lease_secs", d.lease_secs, 5, 600)?;
        check_range(
            "download.segment_parallelism",
            d.segment_parallelism.into(),
            1,
            64,
        )?;
        check_range(
            "download.attempts_per_candidate",
            d.attempts_per_candidate.into(),
            1,
            20,
        )?;
        if d.rate_limit != 0 && d.rate_limit < 1024 {
            return Err(Error::invalid(
                "download.rate_limit",
                format!(
                    "{} bytes/s would stall every download; use 0 (unlimited) or at least 1024",
                    d.rate_limit
                ),
            ));
        }
        check_range("download.max_height", d.max_height.into(), 0, 8640)?;
        if !matches!(d.remux.as_str(), "none" | "mp4" | "mkv") {
            return Err(Error::invalid(
                "download.remux",
                format!("{:?} is not one of none, mp4, mkv", d.remux),
            ));
        }

        check_dir_setting("plugins.dir", &self.plugins.dir)?;
        check_range(
            "plugins.call_timeout_ms",
            self.plugins.call_timeout_ms,
            100,
            3_600_000,
        )?;
        check_dir_setting("scripts.dir", &self.scripts.dir)?;
        check_range(
            "scripts.time_limit_ms",
            self.scripts.time_limit_ms,
            10,
            3_600_000,
        )?;
        check_range(
            "scripts.max_operations",
            self.scripts.max_operations,
            1_000,
            u64::MAX,
        )?;

        check_range("auth.token_ttl", self.auth.token_ttl, 60, 365 * 86_400)?;
        // Above 16 one login takes minutes of CPU: nobody could log in any more.
        check_range("auth.bcrypt_cost", self.auth.bcrypt_cost.into(), 4, 16)?;
        check_range(
            "auth.max_failed_logins_per_minute",
            self.auth.max_failed_logins_per_minute.into(),
            1,
            100,
        )?;

        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(Error::invalid(
                "server.bind",
                format!(
                    "{:?} is not an address like 127.0.0.1:8000",
                    self.server.bind
                ),
            ));
        }
        if self.server.body_limit < MIN_BODY_LIMIT {
            return Err(Error::invalid(
                "server.body_limit",
                format!(
                    "{} bytes is below the minimum of {MIN_BODY_LIMIT} (64 KiB): logins and config changes would no longer fit",
                    self.server.body_limit
                ),
            ));
        }
        check_range(
            "server.body_limit",
            self.server.body_limit,
            MIN_BODY_LIMIT,
            1024 * 1024 * 1024,
        )?;
        check_range(
            "server.request_timeout",
            self.server.request_timeout,
            5,
            86_400,
        )?;
        check_range(
            "server.header_read_timeout",
            self.server.header_read_timeout,
            1,
            300,
        )?;
        check_range(
            "server.max_connections",
            self.server.max_connections.into(),
            16,
            65_536,
        )?;

        let net = &self.network;
        if !net.proxy.trim().is_empty() {
            check_proxy_url("network.proxy", &net.proxy)?;
        }
        check_range("network.down_after", net.down_after.into(), 1, 1000)?;
        check_range("network.cooldown", net.cooldown, 1, 86_400)?;
        check_range(
            "network.max_cooldown",
            net.max_cooldown,
            net.cooldown,
            86_400,
        )?;

        let db = self.database.url.as_str();
        if !(db.is_empty()
            || db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(Error::invalid(
                "database.url",
                "must be empty (SQLite in the data dir), sqlite:... or postgres://...",
            ));
        }
        let redis = self.database.redis_url.as_str();
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err(Error::invalid(
                "database.redis_url",
                "must be empty or a redis:// URL",
            ));
        }
        connections::validate(&self.connections)?;
        Ok(())
    }

    /// Writes the config atomically (temp file + rename) after validating it. An existing file is
    /// first copied into `DATA_DIR/config_backups/`; returns that backup's name.
    pub fn save(&self, data_dir: &Path) -> Result<Option<String>> {
        self.validate()?;
        std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
        let path = Self::path(data_dir);
        let backup = if path.exists() {
            Some(backup_current(data_dir, &path)?)
        } else {
            None
        };
        write_atomically(&path, &self.to_pretty_json())?;
        if backup.is_some() {
            prune_backups(data_dir);
        }
        Ok(backup)
    }

    /// Backup file names, newest first.
    pub fn list_backups(data_dir: &Path) -> Result<Vec<String>> {
        let dir = Self::backup_dir(data_dir);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            if let Some(name) = entry.file_name().to_str()
                && is_backup_name(name)
            {
                names.push(name.to_owned());
            }
        }
        // Names embed a sortable UTC timestamp.
        names.sort_unstable_by(|a, b| b.cmp(a));
        Ok(names)
    }

    /// Makes backup `name` the current config (the current file is backed up first). The backup
    /// must parse and validate; names with path separators or `..` are rejected.
    pub fn restore_backup(data_dir: &Path, name: &str) -> Result<Config> {
        let config = Config::read_backup(data_dir, name)?;
        config.save(data_dir)?;
        Ok(config)
    }

    /// Reads and validates backup `name` without applying it; names with path separators or `..`
    /// are rejected.
    pub fn read_backup(data_dir: &Path, name: &str) -> Result<Config> {
        if name.contains(['/', '\\']) || name.contains("..") || !is_backup_name(name) {
            return Err(Error::invalid(
                "name",
                format!(
                    "{:?} is not a config backup name",
                    name.chars().take(80).collect::<String>()
                ),
            ));
        }
        let path = Self::backup_dir(data_dir).join(name);
        if !path.is_file() {
            return Err(Error::NotFound(format!("config backup {name}")));
        }
        Config::from_value(read_json_file(&path)?)
    }

    /// Every key that is set in `config.json` or the environment only ([`FILE_ONLY_KEYS`] with
    /// whole sections expanded), e.g. `plugins.dir`, `database.url`.
    pub fn file_only_keys() -> Vec<String> {
        let template = serde_json::to_value(Config::default()).expect("config serialises");
        let mut keys = Vec::new();
        for key in FILE_ONLY_KEYS {
            match key.strip_suffix(".*") {
                Some(section) => {
                    if let Some(fields) = template.get(section).and_then(|v| v.as_object()) {
                        keys.extend(fields.keys().map(|k| format!("{section}.{k}")));
                    }
                }
                None => keys.push(key.to_owned()),
            }
        }
        keys
    }

    /// The first file-only key whose value differs between `self` and `other`.
    pub fn file_only_change(&self, other: &Config) -> Option<String> {
        let a = serde_json::to_value(self).expect("config serialises");
        let b = serde_json::to_value(other).expect("config serialises");
        Config::file_only_keys()
            .into_iter()
            .find(|key| json_pointer(&a, key) != json_pointer(&b, key))
    }

    /// `plugins.dir`, resolved against the data dir when relative.
    pub fn plugins_dir(&self, data_dir: &Path) -> PathBuf {
        resolve_against(data_dir, &self.plugins.dir)
    }

    /// `scripts.dir`, resolved against the data dir when relative.
    pub fn scripts_dir(&self, data_dir: &Path) -> PathBuf {
        resolve_against(data_dir, &self.scripts.dir)
    }

    pub fn to_pretty_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("config serialises")
    }
}

/// The value at a dotted key (`server.bind`).
pub fn json_pointer<'v>(
    value: &'v serde_json::Value,
    dotted: &str,
) -> Option<&'v serde_json::Value> {
    dotted.split('.').try_fold(value, |v, part| v.get(part))
}

/// The environment variable that overrides a dotted key (`server.bind` → `ANIWORLD_SERVER__BIND`).
pub fn env_var_for(dotted: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        dotted.to_ascii_uppercase().replace('.', "__")
    )
}

/// `path` when absolute, else `base/path`.
pub fn resolve_against(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

fn check_range(field: &str, value: u64, min: u64, max: u64) -> Result<()> {
    if value < min || value > max {
        let message = if max == u64::MAX {
            format!("{value} is too small (at least {min})")
        } else {
            format!("{value} is out of range ({min}..={max})")
        };
        return Err(Error::invalid(field, message));
    }
    Ok(())
}

fn check_dir_setting(field: &str, dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(())
}

const PLACEHOLDERS: [&str; 7] = [
    "folder",
    "title",
    "year",
    "season",
    "episode",
    "language",
    "episode_title",
];

fn check_placeholders(template: &str) -> Result<()> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return Err(Error::invalid(
                "library.naming_template",
                "has a '{' without a closing '}'",
            ));
        };
        let inner = &after[..end];
        let (name, pad) = inner.split_once(':').unwrap_or((inner, ""));
        if !PLACEHOLDERS.contains(&name) {
            return Err(Error::invalid(
                "library.naming_template",
                format!(
                    "unknown placeholder {{{name}}} (known: {})",
                    PLACEHOLDERS.join(", ")
                ),
            ));
        }
        if !pad.is_empty() && (pad.len() > 2 || !pad.bytes().all(|b| b.is_ascii_digit())) {
            return Err(Error::invalid(
                "library.naming_template",
                format!("bad padding in {{{inner}}} (use e.g. {{episode:03}})"),
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

fn read_json_file(path: &Path) -> Result<serde_json::Value> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(path.display().to_string(), format!("not valid JSON: {e}")))
}

/// Writes `body` to a temp file next to `path`, syncs it and renames it over `path`.
fn write_atomically(path: &Path, body: &str) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(CONFIG_FILE);
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Copies the current config into the backup folder under a fresh timestamped name.
fn backup_current(data_dir: &Path, current: &Path) -> Result<String> {
    let dir = Config::backup_dir(data_dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    for n in 0..1000u32 {
        // The counter keeps names unique and sortable within one millisecond.
        let name = format!("config-{stamp}-{n:03}.json");
        let target = dir.join(&name);
        if target.exists() {
            continue;
        }
        std::fs::copy(current, &target).map_err(|e| Error::io(&target, e))?;
        return Ok(name);
    }
    Err(Error::Conflict(
        "too many config backups within one millisecond".into(),
    ))
}

/// Deletes the oldest backups beyond [`MAX_BACKUPS`]; a failure only costs disk space.
fn prune_backups(data_dir: &Path) {
    let Ok(names) = Config::list_backups(data_dir) else {
        return;
    };
    let dir = Config::backup_dir(data_dir);
    for old in names.iter().skip(MAX_BACKUPS) {
        if let Err(e) = std::fs::remove_file(dir.join(old)) {
            tracing::warn!(backup = %old, error = %e, "cannot delete an old config backup");
        }
    }
}

/// Temp files a killed writer left behind (`.config.json.<pid>.tmp`). A live writer's file is
/// kept: its pid still runs (where `/proc` tells) and it is younger than a minute.
fn remove_stale_temp_files(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(data_dir) else {
        return;
    };
    let prefix = format!(".{CONFIG_FILE}.");
    let proc_known = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let writer_alive = !proc_known || Path::new("/proc").join(pid.to_string()).exists();
        let young = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < std::time::Duration::from_secs(60));
        if writer_alive && young {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => {
                tracing::info!(file = %entry.path().display(), "removed a stale config temp file")
            }
            Err(e) => {
                tracing::warn!(file = %entry.path().display(), error = %e, "cannot remove a stale config temp file")
            }
        }
    }
}

fn is_backup_name(name: &str) -> bool {
    name.starts_with("config-")
        && name.ends_with(".json")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
}

/// The config keys (`download.max_parallel`, or a whole section) that `ANIWORLD_*` variables in
/// `env` override, each with its variable, in key order.
pub fn env_override_keys(env: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k.contains("__"))
        .map(|(name, _)| {
            let key = name[ENV_PREFIX.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
                .join(".");
            (key, name)
        })
        .collect();
    keys.sort();
    keys
}

/// Applies `ANIWORLD_<SECTION>__<KEY>[__<KEY>...]` variables to a config document. Variables
/// without `__` (`ANIWORLD_DATA_DIR`, `ANIWORLD_LOG`) are command-line settings, not overrides.
/// Values are JSON when they parse as JSON, else strings; string-typed keys always take the raw text.
pub fn apply_env_overrides(
    value: &mut serde_json::Value,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<()> {
    let template = serde_json::to_value(Config::default()).expect("config serialises");
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX) && k.contains("__"))
        .collect();
    // Deterministic order: a section override comes before the keys inside it.
    vars.sort();
    for (name, raw) in vars {
        let path: Vec<String> = name[ENV_PREFIX.len()..]
            .split("__")
            .map(|p| p.to_ascii_lowercase())
            .collect();
        let dotted = path.join(".");
        if path.iter().any(|p| p.is_empty()) {
            return Err(Error::invalid(
                dotted,
                format!("environment variable {name} has an empty key part"),
            ));
        }
        let target_is_string = lookup_template(&template, &path).is_some_and(|t| t.is_string());
        let parsed = if target_is_string {
            serde_json::Value::String(raw)
        } else {
            serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw))
        };
        // A section the file does not have starts from its defaults: setting one key of
        // `providers.aniworld` must not drop the section's other defaults (its base URL).
        for depth in 1..path.len() {
            if lookup_path(value, &path[..depth]).is_none()
                && let Some(defaults) = lookup_defaults(&template, &path[..depth])
            {
                set_path(value, &path[..depth], defaults).map_err(|message| {
                    Error::invalid(dotted.clone(), format!("{message} (from {name})"))
                })?;
            }
        }
        set_path(value, &path, parsed).map_err(|message| {
            Error::invalid(dotted.clone(), format!("{message} (from {name})"))
        })?;
    }
    Ok(())
}

/// The value at `path` in a document, if there is one.
fn lookup_path<'v>(value: &'v serde_json::Value, path: &[String]) -> Option<&'v serde_json::Value> {
    path.iter().try_fold(value, |v, part| v.get(part))
}

/// The default section at `path` (`providers`, `providers.aniworld`), when the defaults have one.
fn lookup_defaults(template: &serde_json::Value, path: &[String]) -> Option<serde_json::Value> {
    lookup_path(template, path)
        .filter(|v| v.is_object())
        .cloned()
}

/// The template value a key path refers to, following map children into their templates.
fn lookup_template(template: &serde_json::Value, path: &[String]) -> Option<serde_json::Value> {
    let mut current = template.clone();
    let mut dotted = String::new();
    for part in path {
        if let Some(child) = map_child_template(&dotted) {
            current = child.unwrap_or(serde_json::Value::String(String::new()));
        } else {
            current = current.get(part)?.clone();
        }
        if !dotted.is_empty() {
            dotted.push('.');
        }
        dotted.push_str(part);
    }
    Some(current)
}

fn set_path(
    value: &mut serde_json::Value,
    path: &[String],
    new: serde_json::Value,
) -> std::result::Result<(), String> {
    let mut current = value;
    for (i, part) in path.iter().enumerate() {
        let obj = current
            .as_object_mut()
            .ok_or_else(|| format!("{} is not a section", path[..i].join(".")))?;
        if i + 1 == path.len() {
            obj.insert(part.clone(), new);
            return Ok(());
        }
        current = obj
            .entry(part.clone())
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
    }
    Err("no key given".to_owned())
}

/// Finds the key a serde conversion error is about (e.g. a number too big for its field) by
/// converting the defaults with one given leaf at a time.
fn locate_conversion_error(
    value: &serde_json::Value,
    template: &serde_json::Value,
    error: serde_json::Error,
) -> Error {
    let mut leaves = Vec::new();
    collect_leaves(value, &mut Vec::new(), &mut leaves);
    for (path, leaf) in leaves {
        let mut probe = template.clone();
        if set_path(&mut probe, &path, leaf.clone()).is_ok()
            && let Err(e) = serde_json::from_value::<Config>(probe)
        {
            return Error::invalid(path.join("."), e.to_string());
        }
    }
    Error::invalid("config", error.to_string())
}

fn collect_leaves<'v>(
    value: &'v serde_json::Value,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, &'v serde_json::Value)>,
) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                path.push(k.clone());
                collect_leaves(v, path, out);
                path.pop();
            }
        }
        _ if !path.is_empty() => out.push((path.clone(), value)),
        _ => {}
    }
}

/// One `connections` entry: an object with string `name`, `kind`, `url`, an optional string
/// `token` and an optional list of strings `events` (null = absent).
fn check_connection_shape(value: &serde_json::Value, path: &str) -> Result<()> {
    let Some(entry) = value.as_object() else {
        return Err(Error::invalid(
            path,
            "must be an object like {\"name\", \"kind\", \"url\"}",
        ));
    };
    for (key, child) in entry {
        let at = format!("{path}.{key}");
        match key.as_str() {
            "name" | "kind" | "url" if !child.is_string() => {
                return Err(Error::invalid(at, "must be a string"));
            }
            "name" | "kind" | "url" => {}
            "token" if !(child.is_string() || child.is_null()) => {
                return Err(Error::invalid(at, "must be a string"));
            }
            "token" => {}
            "events" => match child {
                serde_json::Value::Null => {}
                serde_json::Value::Array(events) => {
                    if let Some(i) = events.iter().position(|e| !e.is_string()) {
                        return Err(Error::invalid(format!("{at}[{i}]"), "must be a string"));
                    }
                }
                _ => return Err(Error::invalid(at, "must be a list of event names")),
            },
            _ => {
                return Err(Error::invalid(
                    at,
                    "unknown key (a connection has name, kind, url, token, events)",
                ));
            }
        }
    }
    for required in ["name", "kind", "url"] {
        if !entry.contains_key(required) {
            return Err(Error::invalid(
                format!("{path}.{required}"),
                "missing (every connection needs name, kind and url)",
            ));
        }
    }
    Ok(())
}

/// Walks `value` along `template` (the serialised defaults): unknown keys and values of the wrong
/// JSON type are errors naming the key.
fn check_shape(value: &serde_json::Value, template: &serde_json::Value, path: &str) -> Result<()> {
    use serde_json::Value;
    let field = |p: &str| {
        if p.is_empty() {
            "config".to_owned()
        } else {
            p.to_owned()
        }
    };
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match template {
        Value::Object(fields) => {
            let Value::Object(given) = value else {
                return Err(Error::invalid(field(path), "must be an object"));
            };
            if let Some(child_template) = map_child_template(path) {
                for (key, child) in given {
                    match &child_template {
                        Some(t) => check_shape(child, t, &join(key))?,
                        None if child.is_string() => {}
                        None => return Err(Error::invalid(join(key), "must be a string")),
                    }
                }
                return Ok(());
            }
            for (key, child) in given {
                let Some(t) = fields.get(key) else {
                    return Err(Error::invalid(join(key), "unknown key"));
                };
                check_shape(child, t, &join(key))?;
            }
            Ok(())
        }
        Value::Array(items) => {
            let Value::Array(given) = value else {
                return Err(Error::invalid(field(path), "must be a list"));
            };
            if path == "connections" {
                for (i, child) in given.iter().enumerate() {
                    check_connection_shape(child, &format!("{path}[{i}]"))?;
                }
                return Ok(());
            }
            if let Some(t) = items.first() {
                for (i, child) in given.iter().enumerate() {
                    check_shape(child, t, &format!("{path}[{i}]"))?;
                }
            }
            Ok(())
        }
        Value::String(_) if !value.is_string() => {
            Err(Error::invalid(field(path), "must be a string"))
        }
        Value::Bool(_) if !value.is_boolean() => {
            Err(Error::invalid(field(path), "must be true or false"))
        }
        Value::Number(n) if n.is_u64() && !value.is_u64() => Err(Error::invalid(
            field(path),
            "must be a whole number, 0 or more",
        )),
        Value::Number(_) if !value.is_number() => {
            Err(Error::invalid(field(path), "must be a number"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn field_of(err: Error) -> String {
        match err {
            Error::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn first_start_creates_config_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let config = Config::load_or_create_with_env(&data, env(&[])).unwrap();
        assert_eq!(config, Config::default());
        let on_disk = std::fs::read_to_string(data.join(CONFIG_FILE)).unwrap();
        assert_eq!(Config::from_json_str(&on_disk).unwrap(), Config::default());
    }

    #[test]
    fn an_override_inside_a_section_the_file_lacks_keeps_the_sections_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            r#"{"download": {"max_parallel": 3}}"#,
        )
        .unwrap();
        let config = Config::load_or_create_with_env(
            dir.path(),
            env(&[("ANIWORLD_PROVIDERS__ANIWORLD__ENABLED", "false")]),
        )
        .unwrap();
        let defaults = Config::default();
        assert!(!config.providers["aniworld"].enabled);
        assert_eq!(
            config.providers["aniworld"].base_url,
            defaults.providers["aniworld"].base_url
        );
        assert_eq!(config.providers["sto"], defaults.providers["sto"]);
        assert_eq!(config.download.max_parallel, 3);
    }

    #[test]
    fn environment_overrides_nested_keys_with_json_or_string_values() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_or_create_with_env(
            dir.path(),
            env(&[
                (
                    "ANIWORLD_PROVIDERS__ANIWORLD__BASE_URL",
                    "http://127.0.0.1:9",
                ),
                ("ANIWORLD_DOWNLOAD__MAX_PARALLEL", "5"),
                ("ANIWORLD_DOWNLOAD__LANGUAGES", r#"["German Sub"]"#),
                ("ANIWORLD_SERVER__BIND", "0.0.0.0:81"),
                ("ANIWORLD_SCRIPTS__SETTINGS__WEBHOOK", "123"),
                ("ANIWORLD_DATA_DIR", "/ignored"),
                ("OTHER__THING", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.providers["aniworld"].base_url, "http://127.0.0.1:9");
        assert_eq!(config.download.max_parallel, 5);
        assert_eq!(config.download.languages, vec!["German Sub".to_owned()]);
        assert_eq!(config.server.bind, "0.0.0.0:81");
        assert_eq!(config.scripts.settings["webhook"], "123");
    }

    #[test]
    fn network_settings_come_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::load_or_create_with_env(
            dir.path(),
            env(&[
                ("ANIWORLD_NETWORK__PROXY", "socks5://127.0.0.1:1080"),
                (
                    "ANIWORLD_PROVIDERS__STO__MIRRORS",
                    r#"["https://serienstream.to","https://serienstream.cx"]"#,
                ),
                ("ANIWORLD_PROVIDERS__STO__HEADERS__COOKIE", "cf_clearance=1"),
            ]),
        )
        .unwrap();
        assert_eq!(config.network.proxy, "socks5://127.0.0.1:1080");
        let sto = &config.providers["sto"];
        assert_eq!(sto.mirrors.len(), 2);
        assert_eq!(sto.headers["cookie"], "cf_clearance=1");
        let err = Config::from_json_str(r#"{"providers": {"sto": {"headers": {"Cookie": 1}}}}"#)
            .unwrap_err();
        assert_eq!(field_of(err), "providers.sto.headers.Cookie");
    }

    #[test]
    fn environment_overrides_are_not_written_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        Config::load_or_create_with_env(dir.path(), env(&[("ANIWORLD_AUTH__TOKEN_TTL", "120")]))
            .unwrap();
        let on_disk = Config::load_or_create_with_env(dir.path(), env(&[])).unwrap();
        assert_eq!(on_disk.auth.token_ttl, AuthConfig::default().token_ttl);
    }

    #[test]
    fn environment_override_of_unknown_key_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load_or_create_with_env(
            dir.path(),
            env(&[("ANIWORLD_DOWNLOAD__MAX_PARALEL", "3")]),
        )
        .unwrap_err();
        assert_eq!(field_of(err), "download.max_paralel");
    }

    #[test]
    fn invalid_environment_value_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load_or_create_with_env(
            dir.path(),
            env(&[("ANIWORLD_DOWNLOAD__MAX_PARALLEL", "0")]),
        )
        .unwrap_err();
        assert_eq!(field_of(err), "download.max_parallel");
    }

    #[test]
    fn unknown_key_in_file_is_an_error_naming_it() {
        let err = Config::from_json_str(r#"{"download": {"max_parallel": 2, "turbo": true}}"#)
            .unwrap_err();
        assert_eq!(field_of(err), "download.turbo");
        let err = Config::from_json_str(r#"{"downlaod": {}}"#).unwrap_err();
        assert_eq!(field_of(err), "downlaod");
        let err = Config::from_json_str(r#"{"providers": {"x": {"base_urll": "http://a"}}}"#)
            .unwrap_err();
        assert_eq!(field_of(err), "providers.x.base_urll");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let err = Config::from_json_str(r#"{"download": {"max_parallel": "two"}}"#).unwrap_err();
        assert_eq!(field_of(err), "download.max_parallel");
        let err =
            Config::from_json_str(r#"{"download": {"max_parallel": 99999999999}}"#).unwrap_err();
        assert_eq!(field_of(err), "download.max_parallel");
        let err =
            Config::from_json_str(r#"{"download": {"languages": ["German Dub", 3]}}"#).unwrap_err();
        assert_eq!(field_of(err), "download.languages[1]");
        let err = Config::from_json_str(r#"{"scripts": {"settings": {"a": 1}}}"#).unwrap_err();
        assert_eq!(field_of(err), "scripts.settings.a");
    }

    #[test]
    fn validation_names_the_bad_key() {
        type Mutation = Box<dyn Fn(&mut Config)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "download.max_parallel",
                Box::new(|c| c.download.max_parallel = 0),
            ),
            (
                "download.segment_parallelism",
                Box::new(|c| c.download.segment_parallelism = 1000),
            ),
            (
                "download.languages",
                Box::new(|c| c.download.languages = vec!["Klingon".into()]),
            ),
            (
                "download.languages",
                Box::new(|c| c.download.languages.clear()),
            ),
            (
                "download.remux",
                Box::new(|c| c.download.remux = "avi".into()),
            ),
            (
                "providers.sto.base_url",
                Box::new(|c| c.providers.get_mut("sto").unwrap().base_url = "ftp://x".into()),
            ),
            (
                "library.naming_template",
                Box::new(|c| c.library.naming_template = "../{episode}".into()),
            ),
            (
                "library.naming_template",
                Box::new(|c| c.library.naming_template = "{nope}{episode}".into()),
            ),
            (
                "library.naming_template",
                Box::new(|c| c.library.naming_template = "{title}.mp4".into()),
            ),
            ("auth.token_ttl", Box::new(|c| c.auth.token_ttl = 1)),
            (
                "server.bind",
                Box::new(|c| c.server.bind = "localhost".into()),
            ),
            (
                "database.url",
                Box::new(|c| c.database.url = "mysql://x".into()),
            ),
            (
                "network.proxy",
                Box::new(|c| c.network.proxy = "ftp://127.0.0.1:21".into()),
            ),
            (
                "providers.sto.proxy",
                Box::new(|c| c.providers.get_mut("sto").unwrap().proxy = "127.0.0.1:3128".into()),
            ),
            (
                "providers.sto.mirrors[0]",
                Box::new(|c| {
                    c.providers.get_mut("sto").unwrap().mirrors = vec!["serienstream.to".into()]
                }),
            ),
            (
                "providers.sto.headers.Cookie",
                Box::new(|c| {
                    c.providers
                        .get_mut("sto")
                        .unwrap()
                        .headers
                        .insert("Cookie".into(), "a=1\nb=2".into());
                }),
            ),
            ("network.down_after", Box::new(|c| c.network.down_after = 0)),
            (
                "network.max_cooldown",
                Box::new(|c| c.network.max_cooldown = 10),
            ),
            ("server.body_limit", Box::new(|c| c.server.body_limit = 10)),
            (
                "server.body_limit",
                Box::new(|c| c.server.body_limit = MIN_BODY_LIMIT - 1),
            ),
            (
                "auth.max_failed_logins_per_minute",
                Box::new(|c| c.auth.max_failed_logins_per_minute = 101),
            ),
            ("auth.bcrypt_cost", Box::new(|c| c.auth.bcrypt_cost = 31)),
            (
                "server.header_read_timeout",
                Box::new(|c| c.server.header_read_timeout = 0),
            ),
            (
                "server.max_connections",
                Box::new(|c| c.server.max_connections = 1),
            ),
            (
                "download.rate_limit",
                Box::new(|c| c.download.rate_limit = 10),
            ),
            (
                "providers.sto.timeout",
                Box::new(|c| c.providers.get_mut("sto").unwrap().timeout = 100_000),
            ),
        ];
        for (expected, mutate) in cases {
            let mut c = Config::default();
            mutate(&mut c);
            assert_eq!(field_of(c.validate().unwrap_err()), expected);
        }
        Config::default().validate().unwrap();
    }

    #[test]
    fn connection_entries_are_checked_and_errors_name_them() {
        let cases = [
            (r#"{"connections": {}}"#, "connections"),
            (r#"{"connections": [3]}"#, "connections[0]"),
            (
                r#"{"connections": [{"name": "a", "kind": "webhook"}]}"#,
                "connections[0].url",
            ),
            (
                r#"{"connections": [{"name": "a", "kind": "webhook", "url": "http://h", "colour": 1}]}"#,
                "connections[0].colour",
            ),
            (
                r#"{"connections": [{"name": "a", "kind": "webhook", "url": "http://h", "events": ["test", 2]}]}"#,
                "connections[0].events[1]",
            ),
            (
                r#"{"connections": [{"name": "a", "kind": "webhook", "url": "http://h"},
                                     {"name": "b", "kind": "gotify", "url": "http://h"}]}"#,
                "connections[1].kind",
            ),
            (
                r#"{"connections": [{"name": "a", "kind": "ntfy", "url": "file:///etc/passwd"}]}"#,
                "connections[0].url",
            ),
            (
                r#"{"connections": [{"name": "a", "kind": "webhook", "url": "http://h", "events": ["download_done"]}]}"#,
                "connections[0].events[0]",
            ),
            (
                r#"{"connections": [{"name": "a", "kind": "webhook", "url": "http://h"},
                                     {"name": "a", "kind": "ntfy", "url": "http://h"}]}"#,
                "connections[1].name",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                field_of(Config::from_json_str(text).unwrap_err()),
                expected,
                "{text}"
            );
        }
        let ok = Config::from_json_str(
            r#"{"connections": [{"name": "jf", "kind": "jellyfin", "url": "http://h:8096", "token": "k", "events": null},
                                 {"name": "mine", "kind": "script:gotify", "url": "https://g.example/x", "token": null,
                                  "events": ["download_completed", "new_episodes"]}]}"#,
        )
        .unwrap();
        assert_eq!(ok.connections.len(), 2);
        assert_eq!(ok.connections[0].token.as_deref(), Some("k"));
        assert!(
            !format!("{ok:?}").contains("\"k\""),
            "Debug prints the token"
        );
    }

    #[test]
    fn save_backs_up_the_previous_file_and_writes_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let first = Config::load_or_create_with_env(dir.path(), env(&[])).unwrap();
        let mut changed = first.clone();
        changed.download.max_parallel = 4;
        let backup = changed
            .save(dir.path())
            .unwrap()
            .expect("a backup was made");
        assert_eq!(
            Config::list_backups(dir.path()).unwrap(),
            vec![backup.clone()]
        );
        let backup_text =
            std::fs::read_to_string(Config::backup_dir(dir.path()).join(&backup)).unwrap();
        assert_eq!(Config::from_json_str(&backup_text).unwrap(), first);
        let now = Config::load_or_create_with_env(dir.path(), env(&[])).unwrap();
        assert_eq!(now.download.max_parallel, 4);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn invalid_config_is_not_saved() {
        let dir = tempfile::tempdir().unwrap();
        Config::load_or_create_with_env(dir.path(), env(&[])).unwrap();
        let mut bad = Config::default();
        bad.download.max_parallel = 0;
        assert!(bad.save(dir.path()).is_err());
        assert!(Config::list_backups(dir.path()).unwrap().is_empty());
        let now = Config::load_or_create_with_env(dir.path(), env(&[])).unwrap();
        assert_eq!(now, Config::default());
    }

    #[test]
    fn backups_list_newest_first_and_restore() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::load_or_create_with_env(dir.path(), env(&[])).unwrap();
        for n in 3..6 {
            c.download.max_parallel = n;
            c.save(dir.path()).unwrap();
        }
        let backups = Config::list_backups(dir.path()).unwrap();
        assert_eq!(backups.len(), 3);
        // Newest backup holds max_parallel = 4, the oldest the defaults.
        let restored = Config::restore_backup(dir.path(), &backups[0]).unwrap();
        assert_eq!(restored.download.max_parallel, 4);
        let now = Config::load_or_create_with_env(dir.path(), env(&[])).unwrap();
        assert_eq!(now.download.max_parallel, 4);
        assert_eq!(Config::list_backups(dir.path()).unwrap().len(), 4);
        let oldest = Config::restore_backup(dir.path(), &backups[2]).unwrap();
        assert_eq!(oldest, Config::default());
    }

    #[test]
    fn restore_rejects_path_tricks_and_unknown_names() {
        let dir = tempfile::tempdir().unwrap();
        Config::load_or_create_with_env(dir.path(), env(&[])).unwrap();
        for name in [
            "../config.json",
            "config-../../x.json",
            "a/b.json",
            "config-1\\x.json",
        ] {
            assert_eq!(
                field_of(Config::restore_backup(dir.path(), name).unwrap_err()),
                "name"
            );
        }
        assert!(matches!(
            Config::restore_backup(dir.path(), "config-20200101T000000.000Z-000.json"),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn relative_plugin_and_script_dirs_resolve_against_the_data_dir() {
        let mut c = Config::default();
        let data = Path::new("/srv/aniworld");
        assert_eq!(c.plugins_dir(data), data.join("plugins"));
        assert_eq!(c.scripts_dir(data), data.join("scripts"));
        c.scripts.dir = PathBuf::from("/opt/scripts");
        assert_eq!(c.scripts_dir(data), PathBuf::from("/opt/scripts"));
    }

    #[test]
    fn the_smallest_allowed_body_limit_is_accepted_and_explained_below_it() {
        let mut c = Config::default();
        c.server.body_limit = MIN_BODY_LIMIT;
        c.validate().unwrap();
        c.server.body_limit = 10;
        let err = c.validate().unwrap_err();
        assert!(err.to_string().contains("64 KiB"), "{err}");
    }

    #[test]
    fn only_the_newest_backups_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::load_or_create_with_env(dir.path(), env(&[])).unwrap();
        let mut made = Vec::new();
        for n in 0..(MAX_BACKUPS + 5) {
            c.download.max_parallel = 1 + (n % 30) as u32;
            made.push(c.save(dir.path()).unwrap().unwrap());
        }
        let kept = Config::list_backups(dir.path()).unwrap();
        assert_eq!(kept.len(), MAX_BACKUPS);
        made.reverse();
        assert_eq!(kept, made[..MAX_BACKUPS].to_vec());
    }

    #[test]
    fn a_temp_file_left_by_a_killed_writer_is_removed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        Config::load_or_create_with_env(dir.path(), env(&[])).unwrap();
        // A pid that cannot be running (above the kernel's pid limit).
        let stale = dir.path().join(format!(".{CONFIG_FILE}.4294967294.tmp"));
        std::fs::write(&stale, "{\"half\": ").unwrap();
        let unrelated = dir.path().join("notes.tmp");
        std::fs::write(&unrelated, "keep").unwrap();
        Config::load_or_create_with_env(dir.path(), env(&[])).unwrap();
        assert!(!stale.exists());
        assert!(unrelated.exists());
    }

    #[test]
    fn file_only_keys_expand_sections_and_changes_are_found() {
        let keys = Config::file_only_keys();
        for k in [
            "plugins.dir",
            "scripts.dir",
            "server.bind",
            "server.cors_origins",
            "server.metrics_public",
            "database.url",
            "database.redis_url",
        ] {
            assert!(keys.contains(&k.to_owned()), "{k} in {keys:?}");
        }
        let a = Config::default();
        let mut b = a.clone();
        b.download.max_parallel = 5;
        assert_eq!(a.file_only_change(&b), None);
        b.plugins.dir = PathBuf::from("/tmp/evil");
        assert_eq!(a.file_only_change(&b).as_deref(), Some("plugins.dir"));
        assert_eq!(env_var_for("plugins.dir"), "ANIWORLD_PLUGINS__DIR");
    }

    #[test]
    fn malformed_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "{ not json").unwrap();
        let err = Config::load_or_create_with_env(dir.path(), env(&[])).unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }
}

#[cfg(test)]
mod readme_tests {
    use super::*;

    fn leaf_keys(value: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) if map_child_template(path).is_none() => {
                for (k, v) in map {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    leaf_keys(v, &p, out);
                }
            }
            _ => out.push(path.to_owned()),
        }
    }

    #[test]
    fn readme_config_table_lists_every_key() {
        let readme = include_str!("../../../README.md");
        let mut keys = Vec::new();
        let defaults = serde_json::to_value(Config::default()).unwrap();
        leaf_keys(&defaults, "", &mut keys);
        let provider = serde_json::to_value(ProviderConfig::default()).unwrap();
        for k in provider.as_object().unwrap().keys() {
            keys.push(format!("providers.<id>.{k}"));
        }
        keys.retain(|k| k != "providers");
        keys.push("scripts.settings.<name>".into());
        keys.retain(|k| k != "scripts.settings");
        for key in keys {
            assert!(
                readme.contains(&format!("| `{key}` |")),
                "README.md config table lacks `{key}`"
            );
        }
    }
}
