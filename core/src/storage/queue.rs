//! `queue_items`: the persistent download queue's rows.

use sqlx::FromRow;

use super::{Store, now};
use crate::error::{Error, Result};
use crate::model::queue::{ItemStatus, QueueCounts, QueueItem};

/// Statuses that hold an episode's single live queue slot.
const LIVE: &str = "('pending','downloading','paused')";

#[derive(Debug, FromRow)]
struct QueueRow {
    id: i64,
    key: String,
    site: String,
    folder: Option<String>,
    season: i64,
    episode: i64,
    language: Option<String>,
    status: String,
    priority: i64,
    position: i64,
    bytes: i64,
    total: Option<i64>,
    speed: Option<f64>,
    eta: Option<i64>,
    attempts: i64,
    last_error: Option<String>,
    path: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl QueueRow {
    fn into_item(self) -> Result<QueueItem> {
        Ok(QueueItem {
            id: self.id,
            key: crate::model::SeriesKey::parse(&self.key)?,
            site: self.site,
            folder: self.folder,
            season: u32::try_from(self.season).unwrap_or(0),
            episode: u32::try_from(self.episode).unwrap_or(0),
            language: self.language.and_then(|l| l.parse().ok()),
            status: self.status.parse()?,
            priority: self.priority,
            position: self.position,
            bytes: u64::try_from(self.bytes).unwrap_or(0),
            total: self.total.and_then(|t| u64::try_from(t).ok()),
            speed: self.speed,
            eta: self.eta.and_then(|t| u64::try_from(t).ok()),
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            last_error: self.last_error,
            path: self.path,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const COLUMNS: &str = "id, key, site, folder, season, episode, language, status, priority, position, \
     bytes, total, speed, eta, attempts, last_error, path, created_at, updated_at";

/// A new row.
#[derive(Debug, Clone)]
pub struct NewQueueItem<'a> {
    pub key: &'a str,
    pub site: &'a str,
    pub folder: Option<&'a str>,
    pub season: u32,
    pub episode: u32,
    pub language: Option<&'a str>,
    pub priority: i64,
}

/// `AND ...` conditions for the optional status and key filters (bound in that order).
fn filter_sql(status: Option<ItemStatus>, key: Option<&str>) -> String {
    let mut sql = String::new();
    if status.is_some() {
        sql.push_str(" AND status = ?");
    }
    if key.is_some() {
        sql.push_str(" AND key = ?");
    }
    sql
}

/// Repository over `queue_items`. Soft-deleted rows (`deleted_at`) are invisible.
#[derive(Clone, Debug)]
pub struct QueueRepo {
    store: Store,
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    pub fn queue(&self) -> QueueRepo {
        QueueRepo {
            store: self.clone(),
        }
    }
}

impl QueueRepo {
    fn pool(&self) -> &sqlx::SqlitePool {
        self.store.pool()
    }

    /// The live (pending/downloading/paused) items of one series: (season, episode) → item id.
    pub async fn live_episodes(
        &self,
        key: &str,
    ) -> Result<std::collections::HashMap<(u32, u32), i64>> {
        let sql = format!(
            "SELECT season, episode, id FROM queue_items WHERE key = ? \
             AND deleted_at IS NULL AND status IN {LIVE}"
        );
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(&sql)
            .bind(key)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(s, e, id)| {
                (
                    (u32::try_from(s).unwrap_or(0), u32::try_from(e).unwrap_or(0)),
                    id,
                )
            })
            .collect())
    }

    /// The live (pending/downloading/paused) item of an episode, if any.
    pub async fn live_for_episode(
        &self,
        key: &str,
        season: u32,
        episode: u32,
    ) -> Result<Option<QueueItem>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM queue_items WHERE key = ? AND season = ? AND episode = ? \
             AND deleted_at IS NULL AND status IN {LIVE} LIMIT 1"
        );
        sqlx::query_as::<_, QueueRow>(&sql)
            .bind(key)
            .bind(i64::from(season))
            .bind(i64::from(episode))
            .fetch_optional(self.pool())
            .await?
            .map(QueueRow::into_item)
            .transpose()
    }

