//! Vidmoly pages: `sources: [{file: "..."}]` (HLS, or MP4 in the `mp4` form).
use poem::Response;

use super::{Ctx, embed_id, not_found, ok_html, player_page};
use crate::media;

pub(crate) fn respond(ctx: &Ctx<'_>, path: &str) -> Response {
    let Some(video) = embed_id(path) else {
        return not_found();
    };
    let (base, form) = ctx.form(video);
    if ctx.broken {
        return ok_html(player_page("Vidmoly", "player.setup({ playlist: [] });"));
    }
    let file = match form.as_str() {
        "mp4" => media::mp4_url(ctx.state, base),
        _ => media::hls_url(ctx.state, base),
    };
    ok_html(player_page(
        "Vidmoly",
        &format!(
            "var player = jwplayer('vplayer');\nplayer.setup({{\n  sources: [{{file:\"{file}\"}}],\n  image: \"/img/{base}.jpg\",\n  width: \"100%\"\n}});"
        ),
    ))
}
