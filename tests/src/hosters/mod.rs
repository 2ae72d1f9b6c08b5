//! Hoster embed pages with genuinely encoded payloads (the kit implements each scheme's encoder in
//! [`encode`]), one listener per hoster.
//!
//! Contract used by the site fixtures: [`embed_url`] gives the embed page of `video` on a hoster;
//! extracting it yields the media of the same `video` id from [`crate::media`]
//! ([`crate::media::mp4_url`] for MP4 hosters, [`crate::media::hls_url`] for HLS ones).
//!
//! **Variants.** A video id may end in `~form` to select another page form of the same hoster; the
//! media is then that of the id without the suffix (`abc~stub` → media of `abc`). The knob
//! `hoster.<server>.variant=<form>` selects a form for every id. Forms per hoster:
//!
//! | server | forms (default first) |
//! |---|---|
//! | `voe` | `json` (JSON payload in `["..."]`), `json-bare` (not wrapped in an array), `stub` (redirect page to `/e/{id}`), `hls` (old `'hls': base64`), `mp4` (old `'mp4': url`, MP4), `blob` (old reversed-JSON base64) |
//! | `vidoza` | `sources` (`sourcesCode: [{src: ...}]`), `old` (`<source src>`) |
//! | `doodstream` | `direct`, `mirror` (302 to the `doodstream-mirror` listener, whose `/pass_md5` must be used), `download` (302 to the `/d/{id}` page that embeds the player in an iframe) |
//! | `streamtape` | `script` (assembled `get_video` link next to a decoy) |
//! | `filemoon` | `api` (AES-256-GCM `/api/videos/{id}`), `packed` (API 404, p,a,c,k,e,d player), `iframe` (API 404, page wraps the packed player in an iframe) |
//! | `vidmoly` | `hls`, `mp4` |
//! | `loadx` | `api` (302 to `/video/{hash}/{slug}`, XHR POST `getVideo`) |
//! | `luluvdo` | `dl` (`/dl?op=embed&file_code=..` → `file: "..."`) |
//! | `speedfiles` | `encoded` (decoy variable, then the encoded one) |
//!
//! **Failure knobs** (`<server>` is the hoster name in lower case, e.g. `voe`, `loadx`):
//! - `hoster.<server>.broken`: pages and API answers lack the payload → the extractor's `Parse` error.
//! - `hoster.<server>.status=<code>`: every request to that hoster answers `<code>` (404 → `NotFound`).
//! - `hoster.<server>.challenge`: every request answers 403 with a DDoS-Guard challenge page
//!   (value `200`: the same page with status 200) → `Blocked`.
use std::sync::Arc;

use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt, Request, Response};

use crate::FixtureState;

mod doodstream;
pub mod encode;
mod filemoon;
mod loadx;
mod luluvdo;
mod speedfiles;
mod streamtape;
mod vidmoly;
mod vidoza;
mod voe;

/// One listener per hoster (plus a Doodstream mirror host the `mirror` form redirects to).
pub const SERVER_NAMES: &[&str] = &[
    "voe",
    "vidoza",
    "doodstream",
    "doodstream-mirror",
    "streamtape",
    "filemoon",
    "vidmoly",
    "loadx",
    "luluvdo",
    "speedfiles",
];

/// Embed page URL of `video` on `hoster` (a hoster name as episode pages give it, any case).
pub fn embed_url(state: &FixtureState, hoster: &str, video: &str) -> String {
    let server = hoster.to_ascii_lowercase();
    format!("{}/e/{video}", state.url(&server))
}

/// Embed page URL of `video` in one page `form` of `hoster` (see the table above).
pub fn embed_url_form(state: &FixtureState, hoster: &str, video: &str, form: &str) -> String {
    embed_url(state, hoster, &format!("{video}~{form}"))
}

pub fn routes(hoster: &str, state: Arc<FixtureState>) -> impl Endpoint {
    let server = hoster.to_owned();
    poem::endpoint::make(move |req: Request| {
        let state = state.clone();
        let server = server.clone();
        async move { respond(&server, &state, &req) }
    })
    .map_to_response()
}

/// A request as the hoster handlers see it: the knobs already applied.
pub(crate) struct Ctx<'a> {
    pub state: &'a FixtureState,
    pub server: &'a str,
    pub req: &'a Request,
    pub broken: bool,
}

impl Ctx<'_> {
    /// The page form: the video id's `~form` suffix, else the `variant` knob, else "".
    pub fn form<'v>(&self, video: &'v str) -> (&'v str, String) {
        match video.split_once('~') {
            Some((base, form)) => (base, form.to_owned()),
            None => (
                video,
                self.state
                    .knob(&format!("hoster.{}.variant", self.server))
                    .unwrap_or_default(),
            ),
        }
    }

    pub fn query(&self, name: &str) -> Option<String> {
        self.req.uri().query().and_then(|q| {
            q.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (k == name).then(|| v.to_owned())
            })
        })
    }
}

fn respond(server: &str, state: &FixtureState, req: &Request) -> Response {
    if let Some(code) = state.knob(&format!("hoster.{server}.status")) {
        let status = code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Response::builder()
            .status(status)
            .content_type("text/html")
            .body(format!("<html><body><h1>{status}</h1></body></html>"));
    }
    if let Some(value) = state.knob(&format!("hoster.{server}.challenge")) {
        let status = if value == "200" {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        return html(status, CHALLENGE_PAGE.to_owned());
    }
    let ctx = Ctx {
        state,
        server,
        req,
        broken: state.knob(&format!("hoster.{server}.broken")).is_some(),
    };
    let path = req.uri().path().to_owned();
    match server {
        "voe" => voe::respond(&ctx, &path),
        "vidoza" => vidoza::respond(&ctx, &path),
        "doodstream" | "doodstream-mirror" => doodstream::respond(&ctx, &path),
        "streamtape" => streamtape::respond(&ctx, &path),
        "filemoon" => filemoon::respond(&ctx, &path),
        "vidmoly" => vidmoly::respond(&ctx, &path),
        "loadx" => loadx::respond(&ctx, &path),
        "luluvdo" => luluvdo::respond(&ctx, &path),
        "speedfiles" => speedfiles::respond(&ctx, &path),
        _ => not_found(),
    }
}

/// The video id of `/e/{id}`.
pub(crate) fn embed_id(path: &str) -> Option<&str> {
    path.strip_prefix("/e/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

pub(crate) fn ok_html(body: String) -> Response {
    html(StatusCode::OK, body)
}

pub(crate) fn json(body: serde_json::Value) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type("application/json")
        .body(body.to_string())
}

pub(crate) fn redirect(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header("Location", location)
        .finish()
}

pub(crate) fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "<html><body><h1>File was deleted</h1></body></html>".to_owned(),
    )
}

pub(crate) fn status(code: StatusCode, text: &str) -> Response {
    Response::builder()
        .status(code)
        .content_type("text/plain")
        .body(text.to_owned())
}

/// A player page around `script` (without any payload when the hoster is broken).
pub(crate) fn player_page(title: &str, script: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"></head>\
         <body><div id=\"vplayer\" class=\"player\"></div>\
         <script src=\"/js/jquery.min.js\"></script>\n<script>{script}</script></body></html>"
    )
}

const CHALLENGE_PAGE: &str = "<!DOCTYPE html><html><head><title>DDoS-Guard</title></head>\
<body><div id=\"ddg-cookie\">Checking your browser before accessing the site.</div>\
<script src=\"/.well-known/ddos-guard/check?context=free_splash\"></script></body></html>";
