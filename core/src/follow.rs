//! Following series: new episodes found and queued by themselves.
//!
//! A check reads fresh provider data for followed series only. Where a site has a list of
//! latest releases (aniworld.to `/neue-episoden`) and that list reaches back past the last check,
//! one request tells which followed series changed, and only those are read again; otherwise
//! every followed series of the site is read (each site within its rate limit). What a check
//! must queue it queues once: the episodes it queued are recorded (`follow_found`), so neither a
//! second check nor a restart queues them again, and the library's on-disk check keeps files
//! that exist from being queued at all. A site that is blocked or down leaves its series as they
//! were (baseline untouched) and the check says why; the next check tries again.
//!
//! The scheduler runs a check every `follow.interval` seconds (jittered), and at start when the
//! last check is older than that (a check missed while the server was down). The time and
//! result of the last check are persisted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::{CallbackManager, EpisodeNumber, Event, FollowFailure};
use crate::library::{Library, SeriesEntry};
use crate::model::follow::{FollowRecord, FollowSettings, FoundEpisode, Monitor, Release};
use crate::model::queue::{AddOutcome, EpisodeRequest, SkipReason};
use crate::model::{EpisodeSet, SeriesKey};
use crate::registry::Registry;
use crate::storage::{Store, now};

/// Series read at once during a check (each site keeps its own rate limit).
const CONCURRENCY: usize = 8;
/// How long following waits for the provider to learn the baseline of a series never asked.
const BASELINE_WAIT: Duration = Duration::from_secs(10);
/// The settings row holding the last check's report.
const LAST_CHECK: &str = "follow.last_check";
/// Slack when comparing a release list's days with the last check (the site's time zone).
const DAY_SLACK: i64 = 1;

/// Where a check queues what it found: the server's download queue, or (CLI) the queue's
/// table for the server to run.
pub trait EpisodeSink: Send + Sync {
    fn add(&self, requests: Vec<EpisodeRequest>) -> BoxFuture<'_, Result<AddOutcome>>;
}

impl EpisodeSink for crate::queue::DownloadQueue {
    fn add(&self, requests: Vec<EpisodeRequest>) -> BoxFuture<'_, Result<AddOutcome>> {
        Box::pin(crate::queue::DownloadQueue::add(self, requests))
    }
}

impl EpisodeSink for crate::queue::QueueAdder {
    fn add(&self, requests: Vec<EpisodeRequest>) -> BoxFuture<'_, Result<AddOutcome>> {
        Box::pin(crate::queue::QueueAdder::add(self, requests))
    }
}

/// What started a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// `POST /api/follow/check` or `aniworld check`.
    Manual,
    /// The scheduler (`follow.interval`).
    Schedule,
    /// At start: the last check is older than `follow.interval` (the server was down).
    Startup,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Startup => "startup",
        }
    }
}

/// What a check did (persisted: `/health` shows the last one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub check_id: String,
    pub trigger: Trigger,
    /// Unix seconds.
    pub started_at: i64,
    pub finished_at: i64,
    /// No followed series failed.
    pub ok: bool,
    /// Followed series.
    pub series: u64,
    /// Series whose provider pages were read.
    pub read: u64,
    /// Episodes that appeared since the previous check.
    pub found: u64,
    /// Episodes queued.
    pub queued: u64,
    /// Sites whose list of latest releases answered which series changed.
    pub release_lists: Vec<String>,
    pub failures: Vec<FollowFailure>,
    /// Why the check failed, in one line (`None` when ok).
    pub message: Option<String>,
}

/// A followed series as the follow list shows it.
#[derive(Debug, Clone)]
pub struct FollowedSeries {
    pub entry: Option<SeriesEntry>,
    pub record: FollowRecord,
}

