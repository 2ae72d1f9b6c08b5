//! Remembered per-folder scan results (`scan_folders`), so an unchanged library rescans cheaply.

use std::collections::HashMap;

use sqlx::SqlitePool;

use super::{Store, now};
use crate::error::Result;
use crate::scanner::ChangedFolder;

/// One remembered series folder: its fingerprint and its scan result as JSON.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FolderStateRow {
    pub folder: String,
    pub fingerprint: String,
    pub state: String,
}

/// Rows written per `INSERT` statement by [`ScanStateRepo::save`].
const SAVE_BATCH: usize = 150;

#[derive(Debug, Clone)]
pub struct ScanStateRepo {
    pool: SqlitePool,
}

impl Store {
    pub fn scan_state(&self) -> ScanStateRepo {
        ScanStateRepo {
            pool: self.pool().clone(),
        }
    }
}

impl ScanStateRepo {
    /// Every remembered folder of `library`, by folder name.
    pub async fn load(&self, library: &str) -> Result<HashMap<String, FolderStateRow>> {
        let rows: Vec<FolderStateRow> =
            sqlx::query_as("SELECT folder, fingerprint, state FROM scan_folders WHERE library = ?")
                .bind(library)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|r| (r.folder.clone(), r)).collect())
    }

    /// Inserts or replaces the given folders' state, in one transaction.
    pub async fn save(&self, library: &str, folders: &[ChangedFolder]) -> Result<()> {
        if folders.is_empty() {
            return Ok(());
        }
        let ts = now();
        let mut tx = self.pool.begin().await?;
        // Many rows per statement: one round trip to the database thread per row dominated the
        // first scan of a large library. 6 parameters a row stays under SQLite's 999 limit.
        for chunk in folders.chunks(SAVE_BATCH) {
            let mut sql = String::from(
                "INSERT INTO scan_folders (library, folder, fingerprint, state, created_at, updated_at) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str("(?, ?, ?, ?, ?, ?)");
            }
            sql.push_str(
                " ON CONFLICT (library, folder) DO UPDATE SET
                   fingerprint = excluded.fingerprint, state = excluded.state,
                   updated_at = excluded.updated_at",
            );
            let mut query = sqlx::query(&sql);
            for f in chunk {
                query = query
                    .bind(library)
                    .bind(&f.folder)
                    .bind(&f.fingerprint)
                    .bind(&f.state)
                    .bind(ts)
                    .bind(ts);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets folders that are gone from the library.
    pub async fn remove(&self, library: &str, folders: &[String]) -> Result<()> {
        if folders.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for folder in folders {
            sqlx::query("DELETE FROM scan_folders WHERE library = ? AND folder = ?")
                .bind(library)
                .bind(folder)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets everything about `library` (forces a full rescan next time).
    pub async fn clear(&self, library: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM scan_folders WHERE library = ?")
            .bind(library)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(folder: &str, fp: &str) -> ChangedFolder {
        ChangedFolder {
            folder: folder.into(),
            fingerprint: fp.into(),
            state: "{}".into(),
        }
    }

    #[tokio::test]
    async fn saves_more_folders_than_one_statement_holds() {
        let store = Store::open_memory().await.unwrap();
        let repo = store.scan_state();
        let folders: Vec<ChangedFolder> = (0..SAVE_BATCH * 2 + 7)
            .map(|i| changed(&format!("F{i}"), "1"))
            .collect();
        repo.save("/lib", &folders).await.unwrap();
        repo.save("/lib", &[changed("F3", "2"), changed("F3", "3")])
            .await
            .unwrap();
        let rows = repo.load("/lib").await.unwrap();
        assert_eq!(rows.len(), SAVE_BATCH * 2 + 7);
        assert_eq!(rows["F3"].fingerprint, "3");
        assert_eq!(rows[&format!("F{}", SAVE_BATCH * 2 + 6)].fingerprint, "1");
    }

    #[tokio::test]
    async fn saves_replaces_and_removes_per_library() {
        let store = Store::open_memory().await.unwrap();
        let repo = store.scan_state();
        repo.save("/lib", &[changed("A", "1"), changed("B", "1")])
            .await
            .unwrap();
        repo.save("/other", &[changed("A", "9")]).await.unwrap();
        repo.save("/lib", &[changed("A", "2")]).await.unwrap();
        let rows = repo.load("/lib").await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows["A"].fingerprint, "2");
        repo.remove("/lib", &["B".into()]).await.unwrap();
        assert_eq!(repo.load("/lib").await.unwrap().len(), 1);
        assert_eq!(repo.load("/other").await.unwrap()["A"].fingerprint, "9");
        assert_eq!(repo.clear("/lib").await.unwrap(), 1);
        assert!(repo.load("/lib").await.unwrap().is_empty());
    }
}
