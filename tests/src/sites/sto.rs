//! s.to in its 2026 layout (see SITE-NOTES.md), serving the s.to part of [`crate::catalogue`].
//!
//! Routes:
//! - `/serie/{key}` series page (season pills in `nav#season-nav`, 0 = movies);
//!   `/serie/{key}/staffel-{N}` season pages (`table.episode-table`, upcoming rows marked);
//!   `/serie/{key}/staffel-{N}/episode-{M}` episode pages with `data-play-url` hoster buttons.
//! - `/r?t={token}` → 302 to [`crate::hosters::embed_url`] of `{key}-s{S}e{E}-{lang}`.
//! - `GET /api/search/suggest?term=` → `{"shows": [{"name", "url"}]}` (names with `<em>`
//!   highlighting), the search of the 2026 layout; the old `GET /ajax/seriesSearch?keyword=` and
//!   `POST /ajax/search` (links `/serie/{key}`) still answer.
//! - `/media/images/channel/{key}.jpg`: the series' cover (JPEG).
//! - Unknown series, seasons, episodes and tokens answer 404.
//!
//! Knobs: the shared ones of [`crate::sites`] with `{site}` = `sto` (`sto.challenge` also takes
//! `turnstile`, which guards `/r` only; `sto.fail_next`, `sto.delay_ms`, `sto.markup`,
//! `sto.series_search`, `sto.covers`; `sto.suggest` = `down` | `garbage` makes `/api/search/suggest` answer 404
//! or an HTML page).

use std::sync::Arc;

use poem::http::{Method, StatusCode};
use poem::{Endpoint, Request, Response};

use super::{body_text, esc, field, highlight, html, json, markup_changed, matches, shared_knobs};
use crate::FixtureState;
use crate::catalogue::{self, Episode, Season, Series, Site};

const SITE: &str = "sto";

pub fn routes(state: Arc<FixtureState>) -> impl Endpoint {
    poem::endpoint::make(move |req: Request| {
        let state = state.clone();
        async move {
            let response = handle(&state, req).await;
            super::encode_if_asked(SITE, &state, response).await
        }
    })
}

async fn handle(state: &FixtureState, req: Request) -> Response {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    if let Some(response) = shared_knobs(SITE, state, &path).await {
        return response;
    }
    let query = req.uri().query().unwrap_or_default().to_owned();
    let method = req.method().clone();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let page = match (method, segments.as_slice()) {
        (Method::GET, ["api", "search", "suggest"]) => {
            return suggest(state, &field(&query, "term").unwrap_or_default());
        }
        (Method::GET, ["ajax", "seriesSearch"]) => {
            return series_search(state, &field(&query, "keyword").unwrap_or_default());
        }
        (Method::POST, ["ajax", "search"]) => {
            let body = body_text(req).await;
            return form_search(&field(&body, "keyword").unwrap_or_default());
        }
        (Method::GET, ["r"]) => return redirect(state, &field(&query, "t").unwrap_or_default()),
        (Method::GET, ["media", "images", "channel", file]) => {
            let key = file.strip_suffix(".jpg").unwrap_or_default();
            return super::cover(Site::Sto, state, key);
        }
        (Method::GET, ["serie", key, rest @ ..]) => {
            catalogue::find(Site::Sto, key).and_then(|s| match rest {
                [] => Some(series_page(s)),
                [staffel] => number_after(staffel, "staffel-")
                    .and_then(|n| s.season(n))
                    .map(|season| season_page(s, season)),
                [staffel, episode] => number_after(staffel, "staffel-")
                    .zip(number_after(episode, "episode-"))
                    .and_then(|(n, m)| s.episode(n, m).filter(|e| !e.upcoming).map(|e| (n, e)))
                    .map(|(n, e)| episode_page(s, n, e)),
                _ => None,
            })
        }
        _ => None,
    };
    match page {
        Some(body) => {
            let body = if markup_changed(SITE, state) {
                redesign(&body)
            } else {
                body
            };
            html(StatusCode::OK, body)
        }
        None => html(
            StatusCode::NOT_FOUND,
            layout(
                "404",
                r#"<main class="container"><h1 class="display-4">404</h1><p>Seite nicht gefunden</p></main>"#,
            ),
        ),
    }
}

fn number_after(segment: &str, prefix: &str) -> Option<u32> {
    segment.strip_prefix(prefix)?.parse().ok()
}