/// The follow service. Cheap to clone.
#[derive(Clone)]
pub struct FollowService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    library: Library,
    registry: Registry,
    events: CallbackManager,
    sink: Option<Arc<dyn EpisodeSink>>,
    /// One check at a time (see [`FollowService::singleton_job`]).
    job: tokio::sync::Mutex<()>,
    running: Mutex<Option<String>>,
    last: RwLock<Option<CheckReport>>,
    interval: AtomicU64,
    /// Wakes the scheduler (interval changed, or a check ran).
    wake: tokio::sync::Notify,
}

impl FollowService {
    /// Loads the last check's report. `sink` receives what checks queue; without one, checks
    /// only report.
    pub async fn open(
        store: Store,
        library: Library,
        registry: Registry,
        events: CallbackManager,
        sink: Option<Arc<dyn EpisodeSink>>,
        interval: u64,
    ) -> Result<Self> {
        let last = match store.settings().get(LAST_CHECK).await? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| tracing::warn!(error = %e, "the last follow check is unreadable"))
                .ok(),
            None => None,
        };
        Ok(FollowService {
            inner: Arc::new(Inner {
                store,
                library,
                registry,
                events,
                sink,
                job: tokio::sync::Mutex::new(()),
                running: Mutex::new(None),
                last: RwLock::new(last),
                interval: AtomicU64::new(interval),
                wake: tokio::sync::Notify::new(),
            }),
        })
    }

    /// `follow.interval` changed.
    pub fn set_interval(&self, secs: u64) {
        self.inner.interval.store(secs, Ordering::Relaxed);
        self.inner.wake.notify_one();
    }

    pub fn interval(&self) -> u64 {
        self.inner.interval.load(Ordering::Relaxed)
    }

    /// The last finished check.
    pub fn last_check(&self) -> Option<CheckReport> {
        self.inner.last.read().expect("last check lock").clone()
    }

    /// The id of the check under way, if any.
    pub fn running(&self) -> Option<String> {
        self.inner.running.lock().expect("running lock").clone()
    }

    /// Follows (or unfollows) a series of the library. Following anew records what the provider
    /// lists now as the baseline `new` counts from (asking it when nothing is known yet).
    pub async fn set(&self, id: &str, settings: FollowSettings) -> Result<SeriesEntry> {
        let library = &self.inner.library;
        let entry = library
            .find(id)
            .ok_or_else(|| Error::NotFound(format!("series {id:?}")))?;
        let repo = self.inner.store.follows();
        let before = repo.get(&entry.site, &entry.key).await?;
        let was_followed = before.as_ref().is_some_and(|r| r.settings.followed);
        let baseline = if settings.followed && !was_followed {
            Some(self.baseline(&entry).await)
        } else {
            None
        };
        repo.set(&entry.site, &entry.key, settings, None, now())
            .await?;
        if let Some(seen) = baseline {
            repo.set_seen(&entry.site, &entry.key, seen.as_ref())
                .await?;
        }
        library.set_follow(&entry.key, settings);
        Ok(library.get(&entry.key).unwrap_or(entry))
    }

    /// What the provider lists for a series now, as far as it can be known quickly.
    async fn baseline(&self, entry: &SeriesEntry) -> Option<EpisodeSet> {
        let catalogue = self.inner.library.catalogue();
        let known = |c: &crate::catalogue::Catalogue| {
            c.entry(&entry.site, &entry.key)
                .filter(|e| e.is_known())
                .map(|e| (*e.available).clone())
        };
        let fresh = catalogue
            .entry(&entry.site, &entry.key)
            .is_some_and(|e| catalogue.is_fresh(&e));
        if !fresh && self.inner.registry.provider(&entry.site).is_ok() {
            let library = self.inner.library.clone();
            let sk = (entry.site.clone(), entry.key.clone());
            let asked =
                tokio::time::timeout(BASELINE_WAIT, library.refresh_catalogue_now(vec![sk], 1))
                    .await;
            if asked.is_err() {
                tracing::info!(key = %entry.key, "no baseline yet: the first check sets it");
            }
        }
        known(catalogue)
    }

    /// Followed series with their records (those no longer in the library included).
    pub async fn list(&self) -> Result<Vec<FollowedSeries>> {
        let records = self.inner.store.follows().list().await?;
        let mut out: Vec<FollowedSeries> = records
            .into_iter()
            .filter(|r| r.settings.followed)
            .map(|record| FollowedSeries {
                entry: self.inner.library.get(&record.key),
                record,
            })
            .collect();
        out.sort_by(|a, b| a.record.key.cmp(&b.record.key));
        Ok(out)
    }

    /// What the last checks found, newest first.
    pub async fn found(&self, limit: u32) -> Result<Vec<FoundEpisode>> {
        self.inner.store.follows().recent_found(limit).await
    }

    /// Starts a check in the background unless one runs; returns its id and whether this call
    /// started it. The result arrives as `follow_check_complete` (and `new_episodes`).
    pub fn start_check(&self, trigger: Trigger) -> (String, bool) {
        if let Some(id) = self.running() {
            return (id, false);
        }
        let id = uuid::Uuid::new_v4().to_string();
        let service = self.clone();
        let check_id = id.clone();
        // Marked running before the task starts, so a second call sees it.
        *self.inner.running.lock().expect("running lock") = Some(id.clone());
        tokio::spawn(async move {
            if let Err(e) = service.check_as(trigger, check_id).await {
                tracing::warn!(error = %e, "follow check failed");
            }
        });
        (id, true)
    }

    /// Runs a check now and waits for it (the CLI, the scheduler).
    pub async fn check(&self, trigger: Trigger) -> Result<CheckReport> {
        let id = uuid::Uuid::new_v4().to_string();
        *self.inner.running.lock().expect("running lock") = Some(id.clone());
        self.check_as(trigger, id).await
    }

    /// Runs `job` as the one run of a singleton job (a follow check): one at a time in this
    /// process, and on a shared PostgreSQL database one at a time across instances (an advisory
    /// lock; a check waits for another instance's to end, then runs, and queues nothing twice
    /// since what checks queued is recorded).
    async fn singleton_job<T>(
        &self,
        job: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let _one = self.inner.job.lock().await;
        let _across_instances = loop {
            if let Some(guard) = self.inner.store.try_singleton("follow_check").await? {
                break guard;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        };
        job.await
    }

    async fn check_as(&self, trigger: Trigger, check_id: String) -> Result<CheckReport> {
        let result = self
            .singleton_job(self.run_check(trigger, check_id.clone()))
            .await;
        {
            let mut running = self.inner.running.lock().expect("running lock");
            if running.as_deref() == Some(check_id.as_str()) {
                *running = None;
            }
        }
        self.inner.wake.notify_one();
        result
    }

    async fn run_check(&self, trigger: Trigger, check_id: String) -> Result<CheckReport> {
        let started = Instant::now();
        let started_at = now();
        let repo = self.inner.store.follows();
        let records: Vec<FollowRecord> = repo
            .list()
            .await?
            .into_iter()
            .filter(|r| r.settings.followed)
            .collect();
        let mut report = CheckReport {
            check_id: check_id.clone(),
            trigger,
            started_at,
            finished_at: started_at,
            ok: true,
            series: records.len() as u64,
            read: 0,
            found: 0,
            queued: 0,
            release_lists: Vec::new(),
            failures: Vec::new(),
            message: None,
        };
        let mut by_site: BTreeMap<String, Vec<FollowRecord>> = BTreeMap::new();
        for r in records {
            by_site.entry(r.site.clone()).or_default().push(r);
        }
        for (site, records) in by_site {
            self.check_site(&site, records, &mut report).await?;
        }
        report.finished_at = now();
        report.ok = report.failures.is_empty();
        if !report.ok {
            let mut codes: BTreeMap<(&str, &str), usize> = BTreeMap::new();
            for f in &report.failures {
                *codes.entry((f.site.as_str(), f.code.as_str())).or_default() += 1;
            }
            let parts: Vec<String> = codes
                .iter()
                .map(|((site, code), n)| format!("{site}: {code} ({n} series)"))
                .collect();
            let first = &report.failures[0].message;
            report.message = Some(format!(
                "{} of {} followed series could not be read ({}): {first}; the next check tries again",
                report.failures.len(),
                report.series,
                parts.join(", ")
            ));
        }
        if let Err(e) = self
            .inner
            .store
            .settings()
            .set(
                LAST_CHECK,
                &serde_json::to_string(&report).expect("report serialises"),
            )
            .await
        {
            tracing::warn!(error = %e, "the follow check's result is not stored");
        }
        *self.inner.last.write().expect("last check lock") = Some(report.clone());
        tracing::info!(
            trigger = trigger.as_str(),
            series = report.series,
            read = report.read,
            queued = report.queued,
            failed = report.failures.len(),
            "follow check done"
        );
        self.inner.events.emit(Event::FollowCheckCompleted {
            check_id,
            trigger: trigger.as_str().to_owned(),
            ok: report.ok,
            series: report.series,
            read: report.read,
            queued: report.queued,
            found: report.found,
            release_lists: report.release_lists.clone(),
            failures: report.failures.clone(),
            message: report.message.clone(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        Ok(report)
    }

    /// Which followed series of a site must be read: all of them, unless the site's list of
    /// latest releases reaches back past every series' last check, in which case only those it
    /// lists with an episode not seen yet (and those never read).
    async fn to_read(
        &self,
        site: &str,
        records: &[FollowRecord],
        report: &mut CheckReport,
    ) -> std::result::Result<Vec<SeriesKey>, Error> {
        let all = || records.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
        let provider = self.inner.registry.provider(site)?;
        let catalogue = self.inner.library.catalogue();
        let never_read = |r: &FollowRecord| {
            r.seen.is_none()
                || r.checked_at.is_none()
                || !catalogue.entry(site, &r.key).is_some_and(|e| e.is_known())
        };
        if records.iter().all(never_read) {
            return Ok(all());
        }
        let releases = match provider.latest_releases().await {
            Ok(Some(releases)) => releases,
            Ok(None) => return Ok(all()),
            // The list moved or changed its markup: the season pages still tell.
            Err(e @ (Error::Parse { .. } | Error::NotFound(_))) => {
                tracing::warn!(site, error = %e, "the list of latest releases is unreadable");
                return Ok(all());
            }
            // Blocked or down: the season pages would be too.
            Err(e) => return Err(e),
        };
        let since = records.iter().filter_map(|r| r.checked_at).min();
        if !reaches_back(&releases, since) {
            tracing::info!(
                site,
                "the list of latest releases does not reach back to the last check"
            );
            return Ok(all());
        }
        report.release_lists.push(site.to_owned());
        let listed: HashMap<&SeriesKey, Vec<(u32, u32)>> =
            releases.iter().fold(HashMap::new(), |mut m, r| {
                m.entry(&r.key).or_default().push((r.season, r.episode));
                m
            });
        Ok(records
            .iter()
            .filter(|r| {
                never_read(r)
                    || listed.get(&r.key).is_some_and(|eps| {
                        let seen = r.seen.as_ref();
                        eps.iter().any(|e| !seen.is_some_and(|s| s.contains(e)))
                    })
            })
            .map(|r| r.key.clone())
            .collect())
    }

    async fn check_site(
        &self,
        site: &str,
        records: Vec<FollowRecord>,
        report: &mut CheckReport,
    ) -> Result<()> {
        let repo = self.inner.store.follows();
        let at = now();
        let mut failed: HashMap<SeriesKey, (String, String)> = HashMap::new();
        match self.to_read(site, &records, report).await {
            Ok(keys) => {
                report.read += keys.len() as u64;
                let wanted = keys.into_iter().map(|k| (site.to_owned(), k)).collect();
                for ((_, key), failure) in self
                    .inner
                    .library
                    .refresh_catalogue_now(wanted, CONCURRENCY)
                    .await
                {
                    failed.insert(key, (failure.code, failure.message));
                }
            }
            // The site (or its list) could not be read: every series of it keeps its state.
            Err(e) => {
                for r in &records {
                    failed.insert(r.key.clone(), (e.code().to_owned(), e.to_string()));
                }
            }
        }
        for record in records {
            if let Some((code, message)) = failed.remove(&record.key) {
                repo.record_failure(site, &record.key, &code, &message, at)
                    .await?;
                report.failures.push(FollowFailure {
                    key: record.key.to_string(),
                    site: site.to_owned(),
                    code,
                    message,
                });
                continue;
            }
            self.apply(&record, report).await?;
        }
        Ok(())
    }

    /// Queues what a read series needs and moves its baseline to what the provider lists now.
    async fn apply(&self, record: &FollowRecord, report: &mut CheckReport) -> Result<()> {
        let site = record.site.as_str();
        let key = &record.key;
        let repo = self.inner.store.follows();
        let Some(available) = self
            .inner
            .library
            .catalogue()
            .entry(site, key)
            .filter(|e| e.is_known())
            .map(|e| e.available)
        else {
            return Ok(());
        };
        let appeared: EpisodeSet = match &record.seen {
            Some(seen) => available.difference(seen).copied().collect(),
            // No baseline yet: what the provider lists now is it.
            None => EpisodeSet::new(),
        };
        let wanted: EpisodeSet = match record.settings.monitor {
            Monitor::None => EpisodeSet::new(),
            Monitor::New => appeared.clone(),
            Monitor::All => (*available).clone(),
        };
        let mut queued_now = Vec::new();
        if !wanted.is_empty() {
            let entry = self.inner.library.get(key);
            let done = repo.queued_of(site, key).await?;
            let on_disk: EpisodeSet = self
                .inner
                .library
                .episodes_on_disk(key, entry.as_ref().map(|e| e.folder.as_str()))
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(%key, error = %e, "cannot tell which episodes are on disk");
                    None
                })
                .unwrap_or_default()
                .iter()
                .map(|f| (f.season, f.episode))
                .collect();
            let requests: Vec<EpisodeRequest> = wanted
                .iter()
                .filter(|e| !done.contains(e) && !on_disk.contains(e))
                .map(|&(season, episode)| EpisodeRequest {
                    key: key.clone(),
                    site: site.to_owned(),
                    season,
                    episode,
                    language: record.settings.language,
                    folder: entry.as_ref().map(|e| e.folder.clone()),
                    priority: 0,
                })
                .collect();
            if let (Some(sink), false) = (&self.inner.sink, requests.is_empty()) {
                let outcome = sink.add(requests).await?;
                let at = now();
                for item in &outcome.added {
                    repo.mark_queued(site, key, item.season, item.episode, Some(item.id), at)
                        .await?;
                    queued_now.push((item.season, item.episode));
                }
                for skipped in &outcome.skipped {
                    match &skipped.reason {
                        // Queued by hand already: this check counts it as queued.
                        SkipReason::AlreadyQueued { item_id } => {
                            repo.mark_queued(
                                site,
                                key,
                                skipped.season,
                                skipped.episode,
                                Some(*item_id),
                                at,
                            )
                            .await?;
                        }
                        SkipReason::OnDisk { .. } => {}
                        SkipReason::Invalid { message } => {
                            tracing::warn!(%key, season = skipped.season, episode = skipped.episode, message, "follow check could not queue an episode");
                        }
                    }
                }
            }
        }
        let appeared_list: Vec<(u32, u32)> = appeared.iter().copied().collect();
        repo.record_found(site, key, &appeared_list, now()).await?;
        repo.record_checked(site, key, &available, now()).await?;
        report.found += appeared_list.len() as u64;
        report.queued += queued_now.len() as u64;
        if !appeared_list.is_empty() || !queued_now.is_empty() {
            let number = |&(season, episode): &(u32, u32)| EpisodeNumber { season, episode };
            let episodes: BTreeSet<(u32, u32)> = appeared_list
                .iter()
                .chain(queued_now.iter())
                .copied()
                .collect();
            let entry = self.inner.library.get(key);
            self.inner.events.emit(Event::NewEpisodes {
                key: key.clone(),
                site: site.to_owned(),
                folder: entry.as_ref().map(|e| e.folder.clone()),
                name: entry.map_or_else(|| key.to_string(), |e| e.name),
                episodes: episodes.iter().map(number).collect(),
                queued: queued_now.iter().map(number).collect(),
            });
        }
        Ok(())
    }

    /// Runs checks every `follow.interval` seconds (jittered by up to a tenth), first at start
    /// when the last check is older than that. Ends when the returned handle is aborted.
    pub fn spawn_scheduler(&self) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                let interval = service.interval().max(crate::config::MIN_FOLLOW_INTERVAL);
                let last = service.last_check().map(|r| r.finished_at);
                let wait = match last {
                    // Never checked: nothing can have been missed; the first check is one
                    // interval from now.
                    None => jittered(interval),
                    Some(at) => {
                        let due = at.saturating_add(i64::try_from(interval).unwrap_or(i64::MAX));
                        let left = due.saturating_sub(now());
                        if left <= 0 {
                            0
                        } else {
                            jittered(u64::try_from(left).unwrap_or(0))
                        }
                    }
                };
                let trigger = if first && wait == 0 {
                    Trigger::Startup
                } else {
                    Trigger::Schedule
                };
                first = false;
                if wait > 0 {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                        // The interval changed or a check ran: count again from the last one.
                        () = service.inner.wake.notified() => continue,
                    }
                }
                if service.running().is_some() {
                    // A manual check is under way; it counts as this one.
                    service.inner.wake.notified().await;
                    continue;
                }
                if let Err(e) = service.check(trigger).await {
                    tracing::warn!(error = %e, "scheduled follow check failed");
                    // The database failed: wait a whole interval before the next try.
                    tokio::time::sleep(Duration::from_secs(interval)).await;
                }
            }
        })
    }
}

