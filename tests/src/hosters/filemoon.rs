//! Filemoon: the SPA embed page plus the encrypted `/api/videos/{id}` (form `api`), or the legacy
//! p,a,c,k,e,d-packed player page (forms `packed`, `iframe`).
use poem::Response;

use super::{Ctx, embed_id, encode, json, not_found, ok_html, player_page};
use crate::media;

pub(crate) fn respond(ctx: &Ctx<'_>, path: &str) -> Response {
    if let Some(video) = path.strip_prefix("/api/videos/") {
        let (base, form) = ctx.form(video);
        if base.is_empty() || !matches!(form.as_str(), "" | "api") {
            return not_found();
        }
        if ctx.broken {
            return json(serde_json::json!({ "error": "playback unavailable" }));
        }
        let hls = media::hls_url(ctx.state, base);
        let sources = serde_json::json!({
            "sources": [
                { "url": format!("{hls}?quality=480"), "height": 480, "mime_type": "application/vnd.apple.mpegurl" },
                { "url": hls, "height": 1080, "mime_type": "application/vnd.apple.mpegurl" },
                { "url": format!("{hls}?quality=720"), "height": 720, "mime_type": "application/vnd.apple.mpegurl" },
            ],
        });
        return json(serde_json::json!({
            "id": base,
            "playback": encode::filemoon_playback(&sources.to_string()),
        }));
    }
    let Some(video) = embed_id(path) else {
        return not_found();
    };
    let (base, form) = ctx.form(video);
    if ctx.broken {
        return ok_html(player_page("Filemoon", "console.log('player moved');"));
    }
    let body = match form.as_str() {
        "packed" => {
            let player = format!(
                "var player=jwplayer(\"vplayer\");player.setup({{sources:[{{file:\"{}\"}}],image:\"/thumb/{base}.jpg\",width:\"100%\",height:\"100%\",stretching:\"uniform\"}});",
                media::hls_url(ctx.state, base)
            );
            player_page("Filemoon", &encode::pack(&player))
        }
        "iframe" => format!(
            "<html><body><iframe src=\"/e/{base}~packed\" frameborder=\"0\" allowfullscreen></iframe></body></html>"
        ),
        _ => "<!DOCTYPE html><html><head><title>Filemoon</title><script type=\"module\" src=\"/assets/index.js\"></script></head><body><div id=\"app\"></div></body></html>".to_owned(),
    };
    ok_html(body)
}
