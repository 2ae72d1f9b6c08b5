//! The remembered scan state of each library (`scan_state`), so an unchanged library rescans
//! cheaply. The value is opaque here: the scanner encodes and decodes it
//! ([`crate::scanner::RememberedState`]).

use super::{Store, now};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct ScanStateRepo {
    pool: sqlx::AnyPool,
}

impl Store {
    pub fn scan_state(&self) -> ScanStateRepo {
        ScanStateRepo {
            pool: self.pool().clone(),
        }
    }
}

impl ScanStateRepo {
    /// The shards remembered for `library`, as (shard number, value).
    pub async fn load(&self, library: &str) -> Result<Vec<(u32, Vec<u8>)>> {
        self.load_range(library, 0..u32::MAX).await
    }

    /// The shards of `library` whose numbers are in `shards`.
    pub async fn load_range(
        &self,
        library: &str,
        shards: std::ops::Range<u32>,
    ) -> Result<Vec<(u32, Vec<u8>)>> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT shard, state FROM scan_state WHERE library = $1 AND shard >= $2 AND shard < $3",
        )
        .bind(library)
        .bind(i64::from(shards.start))
        .bind(i64::from(shards.end))
        .fetch_all(&self.pool)
        .await?;
        // A shard number out of range cannot come from this code; such a row is left out.
        Ok(rows
            .into_iter()
            .filter_map(|(shard, state)| Some((u32::try_from(shard).ok()?, state)))
            .collect())
    }

    /// One shard of `library`, if it is stored.
    pub async fn load_shard(&self, library: &str, shard: u32) -> Result<Option<Vec<u8>>> {
        let rows = self
            .load_range(library, shard..shard.saturating_add(1))
            .await?;
        Ok(rows.into_iter().next().map(|(_, state)| state))
    }

    /// Replaces the given shards of `library`, in one transaction (all or nothing).
    pub async fn save(&self, library: &str, shards: &[(u32, Vec<u8>)]) -> Result<()> {
        if shards.is_empty() {
            return Ok(());
        }
        let ts = now();
        let mut tx = self.pool.begin().await?;
        for (shard, state) in shards {
            sqlx::query(
                "INSERT INTO scan_state (library, shard, state, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (library, shard) DO UPDATE SET
                   state = excluded.state, updated_at = excluded.updated_at",
            )
            .bind(library)
            .bind(i64::from(*shard))
            .bind(state.as_slice())
            .bind(ts)
            .bind(ts)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets everything about `library` (forces a full rescan next time); whether there was
    /// anything to forget.
    pub async fn clear(&self, library: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM scan_state WHERE library = $1")
            .bind(library)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::scratch::on_both_dialects;

    on_both_dialects!(saves_replaces_and_clears_shards_per_library);

    async fn saves_replaces_and_clears_shards_per_library(store: Store) {
        let repo = store.scan_state();
        assert!(repo.load("/lib").await.unwrap().is_empty());
        repo.save("/lib", &[(0, b"zero".to_vec()), (5, b"five".to_vec())])
            .await
            .unwrap();
        repo.save("/other", &[(0, b"other".to_vec())])
            .await
            .unwrap();
        repo.save("/lib", &[(5, b"FIVE".to_vec())]).await.unwrap();
        let mut rows = repo.load("/lib").await.unwrap();
        rows.sort();
        assert_eq!(rows, vec![(0, b"zero".to_vec()), (5, b"FIVE".to_vec())]);
        assert_eq!(
            repo.load_range("/lib", 1..6).await.unwrap(),
            vec![(5, b"FIVE".to_vec())]
        );
        assert!(repo.load_range("/lib", 1..5).await.unwrap().is_empty());
        assert_eq!(
            repo.load_shard("/lib", 0).await.unwrap(),
            Some(b"zero".to_vec())
        );
        assert_eq!(repo.load_shard("/lib", 1).await.unwrap(), None);
        assert!(repo.clear("/lib").await.unwrap());
        assert!(!repo.clear("/lib").await.unwrap());
        assert!(repo.load("/lib").await.unwrap().is_empty());
        assert_eq!(
            repo.load("/other").await.unwrap(),
            vec![(0, b"other".to_vec())]
        );
    }
}
