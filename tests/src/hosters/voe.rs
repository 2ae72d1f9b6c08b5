//! VOE pages: the current JSON payload, the stub redirect and the three older forms.
use poem::Response;

use super::{Ctx, embed_id, encode, not_found, ok_html, player_page};
use crate::media;

pub(crate) fn respond(ctx: &Ctx<'_>, path: &str) -> Response {
    let Some(video) = embed_id(path) else {
        return not_found();
    };
    let (base, form) = ctx.form(video);
    let hls = media::hls_url(ctx.state, base);
    let mp4 = media::mp4_url(ctx.state, base);
    if ctx.broken {
        return ok_html(player_page(
            "VOE",
            "var player = new Plyr('#vplayer'); // sources moved",
        ));
    }
    let sources = serde_json::json!({
        "source": hls,
        "direct_access_url": mp4,
        "title": format!("{base}.mp4"),
    })
    .to_string();
    let body = match form.as_str() {
        "stub" => format!(
            "<html><head><script>window.location.href = '{}/e/{base}';</script></head>\
             <body>Redirecting...</body></html>",
            ctx.state.url("voe")
        ),
        "json-bare" => format!(
            "<html><body><div id=\"vplayer\"></div><script type=\"application/json\">\"{}\"</script></body></html>",
            encode::voe_payload(&sources)
        ),
        "hls" => player_page(
            "VOE",
            &format!(
                "var sources = {{'hls': '{}', 'video_height': 1080}};",
                encode::base64(&hls)
            ),
        ),
        "mp4" => player_page(
            "VOE",
            &format!("var sources = {{'mp4': '{mp4}', 'video_height': 720}};"),
        ),
        "blob" => player_page(
            "VOE",
            &format!(
                "var a168c = '{}'; var player = decode(a168c);",
                encode::voe_reversed_blob(&serde_json::json!({ "source": hls }).to_string())
            ),
        ),
        _ => format!(
            "<!DOCTYPE html><html><head><title>VOE</title></head><body><div id=\"vplayer\"></div>\
             <script type=\"application/json\">[\"{}\"]</script>\
             <script src=\"/js/loader.js\"></script></body></html>",
            encode::voe_payload(&sources)
        ),
    };
    ok_html(body)
}
