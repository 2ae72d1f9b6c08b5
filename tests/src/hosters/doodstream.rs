//! Doodstream: embed page with `$.get('/pass_md5/..')` and a token; `/pass_md5/..` answers the URL
//! prefix (only with a Referer, like the real one). Served by `doodstream` and `doodstream-mirror`.
use poem::Response;
use poem::http::StatusCode;

use super::{Ctx, embed_id, not_found, ok_html, player_page, redirect, status};
use crate::media;

/// The token the page embeds for a video (deterministic, so `/pass_md5` can check it).
fn token_for(video: &str) -> String {
    let sum: u32 = video.bytes().map(u32::from).sum();
    format!("tk{sum:x}{}", video.len())
}

pub(crate) fn respond(ctx: &Ctx<'_>, path: &str) -> Response {
    if let Some(video) = embed_id(path) {
        let (base, form) = ctx.form(video);
        if form == "mirror" && ctx.server == "doodstream" {
            return redirect(&format!("{}/e/{base}", ctx.state.url("doodstream-mirror")));
        }
        if form == "download" {
            return redirect(&format!("/d/{base}"));
        }
        if ctx.broken {
            return ok_html(player_page(
                "Doodstream",
                "function makePlay(){ return ''; }",
            ));
        }
        let token = token_for(base);
        return ok_html(player_page(
            "Doodstream",
            &format!(
                "function makePlay(){{for(var a=\"\",t=\"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789\",n=t.length,o=0;10>o;o++)a+=t.charAt(Math.floor(Math.random()*n));return a+\"?token={token}&expiry=\"+Date.now();}}\n\
                 $.get('/pass_md5/{base}-84-1700000000/{token}', function(data) {{ dsplayer.src({{src: data + makePlay(), type: 'video/mp4'}}); }});"
            ),
        ));
    }
    if let Some(video) = path.strip_prefix("/d/") {
        let (base, _form) = ctx.form(video);
        return ok_html(format!(
            "<html><body><h1>{base}.mp4</h1><div class=\"download\"><a href=\"/download/{base}\">Download</a></div>\
             <iframe src=\"/e/{base}\" scrolling=\"no\" frameborder=\"0\" allowfullscreen></iframe></body></html>"
        ));
    }
    if let Some(rest) = path.strip_prefix("/pass_md5/") {
        let Some((id_part, token)) = rest.split_once('/') else {
            return not_found();
        };
        let base = id_part.split('-').next().unwrap_or_default();
        if base.is_empty() || token != token_for(base) {
            return not_found();
        }
        let referer_ok = ctx.req.header("Referer").is_some_and(|r| r.contains("/e/"));
        if !referer_ok {
            return status(StatusCode::FORBIDDEN, "Forbidden: no referer");
        }
        return ok_html(format!("{}?r=", media::mp4_url(ctx.state, base)));
    }
    not_found()
}
