//! `aniworld follow KEY [--monitor new|all|none] [--language L] [--unfollow]`,
//! `aniworld follow --list [--json]` and `aniworld check [--json]`: following series and checking
//! them for new episodes, through the same follow service the server runs. What `check` queues is
//! written to the data dir's queue; the server downloads it (`aniworld serve`).

use aniworld_core::follow::{CheckReport, Trigger};
use aniworld_core::model::follow::{FollowSettings, Monitor};
use clap::Args;

use super::{CliError, CliResult, DataDirArg};
use crate::runtime::RuntimeOptions;

#[derive(Debug, Args)]
pub struct FollowArgs {
    /// Series key or folder name of a series in the library.
    #[arg(required_unless_present = "list", conflicts_with = "list")]
    pub key: Option<String>,
    /// Which episodes checks queue: `new` (appearing from now on, the default), `all` (every
    /// missing one), `none` (only reported).
    #[arg(long, value_parser = ["new", "all", "none"])]
    pub monitor: Option<String>,
    /// The language to queue in (`German Dub`, `German Sub`, `English Sub`, `English Dub`);
    /// default: `download.languages`.
    #[arg(long)]
    pub language: Option<String>,
    /// Stop following the series.
    #[arg(long, conflicts_with_all = ["monitor", "language"])]
    pub unfollow: bool,
    /// List the followed series.
    #[arg(long)]
    pub list: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the check's report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

fn print_json(value: &serde_json::Value) -> CliResult {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::new(format!("cannot encode the result: {e}")))?;
    println!("{text}");
    Ok(())
}

pub async fn run_follow(args: FollowArgs) -> CliResult {
    let runtime = super::providers::open(RuntimeOptions::command(args.data.data_dir)).await?;
    let follow = &runtime.follow;
    if args.list {
        let list = follow.list().await?;
        if args.json {
            let items: Vec<serde_json::Value> = list
                .iter()
                .map(|f| {
                    let r = &f.record;
                    serde_json::json!({
                        "key": r.key,
                        "site": r.site,
                        "name": f.entry.as_ref().map(|e| e.name.clone()),
                        "monitor": r.settings.monitor,
                        "language": r.settings.language,
                        "checked_at": r.checked_at,
                        "error": r.failure.as_ref().map(|f| f.1.clone()),
                    })
                })
                .collect();
            return print_json(&serde_json::Value::Array(items));
        }
        if list.is_empty() {
            println!("No series is followed. Follow one with: aniworld follow KEY");
            return Ok(());
        }
        for f in &list {
            let r = &f.record;
            let language = r
                .settings
                .language
                .map(|l| format!(", {l}"))
                .unwrap_or_default();
            let state = match (&r.failure, r.checked_at) {
                (Some((code, _, _)), _) => format!("last check failed: {code}"),
                (None, Some(_)) => "checked".to_owned(),
                (None, None) => "not checked yet".to_owned(),
            };
            println!(
                "{}  ({}, monitor {}{language}; {state})",
                r.key, r.site, r.settings.monitor
            );
        }
        return Ok(());
    }
    let key = args.key.as_deref().unwrap_or_default();
    let language = match args.language.as_deref() {
        Some(l) => Some(
            l.parse()
                .map_err(|e: aniworld_core::Error| CliError::usage(e.to_string()))?,
        ),
        None => None,
    };
    let settings = if args.unfollow {
        FollowSettings {
            followed: false,
            monitor: Monitor::None,
            language: None,
        }
    } else {
        FollowSettings {
            followed: true,
            monitor: args
                .monitor
                .as_deref()
                .unwrap_or("new")
                .parse()
                .map_err(|e: aniworld_core::Error| CliError::usage(e.to_string()))?,
            language,
        }
    };
    let entry = follow.set(key, settings).await.map_err(|e| match e {
        aniworld_core::Error::NotFound(_) => CliError::new(format!(
            "no series {key:?} in the library (scan it first: aniworld scan, or add it in the server)"
        )),
        other => other.into(),
    })?;
    if args.json {
        return print_json(&serde_json::json!({
            "key": entry.key,
            "site": entry.site,
            "name": entry.name,
            "followed": entry.follow.followed,
            "monitor": entry.follow.monitor,
            "language": entry.follow.language,
        }));
    }
    if entry.follow.followed {
        println!(
            "Following {} ({}): monitor {}",
            entry.name, entry.key, entry.follow.monitor
        );
    } else {
        println!("No longer following {} ({})", entry.name, entry.key);
    }
    Ok(())
}

pub async fn run_check(args: CheckArgs) -> CliResult {
    let runtime = super::providers::open(RuntimeOptions::command(args.data.data_dir)).await?;
    let report = runtime.follow.check(Trigger::Manual).await?;
    if args.json {
        print_json(&serde_json::to_value(&report).map_err(|e| CliError::new(e.to_string()))?)?;
    } else {
        print_report(&report);
    }
    if report.ok {
        Ok(())
    } else {
        Err(CliError::new(
            report
                .message
                .unwrap_or_else(|| "the check failed".to_owned()),
        ))
    }
}

fn print_report(r: &CheckReport) {
    println!(
        "Checked {} followed series ({} read): {} new episodes found, {} queued",
        r.series, r.read, r.found, r.queued
    );
    for f in &r.failures {
        println!("  {} ({}): {}: {}", f.key, f.site, f.code, f.message);
    }
}
