//! The web UI: static files from `server/ui/`, embedded into the binary.

use poem::endpoint::EmbeddedFilesEndpoint;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "ui/"]
pub struct UiAssets;

pub fn endpoint() -> EmbeddedFilesEndpoint<UiAssets> {
    EmbeddedFilesEndpoint::new()
}
