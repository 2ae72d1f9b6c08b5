//! Persistence behind a small repository layer. Callers use [`Store`] and its repositories; which
//! database sits underneath (SQLite in the data dir, or PostgreSQL for several instances) is this
//! module's business only.
//!
//! Queries are runtime-checked and written once for both dialects (`sqlx::Any`): `$1, $2, ...`
//! placeholders, `ON CONFLICT`, `RETURNING`, integers as 64-bit, booleans as 0/1 integers and
//! timestamps as unix seconds. The few statements that must differ ask [`Store::dialect`].

pub mod scan_state;
pub mod series;

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

use crate::error::{Error, Result};

pub mod cache;
pub mod catalogue;
pub mod connections;
pub mod follows;
pub mod migrate;
pub mod queue;
pub mod scratch;
pub mod sessions;
pub mod settings;
pub mod singleton;

/// Which SQL dialect the [`Store`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// This process's id: the owner of the queue leases it holds.
    instance: std::sync::Arc<str>,
}

/// Current UTC time in unix seconds, the unit of every timestamp column.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// How long opening a PostgreSQL database may take before start fails with a clear error.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The statements every SQLite connection runs first: WAL, `synchronous = NORMAL`, foreign keys
/// and a 10 s busy timeout.
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 10000",
];

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `host:port` of a database URL, for error messages (never the password).
pub fn url_host(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!(
            "{}:{}",
            u.host_str().unwrap_or("localhost"),
            u.port().unwrap_or(5432)
        ),
        Err(_) => "an unparseable URL".to_owned(),
    }
}

