//! What each provider lists per series, and when it was asked (`catalogue`).

use sqlx::AnyPool;

use super::Store;
use crate::error::Result;
use crate::model::{EpisodeSet, SeriesKey, decode_episodes, encode_episodes};

/// One series' catalogue entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueRow {
    pub site: String,
    pub key: SeriesKey,
    /// What the provider listed when it last answered (empty when it never did).
    pub episodes: EpisodeSet,
    /// When the provider last answered (unix seconds).
    pub checked_at: Option<i64>,
    /// The last failure since then: (error code, message, unix seconds).
    pub failure: Option<(String, String, i64)>,
}

#[derive(sqlx::FromRow)]
struct Row {
    site: String,
    key: String,
    episodes: String,
    checked_at: Option<i64>,
    error_code: Option<String>,
    error: Option<String>,
    failed_at: Option<i64>,
}

impl Row {
    fn into_row(self) -> Option<CatalogueRow> {
        let key = SeriesKey::parse(&self.key).ok()?;
        // An unreadable list is as good as never asked: the provider is asked again.
        let (episodes, checked_at) = match decode_episodes(&self.episodes) {
            Ok(e) => (e, self.checked_at),
            Err(e) => {
                tracing::warn!(site = %self.site, %key, error = %e, "stored catalogue entry unreadable");
                (EpisodeSet::new(), None)
            }
        };
        let failure = match (self.error_code, self.error, self.failed_at) {
            (Some(code), Some(message), Some(at)) => Some((code, message, at)),
            _ => None,
        };
        Some(CatalogueRow {
            site: self.site,
            key,
            episodes,
            checked_at,
            failure,
        })
    }
}

#[derive(Debug, Clone)]
pub struct CatalogueRepo {
    pool: AnyPool,
}

impl Store {
    pub fn catalogue(&self) -> CatalogueRepo {
        CatalogueRepo {
            pool: self.pool().clone(),
        }
    }
}

impl CatalogueRepo {
    /// Every entry (one small row per series).
    pub async fn list(&self) -> Result<Vec<CatalogueRow>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT site, key, episodes, checked_at, error_code, error, failed_at FROM catalogue",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().filter_map(Row::into_row).collect())
    }

    /// The provider answered at `at` with `episodes`; an earlier failure is forgotten.
    pub async fn record_answer(
        &self,
        site: &str,
        key: &SeriesKey,
        episodes: &EpisodeSet,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO catalogue (site, key, episodes, checked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (site, key) DO UPDATE SET episodes = excluded.episodes,
               checked_at = excluded.checked_at, error_code = NULL, error = NULL, failed_at = NULL",
        )
        .bind(site)
        .bind(key.as_str())
        .bind(encode_episodes(episodes))
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Asking the provider failed at `at`; what it said before is kept.
    pub async fn record_failure(
        &self,
        site: &str,
        key: &SeriesKey,
        code: &str,
        message: &str,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO catalogue (site, key, error_code, error, failed_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (site, key) DO UPDATE SET error_code = excluded.error_code,
               error = excluded.error, failed_at = excluded.failed_at",
        )
        .bind(site)
        .bind(key.as_str())
        .bind(code)
        .bind(message)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::scratch::on_both_dialects;

    on_both_dialects!(answers_and_failures_are_kept_apart);

    async fn answers_and_failures_are_kept_apart(store: Store) {
        let repo = store.catalogue();
        let key = SeriesKey::parse("aot").unwrap();
        repo.record_failure("aniworld", &key, "blocked", "DDoS-Guard", 5)
            .await
            .unwrap();
        let rows = repo.list().await.unwrap();
        assert_eq!(rows[0].checked_at, None);
        assert_eq!(rows[0].failure.as_ref().unwrap().0, "blocked");
        let eps: EpisodeSet = [(1, 1), (1, 2)].into();
        repo.record_answer("aniworld", &key, &eps, 10)
            .await
            .unwrap();
        repo.record_failure("aniworld", &key, "timeout", "slow", 20)
            .await
            .unwrap();
        let rows = repo.list().await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].episodes, eps);
        assert_eq!(rows[0].checked_at, Some(10));
        assert_eq!(rows[0].failure, Some(("timeout".into(), "slow".into(), 20)));
        repo.record_answer("aniworld", &key, &eps, 30)
            .await
            .unwrap();
        assert_eq!(repo.list().await.unwrap()[0].failure, None);
    }
}
