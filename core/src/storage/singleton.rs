//! Jobs that must run on one instance at a time (scheduled rescans, follow checks, session
//! purges): a PostgreSQL session advisory lock, held by one pooled connection for as long as the
//! [`SingletonGuard`] lives. SQLite serves one instance, so there it is always granted.

use sqlx::Any;
use sqlx::pool::PoolConnection;

use super::{Dialect, Store};
use crate::error::Result;

/// Held while a singleton job runs; dropping it lets another instance take the job.
pub struct SingletonGuard {
    conn: Option<(PoolConnection<Any>, i64)>,
}

impl std::fmt::Debug for SingletonGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SingletonGuard")
            .field("lock", &self.conn.as_ref().map(|(_, k)| *k))
            .finish()
    }
}

/// A stable 63-bit key for a job name (FNV-1a), the advisory lock's id.
fn lock_key(job: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in job.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::try_from(h >> 1).unwrap_or(i64::MAX)
}

impl Store {
    /// Takes the job `job` if no other instance runs it now: `None` when another one does.
    pub async fn try_singleton(&self, job: &str) -> Result<Option<SingletonGuard>> {
        match self.dialect() {
            Dialect::Sqlite => Ok(Some(SingletonGuard { conn: None })),
            Dialect::Postgres => {
                let key = lock_key(job);
                let mut conn = self.pool().acquire().await?;
                let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(got.then(|| SingletonGuard {
                    conn: Some((conn, key)),
                }))
            }
        }
    }
}

impl Drop for SingletonGuard {
    fn drop(&mut self) {
        if let Some((mut conn, key)) = self.conn.take() {
            // The lock belongs to the connection's session: unlock before it goes back to the pool.
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                        .bind(key)
                        .execute(&mut *conn)
                        .await;
                    if unlocked.is_err() {
                        // Closing the session releases its locks too.
                        let _ = conn.detach();
                    }
                });
            } else {
                drop(conn.detach());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::scratch::on_both_dialects;

    on_both_dialects!(a_singleton_job_runs_on_one_holder_at_a_time);

    async fn a_singleton_job_runs_on_one_holder_at_a_time(store: Store) {
        let first = store.try_singleton("rescan").await.unwrap();
        assert!(first.is_some());
        let other = store.try_singleton("follow").await.unwrap();
        assert!(other.is_some(), "another job is independent");
        let second = store.try_singleton("rescan").await.unwrap();
        match store.dialect() {
            // One instance per SQLite file: always granted.
            Dialect::Sqlite => assert!(second.is_some()),
            Dialect::Postgres => {
                assert!(second.is_none(), "held by the first guard");
                drop(first);
                let mut again = None;
                for _ in 0..50 {
                    again = store.try_singleton("rescan").await.unwrap();
                    if again.is_some() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                assert!(again.is_some(), "released when the guard is dropped");
            }
        }
    }
}
