//! Persistence behind a small repository layer. Callers use [`Store`] and its repositories; which
//! database sits underneath (SQLite now, Postgres later) is this module's business only.
//!
//! Queries are runtime-checked (`sqlx::query_as` + `FromRow`), so building needs no live database.

pub mod scan_state;
pub mod series;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::Result;

pub mod cache;
pub mod catalogue;
pub mod connections;
pub mod follows;
pub mod queue;
pub mod sessions;
pub mod settings;

/// The database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

/// Current UTC time in unix seconds, the unit of every timestamp column.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Store {
    /// Opens (creating if missing) `path` with WAL, foreign keys and a busy timeout, and applies
    /// the migrations.
    ///
    /// The file (password hash, sessions) is made owner-only (0600) before SQLite opens it, and
    /// its `-wal`/`-shm` companions after, also when they already existed with wider modes.
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        restrict_to_owner(path, true)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let store = Self::connect(options, 8).await?;
        for suffix in ["-wal", "-shm"] {
            let mut companion = path.as_os_str().to_owned();
            companion.push(suffix);
            restrict_to_owner(Path::new(&companion), false)?;
        }
        Ok(store)
    }

    /// An in-memory database (tests, `scan --offline` without a data dir).
    pub async fn open_memory() -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: every connection to :memory: is its own database.
        Self::connect(options, 1).await
    }

    async fn connect(options: SqliteConnectOptions, max: u32) -> Result<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        Ok(Store { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Cheap liveness check for `/health`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
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