/// The `sto.markup = changed` variant.
fn redesign(body: &str) -> String {
    body.replace("<h1 ", "<div ")
        .replace("</h1>", "</div>")
        .replace("season-nav", "seasons-bar")
        .replace("episode-table", "episodes-grid")
        .replace("<h2 ", "<h3 ")
        .replace("</h2>", "</h3>")
}

fn layout(title: &str, content: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="de" data-bs-theme="dark">
<head>
<meta charset="utf-8">
<title>{title} | S.to - Serien online schauen</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/build/app.css">
</head>
<body>
<nav class="navbar navbar-expand-lg"><div class="container"><a class="navbar-brand" href="/">S.to</a>
<ul class="navbar-nav"><li class="nav-item"><a class="nav-link" href="/serien">Serien</a></li><li class="nav-item"><a class="nav-link" href="/neu">Neu</a></li></ul>
<form class="d-flex" role="search"><input class="form-control" type="search" name="q" placeholder="Serie suchen"></form></div></nav>
{content}
<footer class="footer mt-5"><div class="container small">&copy; 2026 S.to</div></footer>
<script src="/build/app.js"></script>
</body>
</html>"#,
        title = esc(title)
    )
}

fn header(s: &Series, active: Option<u32>) -> String {
    let end = s
        .end_year
        .map(|y| y.to_string())
        .unwrap_or_else(|| "heute".to_owned());
    let genres: String = s
        .genres
        .iter()
        .map(|g| {
            format!(
                r#"<a href="/genre/{}" class="badge text-bg-secondary">{}</a> "#,
                esc(&g.to_lowercase()),
                esc(g)
            )
        })
        .collect();
    let pills: String = s
        .seasons
        .iter()
        .map(|season| {
            let label = if season.number == 0 {
                "Filme".to_owned()
            } else {
                format!("Staffel {}", season.number)
            };
            let class = if Some(season.number) == active {
                "nav-link active"
            } else {
                "nav-link"
            };
            format!(
                r#"<a class="{class}" data-season-pill="{n}" href="/serie/{key}/staffel-{n}">{label}</a>"#,
                n = season.number,
                key = s.key
            )
        })
        .collect();
    format!(
        r#"<main class="container py-4">
<div class="row g-4 series-header">
<div class="col-md-3"><img class="series-cover img-fluid rounded" src="/media/images/channel/{key}.jpg" alt="{name}"></div>
<div class="col-md-9">
<h1 class="h2 mb-1 fw-bold">{name}</h1>
<ul class="list-unstyled series-facts">
<li class="series-group"><span class="fw-semibold">Jahre:</span> {year} - {end}</li>
<li class="series-group"><span class="fw-semibold">Genres:</span> {genres}</li>
</ul>
<p class="series-description"><span class="description-text">{desc}</span></p>
</div></div>
<nav id="season-nav" class="nav nav-pills my-3">{pills}</nav>"#,
        key = s.key,
        name = esc(s.name),
        year = s.year,
        desc = esc(s.description),
    )
}

fn episode_table(s: &Series, season: &Season) -> String {
    let rows: String = season
        .episodes
        .iter()
        .map(|e| {
            let flags: String = e
                .languages
                .iter()
                .map(|l| {
                    format!(
                        r#"<img class="language-flag" src="/img/lang/{}.svg" title="{}" alt="{}">"#,
                        l.code(),
                        l.sto_label(),
                        l.sto_label()
                    )
                })
                .collect();
            let titles = format!(
                r#"<strong class="episode-title-ger">{}</strong> <span class="episode-title-eng">{}</span>"#,
                esc(e.title_de),
                esc(e.title_en)
            );
            if e.upcoming {
                format!(
                    r#"<tr class="episode-row upcoming"><th scope="row" class="episode-number">{n}</th><td>{titles} <span class="badge text-bg-warning">Demnächst</span></td><td></td></tr>"#,
                    n = e.number
                )
            } else {
                format!(
                    r#"<tr class="episode-row" data-episode-id="{gid}"><th scope="row" class="episode-number">{n}</th><td><a class="episode-link" href="/serie/{key}/staffel-{season}/episode-{n}">{titles}</a></td><td class="episode-languages">{flags}</td></tr>"#,
                    gid = 5000 + season.number * 100 + e.number,
                    n = e.number,
                    key = s.key,
                    season = season.number,
                )
            }
        })
        .collect();
    format!(
        r#"<table class="table table-hover episode-table"><thead><tr><th>#</th><th>Titel</th><th>Sprachen</th></tr></thead><tbody>{rows}</tbody></table>"#
    )
}

