//! Hoster embed pages with genuinely encoded payloads (the kit implements each scheme's encoder).
//!
//! Contract used by the site fixtures: [`embed_url`] gives the embed page of `video` on a hoster;
//! extracting it yields the media of the same `video` id from [`crate::media`].
use std::sync::Arc;

use poem::{Endpoint, Route};

use crate::FixtureState;

/// One listener per hoster.
pub const SERVER_NAMES: &[&str] = &[
    "voe",
    "vidoza",
    "doodstream",
    "streamtape",
    "filemoon",
    "vidmoly",
    "loadx",
    "luluvdo",
    "speedfiles",
];

/// Embed page URL of `video` on `hoster` (a hoster name as episode pages give it, any case).
pub fn embed_url(state: &FixtureState, hoster: &str, video: &str) -> String {
    let server = hoster.to_ascii_lowercase();
    format!("{}/e/{video}", state.url(&server))
}

pub fn routes(_hoster: &str, _state: Arc<FixtureState>) -> impl Endpoint {
    Route::new()
}
