//! Throw-away PostgreSQL databases for tests and benchmarks: each [`ScratchPostgres`] is a new,
//! uniquely named database on the local server (`127.0.0.1:5432`, user `postgres`, trust auth;
//! `ANIWORLD_TEST_PG_ADMIN` names another admin URL), dropped when it is dropped. A server that
//! is down is started first (`pg_ctlcluster`), as `tests/run.sh` does; when none can be reached
//! this fails loudly, never skips.

use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection, Executor};

use super::url_host;
use crate::error::{Error, Result};

const DEFAULT_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database that exists until this value is dropped.
#[derive(Debug)]
pub struct ScratchPostgres {
    url: String,
    admin: String,
    name: String,
    dropped: bool,
}

fn admin_url() -> String {
    std::env::var("ANIWORLD_TEST_PG_ADMIN").unwrap_or_else(|_| DEFAULT_ADMIN.to_owned())
}

async fn admin_connection(admin: &str) -> Result<AnyConnection> {
    sqlx::any::install_default_drivers();
    let options: AnyConnectOptions = admin.parse()?;
    let connect = || tokio::time::timeout(Duration::from_secs(5), options.connect());
    if let Ok(Ok(conn)) = connect().await {
        return Ok(conn);
    }
    start_local_server();
    let mut last = String::from("no answer");
    for _ in 0..40 {
        match connect().await {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "no answer within 5 s".into(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(Error::DatabaseUnreachable {
        host: url_host(admin),
        message: format!("{last} (started it with pg_ctlcluster, still down)"),
    })
}

/// `pg_ctlcluster <version> main start`, for each installed version (what tests/run.sh does).
fn start_local_server() {
    let Ok(versions) = std::fs::read_dir("/etc/postgresql") else {
        return;
    };
    for version in versions.flatten() {
        let _ = std::process::Command::new("pg_ctlcluster")
            .arg("--skip-systemctl-redirect")
            .arg(version.file_name())
            .args(["main", "start"])
            .status();
    }
}

impl ScratchPostgres {
    /// Creates a new empty database with a unique name.
    pub async fn create() -> Result<Self> {
        let admin = admin_url();
        let mut conn = admin_connection(&admin).await?;
        let name = format!("aniworld_t_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        let _ = conn.close().await;
        let mut url = url::Url::parse(&admin)
            .map_err(|e| Error::invalid("ANIWORLD_TEST_PG_ADMIN", e.to_string()))?;
        url.set_path(&name);
        Ok(ScratchPostgres {
            url: url.to_string(),
            admin,
            name,
            dropped: false,
        })
    }

    /// `postgres://.../<unique name>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database now (connections still open to it are ended).
    pub async fn drop_now(mut self) {
        self.dropped = true;
        drop_database(&self.admin, &self.name).await;
    }
}

async fn drop_database(admin: &str, name: &str) {
    if let Ok(mut conn) = admin_connection(admin).await {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        if let Err(e) = conn.execute(sql.as_str()).await {
            tracing::warn!(database = name, error = %e, "cannot drop a scratch database");
        }
        let _ = conn.close().await;
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Also after a failed test: on a thread of its own, whatever runtime (if any) is current.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(drop_database(&admin, &name));
            }
        })
        .join();
    }
}

/// Runs a repository test on SQLite (in memory) and on a scratch PostgreSQL database, as two
/// test functions `<test>::sqlite` and `<test>::postgres`.
#[cfg(test)]
macro_rules! on_both_dialects {
    ($($test:ident),* $(,)?) => { $(
        mod $test {
            #[tokio::test]
            async fn sqlite() {
                let store = $crate::storage::Store::open_memory().await.unwrap();
                super::$test(store).await;
            }

            #[tokio::test]
            async fn postgres() {
                let db = $crate::storage::scratch::ScratchPostgres::create()
                    .await
                    .expect("PostgreSQL on 127.0.0.1:5432 (user postgres)");
                let store = $crate::storage::Store::open_postgres(db.url()).await.unwrap();
                super::$test(store.clone()).await;
                store.close().await;
                db.drop_now().await;
            }
        }
    )* };
}
#[cfg(test)]
pub(crate) use on_both_dialects;
