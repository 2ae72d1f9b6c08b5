//! `aniworld search QUERY [--site S] [--json]`: asks every enabled provider (or the one `--site`
//! names) and prints the hits. `--json` prints one array of
//! `{"key","site","name","year","description","cover","link"}` (see README).

use clap::Args;

use super::{CliError, CliResult, DataDirArg};
use crate::runtime::RuntimeOptions;

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for (a title or part of one).
    pub query: String,
    /// Only this site (`aniworld`, `sto`, or a plugin's id); default: every enabled provider.
    #[arg(long)]
    pub site: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

pub async fn run(args: SearchArgs) -> CliResult {
    if args.query.trim().is_empty() {
        return Err(CliError::usage("the search text is empty"));
    }
    let runtime = super::providers::open(RuntimeOptions::command(args.data.data_dir)).await?;
    if let Some(site) = &args.site {
        runtime
            .registry
            .provider_or_list(site)
            .map_err(|e| CliError::usage(e.to_string()))?;
    }
    let outcome =
        aniworld_core::search::search(&runtime.registry, &args.query, args.site.as_deref())
            .await
            .map_err(|e| CliError::new(format!("search failed: {e}")))?;
    for (site, e) in &outcome.failures {
        eprintln!("warning: {site}: {e}");
    }
    let hits = outcome.hits;
    if args.json {
        let text = serde_json::to_string_pretty(&hits)
            .map_err(|e| CliError::new(format!("cannot encode the result: {e}")))?;
        println!("{text}");
        return Ok(());
    }
    if hits.is_empty() {
        println!("No series found for {:?}.", args.query);
        return Ok(());
    }
    let key_width = hits.iter().map(|h| h.key.as_str().len()).max().unwrap_or(3);
    let site_width = hits.iter().map(|h| h.site.len()).max().unwrap_or(4).max(4);
    println!("{:key_width$}  {:site_width$}  NAME", "KEY", "SITE");
    for h in &hits {
        let year = h.year.map(|y| format!(" ({y})")).unwrap_or_default();
        println!(
            "{:key_width$}  {:site_width$}  {}{year}",
            h.key.as_str(),
            h.site,
            h.name
        );
    }
    Ok(())
}
