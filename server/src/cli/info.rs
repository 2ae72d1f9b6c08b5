//! `aniworld info KEY [--site S] [--json]`: a series with its seasons and episodes, straight from
//! the provider. `KEY` may also be a provider link (`/anime/stream/{key}`, a full URL).
//! `--json` prints the series object documented in the README.

use aniworld_core::SeriesKey;
use aniworld_core::model::SeriesInfo;
use clap::Args;

use super::providers::{chosen, load_config, sites};
use super::{CliError, CliResult, DataDirArg};

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
    let config = load_config(&args.data.data_dir)?;
    let sites = sites(&config, &args.data.data_dir).await?;
    let registry = &sites.registry;
    let raw = args.key.trim();
    let is_link = raw.contains('/');
    let site = match &args.site {
        Some(s) => s.clone(),
        None if is_link => chosen(registry, None)?
            .iter()
            .find(|p| p.key_from_link(raw).is_some())
            .map(|p| p.id().to_owned())
            .ok_or_else(|| {
                CliError::usage(format!("{raw:?} is not a link of any enabled provider"))
            })?,
        None => DEFAULT_SITE.to_owned(),
    };
    let provider = chosen(registry, Some(&site))?.remove(0);
    let key = if is_link {
        provider
            .key_from_link(raw)
            .ok_or_else(|| CliError::usage(format!("{raw:?} is not a {site} series link")))?
    } else {
        SeriesKey::parse(raw).map_err(|e| CliError::usage(e.to_string()))?
    };
    let info = provider.series(&key).await?;
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
