//! `aniworld scan`: scans a library folder and prints its series, as a table or as JSON.
//!
//! `--json` prints one array, each element
//! `{"key","site","folder","name","episodes":[{"season","episode","path"}],"missing","unparsed"}`
//! (`missing` is null with `--offline`). Warnings go to stderr in both modes.

use std::path::{Path, PathBuf};

use aniworld_core::model::SeriesKey;
use aniworld_core::scanner::{LibraryScanner, LocalEpisodes, ScanReport, ScannedSeries};
use clap::Args;
use serde::Serialize;

use super::{CliError, CliResult};
use crate::runtime::{Overrides, Runtime, RuntimeOptions, Storage, load_config};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Library folder to scan (default: `library.path` from the data dir's config).
    #[arg(long)]
    pub library: Option<PathBuf>,
    /// Local files only: no provider calls (`missing` is null).
    #[arg(long)]
    pub offline: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Data directory (config.json, aniworld.db). When given, or when `./data` exists, its
    /// database remembers folder state so rescans are cheap; otherwise state lives in memory.
    #[arg(long, env = "ANIWORLD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// One episode a provider lists that is not on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MissingEpisode {
    pub season: u32,
    pub episode: u32,
}

#[derive(Serialize)]
struct SeriesJson<'a> {
    key: Option<&'a str>,
    site: Option<&'a str>,
    folder: &'a str,
    name: &'a str,
    /// Serialises as `[{"season", "episode", "path"}]`.
    episodes: &'a LocalEpisodes,
    missing: Option<&'a [MissingEpisode]>,
    unparsed: &'a [String],
}

pub async fn run(args: ScanArgs) -> CliResult {
    let data_dir = args
        .data_dir
        .clone()
        .or_else(|| Some(PathBuf::from("./data")).filter(|d| d.is_dir()));
    let options = match &data_dir {
        Some(dir) => RuntimeOptions::command(dir.clone()),
        // No data dir: the defaults, and nothing kept after this run.
        None => RuntimeOptions {
            create: false,
            storage: Storage::Memory,
            ..RuntimeOptions::command(PathBuf::from("./data"))
        },
    };
    let library = match (&args.library, &data_dir) {
        (Some(l), _) => l.clone(),
        (None, Some(dir)) => {
            let config = load_config(dir, &Overrides::default(), true).map_err(|e| {
                CliError::new(format!("cannot load config from {}: {e}", dir.display()))
            })?;
            resolve_library(Some(dir), &config.library.path)
        }
        (None, None) => {
            return Err(CliError::usage(
                "no library given: pass --library PATH (or --data-dir with library.path set)",
            ));
        }
    };
    check_library(&library)?;
    let runtime = super::providers::open(RuntimeOptions {
        overrides: Overrides {
            library: Some(library.clone()),
            bind: None,
        },
        ..options
    })
    .await?;
    let scan = runtime
        .library
        .rescan()
        .await
        .map_err(|e| CliError::new(format!("scanning {} failed: {e}", library.display())))?;
    let report = &scan.report;

    let (missing, provider_warnings) = if args.offline {
        (vec![None; report.series.len()], Vec::new())
    } else {
        missing_from_providers(&runtime, &report.series).await
    };

    // Every warning printed is counted in the summary.
    let warnings: Vec<String> = report
        .warnings
        .iter()
        .map(|w| format!("{}: {}", w.path.display(), w.message))
        .chain(provider_warnings)
        .collect();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if args.json {
        print_json(report, &missing)
    } else {
        print_table(report, &missing, warnings.len());
        Ok(())
    }
}

/// What each series lacks, in the order of `series`, and a warning per series whose provider failed.
type MissingReport = (Vec<Option<Vec<MissingEpisode>>>, Vec<String>);

