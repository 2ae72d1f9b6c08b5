//! Follow settings per series (`follows`) and the episodes checks found (`follow_found`).
//!
//! Queries use `$N` placeholders and portable SQL (`ON CONFLICT`), so they run on SQLite and
//! PostgreSQL alike.

use sqlx::AnyPool;

use super::Store;
use crate::error::Result;
use crate::model::follow::{FollowRecord, FollowSettings, FoundEpisode, Monitor};
use crate::model::{EpisodeSet, SeriesKey, decode_episodes, encode_episodes};

#[derive(sqlx::FromRow)]
struct Row {
    site: String,
    key: String,
    followed: i64,
    monitor: String,
    language: Option<String>,
    seen: Option<String>,
    followed_at: i64,
    checked_at: Option<i64>,
    error_code: Option<String>,
    error: Option<String>,
    failed_at: Option<i64>,
}

impl Row {
    fn into_record(self) -> Option<FollowRecord> {
        let key = SeriesKey::parse(&self.key).ok()?;
        let seen = match self.seen.as_deref().map(decode_episodes) {
            None => None,
            Some(Ok(set)) => Some(set),
            // An unreadable baseline is as good as none: the next good check sets it again.
            Some(Err(e)) => {
                tracing::warn!(site = %self.site, %key, error = %e, "stored follow baseline unreadable");
                None
            }
        };
        let failure = match (self.error_code, self.error, self.failed_at) {
            (Some(code), Some(message), Some(at)) => Some((code, message, at)),
            _ => None,
        };
        Some(FollowRecord {
            site: self.site,
            key,
            settings: FollowSettings {
                followed: self.followed != 0,
                monitor: self.monitor.parse().unwrap_or(Monitor::None),
                language: self.language.and_then(|l| l.parse().ok()),
            },
            seen,
            followed_at: self.followed_at,
            checked_at: self.checked_at,
            failure,
        })
    }
}

#[derive(sqlx::FromRow)]
struct FoundRow {
    site: String,
    key: String,
    season: i64,
    episode: i64,
    found_at: i64,
    queued: i64,
    item_id: Option<i64>,
}

const COLUMNS: &str = "site, key, followed, monitor, language, seen, followed_at, checked_at, \
                       error_code, error, failed_at";

#[derive(Debug, Clone)]
pub struct FollowRepo {
    pool: AnyPool,
}

impl Store {
    pub fn follows(&self) -> FollowRepo {
        FollowRepo {
            pool: self.pool().clone(),
        }
    }
}

impl FollowRepo {
    /// Every follow record (followed or not).
    pub async fn list(&self) -> Result<Vec<FollowRecord>> {
        let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM follows"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().filter_map(Row::into_record).collect())
    }