fn series_page(s: &Series) -> String {
    let first = s
        .seasons
        .iter()
        .find(|x| x.number > 0)
        .or(s.seasons.first());
    let table = first.map(|x| episode_table(s, x)).unwrap_or_default();
    layout(
        s.name,
        &format!("{}{table}</main>", header(s, first.map(|x| x.number))),
    )
}

fn season_page(s: &Series, season: &Season) -> String {
    layout(
        s.name,
        &format!(
            "{}{}</main>",
            header(s, Some(season.number)),
            episode_table(s, season)
        ),
    )
}

fn episode_page(s: &Series, season: u32, e: &Episode) -> String {
    let buttons: String = catalogue::episode_links(Site::Sto, s.key, season, e.number)
        .iter()
        .map(|l| {
            format!(
                r#"<button type="button" class="btn btn-outline-light link-box" data-play-url="/r?t={t}" data-provider-name="{h}" data-language-label="{label}" data-language-id="{lid}"><img src="/img/hoster/{hl}.png" alt=""> {h} <span class="badge">{label}</span></button>"#,
                t = l.sto_token(),
                h = l.hoster,
                hl = l.hoster.to_lowercase(),
                label = l.language.sto_label(),
                lid = l.language.aniworld_key(),
            )
        })
        .collect();
    layout(
        s.name,
        &format!(
            r#"{}<section class="episode-player"><h2 class="h4 episode-heading">S{season:02}E{n:02}: {de} ({en})</h2>
<div class="hoster-list d-flex flex-wrap gap-2">{buttons}</div>
<div class="player-frame ratio ratio-16x9"></div></section></main>"#,
            header(s, Some(season)),
            n = e.number,
            de = esc(e.title_de),
            en = esc(e.title_en),
        ),
    )
}

fn redirect(state: &FixtureState, token: &str) -> Response {
    match catalogue::link_by_token(token) {
        Some(link) => Response::builder()
            .status(StatusCode::FOUND)
            .header(
                "location",
                crate::hosters::embed_url(state, link.hoster, &link.video()),
            )
            .finish(),
        None => html(StatusCode::NOT_FOUND, layout("404", "<p>Link ungültig</p>")),
    }
}

fn search_hits(keyword: &str) -> impl Iterator<Item = &'static Series> + '_ {
    catalogue::series_of(Site::Sto)
        .filter(move |s| !keyword.trim().is_empty() && matches(s.name, keyword))
}

fn suggest(state: &FixtureState, term: &str) -> Response {
    match state.knob("sto.suggest").as_deref() {
        Some("down") => return html(StatusCode::NOT_FOUND, layout("404", "")),
        Some("garbage") => return html(StatusCode::OK, "<html>Wartung</html>".to_owned()),
        _ => {}
    }
    let shows: Vec<serde_json::Value> = search_hits(term)
        .map(|s| {
            serde_json::json!({
                "name": highlight(&esc(s.name), term),
                "url": format!("/serie/{}", s.key),
            })
        })
        .collect();
    json(serde_json::json!({ "shows": shows, "people": [] }).to_string())
}

fn series_search(state: &FixtureState, keyword: &str) -> Response {
    match state.knob("sto.series_search").as_deref() {
        Some("down") => return html(StatusCode::NOT_FOUND, layout("404", "")),
        Some("garbage") => return html(StatusCode::OK, "<html>Wartung</html>".to_owned()),
        _ => {}
    }
    let items: Vec<serde_json::Value> = search_hits(keyword)
        .map(|s| {
            serde_json::json!({
                "name": esc(s.name),
                "link": s.key,
                "description": esc(s.description),
                "cover": format!("/media/images/channel/{}.jpg", s.key),
                "productionYear": format!("({} - {})", s.year, s.end_year.map(|y| y.to_string()).unwrap_or_else(|| "heute".into())),
            })
        })
        .collect();
    json(serde_json::Value::Array(items).to_string())
}

fn form_search(keyword: &str) -> Response {
    let mut items = Vec::new();
    for s in search_hits(keyword) {
        let title = highlight(&esc(s.name), keyword);
        items.push(serde_json::json!({
            "title": title,
            "description": esc(s.description),
            "link": format!("/serie/{}", s.key),
        }));
        items.push(serde_json::json!({
            "title": format!("{title} Staffel 1"),
            "description": "",
            "link": format!("/serie/{}/staffel-1", s.key),
        }));
    }
    json(serde_json::Value::Array(items).to_string())
}
