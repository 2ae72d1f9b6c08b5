//! Series in the library (`series`): identity, folder and the episodes on disk.

use sqlx::AnyPool;

use super::{Store, now};
use crate::error::{Error, Result};
use crate::model::{EpisodeSet, SeriesKey, decode_episodes, encode_episodes};

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
    /// The episodes on disk when the folder was last read.
    pub episodes: EpisodeSet,
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
    episodes: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<SeriesRow> for SeriesRecord {
    type Error = Error;
    fn try_from(r: SeriesRow) -> Result<Self> {
        let episodes = decode_episodes(&r.episodes).unwrap_or_else(|e| {
            // Derived from disk: the next read of the folder writes it again.
            tracing::warn!(key = %r.key, error = %e, "stored episode list unreadable");
            EpisodeSet::new()
        });
        Ok(SeriesRecord {
            id: r.id,
            key: SeriesKey::parse(&r.key)?,
            site: r.site,
            name: r.name,
            folder: r.folder,
            year: r.year,
            description: r.description,
            cover: r.cover,
            episodes,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// What a scan (or an add) knows of a series: written as it is, over the live row of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesUpsert {
    pub key: SeriesKey,
    pub site: String,
    pub name: String,
    pub folder: String,
    pub year: Option<i32>,
    pub episodes: EpisodeSet,
}

const SERIES_COLUMNS: &str =
    "id, key, site, name, folder, year, description, cover, episodes, created_at, updated_at";

/// What [`SeriesRepo::fingerprint`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFingerprint {
    pub counts: (i64, i64, i64),
    /// The newest write (unix seconds).
    pub latest: i64,
}

/// Rows per multi-row statement (SQLite allows 32,766 bound values).
const BATCH: usize = 500;

/// `count` groups of `width` numbered placeholders from `$first`: `($1, $2), ($3, $4)` (or
/// `$1, $2` when `width` is 1).
fn placeholders(first: usize, count: usize, width: usize) -> String {
    let mut out = String::new();
    for row in 0..count {
        if row > 0 {
            out.push_str(", ");
        }
        let cols: Vec<String> = (0..width)
            .map(|c| format!("${}", first + row * width + c))
            .collect();
        if width == 1 {
            out.push_str(&cols[0]);
        } else {
            out.push('(');
            out.push_str(&cols.join(", "));
            out.push(')');
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct SeriesRepo {
    pool: AnyPool,
}

impl Store {
    pub fn series(&self) -> SeriesRepo {
        SeriesRepo {
            pool: self.pool().clone(),
        }
    }
}

impl SeriesRepo {
    /// Writes `upserts` and soft-deletes the series of `removed`, all in one transaction, a few
    /// hundred rows per statement.
    pub async fn apply(&self, upserts: &[SeriesUpsert], removed: &[SeriesKey]) -> Result<()> {
        if upserts.is_empty() && removed.is_empty() {
            return Ok(());
        }
        let ts = now();
        let mut tx = self.pool.begin().await?;
        for chunk in removed.chunks(BATCH) {
            let keys = placeholders(3, chunk.len(), 1);
            let sql = format!(
                "UPDATE series SET deleted_at = $1, updated_at = $2 \
                 WHERE deleted_at IS NULL AND key IN ({keys})"
            );
            let mut q = sqlx::query(&sql).bind(ts).bind(ts);
            for key in chunk {
                q = q.bind(key.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in upserts.chunks(BATCH) {
            let rows = placeholders(1, chunk.len(), 8);
            let sql = format!(
                "INSERT INTO series (key, site, name, folder, year, episodes, created_at, updated_at) \
                 VALUES {rows} ON CONFLICT (key) WHERE deleted_at IS NULL DO UPDATE SET \
                   site = excluded.site, name = excluded.name, folder = excluded.folder, \
                   year = excluded.year, episodes = excluded.episodes, \
                   updated_at = excluded.updated_at"
            );
            let mut q = sqlx::query(&sql);
            for s in chunk {
                q = q
                    .bind(s.key.as_str())
                    .bind(s.site.as_str())
                    .bind(s.name.as_str())
                    .bind(s.folder.as_str())
                    .bind(s.year.map(i64::from))
                    .bind(encode_episodes(&s.episodes))
                    .bind(ts)
                    .bind(ts);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Changes when series or catalogue rows change: counts, highest ids and the latest write
    /// (whole seconds, see [`StoreFingerprint::latest`]).
    pub async fn fingerprint(&self) -> Result<StoreFingerprint> {
        let (series, max_id, series_at): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(MAX(updated_at), 0) FROM series",
        )
        .fetch_one(&self.pool)
        .await?;
        let (catalogue, checked, failed): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(MAX(checked_at), 0), COALESCE(MAX(failed_at), 0) FROM catalogue",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StoreFingerprint {
            counts: (series, max_id, catalogue),
            latest: series_at.max(checked).max(failed),
        })
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
            "SELECT {SERIES_COLUMNS} FROM series WHERE key = $1 AND deleted_at IS NULL"
        ))
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(SeriesRecord::try_from).transpose()
    }

    pub async fn get_by_folder(&self, folder: &str) -> Result<Option<SeriesRecord>> {
        let row: Option<SeriesRow> = sqlx::query_as(&format!(
            "SELECT {SERIES_COLUMNS} FROM series WHERE folder = $1 AND deleted_at IS NULL
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
            "UPDATE series SET description = $1, cover = $2, updated_at = $3
             WHERE key = $4 AND deleted_at IS NULL",
        )
        .bind(description)
        .bind(cover)
        .bind(now())
        .bind(key.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::scratch::on_both_dialects;

    on_both_dialects!(
        apply_inserts_then_updates_the_live_row,
        many_rows_go_in_batches_in_one_transaction,
        removed_series_are_hidden_and_can_come_back,
        details_are_stored
    );

    fn upsert(key: &str, folder: &str, eps: &[(u32, u32)]) -> SeriesUpsert {
        SeriesUpsert {
            key: SeriesKey::parse(key).unwrap(),
            site: "aniworld".into(),
            name: folder.into(),
            folder: folder.into(),
            year: Some(2013),
            episodes: eps.iter().copied().collect(),
        }
    }

    async fn apply_inserts_then_updates_the_live_row(store: Store) {
        let repo = store.series();
        repo.apply(&[upsert("aot", "AoT", &[(1, 1), (1, 2)])], &[])
            .await
            .unwrap();
        let key = SeriesKey::parse("aot").unwrap();
        let first = repo.get_by_key(&key).await.unwrap().unwrap();
        assert_eq!(first.episodes, [(1, 1), (1, 2)].into());
        repo.apply(&[upsert("aot", "AoT (2013)", &[(1, 2), (1, 3)])], &[])
            .await
            .unwrap();
        let second = repo.get_by_key(&key).await.unwrap().unwrap();
        assert_eq!(first.id, second.id);
        assert_eq!(second.folder, "AoT (2013)");
        assert_eq!(second.episodes, [(1, 2), (1, 3)].into());
        let by_folder = repo.get_by_folder("AoT (2013)").await.unwrap().unwrap();
        assert_eq!(by_folder.id, first.id);
    }

    async fn many_rows_go_in_batches_in_one_transaction(store: Store) {
        let repo = store.series();
        let rows: Vec<SeriesUpsert> = (0..1234)
            .map(|i| upsert(&format!("s{i}"), &format!("Folder {i}"), &[(1, i)]))
            .collect();
        repo.apply(&rows, &[]).await.unwrap();
        assert_eq!(repo.list().await.unwrap().len(), 1234);
        let gone: Vec<SeriesKey> = (0..600)
            .map(|i| SeriesKey::parse(&format!("s{i}")).unwrap())
            .collect();
        repo.apply(&[], &gone).await.unwrap();
        assert_eq!(repo.list().await.unwrap().len(), 634);
    }

    async fn removed_series_are_hidden_and_can_come_back(store: Store) {
        let repo = store.series();
        repo.apply(
            &[upsert("b-key", "B", &[(1, 1)]), upsert("a-key", "A", &[])],
            &[],
        )
        .await
        .unwrap();
        let key = SeriesKey::parse("b-key").unwrap();
        repo.apply(&[], std::slice::from_ref(&key)).await.unwrap();
        assert!(repo.get_by_key(&key).await.unwrap().is_none());
        let names: Vec<_> = repo
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, vec!["A"]);
        repo.apply(&[upsert("b-key", "B", &[(1, 1)])], &[])
            .await
            .unwrap();
        assert!(repo.get_by_key(&key).await.unwrap().is_some());
    }

    async fn details_are_stored(store: Store) {
        let repo = store.series();
        repo.apply(&[upsert("a-key", "A", &[])], &[]).await.unwrap();
        let key = SeriesKey::parse("a-key").unwrap();
        assert!(repo.set_details(&key, Some("About A"), None).await.unwrap());
        let rec = repo.get_by_key(&key).await.unwrap().unwrap();
        assert_eq!(rec.description.as_deref(), Some("About A"));
    }
}
