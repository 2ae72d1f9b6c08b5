//! `aniworld info KEY [--site S] [--json]`: a series with its seasons and episodes, straight from
//! the provider. `KEY` may also be a provider link (`/anime/stream/{key}`, a full URL).
//! `--json` prints the series object documented in the README.

use aniworld_core::SeriesKey;
use aniworld_core::model::SeriesInfo;
use clap::Args;

use super::{CliError, CliResult, DataDirArg};
use crate::runtime::RuntimeOptions;

/// The site of a bare key when `--site` is not given.
const DEFAULT_SITE: &str = "aniworld";

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Series key (`attack-on-titan`) or a provider link.
    pub key: String,
    /// Which site the key belongs to (default: the site of the link, else `aniworld`).
    #[arg(long)]
    pub site: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

pub async fn run(args: InfoArgs) -> CliResult {
    let runtime = super::providers::open(RuntimeOptions::command(args.data.data_dir)).await?;
    let registry = &runtime.registry;
    let raw = args.key.trim();
    let (site, key) = if raw.contains('/') {
        let (provider, key) = registry
            .series_of_link(raw, args.site.as_deref())
            .map_err(|e| CliError::usage(e.to_string()))?;
        (provider.id().to_owned(), key)
    } else {
        let site = args.site.as_deref().unwrap_or(DEFAULT_SITE);
        registry
            .provider_or_list(site)
            .map_err(|e| CliError::usage(e.to_string()))?;
        let key = SeriesKey::parse(raw).map_err(|e| CliError::usage(e.to_string()))?;
        (site.to_owned(), key)
    };
    // Asked now (and recorded), so the server shows the same answer.
    let info = runtime.catalogue.refresh(&site, &key).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&info)
            .map_err(|e| CliError::new(format!("cannot encode the result: {e}")))?;
        println!("{text}");
    } else {
        print_text(&info);
    }
    Ok(())
}

fn print_text(info: &SeriesInfo) {
    let years = match (info.year, info.end_year) {
        (Some(a), Some(b)) if a != b => format!(" ({a}–{b})"),
        (Some(a), Some(_)) => format!(" ({a})"),
        (Some(a), None) => format!(" ({a}–)"),
        _ => String::new(),
    };
    println!("{}{years}  [{}: {}]", info.name, info.site, info.key);
    println!("{}", info.url);
    if !info.alternative_titles.is_empty() {
        println!("Also known as: {}", info.alternative_titles.join(", "));
    }
    if !info.genres.is_empty() {
        println!("Genres: {}", info.genres.join(", "));
    }
    if let Some(d) = &info.description {
        println!("\n{d}");
    }
    for season in &info.seasons {
        let count = season.episodes.len();
        if season.number == 0 {
            println!("\nMovies ({count})");
        } else {
            println!("\nSeason {} ({count} episodes)", season.number);
        }
        for e in &season.episodes {
            let label = if season.number == 0 {
                format!("Film {}", e.number)
            } else {
                format!("E{:02}", e.number)
            };
            let title = match (e.title_de.as_deref(), e.title_en.as_deref()) {
                (Some(de), Some(en)) if de != en => format!("{de} / {en}"),
                (Some(t), _) | (None, Some(t)) => t.to_owned(),
                (None, None) => String::new(),
            };
            let langs: Vec<&str> = e.languages.iter().map(|l| l.as_str()).collect();
            let langs = if langs.is_empty() {
                String::new()
            } else {
                format!("  [{}]", langs.join(", "))
            };
            println!("  {label}  {title}{langs}");
        }
    }
}