/// `secs` seconds, in milliseconds, moved by up to a tenth either way.
fn jittered(secs: u64) -> u64 {
    let ms = secs.saturating_mul(1000);
    let spread = ms / 10;
    if spread == 0 {
        return ms;
    }
    let offset = rand::random::<u64>() % (2 * spread + 1);
    ms - spread + offset
}

/// Whether a list of latest releases covers everything since `since` (unix seconds): it lists
/// something from before that day (with a day of slack for the site's time zone). A list without
/// days proves nothing.
fn reaches_back(releases: &[Release], since: Option<i64>) -> bool {
    let Some(since) = since else { return false };
    let Some(oldest) = releases.iter().filter_map(|r| r.date).min() else {
        return false;
    };
    let Some(since_day) = chrono::DateTime::from_timestamp(since, 0).map(|t| t.date_naive()) else {
        return false;
    };
    (since_day - oldest).num_days() > DAY_SLACK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(day: Option<(i32, u32, u32)>) -> Release {
        Release {
            key: SeriesKey::parse("x").unwrap(),
            season: 1,
            episode: 1,
            language: None,
            date: day.and_then(|(y, m, d)| chrono::NaiveDate::from_ymd_opt(y, m, d)),
        }
    }

    #[test]
    fn a_release_list_covers_a_check_only_when_it_reaches_back_past_it() {
        let since = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        let old = [release(Some((2026, 11, 30))), release(Some((2026, 11, 20)))];
        assert!(reaches_back(&old, Some(since)));
        let recent = [release(Some((2026, 11, 30))), release(Some((2026, 11, 29)))];
        assert!(!reaches_back(&recent, Some(since)));
        assert!(!reaches_back(&[release(None)], Some(since)));
        assert!(!reaches_back(&old, None));
    }

    #[test]
    fn jitter_stays_within_a_tenth() {
        for _ in 0..100 {
            let ms = jittered(10);
            assert!((9_000..=11_000).contains(&ms), "{ms}");
        }
        assert_eq!(jittered(0), 0);
    }
}
