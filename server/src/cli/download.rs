//! `aniworld download KEY --season N --episodes 1-3,5`: queues the episodes in the data dir's
//! persistent queue, downloads them with a progress bar each, and prints a summary.
//!
//! What a previous run left downloading (killed, Ctrl-C) resumes from its partial files first.
//! Ctrl-C stops cleanly: partial files stay, the items go back to pending for the next run.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use aniworld_core::events::Event;
use aniworld_core::model::{Language, SeriesKey};
use aniworld_core::queue::{EpisodeRequest, ItemStatus, QueueItem, SkipReason};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use super::{CliError, CliResult};
use crate::runtime::{Overrides, RuntimeOptions};

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// Series key (`attack-on-titan`).
    pub key: String,
    /// Season number (0 = movies/specials).
    #[arg(long)]
    pub season: u32,
    /// Episodes: numbers and ranges, comma separated (`1-3,5`).
    #[arg(long)]
    pub episodes: String,
    /// Only this language (`German Dub`, `german-sub`, `en-sub`, ...); default: the configured preference list.
    #[arg(long)]
    pub language: Option<String>,
    /// Library folder (default: `library.path` from the config).
    #[arg(long)]
    pub library: Option<PathBuf>,
    /// Provider (`aniworld`, `sto`, or a plugin's id).
    #[arg(long, default_value = "aniworld")]
    pub site: String,
    /// Data directory (config.json, aniworld.db with the queue).
    #[arg(long, env = "ANIWORLD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

/// `1-3,5` → [1, 2, 3, 5] (sorted, deduplicated). Ranges are capped at 10 000 episodes.
pub fn parse_episodes(spec: &str) -> Result<Vec<u32>, String> {
    let mut out = std::collections::BTreeSet::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("{part:?} is not an episode number or range (e.g. 1-3,5)");
        match part.split_once('-') {
            Some((a, b)) => {
                let a: u32 = a.trim().parse().map_err(|_| bad())?;
                let b: u32 = b.trim().parse().map_err(|_| bad())?;
                if a > b || b - a >= 10_000 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => {
                out.insert(part.parse::<u32>().map_err(|_| bad())?);
            }
        }
    }
    if out.is_empty() {
        return Err("no episodes given (e.g. --episodes 1-3,5)".to_owned());
    }
    Ok(out.into_iter().collect())
}

/// Downloads until done or the first Ctrl-C (`interrupt`): then running downloads stop with their
/// partial files kept and go back to pending for the next run.
pub async fn run(
    args: DownloadArgs,
    interrupt: impl std::future::Future<Output = ()>,
) -> CliResult {
    let key = SeriesKey::parse(&args.key).map_err(|e| CliError::usage(e.to_string()))?;
    let episodes = parse_episodes(&args.episodes).map_err(CliError::usage)?;
    let language: Option<Language> = args
        .language
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: aniworld_core::Error| CliError::usage(e.to_string()))?;

    let runtime = super::providers::open(RuntimeOptions {
        overrides: Overrides {
            library: args.library.clone(),
            bind: None,
        },
        queue: true,
        ..RuntimeOptions::command(args.data_dir.clone())
    })
    .await?;
    runtime
        .registry
        .provider_or_list(&args.site)
        .map_err(|e| CliError::usage(e.to_string()))?;
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    runtime.events.on_event(move |e| {
        if !matches!(e, Event::QueueStatus { .. }) {
            let _ = events_tx.send(e.clone());
        }
    });
    // What is on disk, and where the series' folder is, as the server would see it.
    if runtime.library.root().is_dir()
        && let Err(e) = runtime.library.rescan().await
    {
        eprintln!("warning: the library could not be indexed: {e}");
    }
    let queue = runtime
        .queue
        .as_ref()
        .ok_or_else(|| CliError::new("the download queue did not start"))?;

    let mut wait_for: Vec<i64> = queue.recovered().to_vec();
    if !wait_for.is_empty() {
        println!(
            "resuming {} interrupted download(s) from their partial files",
            wait_for.len()
        );
    }
    let requests = EpisodeRequest::many(&key, &args.site, args.season, episodes, language);
    let outcome = queue.add(requests).await?;
    let mut skipped_on_disk = 0usize;
    for s in &outcome.skipped {
        let tag = format!("S{:02}E{:03}", s.season, s.episode);
        match &s.reason {
            SkipReason::AlreadyQueued { item_id } => {
                println!("{tag}: already queued (item {item_id}), continuing it");
                wait_for.push(*item_id);
            }
            SkipReason::OnDisk { path } => {
                println!("{tag}: already in the library ({path}), skipped");
                skipped_on_disk += 1;
            }
            SkipReason::Invalid { message } => println!("{tag}: not queued: {message}"),
        }
    }
    wait_for.extend(outcome.added.iter().map(|i| i.id));
    wait_for.sort_unstable();
    wait_for.dedup();
    if wait_for.is_empty() {
        println!("nothing to download");
        return Ok(());
    }

    let ui = tokio::spawn(show_progress(events_rx));
    queue.start().await?;
    let finished = tokio::select! {
        r = queue.wait_finished(&wait_for) => Some(r?),
        () = interrupt => None,
    };
    // Stops whatever still runs (other queued items included); partial files stay resumable.
    queue.shutdown().await?;
    ui.abort();
    let Some(finished) = finished else {
        eprintln!("interrupted: partial files kept; run the same command again to resume");
        return Err(CliError::interrupted());
    };
    summary(&finished, skipped_on_disk)
}

