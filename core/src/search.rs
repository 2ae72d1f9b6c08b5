//! Search across providers: every enabled provider (or the one asked for) at once, with one
//! policy for partial failures, used by the API and the CLI alike.

use crate::error::{Error, Result};
use crate::model::SearchResult;
use crate::registry::Registry;

/// Longest accepted search text, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// The hits of every provider that answered, and the failures of the others.
#[derive(Debug, Default)]
pub struct SearchOutcome {
    pub hits: Vec<SearchResult>,
    /// (site, why) of each provider that failed while another answered.
    pub failures: Vec<(String, Error)>,
}

/// Searches `site` (or every provider) for `query`. Only when every provider asked fails is it
/// an error (the first provider's); otherwise failures ride along with the hits.
pub async fn search(registry: &Registry, query: &str, site: Option<&str>) -> Result<SearchOutcome> {
    let query = query.trim();
    if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::invalid(
            "query",
            format!("must have 1 to {MAX_QUERY_CHARS} characters"),
        ));
    }
    let providers = match site {
        Some(id) => vec![registry.provider_or_list(id)?],
        None => registry.providers(),
    };
    if providers.is_empty() {
        return Err(Error::Unsupported(
            "no provider is enabled (providers.<id>.enabled)".into(),
        ));
    }
    let answers = futures::future::join_all(providers.iter().map(|p| p.search(query))).await;
    let mut outcome = SearchOutcome::default();
    let mut answered = false;
    for (provider, answer) in providers.iter().zip(answers) {
        match answer {
            Ok(found) => {
                answered = true;
                outcome.hits.extend(found);
            }
            Err(e) => {
                tracing::info!(site = provider.id(), error = %e, "a provider search failed");
                outcome.failures.push((provider.id().to_owned(), e));
            }
        }
    }
    if !answered && !outcome.failures.is_empty() {
        return Err(outcome.failures.remove(0).1);
    }
    Ok(outcome)
}
