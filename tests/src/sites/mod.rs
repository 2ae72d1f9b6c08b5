//! aniworld.to and s.to markup, plus what both sites share: challenge pages and failure knobs.
//!
//! Knobs shared by both sites (`{site}` = `aniworld` or `sto`; see each module for its own):
//! - `{site}.challenge` = `ddos-guard` | `cloudflare` | `captcha` | `forbidden`: every request to
//!   the site answers with that bot-protection page (DDoS-Guard 403, Cloudflare "Just a moment" 503,
//!   a reCAPTCHA page 200, a bare 403); `turnstile`: only the redirect endpoints (`/r`,
//!   `/redirect/{id}`) answer with a Cloudflare Turnstile page.
//! - `{site}.fail_next` = N: the next N requests answer 503 (then the knob counts down to 0).
//! - `{site}.delay_ms` = N: every answer is delayed N milliseconds.
//! - `{site}.markup` = `changed`: pages use renamed classes/ids, as after a site redesign.
//! - `{site}.series_search` = `down` | `garbage`: `GET /ajax/seriesSearch` answers 404 or non-JSON,
//!   so clients must fall back to `POST /ajax/search`.
//! - `{site}.brotli` = `on`: every answer is Brotli-encoded (`Content-Encoding: br`) whatever the
//!   request's `Accept-Encoding` says, as DDoS-Guard does.
//! - `{site}.hang` = `on`: requests are accepted and never answered.

pub mod aniworld;
pub mod sto;

use poem::http::StatusCode;
use poem::{Request, Response};

use crate::FixtureState;

/// HTML-escapes text for element content and attribute values.
pub fn esc(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text)
        .replace('\'', "&#039;")
        .replace('>', "&gt;")
}

pub fn html(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=UTF-8")
        .body(body)
}

pub fn json(body: String) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type("application/json; charset=UTF-8")
        .body(body)
}

/// The bot-protection page for a `{site}.challenge` value.
pub fn challenge_page(kind: &str) -> Response {
    match kind {
        "ddos-guard" => Response::builder()
            .status(StatusCode::FORBIDDEN)
            .header("server", "ddos-guard")
            .content_type("text/html; charset=UTF-8")
            .body(
                "<!DOCTYPE html><html><head><title>DDoS-Guard</title></head><body>\
                 <div id=\"ddg-l10n-title\">Checking your browser before accessing the website</div>\
                 <script src=\"/.well-known/ddos-guard/check?context=free_splash\"></script></body></html>",
            ),
        "cloudflare" => Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .header("server", "cloudflare")
            .content_type("text/html; charset=UTF-8")
            .body(
                "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title></head><body>\
                 <div id=\"cf-challenge-running\">Checking if the site connection is secure</div>\
                 <script src=\"/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1\"></script></body></html>",
            ),
        "captcha" => html(
            StatusCode::OK,
            "<!DOCTYPE html><html><head><title>Captcha</title>\
             <script src=\"https://www.google.com/recaptcha/api.js\"></script></head><body>\
             <form method=\"post\"><div class=\"g-recaptcha\" data-sitekey=\"6Lc-fixture\"></div></form></body></html>"
                .to_owned(),
        ),
        "turnstile" => html(
            StatusCode::OK,
            "<!DOCTYPE html><html><head><title>Bitte warten</title>\
             <script src=\"https://challenges.cloudflare.com/turnstile/v0/api.js\"></script></head><body>\
             <div class=\"cf-turnstile\" data-sitekey=\"0x4AAA-fixture\"></div></body></html>"
                .to_owned(),
        ),
        _ => Response::builder()
            .status(StatusCode::FORBIDDEN)
            .content_type("text/plain")
            .body("Forbidden"),
    }
}

