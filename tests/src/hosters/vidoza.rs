//! Vidoza pages: `sourcesCode` player config, or the older `<source src>`.
use poem::Response;

use super::{Ctx, embed_id, not_found, ok_html, player_page};
use crate::media;

pub(crate) fn respond(ctx: &Ctx<'_>, path: &str) -> Response {
    let Some(video) = embed_id(path) else {
        return not_found();
    };
    let (base, form) = ctx.form(video);
    let mp4 = media::mp4_url(ctx.state, base);
    if ctx.broken {
        return ok_html(player_page("Vidoza", "var pData = { sourcesLater: true };"));
    }
    let body = match form.as_str() {
        "old" => format!(
            "<html><body><video id=\"player\" controls><source src=\"{mp4}\" type=\"video/mp4\"></video></body></html>"
        ),
        _ => player_page(
            "Vidoza",
            &format!(
                "var pData = {{\n  sourcesCode: [{{ src: \"{mp4}\", type: \"video/mp4\", label: \"SD\", res: \"720\"}}],\n  poster: \"/img/{base}.jpg\"\n}};"
            ),
        ),
    };
    ok_html(body)
}
