//! The config document as OpenAPI types. Mirrors `aniworld_core::config::Config` key by key; every
//! field is optional so `PUT` can take a partial document (given keys replace the current ones).
//! Converted through JSON, so the names are the core's serde names.

use std::collections::BTreeMap;

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Object, Serialize, Deserialize)]
#[oai(rename = "Config", deny_unknown_fields)]
pub struct ConfigDoc {
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<LibrarySection>,
    /// Provider id → settings.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<BTreeMap<String, ProviderSection>>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download: Option<DownloadSection>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<PluginsSection>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scripts: Option<ScriptsSection>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSection>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerSection>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseSection>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSection>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSection>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow: Option<FollowSection>,
    /// Notifications and media-server refreshes. A `PUT` replaces the whole list; a `token` or URL
    /// sent back as `GET` showed it (`***`) keeps the stored secret.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<Vec<ConnectionSection>>,
    /// Keys that can only be set in `config.json` or the environment (they load code or expose the
    /// server). Sent in answers; ignored in requests, where changing one of these keys is refused.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<Vec<String>>,
    /// Keys (or whole sections) whose value in effect comes from an environment variable or a
    /// command-line flag for this run. Sent in answers; ignored in requests. A request may send
    /// such a key back with the value shown (it is left out of `config.json`); another value is
    /// refused (422 naming the key): change the variable or flag instead.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overridden: Option<Vec<OverriddenKey>>,
}

/// Where an overridden key's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum, Serialize, Deserialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum OverrideSource {
    /// An `ANIWORLD_<SECTION>__<KEY>` environment variable.
    Env,
    /// A command-line flag of `aniworld serve` (`--library`, `--bind`).
    Cli,
}

/// A config key set by the environment or the command line.
#[derive(Debug, Clone, Object, Serialize, Deserialize)]
pub struct OverriddenKey {
    /// `download.max_parallel`, or a section (`providers.sto`): everything below it.
    pub key: String,
    pub source: OverrideSource,
    /// The variable or flag (`ANIWORLD_DOWNLOAD__MAX_PARALLEL`, `--library`).
    pub by: String,
}

macro_rules! section {
    ($(#[$doc:meta])* $name:ident $oai_name:literal { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, Object, Serialize, Deserialize)]
        #[oai(rename = $oai_name, deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[$fdoc])*
                #[oai(skip_serializing_if_is_none)]
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }
    };
}

section!(LibrarySection "LibraryConfig" {
    /// Library root; every top-level folder is a series.
    path: String,
    /// File name template relative to the library root (`{folder}`, `{title}`, `{season:02}`, ...).
    naming_template: String,
});

section!(ProviderSection "ProviderConfig" {
    base_url: String,
    enabled: bool,
    /// Requests per second to this site.
    rate_limit: f64,
    /// Request timeout, seconds.
    timeout: u64,
    retries: u32,
    /// Proxy for this site only (`http://`, `https://`, `socks5://`); empty = `network.proxy`.
    /// Passwords are shown as `***`; sending `***` back keeps the stored one.
    proxy: String,
    /// Further base URLs tried in order when the base URL cannot be reached or is blocked.
    mirrors: Vec<String>,
    /// Extra request headers (`Cookie`, `User-Agent`, ...). `Cookie` and `Authorization` values are
    /// shown as `***`; sending `***` back keeps the stored one. A map that is sent replaces the
    /// stored one.
    headers: BTreeMap<String, String>,
});

section!(DownloadSection "DownloadConfig" {
    /// Ordered language preference (`German Dub`, `German Sub`, `English Sub`, `English Dub`).
    languages: Vec<String>,
    /// Ordered hoster preference.
    hosters: Vec<String>,
    max_parallel: u32,
    segment_parallelism: u32,
    /// Bytes per second; 0 = unlimited.
    rate_limit: u64,
    attempts_per_candidate: u32,
    /// Highest HLS variant height; 0 = best.
    max_height: u32,
    /// `none`, `mp4` or `mkv`.
    remux: String,
    /// Start the queue with the server (a paused queue stays paused).
    autostart: bool,
    /// Seconds an instance holds a claimed queue item without renewing it (5–600); another
    /// instance on the same database takes the item over after this long.
    lease_secs: u64,
});

section!(PluginsSection "PluginsConfig" {
    dir: String,
    call_timeout_ms: u64,
});

section!(ScriptsSection "ScriptsConfig" {
    dir: String,
    time_limit_ms: u64,
    max_operations: u64,
    watch: bool,
    settings: BTreeMap<String, String>,
});

section!(AuthSection "AuthConfig" {
    /// Token lifetime, seconds.
    token_ttl: u64,
    bcrypt_cost: u32,
    max_failed_logins_per_minute: u32,
});

section!(ServerSection "ServerConfig" {
    bind: String,
    /// Allowed CORS origins; empty = CORS off.
    cors_origins: Vec<String>,
    /// Largest accepted request body, bytes.
    body_limit: u64,
    /// Request timeout, seconds.
    request_timeout: u64,
    /// Seconds a client has to send a complete request header (also the keep-alive idle timeout).
    header_read_timeout: u64,
    /// Open connections at most.
    max_connections: u32,
    /// `GET /metrics` without a bearer token.
    metrics_public: bool,
});

section!(DatabaseSection "DatabaseConfig" {
    /// Empty = SQLite in the data dir. Passwords are shown as `***`; sending `***` back keeps the stored one.
    url: String,
    redis_url: String,
});

section!(NetworkSection "NetworkConfig" {
    /// Proxy for provider, hoster and media traffic (`http://`, `https://`, `socks5://`); empty =
    /// none. Passwords are shown as `***`; sending `***` back keeps the stored one.
    proxy: String,
    /// Failed requests in a row after which a site or hoster counts as down.
    down_after: u32,
    /// First cooldown of a down site or hoster, seconds (doubled each time, up to `max_cooldown`).
    cooldown: u64,
    /// Longest cooldown, seconds.
    max_cooldown: u64,
});

section!(FollowSection "FollowConfig" {
    /// Seconds between scheduled checks of followed series for new episodes (10 to 2592000,
    /// default 3600; each wait is jittered by up to a tenth).
    interval: u64,
});

section!(CacheSection "CacheConfig" {
    /// Seconds scraped series info stays fresh.
    series_ttl: u64,
});

section!(
    /// One connection: `kind` is `webhook`, `jellyfin`, `emby`, `plex`, `ntfy`, `discord` or
    /// `script:<id>` (a connection script).
    ConnectionSection "ConnectionConfig" {
    /// Unique (case-insensitively) among the connections.
    name: String,
    kind: String,
    /// http(s) URL: the webhook/topic URL or the media server's base URL. Passwords, secret query
    /// values and Discord webhook tokens are shown as `***`.
    url: String,
    /// API key / access token; shown as `***`, sending `***` back keeps it.
    token: String,
    /// `download_completed` (default), `download_failed`, `series_added`, `new_episodes`,
    /// `scan_completed`, `test`.
    events: Vec<String>,
});
