//! A rescan of the library: the scanner's report against the index, and only the difference
//! written.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::index::{Missing, SeriesEntry, UnmatchedFolder};
use super::{Library, StateKeeper};
use crate::error::Result;
use crate::events::Event;
use crate::model::{EpisodeSet, SeriesKey};
use crate::scanner::{ScanReport, ScanWarning, ScannedSeries};
use crate::storage::now;
use crate::storage::series::SeriesUpsert;

/// What a rescan found and did.
#[derive(Debug)]
pub struct ScanResult {
    pub scan_id: String,
    /// The scanner's full report (every folder with its files, and the warnings).
    pub report: ScanReport,
    /// Series in the index after the scan.
    pub series: u64,
    /// Episode files found.
    pub episodes: u64,
    pub unmatched: u64,
    /// Series written (new or changed) and removed (folder gone).
    pub written: u64,
    pub removed: u64,
    pub duration: Duration,
}

/// What the index must change after a scan.
struct Changes {
    upserts: Vec<SeriesUpsert>,
    removed: Vec<SeriesKey>,
    unmatched: Vec<UnmatchedFolder>,
    warnings: Vec<ScanWarning>,
}

fn on_disk(series: &ScannedSeries) -> EpisodeSet {
    series
        .episodes
        .iter()
        .map(|e| (e.season, e.episode))
        .collect()
}

impl Library {
    /// Keeps the running scan's progress for those who ask (`GET /api/library/status`).
    fn scan_progressed(&self, scan_id: &str, done: u64, total: u64) {
        if let Some(handle) = self
            .inner
            .scan
            .lock()
            .expect("scan lock")
            .as_mut()
            .filter(|h| h.id == scan_id)
        {
            handle.done = done;
            handle.total = total;
        }
    }

    pub(super) async fn rescan_as(&self, scan_id: &str) -> Result<ScanResult> {
        let result = self.scan_and_record(scan_id).await;
        let event = match &result {
            Ok(r) => Event::ScanCompleted {
                scan_id: scan_id.to_owned(),
                series: r.series,
                episodes: r.episodes,
                unmatched: r.unmatched,
                missing: self.missing_total(),
                duration_ms: u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX),
            },
            Err(e) => {
                tracing::warn!(error = %e, "library scan failed");
                Event::ScanFailed {
                    scan_id: scan_id.to_owned(),
                    error: e.to_string(),
                }
            }
        };
        self.events().emit(event);
        result
    }

    async fn scan_and_record(&self, scan_id: &str) -> Result<ScanResult> {
        let started = Instant::now();
        let _writer = self.writer().await;
        let root = self.root();
        self.events().emit(Event::ScanStarted {
            scan_id: scan_id.to_owned(),
            library: root.display().to_string(),
        });
        let scanner = self.scanner()?.with_progress(self.progress_events(scan_id));
        let outcome = scanner
            .scan(&StateKeeper(self.store().scan_state()))
            .await?;
        let mut report = outcome.report;
        let changes = self.changes(&report);
        self.store()
            .series()
            .apply(&changes.upserts, &changes.removed)
            .await?;
        self.store()
            .scan_state()
            .save(&scanner.library_id(), &outcome.state)
            .await?;

        let written = changes.upserts.len() as u64;
        let removed = changes.removed.len() as u64;
        let created_at = now();
        let catalogue = self.catalogue();
        let entries: Vec<SeriesEntry> = changes
            .upserts
            .into_iter()
            .map(|u| {
                let missing =
                    Missing::compute(&u.episodes, catalogue.entry(&u.site, &u.key).as_ref());
                SeriesEntry::from_parts(u, created_at, missing)
            })
            .collect();
        let unmatched = changes.unmatched.len() as u64;
        let series = {
            let mut index = self.index_write();
            index.apply(entries, &changes.removed);
            index.set_unmatched(changes.unmatched);
            self.inner
                .suggestions
                .lock()
                .expect("suggestions lock")
                .retain(&index.unmatched());
            index.len() as u64
        };
        report.warnings.extend(changes.warnings);
        let episodes = report.series.iter().map(|s| s.episodes.len() as u64).sum();
        Ok(ScanResult {
            scan_id: scan_id.to_owned(),
            report,
            series,
            episodes,
            unmatched,
            written,
            removed,
            duration: started.elapsed(),
        })
    }

    /// The difference between the scan and the index. A folder the scanner reused unchanged
    /// is not looked at again; one it read again is written only if what it holds differs.
    fn changes(&self, report: &ScanReport) -> Changes {
        let index = self.index_read();
        let mut changes = Changes {
            upserts: Vec::new(),
            removed: Vec::new(),
            unmatched: Vec::new(),
            warnings: Vec::new(),
        };
        let mut seen: HashSet<&SeriesKey> = HashSet::with_capacity(report.series.len());
        for (i, series) in report.series.iter().enumerate() {
            let reused = report.reused.get(i).copied().unwrap_or(false);
            let (Some(key), Some(site)) = (&series.key, &series.site) else {
                changes.unmatched.push(UnmatchedFolder {
                    folder: series.folder.clone(),
                    episodes: series.episodes.len() as u64,
                    suggested_key: series.suggested_key.clone(),
                });
                continue;
            };
            if !seen.insert(key) {
                changes.warnings.push(ScanWarning {
                    path: self.root().join(&series.folder),
                    message: format!("series {key} is in another folder too: this one is left out"),
                });
                continue;
            }
            let known = index.get(key);
            if reused && known.is_some_and(|e| e.folder == series.folder) {
                continue;
            }
            let episodes = on_disk(series);
            let same = known.is_some_and(|e| {
                e.site == *site
                    && e.name == series.name
                    && e.folder == series.folder
                    && e.year == series.year
                    && *e.on_disk == episodes
            });
            if !same {
                changes.upserts.push(SeriesUpsert {
                    key: key.clone(),
                    site: site.clone(),
                    name: series.name.clone(),
                    folder: series.folder.clone(),
                    year: series.year,
                    episodes,
                });
            }
        }
        let root = self.root();
        changes.removed = index
            .entries()
            .iter()
            .filter(|e| !seen.contains(&e.key))
            // A folder that is there but could not be read this time keeps its series.
            .filter(|e| {
                !root
                    .join(&e.folder)
                    .join(crate::metadata::METADATA_FILE)
                    .is_file()
            })
            .map(|e| e.key.clone())
            .collect();
        changes
    }

    /// At most 10 progress events a second, and always the last one.
    fn progress_events(&self, scan_id: &str) -> crate::scanner::ProgressFn {
        let events = self.events().clone();
        let library = self.clone();
        let scan_id = scan_id.to_owned();
        let last = Arc::new(Mutex::new(None::<Instant>));
        Arc::new(move |done, total, folder: &str| {
            library.scan_progressed(&scan_id, done, total);
            let mut last = last.lock().expect("progress lock");
            let due = last.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
            if due || done == total {
                *last = Some(Instant::now());
                events.emit(Event::ScanProgress {
                    scan_id: scan_id.clone(),
                    done,
                    total,
                    folder: Some(folder.to_owned()),
                });
            }
        })
    }
}
