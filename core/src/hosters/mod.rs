//! Built-in hoster extractors: embed page → media URL, kind and the headers the download must send.
//!
//! Each module keeps its parsing in pure functions of the page text (`parse_page`, `parse_api`,
//! `decode`, ...), so they are tested without HTTP and fuzzed for panics; `extract` only fetches.

use std::sync::Arc;

use crate::registry::{Origin, Registry};
use crate::traits::Hoster;

pub mod common;
pub mod doodstream;
pub mod filemoon;
pub mod loadx;
pub mod luluvdo;
pub mod speedfiles;
pub mod streamtape;
pub mod unpack;
pub mod vidmoly;
pub mod vidoza;
pub mod voe;

/// Names of the built-in hosters, as episode pages give them.
pub const BUILTIN_NAMES: [&str; 9] = [
    voe::NAME,
    vidoza::NAME,
    doodstream::NAME,
    streamtape::NAME,
    filemoon::NAME,
    vidmoly::NAME,
    loadx::NAME,
    luluvdo::NAME,
    speedfiles::NAME,
];

/// One instance of every built-in hoster, sharing `client` (the application's
/// [`crate::network::Network::hoster_client`], or a plain [`crate::http::browser_client`]).
pub fn builtin(client: impl Into<common::HosterClient>) -> Vec<Arc<dyn Hoster>> {
    let client: common::HosterClient = client.into();
    vec![
        Arc::new(voe::Voe::new(client.clone())),
        Arc::new(vidoza::Vidoza::new(client.clone())),
        Arc::new(doodstream::Doodstream::new(client.clone())),
        Arc::new(streamtape::Streamtape::new(client.clone())),
        Arc::new(filemoon::Filemoon::new(client.clone())),
        Arc::new(vidmoly::Vidmoly::new(client.clone())),
        Arc::new(loadx::LoadX::new(client.clone())),
        Arc::new(luluvdo::Luluvdo::new(client.clone())),
        Arc::new(speedfiles::SpeedFiles::new(client)),
    ]
}

/// Registers every built-in hoster (as [`crate::registry::Source::Builtin`], so scripts and native
/// plugins of the same name override them).
pub fn register_builtin(registry: &Registry, client: impl Into<common::HosterClient>) {
    for hoster in builtin(client) {
        registry.register_hoster(hoster, Origin::builtin());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_registered_under_its_page_name_and_found_by_domain() {
        let registry = Registry::new();
        register_builtin(&registry, reqwest::Client::new());
        for name in BUILTIN_NAMES {
            assert_eq!(registry.hoster(name).unwrap().name(), name);
        }
        for (url, name) in [
            ("https://voe.sx/e/abc", "VOE"),
            ("https://dood.li/e/abc", "Doodstream"),
            ("https://www.d0000d.com/e/abc", "Doodstream"),
            ("https://streamtape.com/e/abc", "Streamtape"),
            ("https://filemoon.sx/e/abc", "Filemoon"),
            ("https://vidmoly.to/embed-abc.html", "Vidmoly"),
            ("https://vidoza.net/embed-abc.html", "Vidoza"),
            ("https://loadx.ws/video/abc", "LoadX"),
            ("https://luluvdo.com/e/abc", "Luluvdo"),
            ("https://speedfiles.net/abc", "SpeedFiles"),
        ] {
            let found = registry.hoster_for_url(url).map(|h| h.name().to_owned());
            assert_eq!(found.as_deref(), Some(name), "{url}");
        }
        assert!(registry.hoster_for_url("https://example.com/e/x").is_none());
    }
}
