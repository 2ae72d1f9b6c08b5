//! Scraped series info (`provider_cache`): one JSON body per (site, key) with the time it was
//! fetched. Freshness is decided by the reader (`max_age`), so changing `cache.series_ttl` takes
//! effect at once. An entry that no longer deserialises counts as missing, never as an error.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Deserialize;

use sqlx::AnyPool;

use super::{Store, now};
use crate::error::Result;
use crate::model::{SeriesInfo, SeriesKey};

impl Store {
    pub fn provider_cache(&self) -> ProviderCacheRepo {
        ProviderCacheRepo {
            pool: self.pool().clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ProviderCacheRepo {
    pool: AnyPool,
}

fn decode(site: &str, key: &str, body: &str) -> Option<SeriesInfo> {
    match serde_json::from_str::<SeriesInfo>(body) {
        Ok(info) => Some(info),
        Err(e) => {
            tracing::warn!(site, key, error = %e, "ignoring an unreadable provider cache entry");
            None
        }
    }
}

impl ProviderCacheRepo {
    /// The cached info of one series if it was fetched at most `max_age_secs` ago.
    pub async fn get(
        &self,
        site: &str,
        key: &SeriesKey,
        max_age_secs: u64,
    ) -> Result<Option<SeriesInfo>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT body FROM provider_cache WHERE site = $1 AND key = $2 AND fetched_at >= $3",
        )
        .bind(site)
        .bind(key.as_str())
        .bind(oldest_fresh(max_age_secs))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(|(body,)| decode(site, key.as_str(), &body)))
    }