/// The `{site}.brotli = on` knob: the answer Brotli-encoded, whether the client asked for it or not.
pub async fn encode_if_asked(site: &str, state: &FixtureState, response: Response) -> Response {
    if state.knob(&format!("{site}.brotli")).as_deref() != Some("on") {
        return response;
    }
    let (parts, body) = response.into_parts();
    let plain = body.into_vec().await.unwrap_or_default();
    let mut encoded = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut encoded, 4096, 5, 22);
        std::io::Write::write_all(&mut writer, &plain).expect("brotli into memory");
    }
    let mut response = Response::from_parts(parts, poem::Body::from_vec(encoded));
    response.headers_mut().insert(
        poem::http::header::CONTENT_ENCODING,
        poem::http::HeaderValue::from_static("br"),
    );
    response
        .headers_mut()
        .remove(poem::http::header::CONTENT_LENGTH);
    response
}

/// Applies the shared knobs; `Some(response)` short-circuits the request. A `turnstile` challenge
/// guards only the redirect endpoints (`/r`, `/redirect/...`), as on the real s.to.
pub async fn shared_knobs(site: &str, state: &FixtureState, path: &str) -> Option<Response> {
    if state.knob(&format!("{site}.hang")).as_deref() == Some("on") {
        std::future::pending::<()>().await;
    }
    if let Some(ms) = state
        .knob(&format!("{site}.delay_ms"))
        .and_then(|v| v.parse::<u64>().ok())
    {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let fail_knob = format!("{site}.fail_next");
    let remaining = state.knob(&fail_knob).and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = remaining.filter(|n| *n > 0) {
        state.set_knob(&fail_knob, (n - 1).to_string());
        return Some(html(
            StatusCode::SERVICE_UNAVAILABLE,
            "<html><body>503 Service Unavailable</body></html>".to_owned(),
        ));
    }
    let kind = state.knob(&format!("{site}.challenge"))?;
    let redirect_endpoint = path == "/r" || path.starts_with("/redirect/");
    if kind == "turnstile" && !redirect_endpoint {
        return None;
    }
    Some(challenge_page(&kind))
}

/// Whether the `{site}.markup = changed` knob is on.
pub fn markup_changed(site: &str, state: &FixtureState) -> bool {
    state.knob(&format!("{site}.markup")).as_deref() == Some("changed")
}

/// A query-string or form field.
pub fn field(encoded: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(encoded.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Reads the request body as text (forms), capped.
pub async fn body_text(req: Request) -> String {
    req.into_body()
        .into_string()
        .await
        .unwrap_or_default()
        .chars()
        .take(64 * 1024)
        .collect()
}

/// Case-insensitive substring match for the search endpoints.
pub fn matches(haystack: &str, needle: &str) -> bool {
    haystack
        .to_lowercase()
        .contains(&needle.trim().to_lowercase())
}

/// Wraps the first case-insensitive match of `needle` in `<em>`, as the site's search does.
pub fn highlight(text: &str, needle: &str) -> String {
    let lower = text.to_lowercase();
    let n = needle.trim().to_lowercase();
    match lower.find(&n) {
        Some(i)
            if !n.is_empty() && text.is_char_boundary(i) && text.is_char_boundary(i + n.len()) =>
        {
            format!(
                "{}<em>{}</em>{}",
                &text[..i],
                &text[i..i + n.len()],
                &text[i + n.len()..]
            )
        }
        _ => text.to_owned(),
    }
}

/// A series' cover: PNG on aniworld, JPEG on s.to (`{site}.covers`: `html` answers a page
/// instead of the image, `missing` a 404).
pub fn cover(site: crate::catalogue::Site, state: &FixtureState, key: &str) -> Response {
    let name = site.id();
    if crate::catalogue::find(site, key).is_none() {
        return html(StatusCode::NOT_FOUND, "<html>404</html>".to_owned());
    }
    match state.knob(&format!("{name}.covers")).as_deref() {
        Some("html") => return html(StatusCode::OK, "<html><body>Nope</body></html>".to_owned()),
        Some("missing") => return html(StatusCode::NOT_FOUND, "<html>404</html>".to_owned()),
        _ => {}
    }
    let (body, mime) = match site {
        crate::catalogue::Site::Aniworld => (crate::covers::png(key), "image/png"),
        crate::catalogue::Site::Sto => (crate::covers::jpeg(key), "image/jpeg"),
    };
    Response::builder().content_type(mime).body(body)
}
