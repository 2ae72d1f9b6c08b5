//! `aniworld db migrate`: copies a SQLite database into an empty PostgreSQL one, every table,
//! ids kept, and every id sequence set past the highest copied id (so new rows never collide).
//!
//! Tables and column types are read from the PostgreSQL schema the migrations made, so a table
//! added by a later migration (to both dialects) is copied without changes here.

use sqlx::{AnyPool, Row};

use super::{Dialect, Store, url_host};
use crate::error::{Error, Result};

/// Rows per INSERT statement (PostgreSQL allows 65,535 bound values).
const BATCH: usize = 500;

/// What was copied: (table, rows), in copy order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub tables: Vec<(String, u64)>,
}

impl MigrationReport {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

#[derive(Debug, Clone, Copy)]
enum ColumnKind {
    Int,
    Real,
    Text,
    Blob,
}

struct Table {
    name: String,
    columns: Vec<(String, ColumnKind)>,
}

/// Copies everything in `source` (SQLite) into the PostgreSQL database `url`, which must hold no
/// rows yet; its schema is created by the migrations first.
pub async fn sqlite_to_postgres(source: &Store, url: &str) -> Result<MigrationReport> {
    if source.dialect() != Dialect::Sqlite {
        return Err(Error::invalid(
            "source",
            "the source must be a SQLite database",
        ));
    }
    let target = Store::open_postgres(url).await?;
    let pool = target.pool();
    let tables = tables_of(pool).await?;
    for table in &tables {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {}", table.name))
            .fetch_one(pool)
            .await?;
        if n > 0 {
            return Err(Error::Conflict(format!(
                "the PostgreSQL database at {} is not empty (table {} has {n} rows); \
                 migrate into a new, empty database",
                url_host(url),
                table.name
            )));
        }
    }
    let mut report = MigrationReport::default();
    let mut tx = pool.begin().await?;
    for table in &tables {
        let copied = copy_table(source.pool(), &mut tx, table).await?;
        report.tables.push((table.name.clone(), copied));
    }
    // Sequences past the copied ids: the next insert must not reuse one.
    let serials: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (table, column) in serials {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
        );
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    target.close().await;
    Ok(report)
}

/// The application's tables (not sqlx's bookkeeping) with their columns, `series` first (others
/// may refer to it).
async fn tables_of(pool: &AnyPool) -> Result<Vec<Table>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text \
         FROM information_schema.columns c JOIN information_schema.tables t \
           ON t.table_name = c.table_name AND t.table_schema = c.table_schema \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
           AND c.table_name NOT LIKE '\\_sqlx%' ESCAPE '\\' \
         ORDER BY c.table_name, c.ordinal_position",
    )
    .fetch_all(pool)
    .await?;
    let mut tables: Vec<Table> = Vec::new();
    for (table, column, ty) in rows {
        let kind = match ty.as_str() {
            "bigint" | "integer" | "smallint" => ColumnKind::Int,
            "double precision" | "real" => ColumnKind::Real,
            "bytea" => ColumnKind::Blob,
            "text" | "character varying" => ColumnKind::Text,
            other => {
                return Err(Error::Unsupported(format!(
                    "column {table}.{column} has type {other}, which the copy does not know"
                )));
            }
        };
        match tables.last_mut() {
            Some(t) if t.name == table => t.columns.push((column, kind)),
            _ => tables.push(Table {
                name: table,
                columns: vec![(column, kind)],
            }),
        }
    }
    tables.sort_by_key(|t| (t.name != "series", t.name.clone()));
    Ok(tables)
}