    pub async fn get(&self, site: &str, key: &SeriesKey) -> Result<Option<FollowRecord>> {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM follows WHERE site = $1 AND key = $2"
        ))
        .bind(site)
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(Row::into_record))
    }

    /// Stores the user's choice. `seen` is the baseline a `new` monitor counts from (kept when
    /// `None` and the series was followed already); following anew restarts `followed_at`.
    pub async fn set(
        &self,
        site: &str,
        key: &SeriesKey,
        settings: FollowSettings,
        seen: Option<&EpisodeSet>,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO follows (site, key, followed, monitor, language, seen, followed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (site, key) DO UPDATE SET followed = excluded.followed,
               monitor = excluded.monitor, language = excluded.language,
               seen = COALESCE(excluded.seen, follows.seen),
               followed_at = CASE WHEN follows.followed = 0 THEN excluded.followed_at
                             ELSE follows.followed_at END",
        )
        .bind(site)
        .bind(key.as_str())
        .bind(i64::from(settings.followed))
        .bind(settings.monitor.as_str())
        .bind(settings.language.map(|l| l.as_str()))
        .bind(seen.map(encode_episodes))
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The baseline `new` counts from (`None` = none yet: the first good check sets it).
    pub async fn set_seen(
        &self,
        site: &str,
        key: &SeriesKey,
        seen: Option<&EpisodeSet>,
    ) -> Result<()> {
        sqlx::query("UPDATE follows SET seen = $1 WHERE site = $2 AND key = $3")
            .bind(seen.map(encode_episodes))
            .bind(site)
            .bind(key.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A check read the series: its new baseline; an earlier failure is forgotten.
    pub async fn record_checked(
        &self,
        site: &str,
        key: &SeriesKey,
        seen: &EpisodeSet,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE follows SET seen = $1, checked_at = $2, error_code = NULL, error = NULL,
               failed_at = NULL WHERE site = $3 AND key = $4",
        )
        .bind(encode_episodes(seen))
        .bind(at)
        .bind(site)
        .bind(key.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A check could not read the series; its baseline stays as it was.
    pub async fn record_failure(
        &self,
        site: &str,
        key: &SeriesKey,
        code: &str,
        message: &str,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE follows SET error_code = $1, error = $2, failed_at = $3
             WHERE site = $4 AND key = $5",
        )
        .bind(code)
        .bind(message)
        .bind(at)
        .bind(site)
        .bind(key.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records found episodes (those already recorded keep their row).
    pub async fn record_found(
        &self,
        site: &str,
        key: &SeriesKey,
        episodes: &[(u32, u32)],
        at: i64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for (season, episode) in episodes {
            sqlx::query(
                "INSERT INTO follow_found (site, key, season, episode, found_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (site, key, season, episode) DO NOTHING",
            )
            .bind(site)
            .bind(key.as_str())
            .bind(i64::from(*season))
            .bind(i64::from(*episode))
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A check queued an episode (or found it queued already): never again.
    pub async fn mark_queued(
        &self,
        site: &str,
        key: &SeriesKey,
        season: u32,
        episode: u32,
        item_id: Option<i64>,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO follow_found (site, key, season, episode, found_at, queued, item_id)
             VALUES ($1, $2, $3, $4, $5, 1, $6)
             ON CONFLICT (site, key, season, episode) DO UPDATE SET queued = 1,
               item_id = excluded.item_id",
        )
        .bind(site)
        .bind(key.as_str())
        .bind(i64::from(season))
        .bind(i64::from(episode))
        .bind(at)
        .bind(item_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Episodes of a series a check queued.
    pub async fn queued_of(&self, site: &str, key: &SeriesKey) -> Result<EpisodeSet> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT season, episode FROM follow_found WHERE site = $1 AND key = $2 AND queued = 1",
        )
        .bind(site)
        .bind(key.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, e)| Some((u32::try_from(s).ok()?, u32::try_from(e).ok()?)))
            .collect())
    }

    /// The most recently found episodes, newest first.
    pub async fn recent_found(&self, limit: u32) -> Result<Vec<FoundEpisode>> {
        let rows: Vec<FoundRow> = sqlx::query_as(
            "SELECT site, key, season, episode, found_at, queued, item_id FROM follow_found
             ORDER BY found_at DESC, key, season DESC, episode DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(FoundEpisode {
                    key: SeriesKey::parse(&r.key).ok()?,
                    site: r.site,
                    season: u32::try_from(r.season).ok()?,
                    episode: u32::try_from(r.episode).ok()?,
                    found_at: r.found_at,
                    queued: r.queued != 0,
                    item_id: r.item_id,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> SeriesKey {
        SeriesKey::parse(k).unwrap()
    }

    #[tokio::test]
    async fn settings_baseline_and_failures_are_kept_apart() {
        let store = Store::open_memory().await.unwrap();
        let repo = store.follows();
        let k = key("aot");
        let on = FollowSettings {
            followed: true,
            monitor: Monitor::New,
            language: None,
        };
        let base: EpisodeSet = [(1, 1)].into();
        repo.set("aniworld", &k, on, Some(&base), 10).await.unwrap();
        repo.record_failure("aniworld", &k, "blocked", "DDoS-Guard", 20)
            .await
            .unwrap();
        let r = repo.get("aniworld", &k).await.unwrap().unwrap();
        assert_eq!(r.seen, Some(base.clone()));
        assert_eq!(r.failure.as_ref().unwrap().0, "blocked");
        // Changing the monitor keeps the baseline and the time it was followed.
        let all = FollowSettings {
            monitor: Monitor::All,
            ..on
        };
        repo.set("aniworld", &k, all, None, 30).await.unwrap();
        let r = repo.get("aniworld", &k).await.unwrap().unwrap();
        assert_eq!(r.settings, all);
        assert_eq!(r.seen, Some(base));
        assert_eq!(r.followed_at, 10);
        let now: EpisodeSet = [(1, 1), (1, 2)].into();
        repo.record_checked("aniworld", &k, &now, 40).await.unwrap();
        let r = repo.get("aniworld", &k).await.unwrap().unwrap();
        assert_eq!(
            (r.seen, r.checked_at, r.failure),
            (Some(now), Some(40), None)
        );
    }

    #[tokio::test]
    async fn an_episode_is_marked_queued_once() {
        let store = Store::open_memory().await.unwrap();
        let repo = store.follows();
        let k = key("aot");
        repo.record_found("aniworld", &k, &[(1, 2), (1, 3)], 5)
            .await
            .unwrap();
        repo.mark_queued("aniworld", &k, 1, 2, Some(7), 6)
            .await
            .unwrap();
        repo.record_found("aniworld", &k, &[(1, 2)], 8)
            .await
            .unwrap();
        assert_eq!(
            repo.queued_of("aniworld", &k).await.unwrap(),
            [(1, 2)].into()
        );
        let found = repo.recent_found(10).await.unwrap();
        assert_eq!(found.len(), 2);
        let two = found.iter().find(|f| f.episode == 2).unwrap();
        assert!(two.queued);
        assert_eq!(two.item_id, Some(7));
        assert_eq!(two.found_at, 5);
    }
}
