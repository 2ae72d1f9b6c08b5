//! Luluvdo: the embed page, and `/dl?op=embed&file_code=..` with the player data.
use poem::Response;

use super::{Ctx, embed_id, not_found, ok_html, player_page};
use crate::media;

pub(crate) fn respond(ctx: &Ctx<'_>, path: &str) -> Response {
    if let Some(video) = embed_id(path) {
        return ok_html(player_page(
            "Luluvdo",
            &format!("var fileCode = '{video}'; loadPlayer('/dl');"),
        ));
    }
    if path != "/dl" {
        return not_found();
    }
    let (Some(op), Some(code)) = (ctx.query("op"), ctx.query("file_code")) else {
        return not_found();
    };
    if op != "embed" || code.is_empty() || ctx.query("embed").as_deref() != Some("1") {
        return not_found();
    }
    let (base, _form) = ctx.form(&code);
    if ctx.broken {
        return ok_html(player_page("Luluvdo", "jwplayer('vplayer').setup({});"));
    }
    let hls = media::hls_url(ctx.state, base);
    ok_html(player_page(
        "Luluvdo",
        &format!(
            "jwplayer(\"vplayer\").setup({{\n  sources: [{{file:\"{hls}\"}}],\n  image: \"/thumb/{base}.jpg\"\n}});"
        ),
    ))
}
