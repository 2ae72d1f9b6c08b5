//! The last delivery result of each connection (`connection_results`).

use super::Store;
use crate::error::Result;

/// One connection's latest result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionResult {
    pub name: String,
    pub kind: String,
    pub ok: bool,
    pub error: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

/// The `connection_results` table.
pub struct ConnectionResultsRepo<'a> {
    store: &'a Store,
}

impl Store {
    pub fn connections(&self) -> ConnectionResultsRepo<'_> {
        ConnectionResultsRepo { store: self }
    }
}

impl ConnectionResultsRepo<'_> {
    /// Replaces the connection's previous result.
    pub async fn record(&self, result: &ConnectionResult) -> Result<()> {
        sqlx::query(
            "INSERT INTO connection_results (name, kind, ok, error, at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, ok = excluded.ok,
                 error = excluded.error, at = excluded.at",
        )
        .bind(&result.name)
        .bind(&result.kind)
        .bind(i64::from(result.ok))
        .bind(&result.error)
        .bind(result.at)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    pub async fn list(&self) -> Result<Vec<ConnectionResult>> {
        let rows: Vec<(String, String, i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT name, kind, ok, error, at FROM connection_results ORDER BY name",
        )
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(name, kind, ok, error, at)| ConnectionResult {
                name,
                kind,
                ok: ok != 0,
                error,
                at,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::scratch::on_both_dialects;

    on_both_dialects!(the_latest_result_replaces_the_previous_one);

    async fn the_latest_result_replaces_the_previous_one(store: Store) {
        let mut r = ConnectionResult {
            name: "hook".into(),
            kind: "webhook".into(),
            ok: false,
            error: Some("answered HTTP 500".into()),
            at: 10,
        };
        store.connections().record(&r).await.unwrap();
        r.ok = true;
        r.error = None;
        r.at = 20;
        store.connections().record(&r).await.unwrap();
        assert_eq!(store.connections().list().await.unwrap(), vec![r]);
    }
}