    /// The fresh cached info of every key in `keys` that has one (one query per call).
    pub async fn get_many(
        &self,
        site: &str,
        keys: &[SeriesKey],
        max_age_secs: u64,
    ) -> Result<HashMap<SeriesKey, SeriesInfo>> {
        let wanted: HashSet<&str> = keys.iter().map(SeriesKey::as_str).collect();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, body FROM provider_cache WHERE site = $1 AND fetched_at >= $2",
        )
        .bind(site)
        .bind(oldest_fresh(max_age_secs))
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::with_capacity(wanted.len());
        for (key, body) in rows {
            if !wanted.contains(key.as_str()) {
                continue;
            }
            if let (Ok(k), Some(info)) = (SeriesKey::parse(&key), decode(site, &key, &body)) {
                out.insert(k, info);
            }
        }
        Ok(out)
    }

    /// The (season, episode) numbers of every key in `keys` with a fresh entry. Reads only the
    /// numbers out of the stored JSON, which is several times faster than decoding whole entries
    /// (this is what listing missing episodes for a whole library needs).
    pub async fn episode_numbers_many(
        &self,
        site: &str,
        keys: &[SeriesKey],
        max_age_secs: u64,
    ) -> Result<HashMap<SeriesKey, BTreeSet<(u32, u32)>>> {
        let wanted: HashSet<&str> = keys.iter().map(SeriesKey::as_str).collect();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, body FROM provider_cache WHERE site = $1 AND fetched_at >= $2",
        )
        .bind(site)
        .bind(oldest_fresh(max_age_secs))
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::with_capacity(wanted.len());
        for (key, body) in rows {
            if !wanted.contains(key.as_str()) {
                continue;
            }
            let Ok(k) = SeriesKey::parse(&key) else {
                continue;
            };
            match serde_json::from_str::<EpisodeNumbersOnly>(&body) {
                Ok(lite) => {
                    let numbers = lite
                        .seasons
                        .iter()
                        .flat_map(|s| s.episodes.iter().map(move |e| (s.number, e.number)))
                        .collect();
                    out.insert(k, numbers);
                }
                Err(e) => {
                    tracing::warn!(site, key, error = %e, "ignoring an unreadable provider cache entry");
                }
            }
        }
        Ok(out)
    }

    /// Stores (or replaces) a series' info as fetched now.
    pub async fn put(&self, info: &SeriesInfo) -> Result<()> {
        self.put_fetched_at(info, now()).await
    }

    /// Stores a series' info with an explicit fetch time (unix seconds).
    pub async fn put_fetched_at(&self, info: &SeriesInfo, fetched_at: i64) -> Result<()> {
        let body = serde_json::to_string(info).expect("series info serialises");
        sqlx::query(
            "INSERT INTO provider_cache (site, key, body, fetched_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (site, key) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at",
        )
        .bind(&info.site)
        .bind(info.key.as_str())
        .bind(body)
        .bind(fetched_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets one series (the next lookup fetches it again).
    pub async fn invalidate(&self, site: &str, key: &SeriesKey) -> Result<()> {
        sqlx::query("DELETE FROM provider_cache WHERE site = $1 AND key = $2")
            .bind(site)
            .bind(key.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// The part of a stored [`SeriesInfo`] that says which episodes exist.
#[derive(Deserialize)]
struct EpisodeNumbersOnly {
    seasons: Vec<SeasonNumbersOnly>,
}

#[derive(Deserialize)]
struct SeasonNumbersOnly {
    number: u32,
    episodes: Vec<EpisodeNumberOnly>,
}

#[derive(Deserialize)]
struct EpisodeNumberOnly {
    number: u32,
}

fn oldest_fresh(max_age_secs: u64) -> i64 {
    now().saturating_sub(i64::try_from(max_age_secs).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::scratch::on_both_dialects;

    on_both_dialects!(
        fresh_entries_are_returned_and_stale_ones_are_not,
        unreadable_entry_counts_as_missing,
        get_many_returns_only_the_asked_keys
    );

    fn info(key: &str, name: &str) -> SeriesInfo {
        SeriesInfo {
            key: SeriesKey::parse(key).unwrap(),
            site: "aniworld".into(),
            name: name.into(),
            year: Some(2020),
            end_year: None,
            description: None,
            cover: None,
            genres: vec![],
            alternative_titles: vec![],
            seasons: vec![],
            url: "http://x/anime/stream/k".into(),
        }
    }

    async fn fresh_entries_are_returned_and_stale_ones_are_not(store: Store) {
        let cache = store.provider_cache();
        let k = SeriesKey::parse("k").unwrap();
        cache.put(&info("k", "A")).await.unwrap();
        assert_eq!(
            cache.get("aniworld", &k, 60).await.unwrap().unwrap().name,
            "A"
        );
        assert!(cache.get("sto", &k, 60).await.unwrap().is_none());
        cache
            .put_fetched_at(&info("k", "B"), now() - 120)
            .await
            .unwrap();
        assert!(cache.get("aniworld", &k, 60).await.unwrap().is_none());
        assert_eq!(
            cache.get("aniworld", &k, 600).await.unwrap().unwrap().name,
            "B"
        );
    }

    async fn unreadable_entry_counts_as_missing(store: Store) {
        sqlx::query("INSERT INTO provider_cache VALUES ('aniworld', 'k', '{not json', $1)")
            .bind(now())
            .execute(store.pool())
            .await
            .unwrap();
        let k = SeriesKey::parse("k").unwrap();
        assert!(
            store
                .provider_cache()
                .get("aniworld", &k, 60)
                .await
                .unwrap()
                .is_none()
        );
    }

    async fn get_many_returns_only_the_asked_keys(store: Store) {
        let cache = store.provider_cache();
        for k in ["a", "b", "c"] {
            cache.put(&info(k, k)).await.unwrap();
        }
        let keys = [
            SeriesKey::parse("a").unwrap(),
            SeriesKey::parse("c").unwrap(),
        ];
        let got = cache.get_many("aniworld", &keys, 60).await.unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.contains_key(&keys[1]));
        let numbers = cache
            .episode_numbers_many("aniworld", &keys, 60)
            .await
            .unwrap();
        assert_eq!(numbers.len(), 2);
    }
}