/// The episodes each series lacks according to its provider (`None` for unmatched folders and for
/// series whose provider failed: those get a warning), in the order of `series`.
/// Providers are asked only about series whose catalogue entry is older than `cache.series_ttl`.
async fn missing_from_providers(runtime: &Runtime, series: &[ScannedSeries]) -> MissingReport {
    let wanted: Vec<(String, SeriesKey)> = series
        .iter()
        .filter_map(|s| Some((s.site.clone()?, s.key.clone()?)))
        .collect();
    let failures = runtime.library.refresh_catalogue(wanted).await;
    let mut warnings = Vec::new();
    let missing = series
        .iter()
        .map(|s| {
            let key = s.key.as_ref()?;
            let site = s.site.as_deref()?;
            if let Some((_, f)) = failures
                .iter()
                .find(|((fs, fk), _)| fs == site && fk == key)
            {
                warnings.push(format!(
                    "{}: cannot list missing episodes: {}",
                    s.folder, f.message
                ));
                return None;
            }
            let entry = runtime.library.get(key).filter(|e| e.folder == s.folder)?;
            let missing = entry.missing.episodes?;
            Some(
                missing
                    .pairs()
                    .into_iter()
                    .map(|(season, episode)| MissingEpisode { season, episode })
                    .collect(),
            )
        })
        .collect();
    (missing, warnings)
}

fn resolve_library(data_dir: Option<&Path>, path: &Path) -> PathBuf {
    match data_dir {
        Some(dir) if path.is_relative() && !path.exists() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Checks the library can be scanned, with an error that names the path and says what is wrong.
fn check_library(library: &Path) -> Result<(), CliError> {
    LibraryScanner::new(library).map(|_| ()).map_err(|e| {
        let shown = library.display();
        match &e {
            aniworld_core::Error::Io { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                CliError::new(format!("library folder {shown} does not exist"))
            }
            aniworld_core::Error::Io { source, .. } => {
                CliError::new(format!("cannot read library folder {shown}: {source}"))
            }
            _ => CliError::new(format!("cannot scan library {shown}: {e}")),
        }
    })
}

fn print_json(report: &ScanReport, missing: &[Option<Vec<MissingEpisode>>]) -> CliResult {
    let out: Vec<SeriesJson<'_>> = report
        .series
        .iter()
        .zip(missing)
        .map(|(s, m)| SeriesJson {
            key: s.key.as_ref().map(|k| k.as_str()),
            site: s.site.as_deref(),
            folder: &s.folder,
            name: &s.name,
            episodes: &s.episodes,
            missing: m.as_deref(),
            unparsed: &s.unparsed,
        })
        .collect();
    let text = serde_json::to_string_pretty(&out)
        .map_err(|e| CliError::new(format!("cannot print JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

fn print_table(report: &ScanReport, missing: &[Option<Vec<MissingEpisode>>], warnings: usize) {
    let mut rows: Vec<[String; 6]> = vec![[
        "FOLDER".into(),
        "KEY".into(),
        "SEASONS".into(),
        "EPISODES".into(),
        "UNPARSED".into(),
        "MISSING".into(),
    ]];
    for (s, m) in report.series.iter().zip(missing) {
        let key = match (&s.key, &s.suggested_key) {
            (Some(k), _) => k.to_string(),
            (None, Some(suggested)) => format!("(unmatched, suggest {suggested})"),
            (None, None) => "(unmatched)".to_owned(),
        };
        let mut seasons: Vec<u32> = s.episodes.iter().map(|e| e.season).collect();
        seasons.dedup();
        let seasons = seasons
            .iter()
            .map(|n| {
                if *n == 0 {
                    "specials".to_owned()
                } else {
                    n.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        let missing = m.as_ref().map_or("-".to_owned(), |m| m.len().to_string());
        rows.push([
            s.folder.clone(),
            key,
            if seasons.is_empty() {
                "-".into()
            } else {
                seasons
            },
            s.episodes.len().to_string(),
            s.unparsed.len().to_string(),
            missing,
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    let unmatched = report.series.iter().filter(|s| s.key.is_none()).count();
    let episodes: usize = report.series.iter().map(|s| s.episodes.len()).sum();
    let unparsed: usize = report.series.iter().map(|s| s.unparsed.len()).sum();
    println!(
        "\n{} series ({} unmatched), {} episodes, {} unparsed files, {} warnings ({} folders read, {} unchanged)",
        report.series.len(),
        unmatched,
        episodes,
        unparsed,
        warnings,
        report.folders_rescanned,
        report.folders_unchanged
    );
}
