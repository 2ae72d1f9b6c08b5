//! `aniworld search QUERY [--site S] [--json]`: asks every enabled provider (or the one `--site`
//! names) and prints the hits. `--json` prints one array of
//! `{"key","site","name","year","description","cover","link"}` (see README).

use clap::Args;
use futures::future::join_all;

use super::providers::{chosen, load_config, sites};
use super::{CliError, CliResult, DataDirArg};

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
    let config = load_config(&args.data.data_dir)?;
    let sites = sites(&config, &args.data.data_dir).await?;
    let providers = chosen(&sites.registry, args.site.as_deref())?;
    let answers = join_all(providers.iter().map(|p| p.search(&args.query))).await;

    let mut hits = Vec::new();
    let mut failures = Vec::new();
    for (provider, answer) in providers.iter().zip(answers) {
        match answer {
            Ok(found) => hits.extend(found),
            Err(e) => failures.push((provider.id().to_owned(), e)),
        }
    }
    // Every site failing is an error; one of several failing is a warning.
    if hits.is_empty() && failures.len() == providers.len() {
        let text: Vec<String> = failures.iter().map(|(_, e)| e.to_string()).collect();
        return Err(CliError::new(format!("search failed: {}", text.join("; "))));
    }
    for (site, e) in &failures {
        eprintln!("warning: {site}: {e}");
    }

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
