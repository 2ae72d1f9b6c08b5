//! LoadX: `/e/{id}` redirects to `/video/{hash}/{slug}`; an XHR `POST /player/index.php?data={hash}&do=getVideo`
//! answers JSON `videoSource`.
use poem::Response;
use poem::http::{Method, StatusCode};

use super::{Ctx, embed_id, json, not_found, ok_html, player_page, redirect, status};
use crate::media;

fn hash_of(video: &str) -> String {
    video.bytes().map(|b| format!("{b:02x}")).collect()
}

fn video_of(hash: &str) -> Option<String> {
    if hash.len() & 1 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hash.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hash.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

pub(crate) fn respond(ctx: &Ctx<'_>, path: &str) -> Response {
    if let Some(video) = embed_id(path) {
        return redirect(&format!("/video/{}/{video}-episode", hash_of(video)));
    }
    if path.starts_with("/video/") {
        return ok_html(player_page(
            "LoadX",
            "$.post('/player/index.php?data=' + hash + '&do=getVideo', play);",
        ));
    }
    if path == "/player/index.php" {
        if ctx.req.method() != Method::POST {
            return status(StatusCode::METHOD_NOT_ALLOWED, "POST only");
        }
        if ctx.req.header("X-Requested-With") != Some("XMLHttpRequest") {
            return status(StatusCode::FORBIDDEN, "XHR only");
        }
        if ctx.query("do").as_deref() != Some("getVideo") {
            return not_found();
        }
        let Some(video) = ctx.query("data").and_then(|h| video_of(&h)) else {
            return not_found();
        };
        let (base, _form) = ctx.form(&video);
        if ctx.broken {
            return json(serde_json::json!({ "hls": true, "securedLink": "" }));
        }
        return json(serde_json::json!({
            "hls": true,
            "videoImage": format!("/img/{base}.jpg"),
            "videoSource": media::hls_url(ctx.state, base),
            "securedLink": "",
        }));
    }
    not_found()
}
