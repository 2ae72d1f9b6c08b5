//! `queue_items`: the persistent download queue's rows.

use sqlx::FromRow;

use super::{Dialect, Store, now};
use crate::error::{Error, Result};
use crate::model::queue::{ItemStatus, QueueCounts, QueueItem};

/// A downloading item's lease ran out (or it has none): its owner is gone. `$n` is the time now.
fn expired(n: usize) -> String {
    format!("(lease_until IS NULL OR lease_until < ${n})")
}

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

/// `AND ...` conditions for the optional status and key filters (bound in that order, numbered
/// from `$1`), and the number of the next placeholder.
fn filter_sql(status: Option<ItemStatus>, key: Option<&str>) -> (String, usize) {
    let mut sql = String::new();
    let mut n = 1;
    if status.is_some() {
        sql.push_str(&format!(" AND status = ${n}"));
        n += 1;
    }
    if key.is_some() {
        sql.push_str(&format!(" AND key = ${n}"));
        n += 1;
    }
    (sql, n)
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
    fn pool(&self) -> &sqlx::AnyPool {
        self.store.pool()
    }

    /// The live (pending/downloading/paused) items of one series: (season, episode) → item id.
    pub async fn live_episodes(
        &self,
        key: &str,
    ) -> Result<std::collections::HashMap<(u32, u32), i64>> {
        let sql = format!(
            "SELECT season, episode, id FROM queue_items WHERE key = $1 \
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
            "SELECT {COLUMNS} FROM queue_items WHERE key = $1 AND season = $2 AND episode = $3 \
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
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, \
             (SELECT COALESCE(MAX(position), 0) + 1 FROM queue_items), $8, $9) RETURNING {COLUMNS}"
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
        let sql = format!("SELECT {COLUMNS} FROM queue_items WHERE id = $1 AND deleted_at IS NULL");
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
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, \
             (SELECT COALESCE(MAX(position), 0) + 1 FROM queue_items), $8, $9) \
             ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
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
                .fetch_optional(&mut *tx)
                .await?;
            // No row: the episode is live already (a conflict that must not abort the transaction).
            out.push(inserted.map(QueueRow::into_item).transpose()?);
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
        let (filter, n) = filter_sql(status, key);
        let sql = format!(
            "SELECT {COLUMNS} FROM queue_items WHERE deleted_at IS NULL {filter} \
             ORDER BY priority DESC, position ASC, id ASC LIMIT ${n} OFFSET ${}",
            n + 1
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
            filter_sql(status, Some(key)).0
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

    /// Claims the next item for `owner` until `lease_secs` from now, in one statement: the first
    /// pending item in queue order, or a downloading one whose owner's lease ran out (its owner
    /// is gone; the download resumes from its partial file). Status downloading, one more attempt.
    pub async fn claim(&self, owner: &str, lease_secs: u64) -> Result<Option<QueueItem>> {
        let t = now();
        let lock = match self.store.dialect() {
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let expired = expired(3);
        let sql = format!(
            "UPDATE queue_items SET status = 'downloading', attempts = attempts + 1, \
             last_error = NULL, lease_owner = $1, lease_until = $2, updated_at = $3 \
             WHERE id = (SELECT id FROM queue_items WHERE deleted_at IS NULL AND \
               (status = 'pending' OR (status = 'downloading' AND {expired} AND \
                (lease_owner IS NULL OR lease_owner <> $1))) \
               ORDER BY priority DESC, position ASC, id ASC LIMIT 1 {lock}) \
             RETURNING {COLUMNS}"
        );
        sqlx::query_as::<_, QueueRow>(&sql)
            .bind(owner)
            .bind(t.saturating_add(to_i64(lease_secs)))
            .bind(t)
            .fetch_optional(self.pool())
            .await?
            .map(QueueRow::into_item)
            .transpose()
    }

    /// Extends `owner`'s lease on a downloading item; `false` when it is not downloading under
    /// that owner any more (paused, removed or stopped elsewhere, or taken over after it ran out).
    pub async fn renew(&self, id: i64, owner: &str, lease_secs: u64) -> Result<bool> {
        let t = now();
        let done = sqlx::query(
            "UPDATE queue_items SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 \
             AND status = 'downloading' AND deleted_at IS NULL",
        )
        .bind(t.saturating_add(to_i64(lease_secs)))
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Downloading items held under a lease that has not run out, with their owners.
    pub async fn live_leases(&self) -> Result<Vec<(i64, String)>> {
        let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
            "SELECT id, lease_owner FROM queue_items WHERE deleted_at IS NULL \
             AND status = 'downloading' AND lease_until >= $1 ORDER BY id",
        )
        .bind(now())
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, owner)| (id, owner.unwrap_or_default()))
            .collect())
    }

    pub async fn set_status(&self, id: i64, status: ItemStatus) -> Result<()> {
        sqlx::query(
            "UPDATE queue_items SET status = $1, updated_at = $2 WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(status.as_str())
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn set_path(&self, id: i64, path: &str, folder: Option<&str>) -> Result<()> {
        sqlx::query(
            "UPDATE queue_items SET path = $1, folder = COALESCE($2, folder), updated_at = $3 WHERE id = $4",
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
            "UPDATE queue_items SET bytes = $1, total = $2, speed = $3, eta = $4, updated_at = $5 WHERE id = $6",
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
            "UPDATE queue_items SET status = 'completed', path = $1, bytes = $2, total = $3, speed = NULL, \
             eta = NULL, last_error = NULL, updated_at = $4, lease_owner = NULL, lease_until = NULL \
             WHERE id = $5 AND deleted_at IS NULL",
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
            "UPDATE queue_items SET status = 'failed', last_error = $1, speed = NULL, eta = NULL, \
             updated_at = $2, lease_owner = NULL, lease_until = NULL \
             WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(error)
        .bind(now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Items left `downloading` by a process that is gone (their lease ran out, or their owner
    /// was a process on this machine that has ended) go back to pending (their partial files
    /// stay); returns their ids. Other live leases are left alone: another instance is
    /// downloading those.
    pub async fn recover_interrupted(&self) -> Result<Vec<i64>> {
        let mut ids = self.recover_expired().await?;
        for (id, owner) in self.live_leases().await? {
            if !super::owner_is_gone(&owner) {
                continue;
            }
            let done = sqlx::query(
                "UPDATE queue_items SET status = 'pending', speed = NULL, eta = NULL, \
                 updated_at = $1, lease_owner = NULL, lease_until = NULL \
                 WHERE id = $2 AND lease_owner = $3 AND status = 'downloading'",
            )
            .bind(now())
            .bind(id)
            .bind(&owner)
            .execute(self.pool())
            .await?;
            if done.rows_affected() > 0 {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    async fn recover_expired(&self) -> Result<Vec<i64>> {
        let expired = expired(1);
        let sql = format!(
            "UPDATE queue_items SET status = 'pending', speed = NULL, eta = NULL, updated_at = $1, \
             lease_owner = NULL, lease_until = NULL \
             WHERE status = 'downloading' AND deleted_at IS NULL AND {expired} RETURNING id"
        );
        let rows: Vec<(i64,)> = sqlx::query_as(&sql)
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
            "UPDATE queue_items SET status = $1, attempts = CASE WHEN $2 = 1 THEN 0 ELSE attempts END, \
             last_error = CASE WHEN $2 = 1 THEN NULL ELSE last_error END, updated_at = $3, \
             lease_owner = NULL, lease_until = NULL \
             WHERE id = $4 AND deleted_at IS NULL AND status IN ({from_list})"
        );
        let r = sqlx::query(&sql)
            .bind(to.as_str())
            .bind(i64::from(reset_attempts))
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
            "UPDATE queue_items SET status = 'cancelled', last_error = $1, speed = NULL, eta = NULL, \
             updated_at = $2, lease_owner = NULL, lease_until = NULL \
             WHERE id = $3 AND deleted_at IS NULL",
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
             deleted_at = $1, updated_at = $2 WHERE id = $3 AND deleted_at IS NULL",
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
            "UPDATE queue_items SET deleted_at = $1, updated_at = $2 WHERE status = 'completed' AND deleted_at IS NULL",
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
            sqlx::query(
                "UPDATE queue_items SET priority = $1 WHERE id = $2 AND deleted_at IS NULL",
            )
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
            sqlx::query("UPDATE queue_items SET position = $1 WHERE id = $2")
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
    use crate::storage::scratch::on_both_dialects;

    on_both_dialects!(
        inserted_items_are_paged_and_counted,
        a_live_episode_is_not_queued_twice_and_the_batch_goes_on,
        claims_follow_queue_order_and_never_hand_out_an_item_twice,
        concurrent_claimers_each_get_different_items,
        an_expired_lease_is_taken_over_and_a_live_one_is_not,
        renewal_fails_once_the_item_changed_elsewhere,
        a_start_recovers_only_items_whose_lease_ran_out,
        a_start_recovers_at_once_what_an_ended_local_process_held,
        retry_resets_attempts_and_releases_the_lease,
    );

    fn new(key: &str, episode: u32) -> NewQueueItem<'_> {
        NewQueueItem {
            key,
            site: "aniworld",
            folder: None,
            season: 1,
            episode,
            language: None,
            priority: 0,
        }
    }

    async fn fill(repo: &QueueRepo, n: u32) -> Vec<i64> {
        let items: Vec<NewQueueItem<'_>> = (1..=n).map(|e| new("show", e)).collect();
        repo.insert_many(&items)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.unwrap().id)
            .collect()
    }

    async fn expire_lease(store: &Store, id: i64) {
        sqlx::query("UPDATE queue_items SET lease_until = $1 WHERE id = $2")
            .bind(now() - 10)
            .bind(id)
            .execute(store.pool())
            .await
            .unwrap();
    }

    async fn inserted_items_are_paged_and_counted(store: Store) {
        let repo = store.queue();
        let one = repo.insert(&new("show", 1)).await.unwrap();
        fill_from(&repo, 2, 5).await;
        assert_eq!(one.status, ItemStatus::Pending);
        assert_eq!(repo.counts().await.unwrap().pending, 5);
        let page = repo
            .page(Some(ItemStatus::Pending), Some("show"), 1, 2)
            .await
            .unwrap();
        assert_eq!(
            page.iter().map(|i| i.episode).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert_eq!(
            repo.count_of_series(Some(ItemStatus::Pending), "show")
                .await
                .unwrap(),
            5
        );
        assert!(repo.has_pending().await.unwrap());
        repo.reorder(one.id, 3, None).await.unwrap();
        let order: Vec<u32> = repo
            .list()
            .await
            .unwrap()
            .iter()
            .map(|i| i.episode)
            .collect();
        assert_eq!(order, vec![2, 3, 1, 4, 5]);
        repo.remove(one.id).await.unwrap();
        assert!(matches!(repo.get(one.id).await, Err(Error::NotFound(_))));
    }

    async fn fill_from(repo: &QueueRepo, first: u32, last: u32) {
        for e in first..=last {
            repo.insert(&new("show", e)).await.unwrap();
        }
    }

    async fn a_live_episode_is_not_queued_twice_and_the_batch_goes_on(store: Store) {
        let repo = store.queue();
        repo.insert(&new("show", 2)).await.unwrap();
        assert!(matches!(
            repo.insert(&new("show", 2)).await,
            Err(Error::Conflict(_))
        ));
        // The conflict in the middle must not abort the transaction (PostgreSQL would).
        let out = repo
            .insert_many(&[new("show", 1), new("show", 2), new("show", 3)])
            .await
            .unwrap();
        assert!(out[0].is_some() && out[1].is_none() && out[2].is_some());
        assert_eq!(repo.list().await.unwrap().len(), 3);
        let live = repo.live_episodes("show").await.unwrap();
        assert_eq!(live.len(), 3);
    }

    async fn claims_follow_queue_order_and_never_hand_out_an_item_twice(store: Store) {
        let repo = store.queue();
        let ids = fill(&repo, 3).await;
        repo.reorder(ids[2], 1, None).await.unwrap();
        let first = repo.claim("a", 30).await.unwrap().unwrap();
        assert_eq!(first.id, ids[2]);
        assert_eq!(first.status, ItemStatus::Downloading);
        assert_eq!(first.attempts, 1);
        let second = repo.claim("b", 30).await.unwrap().unwrap();
        let third = repo.claim("a", 30).await.unwrap().unwrap();
        assert_eq!((second.id, third.id), (ids[0], ids[1]));
        assert!(repo.claim("c", 30).await.unwrap().is_none());
        let leases = repo.live_leases().await.unwrap();
        assert_eq!(leases.len(), 3);
        assert!(leases.contains(&(ids[0], "b".to_owned())));
    }

    async fn concurrent_claimers_each_get_different_items(store: Store) {
        let repo = store.queue();
        let ids = fill(&repo, 30).await;
        let mut tasks = Vec::new();
        for owner in ["a", "b", "c"] {
            let repo = repo.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(item) = repo.claim(owner, 30).await.unwrap() {
                    got.push(item.id);
                }
                got
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, ids, "every item claimed exactly once");
    }

    async fn an_expired_lease_is_taken_over_and_a_live_one_is_not(store: Store) {
        let repo = store.queue();
        let ids = fill(&repo, 2).await;
        let a = repo.claim("a", 30).await.unwrap().unwrap();
        let b = repo.claim("a", 30).await.unwrap().unwrap();
        assert!(repo.claim("b", 30).await.unwrap().is_none(), "live leases");
        expire_lease(&store, a.id).await;
        // Not by its own (stale) owner: that one still runs it.
        assert!(repo.claim("a", 30).await.unwrap().is_none());
        let taken = repo.claim("b", 30).await.unwrap().unwrap();
        assert_eq!(taken.id, ids[0]);
        assert_eq!(taken.attempts, 2);
        assert!(!repo.renew(a.id, "a", 30).await.unwrap(), "a lost it");
        assert!(repo.renew(a.id, "b", 30).await.unwrap());
        assert!(repo.renew(b.id, "a", 30).await.unwrap());
    }

    async fn renewal_fails_once_the_item_changed_elsewhere(store: Store) {
        let repo = store.queue();
        fill(&repo, 1).await;
        let item = repo.claim("a", 30).await.unwrap().unwrap();
        assert!(repo.renew(item.id, "a", 30).await.unwrap());
        assert!(
            repo.transition(
                item.id,
                &[ItemStatus::Downloading],
                ItemStatus::Paused,
                false
            )
            .await
            .unwrap()
        );
        assert!(!repo.renew(item.id, "a", 30).await.unwrap());
        assert!(repo.live_leases().await.unwrap().is_empty());
    }

    async fn a_start_recovers_only_items_whose_lease_ran_out(store: Store) {
        let repo = store.queue();
        fill(&repo, 2).await;
        let gone = repo.claim("gone", 30).await.unwrap().unwrap();
        let alive = repo.claim("alive", 30).await.unwrap().unwrap();
        expire_lease(&store, gone.id).await;
        assert_eq!(repo.recover_interrupted().await.unwrap(), vec![gone.id]);
        assert_eq!(repo.get(gone.id).await.unwrap().status, ItemStatus::Pending);
        assert_eq!(
            repo.get(alive.id).await.unwrap().status,
            ItemStatus::Downloading
        );
    }

    async fn a_start_recovers_at_once_what_an_ended_local_process_held(store: Store) {
        let repo = store.queue();
        fill(&repo, 3).await;
        let host = store.instance_id().split('/').next().unwrap().to_owned();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let ended = format!("{host}/{}/x", child.id());
        child.wait().unwrap();
        let dead = repo.claim(&ended, 30).await.unwrap().unwrap();
        let elsewhere = repo.claim("other-host/1/x", 30).await.unwrap().unwrap();
        let this = repo.claim(store.instance_id(), 30).await.unwrap().unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(repo.recover_interrupted().await.unwrap(), vec![dead.id]);
        }
        for id in [elsewhere.id, this.id] {
            assert_eq!(repo.get(id).await.unwrap().status, ItemStatus::Downloading);
        }
    }

    async fn retry_resets_attempts_and_releases_the_lease(store: Store) {
        let repo = store.queue();
        fill(&repo, 1).await;
        let item = repo.claim("a", 30).await.unwrap().unwrap();
        repo.mark_failed(item.id, "boom").await.unwrap();
        let failed = repo.get(item.id).await.unwrap();
        assert_eq!(failed.last_error.as_deref(), Some("boom"));
        assert_eq!(repo.failed_ids().await.unwrap(), vec![item.id]);
        assert!(
            repo.transition(item.id, &[ItemStatus::Failed], ItemStatus::Pending, true)
                .await
                .unwrap()
        );
        let again = repo.get(item.id).await.unwrap();
        assert_eq!((again.attempts, again.last_error), (0, None));
        let claimed = repo.claim("b", 30).await.unwrap().unwrap();
        repo.update_progress(claimed.id, 10, Some(20), Some(1.5), Some(7))
            .await
            .unwrap();
        repo.mark_completed(claimed.id, "/x.mp4", 20).await.unwrap();
        let done = repo.get(claimed.id).await.unwrap();
        assert_eq!((done.status, done.bytes), (ItemStatus::Completed, 20));
        assert_eq!(repo.clear_completed().await.unwrap(), 1);
    }

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
