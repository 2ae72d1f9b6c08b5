//! Built-in providers: aniworld.to and s.to.
//!
//! Parsers are pure functions in `<site>::parse` (benchmarked and fuzzed); the providers add HTTP
//! through one [`crate::http::SiteClient`] per site.

pub mod aniworld;
pub mod search;
pub mod sto;
pub mod text;

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::error::Result;
use crate::http::SiteClient;
use crate::model::SeriesKey;
use crate::network::Network;
use crate::registry::{Origin, Registry};

pub use aniworld::AniworldProvider;
pub use sto::StoProvider;

/// Registers the built-in providers that are enabled in `config.providers`, with their base URLs,
/// on a network of their own. A site missing from the config gets its defaults.
pub fn register_builtin(registry: &Registry, config: &Config) -> Result<()> {
    register_builtin_on(registry, config, &Network::new(&config.network))
}

/// [`register_builtin`] on the application's network (shared cooldowns, remembered mirrors,
/// status listing).
pub fn register_builtin_on(registry: &Registry, config: &Config, network: &Network) -> Result<()> {
    let client = |id: &str, section: &crate::config::ProviderConfig| {
        SiteClient::on_network(
            id,
            section,
            &config.network,
            network,
            Duration::from_millis(500),
        )
    };
    let defaults = Config::default();
    let section = |id: &str| {
        config
            .providers
            .get(id)
            .or_else(|| defaults.providers.get(id))
            .cloned()
            .unwrap_or_default()
    };
    let aniworld = section(aniworld::ID);
    if aniworld.enabled {
        registry.register_provider(
            Arc::new(AniworldProvider::with_client(client(
                aniworld::ID,
                &aniworld,
            )?)),
            Origin::builtin(),
        );
    }
    let sto = section(sto::ID);
    if sto.enabled {
        registry.register_provider(
            Arc::new(StoProvider::with_client(client(sto::ID, &sto)?)),
            Origin::builtin(),
        );
    }
    Ok(())
}

/// Percent-encodes a query-string value.
pub(crate) fn query_escape(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The key in a provider link: a bare key, or the path segment after one of `prefixes`
/// (`anime/stream`) in a relative path or a full URL on any host (mirrors and tests differ).
pub(crate) fn key_after_prefix(link: &str, prefixes: &[&str]) -> Option<SeriesKey> {
    let link = link.trim();
    if !link.contains('/') && !link.contains(':') {
        return SeriesKey::parse(link).ok();
    }
    let path = match url::Url::parse(link) {
        Ok(u) => u.path().to_owned(),
        Err(_) => link.split(['?', '#']).next()?.to_owned(),
    };
    let path = path.trim_start_matches('/');
    for prefix in prefixes {
        if let Some(rest) = path.strip_prefix(prefix).and_then(|r| r.strip_prefix('/')) {
            let segment = rest.split('/').next()?;
            return SeriesKey::parse(segment).ok();
        }
    }
    None
}
