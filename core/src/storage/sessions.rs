//! Login sessions: one row per issued token, revocable (`POST /api/auth/logout`).

use sqlx::FromRow;

use super::{Store, now};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Session {
    pub id: String,
    /// Client address the login came from.
    pub client: Option<String>,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
}

impl Session {
    /// Not revoked and not expired at `at` (unix seconds).
    pub fn is_valid_at(&self, at: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > at
    }
}

/// The `sessions` table.
pub struct SessionRepo<'a> {
    store: &'a Store,
}

impl Store {
    pub fn sessions(&self) -> SessionRepo<'_> {
        SessionRepo { store: self }
    }
}

impl SessionRepo<'_> {
    pub async fn create(&self, id: &str, client: Option<&str>, expires_at: i64) -> Result<()> {
        let t = now();
        sqlx::query(
            "INSERT INTO sessions (id, client, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(client)
        .bind(expires_at)
        .bind(t)
        .bind(t)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Option<Session>> {
        Ok(sqlx::query_as::<_, Session>(
            "SELECT id, client, expires_at, revoked_at, created_at FROM sessions WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?)
    }

    /// Marks a session revoked. Returns false when it did not exist or was already revoked.
    pub async fn revoke(&self, id: &str) -> Result<bool> {
        let t = now();
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1, updated_at = $2 WHERE id = $3 AND revoked_at IS NULL AND deleted_at IS NULL",
        )
        .bind(t)
        .bind(t)
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Soft-deletes sessions that expired before `before`; returns how many.
    pub async fn purge_expired(&self, before: i64) -> Result<u64> {
        let t = now();
        let done = sqlx::query(
            "UPDATE sessions SET deleted_at = $1, updated_at = $2 WHERE expires_at < $3 AND deleted_at IS NULL",
        )
        .bind(t)
        .bind(t)
        .bind(before)
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::scratch::on_both_dialects;

    on_both_dialects!(
        created_session_is_valid_until_revoked,
        expired_sessions_are_purged
    );

    async fn created_session_is_valid_until_revoked(store: Store) {
        let repo = store.sessions();
        repo.create("s1", Some("127.0.0.1"), now() + 60)
            .await
            .unwrap();
        let s = repo.get("s1").await.unwrap().unwrap();
        assert!(s.is_valid_at(now()));
        assert!(repo.revoke("s1").await.unwrap());
        assert!(!repo.revoke("s1").await.unwrap());
        assert!(!repo.get("s1").await.unwrap().unwrap().is_valid_at(now()));
    }

    async fn expired_sessions_are_purged(store: Store) {
        let repo = store.sessions();
        repo.create("old", None, now() - 10).await.unwrap();
        repo.create("new", None, now() + 60).await.unwrap();
        assert_eq!(repo.purge_expired(now()).await.unwrap(), 1);
        assert!(repo.get("old").await.unwrap().is_none());
        assert!(repo.get("new").await.unwrap().is_some());
    }
}
