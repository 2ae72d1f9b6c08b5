//! Series and their on-disk episodes (`series`, `episodes`).

use std::collections::BTreeSet;

use sqlx::SqlitePool;

use super::{Store, now};
use crate::error::{Error, Result};
use crate::model::SeriesKey;
use crate::scanner::ScannedSeries;

/// A live (not deleted) series row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesRecord {
    pub id: i64,
    pub key: SeriesKey,
    pub site: String,
    pub name: String,
    pub folder: String,
    pub year: Option<i32>,
    pub description: Option<String>,
    pub cover: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct SeriesRow {
    id: i64,
    key: String,
    site: String,
    name: String,
    folder: String,
    year: Option<i32>,
    description: Option<String>,
    cover: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<SeriesRow> for SeriesRecord {
    type Error = Error;
    fn try_from(r: SeriesRow) -> Result<Self> {
        Ok(SeriesRecord {
            id: r.id,
            key: SeriesKey::parse(&r.key)?,
            site: r.site,
            name: r.name,
            folder: r.folder,
            year: r.year,
            description: r.description,
            cover: r.cover,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// An episode file on disk, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EpisodeRecord {
    pub id: i64,
    pub series_id: i64,
    pub season: i64,
    pub episode: i64,
    pub path: String,
    pub size: Option<i64>,
}

const SERIES_COLUMNS: &str =
    "id, key, site, name, folder, year, description, cover, created_at, updated_at";

#[derive(Debug, Clone)]
pub struct SeriesRepo {
    pool: SqlitePool,
}

impl Store {
    pub fn series(&self) -> SeriesRepo {
        SeriesRepo {
            pool: self.pool().clone(),
        }
    }
}

impl SeriesRepo {
    /// Records a scanned series and exactly the episode files it has now (files no longer there
    /// are soft-deleted). Unmatched folders (no key) are not stored: `Ok(None)`.
    pub async fn upsert_scanned(&self, scanned: &ScannedSeries) -> Result<Option<SeriesRecord>> {
        let (Some(key), Some(site)) = (&scanned.key, &scanned.site) else {
            return Ok(None);
        };
        let ts = now();
        let mut tx = self.pool.begin().await?;
        let existing: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM series WHERE key = ? AND deleted_at IS NULL")
                .bind(key.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let id = match existing {
            Some((id,)) => {
                sqlx::query(
                    "UPDATE series SET site = ?, name = ?, folder = ?, year = ?, updated_at = ?
                     WHERE id = ?",
                )
                .bind(site)
                .bind(&scanned.name)
                .bind(&scanned.folder)
                .bind(scanned.year)
                .bind(ts)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                id
            }
            None => {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO series (key, site, name, folder, year, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(key.as_str())
                .bind(site)
                .bind(&scanned.name)
                .bind(&scanned.folder)
                .bind(scanned.year)
                .bind(ts)
                .bind(ts)
                .fetch_one(&mut *tx)
                .await?;
                id
            }
        };
        sqlx::query(
            "UPDATE episodes SET deleted_at = ?, updated_at = ? WHERE series_id = ? AND deleted_at IS NULL",
        )
        .bind(ts)
        .bind(ts)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        for e in &scanned.episodes {
            sqlx::query(
                "INSERT INTO episodes (series_id, season, episode, path, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (series_id, season, episode, path)
                 DO UPDATE SET deleted_at = NULL, updated_at = excluded.updated_at",
            )
            .bind(id)
            .bind(i64::from(e.season))
            .bind(i64::from(e.episode))
            .bind(e.path)
            .bind(ts)
            .bind(ts)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.get_by_key(key).await
    }

    /// Live series, by name.
    pub async fn list(&self) -> Result<Vec<SeriesRecord>> {
        let rows: Vec<SeriesRow> = sqlx::query_as(&format!(
            "SELECT {SERIES_COLUMNS} FROM series WHERE deleted_at IS NULL ORDER BY name, key"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(SeriesRecord::try_from).collect()
    }

    pub async fn get_by_key(&self, key: &SeriesKey) -> Result<Option<SeriesRecord>> {
        let row: Option<SeriesRow> = sqlx::query_as(&format!(
            "SELECT {SERIES_COLUMNS} FROM series WHERE key = ? AND deleted_at IS NULL"
        ))
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(SeriesRecord::try_from).transpose()
    }

    pub async fn get_by_folder(&self, folder: &str) -> Result<Option<SeriesRecord>> {
        let row: Option<SeriesRow> = sqlx::query_as(&format!(
            "SELECT {SERIES_COLUMNS} FROM series WHERE folder = ? AND deleted_at IS NULL
             ORDER BY id LIMIT 1"
        ))
        .bind(folder)
        .fetch_optional(&self.pool)
        .await?;
        row.map(SeriesRecord::try_from).transpose()
    }

    /// Stores provider details (description, cover) for a live series.
    pub async fn set_details(
        &self,
        key: &SeriesKey,
        description: Option<&str>,
        cover: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE series SET description = ?, cover = ?, updated_at = ?
             WHERE key = ? AND deleted_at IS NULL",
        )
        .bind(description)
        .bind(cover)
        .bind(now())
        .bind(key.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Live episode files of a series, in (season, episode, path) order.
    pub async fn episodes(&self, series_id: i64) -> Result<Vec<EpisodeRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, series_id, season, episode, path, size FROM episodes
             WHERE series_id = ? AND deleted_at IS NULL ORDER BY season, episode, path",
        )
        .bind(series_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The (season, episode) pairs on disk for a series key.
    pub async fn episodes_on_disk(&self, key: &SeriesKey) -> Result<BTreeSet<(u32, u32)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT e.season, e.episode FROM episodes e JOIN series s ON s.id = e.series_id
             WHERE s.key = ? AND s.deleted_at IS NULL AND e.deleted_at IS NULL",
        )
        .bind(key.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, e)| Some((u32::try_from(s).ok()?, u32::try_from(e).ok()?)))
            .collect())
    }

    /// Soft-deletes a series and its episodes; `false` when there was no live series with that key.
    pub async fn soft_delete(&self, key: &SeriesKey) -> Result<bool> {
        let ts = now();
        let mut tx = self.pool.begin().await?;
        let existing: Option<(i64,)> =
            sqlx::query_as("SELECT id FROM series WHERE key = ? AND deleted_at IS NULL")
                .bind(key.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let Some((id,)) = existing else {
            return Ok(false);
        };
        sqlx::query("UPDATE series SET deleted_at = ?, updated_at = ? WHERE id = ?")
            .bind(ts)
            .bind(ts)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE episodes SET deleted_at = ?, updated_at = ? WHERE series_id = ? AND deleted_at IS NULL",
        )
        .bind(ts)
        .bind(ts)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::LocalEpisode;

    fn scanned(key: &str, folder: &str, eps: &[(u32, u32)]) -> ScannedSeries {
        ScannedSeries {
            key: Some(SeriesKey::parse(key).unwrap()),
            site: Some("aniworld".into()),
            folder: folder.into(),
            name: folder.into(),
            year: Some(2013),
            episodes: eps
                .iter()
                .map(|&(season, episode)| LocalEpisode {
                    season,
                    episode,
                    path: format!("{folder}/S{season:02}E{episode:02}.mkv"),
                })
                .collect(),
            unparsed: vec![],
            suggested_key: None,
        }
    }

    #[tokio::test]
    async fn upsert_then_get_by_key_and_folder() {
        let store = Store::open_memory().await.unwrap();
        let repo = store.series();
        let rec = repo
            .upsert_scanned(&scanned("aot", "Attack on Titan", &[(1, 1), (1, 2)]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rec.folder, "Attack on Titan");
        assert_eq!(rec.year, Some(2013));
        let by_folder = repo
            .get_by_folder("Attack on Titan")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_folder.id, rec.id);
        let key = SeriesKey::parse("aot").unwrap();
        assert_eq!(
            repo.episodes_on_disk(&key).await.unwrap(),
            [(1, 1), (1, 2)].into()
        );
    }

    #[tokio::test]
    async fn rescan_replaces_episode_set_and_keeps_the_row() {
        let store = Store::open_memory().await.unwrap();
        let repo = store.series();
        let first = repo
            .upsert_scanned(&scanned("aot", "AoT", &[(1, 1), (1, 2)]))
            .await
            .unwrap()
            .unwrap();
        let second = repo
            .upsert_scanned(&scanned("aot", "AoT (2013)", &[(1, 2), (1, 3)]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.id, second.id);
        assert_eq!(second.folder, "AoT (2013)");
        let key = SeriesKey::parse("aot").unwrap();
        assert_eq!(
            repo.episodes_on_disk(&key).await.unwrap(),
            [(1, 2), (1, 3)].into()
        );
        assert_eq!(repo.episodes(first.id).await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn unmatched_folders_are_not_stored() {
        let store = Store::open_memory().await.unwrap();
        let mut s = scanned("x", "X", &[]);
        s.key = None;
        assert!(store.series().upsert_scanned(&s).await.unwrap().is_none());
        assert!(store.series().list().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn soft_delete_hides_and_allows_re_adding() {
        let store = Store::open_memory().await.unwrap();
        let repo = store.series();
        repo.upsert_scanned(&scanned("b-key", "B", &[(1, 1)]))
            .await
            .unwrap();
        repo.upsert_scanned(&scanned("a-key", "A", &[]))
            .await
            .unwrap();
        let key = SeriesKey::parse("b-key").unwrap();
        assert!(repo.soft_delete(&key).await.unwrap());
        assert!(!repo.soft_delete(&key).await.unwrap());
        assert!(repo.get_by_key(&key).await.unwrap().is_none());
        assert!(repo.episodes_on_disk(&key).await.unwrap().is_empty());
        let names: Vec<_> = repo
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, vec!["A"]);
        let again = repo
            .upsert_scanned(&scanned("b-key", "B", &[(1, 1)]))
            .await
            .unwrap();
        assert!(again.is_some());
    }

    #[tokio::test]
    async fn details_are_stored() {
        let store = Store::open_memory().await.unwrap();
        let repo = store.series();
        repo.upsert_scanned(&scanned("a-key", "A", &[]))
            .await
            .unwrap();
        let key = SeriesKey::parse("a-key").unwrap();
        assert!(repo.set_details(&key, Some("About A"), None).await.unwrap());
        let rec = repo.get_by_key(&key).await.unwrap().unwrap();
        assert_eq!(rec.description.as_deref(), Some("About A"));
    }
}
