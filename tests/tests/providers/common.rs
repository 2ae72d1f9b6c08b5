//! Building providers that point at a running fixture site.

use std::sync::Arc;
use std::time::Duration;

use aniworld_core::config::ProviderConfig;
use aniworld_core::http::SiteClient;
use aniworld_core::providers::{AniworldProvider, StoProvider};
use aniworld_core::{Language, SeriesKey};
use aniworld_testkit::FixtureSite;
use aniworld_testkit::catalogue::Lang;

/// A config section for a fixture listener: no rate limit, quick retries.
pub fn site_config(fixture: &FixtureSite, site: &str) -> ProviderConfig {
    ProviderConfig {
        rate_limit: 0.0,
        timeout: 5,
        retries: 2,
        ..ProviderConfig::new(&fixture.url(site))
    }
}

pub fn client(site: &str, config: &ProviderConfig) -> SiteClient {
    SiteClient::with_backoff(site, config, Duration::from_millis(5)).expect("fixture URL is valid")
}

pub fn aniworld(fixture: &FixtureSite) -> Arc<AniworldProvider> {
    Arc::new(AniworldProvider::with_client(client(
        "aniworld",
        &site_config(fixture, "aniworld"),
    )))
}

pub fn sto(fixture: &FixtureSite) -> Arc<StoProvider> {
    Arc::new(StoProvider::with_client(client(
        "sto",
        &site_config(fixture, "sto"),
    )))
}

pub fn key(raw: &str) -> SeriesKey {
    SeriesKey::parse(raw).expect("catalogue keys are valid")
}

pub fn lang(l: Lang) -> Language {
    match l {
        Lang::GermanDub => Language::GermanDub,
        Lang::GermanSub => Language::GermanSub,
        Lang::EnglishSub => Language::EnglishSub,
        Lang::EnglishDub => Language::EnglishDub,
    }
}
