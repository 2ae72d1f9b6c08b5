//! SpeedFiles pages: a decoy variable, then the encoded MP4 URL.
use poem::Response;

use super::{Ctx, embed_id, encode, not_found, ok_html, player_page};
use crate::media;

pub(crate) fn respond(ctx: &Ctx<'_>, path: &str) -> Response {
    let Some(video) = embed_id(path) else {
        return not_found();
    };
    let (base, _form) = ctx.form(video);
    if ctx.broken {
        return ok_html(player_page("SpeedFiles", "var _0x1 = 42;"));
    }
    let encoded = encode::speedfiles(&media::mp4_url(ctx.state, base));
    ok_html(player_page(
        "SpeedFiles",
        &format!(
            "var _0x1c2b = \"{}\";\nvar _0x5opu234 = \"{encoded}\";\nvar player = videojs('vplayer');",
            encode::base64("not the source, just a decoy")
        ),
    ))
}