fn summary(items: &[QueueItem], skipped_on_disk: usize) -> CliResult {
    let mut failed = 0;
    let mut completed = 0;
    for item in items {
        let tag = format!("{} S{:02}E{:03}", item.key, item.season, item.episode);
        match item.status {
            ItemStatus::Completed => {
                completed += 1;
                println!(
                    "done    {tag}  {}  {}",
                    human_bytes(item.bytes),
                    item.path.as_deref().unwrap_or("")
                );
            }
            ItemStatus::Failed => {
                failed += 1;
                println!(
                    "failed  {tag}  {}",
                    item.last_error.as_deref().unwrap_or("unknown error")
                );
            }
            other => println!(
                "{other:<7} {tag}  {}",
                item.last_error.as_deref().unwrap_or("")
            ),
        }
    }
    println!("{completed} downloaded, {failed} failed, {skipped_on_disk} already in the library");
    if failed > 0 {
        Err(CliError::new(format!("{failed} download(s) failed")))
    } else {
        Ok(())
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The looks of one episode's line.
struct Styles {
    /// Started, size not known yet: a spinner and the bytes so far, no bar (a bar without a
    /// length would be drawn full).
    starting: ProgressStyle,
    /// Size known: the bar.
    bar: ProgressStyle,
    done: ProgressStyle,
    /// Failed: the reason, no bar.
    failed: ProgressStyle,
}

impl Styles {
    fn new() -> Self {
        let style = |template: &str| {
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
        };
        Styles {
            starting: style("{prefix:>18} {spinner} {bytes:>10} {binary_bytes_per_sec:>12} {msg}"),
            bar: style(
                "{prefix:>18} [{bar:30}] {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} eta {eta}",
            )
            .progress_chars("=> "),
            done: style("{prefix:>18} done {total_bytes}"),
            failed: style("{prefix:>18} failed: {msg}"),
        }
    }
}

/// One line per started episode, fed by queue events (hidden when stderr is no terminal).
/// Episodes not started yet have no line; a failed one shows why, not a bar.
async fn show_progress(mut events: mpsc::UnboundedReceiver<Event>) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
    let styles = Styles::new();
    let mut bars: HashMap<i64, ProgressBar> = HashMap::new();
    let mut names: BTreeMap<i64, String> = BTreeMap::new();
    while let Some(event) = events.recv().await {
        match event {
            Event::DownloadStarted { item_id, context } => {
                let name = format!(
                    "S{:02}E{:03}",
                    context.season.unwrap_or(0),
                    context.episode.unwrap_or(0)
                );
                let bar = multi.add(ProgressBar::no_length());
                bar.set_style(styles.starting.clone());
                bar.set_prefix(name.clone());
                bar.set_message("starting");
                bar.enable_steady_tick(Duration::from_millis(250));
                names.insert(item_id, name);
                bars.insert(item_id, bar);
            }
            Event::DownloadProgress { progress, .. } => {
                if let Some(bar) = bars.get(&progress.item_id) {
                    match progress.total.filter(|t| *t > 0) {
                        Some(total) if bar.length() != Some(total) => {
                            bar.set_style(styles.bar.clone());
                            bar.set_length(total);
                        }
                        Some(_) => {}
                        None => bar.set_message(""),
                    }
                    bar.set_position(progress.bytes);
                }
            }
            Event::DownloadCompleted { item_id, size, .. } => {
                if let Some(bar) = bars.remove(&item_id) {
                    bar.set_style(styles.done.clone());
                    bar.set_length(size);
                    bar.set_position(size);
                    bar.finish();
                }
            }
            Event::DownloadFailed { item_id, error, .. } => {
                if let Some(bar) = bars.remove(&item_id) {
                    bar.set_style(styles.failed.clone());
                    bar.abandon_with_message(error);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episode_lists_and_ranges_parse() {
        assert_eq!(parse_episodes("1-3,5").unwrap(), vec![1, 2, 3, 5]);
        assert_eq!(parse_episodes(" 7 , 2-2,7").unwrap(), vec![2, 7]);
        assert!(parse_episodes("3-1").is_err());
        assert!(parse_episodes("x").is_err());
        assert!(parse_episodes("").is_err());
        assert!(parse_episodes("1-99999999").is_err());
    }
}