    /// Inserts a pending item at the end of the queue. `Conflict` when the episode is already live.
    pub async fn insert(&self, item: &NewQueueItem<'_>) -> Result<QueueItem> {
        let ts = now();
        let sql = format!(
            "INSERT INTO queue_items (key, site, folder, season, episode, language, status, priority, \
             position, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, \
             (SELECT COALESCE(MAX(position), 0) + 1 FROM queue_items), ?, ?) RETURNING {COLUMNS}"
        );
        let row = sqlx::query_as::<_, QueueRow>(&sql)
            .bind(item.key)
            .bind(item.site)
            .bind(item.folder)
            .bind(i64::from(item.season))
            .bind(i64::from(item.episode))
            .bind(item.language)
            .bind(item.priority)
            .bind(ts)
            .bind(ts)
            .fetch_one(self.pool())
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict(format!(
                    "{} S{:02}E{:03} is already queued",
                    item.key, item.season, item.episode
                )),
                _ => Error::Database(e),
            })?;
        row.into_item()
    }

    pub async fn get(&self, id: i64) -> Result<QueueItem> {
        let sql = format!("SELECT {COLUMNS} FROM queue_items WHERE id = ? AND deleted_at IS NULL");
        sqlx::query_as::<_, QueueRow>(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| Error::NotFound(format!("queue item {id}")))?
            .into_item()
    }

    /// Inserts pending items at the end of the queue in one transaction, in the given order.
    /// Each entry is the new item, or `None` when the episode is already live.
    pub async fn insert_many(&self, items: &[NewQueueItem<'_>]) -> Result<Vec<Option<QueueItem>>> {
        let ts = now();
        let mut tx = self.pool().begin().await?;
        // The transaction's first statement writes: a read first would make SQLite refuse the
        // write at once (SQLITE_BUSY, not waited for) whenever another connection wrote meanwhile.
        let sql = format!(
            "INSERT INTO queue_items (key, site, folder, season, episode, language, status, priority, \
             position, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, \
             (SELECT COALESCE(MAX(position), 0) + 1 FROM queue_items), ?, ?) RETURNING {COLUMNS}"
        );
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let inserted = sqlx::query_as::<_, QueueRow>(&sql)
                .bind(item.key)
                .bind(item.site)
                .bind(item.folder)
                .bind(i64::from(item.season))
                .bind(i64::from(item.episode))
                .bind(item.language)
                .bind(item.priority)
                .bind(ts)
                .bind(ts)
                .fetch_one(&mut *tx)
                .await;
            match inserted {
                Ok(row) => out.push(Some(row.into_item()?)),
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => out.push(None),
                Err(e) => return Err(Error::Database(e)),
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Visible items per status, counted by the database.
    pub async fn counts(&self) -> Result<QueueCounts> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, COUNT(*) FROM queue_items WHERE deleted_at IS NULL GROUP BY status",
        )
        .fetch_all(self.pool())
        .await?;
        let mut counts = QueueCounts::default();
        for (status, n) in rows {
            counts.add(status.parse()?, u64::try_from(n).unwrap_or(0));
        }
        Ok(counts)
    }

    /// One page of visible items in queue order, optionally of one status and/or one series.
    pub async fn page(
        &self,
        status: Option<ItemStatus>,
        key: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<QueueItem>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM queue_items WHERE deleted_at IS NULL {} \
             ORDER BY priority DESC, position ASC, id ASC LIMIT ? OFFSET ?",
            filter_sql(status, key)
        );
        let mut query = sqlx::query_as::<_, QueueRow>(&sql);
        if let Some(status) = status {
            query = query.bind(status.as_str());
        }
        if let Some(key) = key {
            query = query.bind(key);
        }
        query
            .bind(i64::from(limit))
            .bind(to_i64(offset))
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(QueueRow::into_item)
            .collect()
    }

    /// Visible items of one series (optionally of one status only).
    pub async fn count_of_series(&self, status: Option<ItemStatus>, key: &str) -> Result<u64> {
        let sql = format!(
            "SELECT COUNT(*) FROM queue_items WHERE deleted_at IS NULL {}",
            filter_sql(status, Some(key))
        );
        let mut query = sqlx::query_as::<_, (i64,)>(&sql);
        if let Some(status) = status {
            query = query.bind(status.as_str());
        }
        let (n,) = query.bind(key).fetch_one(self.pool()).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Whether any visible item is pending.
    pub async fn has_pending(&self) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM queue_items WHERE deleted_at IS NULL AND status = 'pending' LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Every visible item in queue order (priority first, then position).
    pub async fn list(&self) -> Result<Vec<QueueItem>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM queue_items WHERE deleted_at IS NULL \
             ORDER BY priority DESC, position ASC, id ASC"
        );
        sqlx::query_as::<_, QueueRow>(&sql)
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(QueueRow::into_item)
            .collect()
    }

    /// The next pending item in queue order that is not in `exclude`.
    pub async fn next_pending(&self, exclude: &[i64]) -> Result<Option<QueueItem>> {
        let placeholders = vec!["?"; exclude.len()].join(",");
        let not_in = if exclude.is_empty() {
            String::new()
        } else {
            format!("AND id NOT IN ({placeholders})")
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM queue_items WHERE deleted_at IS NULL AND status = 'pending' \
             {not_in} ORDER BY priority DESC, position ASC, id ASC LIMIT 1"
        );
        let mut query = sqlx::query_as::<_, QueueRow>(&sql);
        for id in exclude {
            query = query.bind(id);
        }
        query
            .fetch_optional(self.pool())
            .await?
            .map(QueueRow::into_item)
            .transpose()
    }

    pub async fn set_status(&self, id: i64, status: ItemStatus) -> Result<()> {
        sqlx::query(
            "UPDATE queue_items SET status = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(status.as_str())
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Marks an item as started: status downloading, one more attempt.
    pub async fn mark_started(&self, id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE queue_items SET status = 'downloading', attempts = attempts + 1, last_error = NULL, \
             updated_at = ? WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn set_path(&self, id: i64, path: &str, folder: Option<&str>) -> Result<()> {
        sqlx::query(
            "UPDATE queue_items SET path = ?, folder = COALESCE(?, folder), updated_at = ? WHERE id = ?",
        )
        .bind(path)
        .bind(folder)
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn update_progress(
        &self,
        id: i64,
        bytes: u64,
        total: Option<u64>,
        speed: Option<f64>,
        eta: Option<u64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE queue_items SET bytes = ?, total = ?, speed = ?, eta = ?, updated_at = ? WHERE id = ?",
        )
        .bind(to_i64(bytes))
        .bind(total.map(to_i64))
        .bind(speed)
        .bind(eta.map(to_i64))
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn mark_completed(&self, id: i64, path: &str, size: u64) -> Result<()> {
        sqlx::query(
            "UPDATE queue_items SET status = 'completed', path = ?, bytes = ?, total = ?, speed = NULL, \
             eta = NULL, last_error = NULL, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(path)
        .bind(to_i64(size))
        .bind(to_i64(size))
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn mark_failed(&self, id: i64, error: &str) -> Result<()> {
        sqlx::query(
            "UPDATE queue_items SET status = 'failed', last_error = ?, speed = NULL, eta = NULL, \
             updated_at = ? WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(error)
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Items left `downloading` by a previous process go back to pending (their partial files
    /// stay); returns their ids.
    pub async fn recover_interrupted(&self) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "UPDATE queue_items SET status = 'pending', speed = NULL, eta = NULL, updated_at = ? \
             WHERE status = 'downloading' AND deleted_at IS NULL RETURNING id",
        )
        .bind(now())
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Ids of failed items, oldest first.
    pub async fn failed_ids(&self) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT id FROM queue_items WHERE status = 'failed' AND deleted_at IS NULL ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Moves an item from one status to another (attempts reset when `reset_attempts`). `false`
    /// when the item was not in `from`, or the episode already has another live item.
    pub async fn transition(
        &self,
        id: i64,
        from: &[ItemStatus],
        to: ItemStatus,
        reset_attempts: bool,
    ) -> Result<bool> {
        let from_list = from
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "UPDATE queue_items SET status = ?, attempts = CASE WHEN ? THEN 0 ELSE attempts END, \
             last_error = CASE WHEN ? THEN NULL ELSE last_error END, updated_at = ? \
             WHERE id = ? AND deleted_at IS NULL AND status IN ({from_list})"
        );
        let r = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(reset_attempts)
            .bind(reset_attempts)
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await;
        match r {
            Ok(r) => Ok(r.rows_affected() > 0),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
            Err(e) => Err(Error::Database(e)),
        }
    }

    /// Ends an item without an error (a hook skipped it): status cancelled, reason kept.
    pub async fn mark_cancelled(&self, id: i64, reason: &str) -> Result<()> {
        sqlx::query(
            "UPDATE queue_items SET status = 'cancelled', last_error = ?, speed = NULL, eta = NULL, \
             updated_at = ? WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(reason)
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Soft-deletes an item (the episode may be queued again later).
    pub async fn remove(&self, id: i64) -> Result<()> {
        let r = sqlx::query(
            "UPDATE queue_items SET status = CASE WHEN status IN ('completed','failed') THEN status ELSE 'cancelled' END, \
             deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(now())
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        if r.rows_affected() == 0 {
            return Err(Error::NotFound(format!("queue item {id}")));
        }
        Ok(())
    }

    /// Soft-deletes every completed item; returns how many.
    pub async fn clear_completed(&self) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE queue_items SET deleted_at = ?, updated_at = ? WHERE status = 'completed' AND deleted_at IS NULL",
        )
        .bind(now())
        .bind(now())
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected())
    }

    /// Moves an item to `position` (1-based among visible items of the same priority order) and
    /// renumbers the others, in one transaction.
    pub async fn reorder(&self, id: i64, position: usize, priority: Option<i64>) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        if let Some(p) = priority {
            sqlx::query("UPDATE queue_items SET priority = ? WHERE id = ? AND deleted_at IS NULL")
                .bind(p)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let ids: Vec<(i64,)> = sqlx::query_as(
            "SELECT id FROM queue_items WHERE deleted_at IS NULL ORDER BY priority DESC, position ASC, id ASC",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut ids: Vec<i64> = ids.into_iter().map(|(i,)| i).collect();
        let Some(from) = ids.iter().position(|i| *i == id) else {
            return Err(Error::NotFound(format!("queue item {id}")));
        };
        ids.remove(from);
        let to = position.saturating_sub(1).min(ids.len());
        ids.insert(to, id);
        for (n, item) in ids.iter().enumerate() {
            sqlx::query("UPDATE queue_items SET position = ? WHERE id = ?")
                .bind(i64::try_from(n + 1).unwrap_or(i64::MAX))
                .bind(item)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A small persisted flag (`queue.running`), kept in `settings`.
    pub async fn set_flag(&self, name: &str, value: bool) -> Result<()> {
        self.store
            .settings()
            .set(name, if value { "true" } else { "false" })
            .await
    }

    pub async fn flag(&self, name: &str) -> Result<Option<bool>> {
        Ok(self.store.settings().get(name).await?.map(|v| v == "true"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds from several connections at once (two API calls, a download updating its item) all
    /// succeed, in one queue order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_adds_all_succeed_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::storage::Store::open_sqlite(&dir.path().join("q.db"))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for t in 0..8u32 {
            let repo = store.queue();
            tasks.push(tokio::spawn(async move {
                for round in 0..10u32 {
                    let key = format!("series-{t}");
                    let items: Vec<NewQueueItem<'_>> = (1..=5)
                        .map(|e| NewQueueItem {
                            key: &key,
                            site: "aniworld",
                            folder: None,
                            season: round + 1,
                            episode: e,
                            language: None,
                            priority: 0,
                        })
                        .collect();
                    repo.insert_many(&items).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let positions: Vec<(i64,)> =
            sqlx::query_as("SELECT position FROM queue_items ORDER BY position")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(positions.len(), 400);
        let distinct: std::collections::BTreeSet<i64> = positions.iter().map(|p| p.0).collect();
        assert_eq!(distinct.len(), 400, "positions are unique");
    }
}