impl Store {
    /// Opens (creating if missing) `path` with WAL, foreign keys and a busy timeout, and applies
    /// the migrations.
    ///
    /// The file (password hash, sessions) is made owner-only (0600) before SQLite opens it, and
    /// its `-wal`/`-shm` companions after, also when they already existed with wider modes.
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        restrict_to_owner(path, true)?;
        let url = sqlite_url(path)?;
        let store = Self::connect_sqlite(&url, 8, false).await?;
        for suffix in ["-wal", "-shm"] {
            let mut companion = path.as_os_str().to_owned();
            companion.push(suffix);
            restrict_to_owner(Path::new(&companion), false)?;
        }
        Ok(store)
    }

    /// An in-memory database (tests, `scan --offline` without a data dir).
    pub async fn open_memory() -> Result<Self> {
        // One connection, kept for the pool's life: every connection to :memory: is its own database.
        Self::connect_sqlite("sqlite::memory:", 1, true).await
    }

    async fn connect_sqlite(url: &str, max: u32, keep: bool) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let options: AnyConnectOptions = url.parse()?;
        let mut pool = AnyPoolOptions::new()
            .max_connections(max)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    for pragma in SQLITE_PRAGMAS {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            });
        if keep {
            pool = pool
                .idle_timeout(None)
                .max_lifetime(None)
                .min_connections(1);
        }
        let pool = pool.connect_with(options).await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        Ok(Self::new(pool, Dialect::Sqlite))
    }

    /// Connects to the PostgreSQL database `url` and applies the migrations. An unreachable
    /// server fails within a few seconds with an error naming its host.
    pub async fn open_postgres(url: &str) -> Result<Self> {
        let pool = Self::postgres_pool(url).await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(Self::new(pool, Dialect::Postgres))
    }

    /// A pool on `url` without migrations (what `db migrate` checks for emptiness first).
    pub(crate) async fn postgres_pool(url: &str) -> Result<AnyPool> {
        sqlx::any::install_default_drivers();
        let unreachable = |message: String| Error::DatabaseUnreachable {
            host: url_host(url),
            message,
        };
        let options: AnyConnectOptions = url
            .parse()
            .map_err(|e: sqlx::Error| unreachable(format!("bad URL: {e}")))?;
        // One direct attempt first: the pool would retry a refused connection until its timeout.
        match tokio::time::timeout(PG_CONNECT_TIMEOUT, options.connect()).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {} s",
                    PG_CONNECT_TIMEOUT.as_secs()
                )));
            }
        }
        AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| unreachable(e.to_string()))
    }

    /// Opens the database a `database.url` names: `postgres://...`, or `sqlite:PATH`.
    pub async fn open_url(url: &str) -> Result<Self> {
        if is_postgres_url(url) {
            return Self::open_postgres(url).await;
        }
        if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(Error::invalid(
                    "database.url",
                    "sqlite: URL without a file path",
                ));
            }
            return Self::open_sqlite(Path::new(path)).await;
        }
        Err(Error::invalid(
            "database.url",
            "must be empty (SQLite in the data dir), sqlite:... or postgres://...",
        ))
    }

    fn new(pool: AnyPool, dialect: Dialect) -> Self {
        let random = uuid::Uuid::new_v4().simple().to_string();
        Store {
            pool,
            dialect,
            instance: format!("{}/{}/{}", host_name(), std::process::id(), &random[..12]).into(),
        }
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// This process's random id (the owner recorded on the queue items it downloads).
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    /// Cheap liveness check for `/health`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection (a test dropping its database waits for this).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// This machine's name (`/proc/sys/kernel/hostname`, else `/etc/hostname`), part of an instance id.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().replace('/', "_"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Whether the instance `owner` (an [`Store::instance_id`]) is a process on this machine that
/// has ended, so its queue leases need not be waited out. Only known where `/proc` tells;
/// elsewhere (or for another machine) `false`: the lease runs out instead.
pub(crate) fn owner_is_gone(owner: &str) -> bool {
    let mut parts = owner.splitn(3, '/');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if host != host_name() || pid == std::process::id() || !Path::new("/proc/self").exists() {
        return false;
    }
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// The sqlx URL of a SQLite file, created if missing (`?` and `#` in the path percent-encoded).
fn sqlite_url(path: &Path) -> Result<String> {
    let path = path
        .to_str()
        .ok_or_else(|| Error::invalid("database path", "not valid UTF-8"))?;
    let encoded: String = path
        .chars()
        .map(|c| match c {
            '%' => "%25".to_owned(),
            '?' => "%3F".to_owned(),
            '#' => "%23".to_owned(),
            c => c.to_string(),
        })
        .collect();
    Ok(format!("sqlite://{encoded}?mode=rwc"))
}

/// Makes `path` readable and writable by its owner only (0600), creating it empty first when
/// `create` and it does not exist. A no-op where there are no Unix permissions.
pub fn restrict_to_owner(path: &Path, create: bool) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if create
            && let Err(e) = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(crate::Error::io(path, e));
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| crate::Error::io(path, e))?;
                tracing::info!(path = %path.display(), "made the file owner-only (0600)");
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(crate::Error::io(path, e)),
        }
    }
    #[cfg(not(unix))]
    let _ = (path, create);
    Ok(())
}

/// Makes directory `dir` accessible by its owner only (0700).
pub fn restrict_dir_to_owner(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(dir).map_err(|e| crate::Error::io(dir, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| crate::Error::io(dir, e))?;
            tracing::info!(path = %dir.display(), "made the data dir owner-only (0700)");
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_file_database_with_wal_and_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(&dir.path().join("a.db")).await.unwrap();
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(fk, 1);
        let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
        let (busy,): (i64,) = sqlx::query_as("PRAGMA busy_timeout")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(busy, 10_000);
        store.ping().await.unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_database_and_its_wal_files_are_owner_only_also_when_they_existed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let files = |db: &Path| {
            ["", "-wal", "-shm"].map(|s| {
                let mut p = db.as_os_str().to_owned();
                p.push(s);
                std::path::PathBuf::from(p)
            })
        };
        let store = Store::open_sqlite(&db).await.unwrap();
        store.ping().await.unwrap();
        for f in files(&db) {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let again = Store::open_sqlite(&db).await.unwrap();
        again.ping().await.unwrap();
        for f in files(&db) {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
        drop((store, again));
    }
}
