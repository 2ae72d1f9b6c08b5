//! Small key/value settings (`settings` table), e.g. the master password hash.

use super::{Store, now};
use crate::error::Result;

/// The `settings` table.
pub struct SettingsRepo<'a> {
    store: &'a Store,
}

impl Store {
    pub fn settings(&self) -> SettingsRepo<'_> {
        SettingsRepo { store: self }
    }
}

impl SettingsRepo<'_> {
    pub async fn get(&self, name: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(row.map(|r| r.0))
    }

    /// Inserts or replaces a value.
    pub async fn set(&self, name: &str, value: &str) -> Result<()> {
        let t = now();
        sqlx::query(
            "INSERT INTO settings (name, value, created_at, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(value)
        .bind(t)
        .bind(t)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Sets a value only if none exists; true when this call set it (atomic: two racing callers
    /// cannot both win).
    pub async fn set_if_absent(&self, name: &str, value: &str) -> Result<bool> {
        let t = now();
        let done = sqlx::query(
            "INSERT INTO settings (name, value, created_at, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT(name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .bind(t)
        .bind(t)
        .execute(self.store.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::scratch::on_both_dialects;

    on_both_dialects!(set_if_absent_only_wins_once);

    async fn set_if_absent_only_wins_once(store: Store) {
        let repo = store.settings();
        assert_eq!(repo.get("a").await.unwrap(), None);
        assert!(repo.set_if_absent("a", "1").await.unwrap());
        assert!(!repo.set_if_absent("a", "2").await.unwrap());
        assert_eq!(repo.get("a").await.unwrap().as_deref(), Some("1"));
        repo.set("a", "3").await.unwrap();
        assert_eq!(repo.get("a").await.unwrap().as_deref(), Some("3"));
    }
}
