//! `aniworld resolve EMBED_URL [--hoster NAME] [--json]`: runs one hoster extractor.

use std::path::Path;
use std::sync::Arc;

use aniworld_core::config::Config;
use aniworld_core::hosters;
use aniworld_core::model::MediaSource;
use aniworld_core::registry::Registry;
use aniworld_core::traits::Hoster;
use clap::Args;
use serde::Serialize;

use super::{CliError, CliResult, DataDirArg};

#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// The hoster's embed page URL (e.g. `https://voe.sx/e/abc123`).
    pub embed_url: String,
    /// Hoster name (`VOE`, `Filemoon`, ...); guessed from the URL's domain when absent.
    #[arg(long)]
    pub hoster: Option<String>,
    /// Print one JSON object `{"hoster", "url", "kind", "headers"}`.
    #[arg(long)]
    pub json: bool,
    /// Hoster scripts in this data dir's `scripts.dir` override the built-ins of the same name.
    #[command(flatten)]
    pub data: DataDirArg,
}

/// The stable `--json` output.
#[derive(Debug, Serialize)]
struct Resolved<'a> {
    hoster: &'a str,
    url: &'a str,
    kind: String,
    headers: &'a std::collections::BTreeMap<String, String>,
}

pub async fn run(args: ResolveArgs) -> CliResult {
    // The script host stays alive while its hosters may run.
    let (registry, _scripts) = registry_with_scripts(&args.data.data_dir).await?;
    let hoster = choose_hoster(&registry, &args.embed_url, args.hoster.as_deref())?;
    let source = hoster.extract(&args.embed_url).await?;
    println!("{}", render(hoster.name(), &source, args.json));
    Ok(())
}

/// Built-in hosters, overridden by the hoster scripts of the data dir (if it has any). Nothing is
/// created on disk: without a config file the defaults apply.
async fn registry_with_scripts(
    data_dir: &Path,
) -> Result<(Registry, Option<aniworld_scripts::ScriptHost>), CliError> {
    let registry = Registry::new();
    let config = if Config::path(data_dir).exists() {
        Config::load_or_create(data_dir)?
    } else {
        Config::default()
    };
    hosters::register_builtin(
        &registry,
        aniworld_core::http::browser_client_with(&config.network)?,
    );
    let scripts = aniworld_scripts::ScriptHostConfig::from_config(&config, data_dir);
    if !scripts.dir.is_dir() {
        return Ok((registry, None));
    }
    let host = aniworld_scripts::ScriptHost::new(
        registry.clone(),
        scripts,
        aniworld_scripts::ScriptHost::default_client(),
    )
    .map_err(|e| CliError::new(format!("cannot load scripts: {e}")))?;
    for status in host.reload().await {
        if let Some(problem) = status.error {
            eprintln!(
                "warning: script {} not loaded: {}",
                problem.file, problem.message
            );
        }
    }
    Ok((registry, Some(host)))
}

/// The named hoster, or the one whose domain the URL is on.
fn choose_hoster(
    registry: &Registry,
    embed_url: &str,
    name: Option<&str>,
) -> Result<Arc<dyn Hoster>, CliError> {
    let known = || {
        let mut names: Vec<String> = registry
            .hosters()
            .iter()
            .map(|h| h.name().to_owned())
            .collect();
        names.sort_by_key(|n| n.to_ascii_lowercase());
        names.join(", ")
    };
    match name {
        Some(name) => registry
            .hoster(name)
            .map_err(|_| CliError::usage(format!("unknown hoster {name:?} (known: {})", known()))),
        None => registry.hoster_for_url(embed_url).ok_or_else(|| {
            CliError::usage(format!(
                "cannot tell which hoster serves {embed_url:?}: pass --hoster NAME (known: {})",
                known()
            ))
        }),
    }
}

fn render(hoster: &str, source: &MediaSource, json: bool) -> String {
    if json {
        let out = Resolved {
            hoster,
            url: &source.url,
            kind: source.kind.to_string(),
            headers: &source.headers,
        };
        return serde_json::to_string_pretty(&out).expect("plain strings serialise");
    }
    let mut out = format!(
        "hoster: {hoster}\nkind:   {}\nurl:    {}\nheaders:",
        source.kind, source.url
    );
    for (name, value) in &source.headers {
        out.push_str(&format!("\n  {name}: {value}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        let registry = Registry::new();
        hosters::register_builtin(&registry, reqwest::Client::new());
        registry
    }

    #[test]
    fn hoster_is_guessed_from_the_domain_and_its_mirrors() {
        let registry = registry();
        for (url, expected) in [
            ("https://voe.sx/e/abc", "VOE"),
            ("https://dood.li/e/abc", "Doodstream"),
            ("https://www.filemoon.sx/e/abc", "Filemoon"),
        ] {
            let hoster = choose_hoster(&registry, url, None).unwrap();
            assert_eq!(hoster.name(), expected);
        }
    }

    #[test]
    fn unknown_domain_asks_for_the_hoster_name() {
        let err = choose_hoster(&registry(), "https://example.org/e/abc", None)
            .err()
            .unwrap();
        assert_eq!(err.code, 2);
        assert!(err.message.contains("--hoster"), "{}", err.message);
        assert!(err.message.contains("VOE"), "{}", err.message);
    }

    #[test]
    fn explicit_hoster_name_wins_over_the_domain_and_ignores_case() {
        let hoster =
            choose_hoster(&registry(), "https://voe.sx/e/abc", Some("streamtape")).unwrap();
        assert_eq!(hoster.name(), "Streamtape");
        assert!(choose_hoster(&registry(), "https://voe.sx/e/abc", Some("nope")).is_err());
    }
}
