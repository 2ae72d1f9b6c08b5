//! The one error type of `core`. `server` maps each variant to an HTTP status in one place.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing asked for does not exist (404 page, unknown key, missing queue item).
    #[error("not found: {0}")]
    NotFound(String),
    /// A site answered with a challenge (DDoS-Guard, Cloudflare, captcha, Turnstile) or a 403.
    #[error("blocked by {site}: {reason}")]
    Blocked { site: String, reason: String },
    /// The markup or payload changed: `what` names the element or field that could not be found.
    #[error("could not parse {what}")]
    Parse { what: String },
    /// Input from outside (a user, a file, a plugin) was rejected; the text says why.
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    /// Already exists (adding a series or a queue item twice).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Network failure after retries, or an unexpected HTTP status. The text says what failed
    /// (DNS, refused, timeout, TLS, status) and where.
    #[error("{0}")]
    Http(String),
    /// A site or hoster failed several times in a row and is not asked again until `retry_in_secs`
    /// have passed (calls fail at once meanwhile).
    #[error("{site} is down (last problem: {reason}); not asked again for {retry_in_secs} s")]
    SiteDown {
        site: String,
        reason: String,
        retry_in_secs: u64,
    },
    /// The configured proxy (`key` names the config key) could not be used: refused, unreachable,
    /// or it rejected the request. Not the site's fault.
    #[error("proxy {proxy} ({key}): {message}")]
    Proxy {
        key: String,
        proxy: String,
        message: String,
    },
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("i/o error at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The configured database server did not answer (refused, unknown host, timeout, bad
    /// credentials). `host` is `host:port`, never the URL with its password.
    #[error("cannot connect to the database at {host}: {message}")]
    DatabaseUnreachable { host: String, message: String },
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A native plugin or script misbehaved.
    #[error("plugin {id}: {message}")]
    Plugin { id: String, message: String },
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn parse(what: impl Into<String>) -> Self {
        Error::Parse { what: what.into() }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A short stable code for APIs and logs (`not_found`, `blocked`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound(_) => "not_found",
            Error::Blocked { .. } => "blocked",
            Error::Parse { .. } => "parse_error",
            Error::Invalid { .. } => "invalid_input",
            Error::Conflict(_) => "conflict",
            Error::Http(_) => "upstream_error",
            Error::SiteDown { .. } => "site_down",
            Error::Proxy { .. } => "proxy_error",
            Error::Timeout(_) => "timeout",
            Error::Io { .. } => "io_error",
            Error::Database(_) | Error::Migration(_) => "database_error",
            Error::DatabaseUnreachable { .. } => "database_unavailable",
            Error::Plugin { .. } => "plugin_error",
            Error::Unsupported(_) => "unsupported",
            Error::Cancelled => "cancelled",
        }
    }

    /// Whether trying the same thing again later may succeed (used by retry loops).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Http(_) | Error::Timeout(_) | Error::Io { .. })
    }
}