async fn copy_table(
    source: &AnyPool,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &Table,
) -> Result<u64> {
    let names: Vec<&str> = table.columns.iter().map(|(n, _)| n.as_str()).collect();
    let list = names.join(", ");
    let rows = sqlx::query(&format!("SELECT {list} FROM {}", table.name))
        .fetch_all(source)
        .await?;
    let width = table.columns.len();
    for chunk in rows.chunks(BATCH) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| {
                let cols: Vec<String> = (0..width)
                    .map(|c| format!("${}", r * width + c + 1))
                    .collect();
                format!("({})", cols.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO {} ({list}) VALUES {}",
            table.name,
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for row in chunk {
            for (i, (column, kind)) in table.columns.iter().enumerate() {
                let bad = |e: sqlx::Error| {
                    Error::invalid(
                        format!("{}.{column}", table.name),
                        format!("cannot read the SQLite value: {e}"),
                    )
                };
                q = match kind {
                    ColumnKind::Int => q.bind(row.try_get::<Option<i64>, _>(i).map_err(bad)?),
                    ColumnKind::Real => q.bind(row.try_get::<Option<f64>, _>(i).map_err(bad)?),
                    ColumnKind::Text => q.bind(row.try_get::<Option<String>, _>(i).map_err(bad)?),
                    ColumnKind::Blob => q.bind(row.try_get::<Option<Vec<u8>>, _>(i).map_err(bad)?),
                };
            }
        }
        q.execute(&mut **tx).await?;
    }
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeriesKey;
    use crate::storage::queue::NewQueueItem;
    use crate::storage::scratch::ScratchPostgres;
    use crate::storage::series::SeriesUpsert;

    fn series(key: &str) -> SeriesUpsert {
        SeriesUpsert {
            key: SeriesKey::parse(key).unwrap(),
            site: "aniworld".into(),
            name: key.into(),
            folder: key.into(),
            year: Some(2001),
            episodes: [(1, 1)].into(),
        }
    }

    fn item(key: &str, episode: u32) -> NewQueueItem<'_> {
        NewQueueItem {
            key,
            site: "aniworld",
            folder: None,
            season: 1,
            episode,
            language: Some("German Dub"),
            priority: 0,
        }
    }

    #[tokio::test]
    async fn copies_every_row_keeps_ids_and_new_rows_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        let source = Store::open_sqlite(&dir.path().join("a.db")).await.unwrap();
        source
            .series()
            .apply(&[series("a"), series("b"), series("c")], &[])
            .await
            .unwrap();
        // A gap in the ids: a removed series stays as a soft-deleted row.
        source
            .series()
            .apply(&[], &[SeriesKey::parse("b").unwrap()])
            .await
            .unwrap();
        let queued = source
            .queue()
            .insert_many(&[item("a", 1), item("a", 2)])
            .await
            .unwrap();
        source
            .settings()
            .set("auth.password_hash", "$2b$x")
            .await
            .unwrap();
        source
            .scan_state()
            .save("/lib", &[(3, vec![0, 1, 255])])
            .await
            .unwrap();
        let old_a = source
            .series()
            .get_by_key(&SeriesKey::parse("a").unwrap())
            .await
            .unwrap()
            .unwrap();

        let db = ScratchPostgres::create().await.unwrap();
        let report = sqlite_to_postgres(&source, db.url()).await.unwrap();
        assert_eq!(report.tables[0], ("series".to_owned(), 3));
        assert!(report.tables.contains(&("queue_items".to_owned(), 2)));

        let target = Store::open_postgres(db.url()).await.unwrap();
        let a = target
            .series()
            .get_by_key(&SeriesKey::parse("a").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a, old_a);
        assert_eq!(target.series().list().await.unwrap().len(), 2);
        assert_eq!(
            target
                .settings()
                .get("auth.password_hash")
                .await
                .unwrap()
                .as_deref(),
            Some("$2b$x")
        );
        assert_eq!(
            target.scan_state().load("/lib").await.unwrap(),
            vec![(3, vec![0, 1, 255])]
        );
        let items = target.queue().list().await.unwrap();
        let old_ids: Vec<i64> = queued.iter().map(|i| i.as_ref().unwrap().id).collect();
        assert_eq!(items.iter().map(|i| i.id).collect::<Vec<_>>(), old_ids);
        // New rows get ids past the copied ones.
        target.series().apply(&[series("d")], &[]).await.unwrap();
        let d = target
            .series()
            .get_by_key(&SeriesKey::parse("d").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(d.id > 3, "{}", d.id);
        let new_item = target.queue().insert(&item("a", 3)).await.unwrap();
        assert!(new_item.id > *old_ids.iter().max().unwrap());

        // Only into an empty database.
        let again = sqlite_to_postgres(&source, db.url()).await.unwrap_err();
        assert!(again.to_string().contains("not empty"), "{again}");
        target.close().await;
        db.drop_now().await;
    }
}
