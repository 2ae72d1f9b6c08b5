//! Media: MP4 with Range, HLS master/media playlists and segments (some AES-128 encrypted).
//!
//! Contract used by the hoster fixtures: any `video` id is served, with deterministic content.
use std::sync::Arc;

use poem::{Endpoint, Route};

use crate::FixtureState;

/// Direct MP4 URL of `video`.
pub fn mp4_url(state: &FixtureState, video: &str) -> String {
    format!("{}/v/{video}.mp4", state.url("media"))
}

/// HLS master playlist URL of `video`.
pub fn hls_url(state: &FixtureState, video: &str) -> String {
    format!("{}/hls/{video}/master.m3u8", state.url("media"))
}

pub fn routes(_state: Arc<FixtureState>) -> impl Endpoint {
    Route::new()
}
