//! aniworld.to in its real markup (see SITE-NOTES.md), serving [`crate::catalogue`].
//!
//! Routes:
//! - `/anime/stream/{key}` series page (also shows season 1's table, like the real site);
//!   `/staffel-{N}` season pages, `/filme` movies page (season 0), `/staffel-{N}/episode-{M}` and
//!   `/filme/film-{K}` episode pages with every hoster entry (non-default languages hidden).
//! - `/redirect/{linkId}` → 302 to [`crate::hosters::embed_url`] of `{key}-s{S}e{E}-{lang}`.
//! - `GET /ajax/seriesSearch?keyword=` (JSON with entities and a stray control character) and
//!   `POST /ajax/search` (form `keyword`; titles with `<em>`, season/episode links mixed in).
//! - `/public/img/cover/{key}-{W}x{H}.png`: the series' cover (PNG).
//! - `/neue-episoden`: the latest releases (`.newEpisodeList`), and `POST /__fixture/air?key=&season=`
//!   (not on the real site) makes the next episode of a season air now; see [`crate::airing`].
//! - An unknown series answers 200 with the site's error page (`div.messageAlert.danger`); an
//!   unknown season or episode answers 404.
//!
//! Knobs: the shared ones of [`crate::sites`] with `{site}` = `aniworld`
//! (`aniworld.challenge`, `aniworld.fail_next`, `aniworld.delay_ms`, `aniworld.markup`,
//! `aniworld.series_search`, `aniworld.covers`).

use std::sync::Arc;

use poem::http::{Method, StatusCode};
use poem::{Endpoint, Request, Response};

use super::{body_text, esc, field, highlight, html, json, markup_changed, matches, shared_knobs};
use crate::FixtureState;
use crate::catalogue::{self, Episode, Lang, Season, Series, Site};

const SITE: &str = "aniworld";

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
        (Method::GET, ["ajax", "seriesSearch"]) => {
            return series_search(state, &field(&query, "keyword").unwrap_or_default());
        }
        (Method::POST, ["ajax", "search"]) => {
            let body = body_text(req).await;
            return form_search(&field(&body, "keyword").unwrap_or_default());
        }
        (Method::GET, ["redirect", id]) => return redirect(state, id),
        (Method::GET, ["public", "img", "cover", file]) => {
            // `{key}-220x330.png` (series page) and `{key}-150x225.png` (search).
            let key = file
                .strip_suffix(".png")
                .and_then(|f| f.rsplit_once('-'))
                .map_or("", |(key, _size)| key);
            return super::cover(Site::Aniworld, state, key);
        }
        (Method::GET, ["neue-episoden"]) => {
            if state.knob("aniworld.new_episodes").as_deref() == Some("missing") {
                return html(StatusCode::NOT_FOUND, not_found_page());
            }
            Some(new_episodes_page(state))
        }
        (Method::POST, ["__fixture", "air"]) => {
            let key = field(&query, "key").unwrap_or_default();
            let season = field(&query, "season")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            return match state.air(Site::Aniworld, &key, season) {
                Some((season, episode)) => json(
                    serde_json::json!({"key": key, "season": season, "episode": episode})
                        .to_string(),
                ),
                None => html(StatusCode::NOT_FOUND, not_found_page()),
            };
        }
        (Method::GET, ["anime", "stream", key]) => match state.series(Site::Aniworld, key) {
            Some(s) => Some(series_page(&s)),
            None => return error_page(),
        },
        (Method::GET, ["anime", "stream", key, rest @ ..]) => {
            state.series(Site::Aniworld, key).and_then(|s| match rest {
                ["filme"] => s.season(0).map(|season| season_page(&s, season)),
                ["filme", film] => number_after(film, "film-")
                    .and_then(|k| s.episode(0, k))
                    .map(|e| episode_page(&s, 0, e)),
                [staffel] => number_after(staffel, "staffel-")
                    .filter(|n| *n > 0)
                    .and_then(|n| s.season(n))
                    .map(|season| season_page(&s, season)),
                [staffel, episode] => number_after(staffel, "staffel-")
                    .filter(|n| *n > 0)
                    .zip(number_after(episode, "episode-"))
                    .and_then(|(n, m)| s.episode(n, m).map(|e| episode_page(&s, n, e))),
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
        None => html(StatusCode::NOT_FOUND, not_found_page()),
    }
}

fn number_after(segment: &str, prefix: &str) -> Option<u32> {
    segment.strip_prefix(prefix)?.parse().ok()
}

/// The `aniworld.markup = changed` variant: the same content under renamed classes and ids.
fn redesign(body: &str) -> String {
    body.replace("series-title", "seriesHeadline")
        .replace("id=\"stream\"", "id=\"streams\"")
        .replace("hosterSiteDirectNav", "directNav")
        .replace("seasonEpisodesList", "episodeTable")
        .replace("hosterSiteVideo", "videoBox")
        .replace("data-link-target", "data-target")
}

fn layout(title: &str, content: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<title>{title} | AniWorld.to - Animes gratis online ansehen</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/public/css/main.css">
</head>
<body>
<div id="wrapper">
<header class="main-header"><div class="container"><a href="/" class="header-logo"><img src="/public/img/logo.svg" alt="AniWorld.to"></a>
<nav><ul class="primary-navigation"><li><a href="/animes">Animes</a></li><li><a href="/beliebte-animes">Beliebt</a></li><li><a href="/neu">Neu</a></li></ul></nav>
<div class="searchBar"><input type="text" id="search" placeholder="Anime suchen..."></div></div></header>
{content}
<footer><div class="container"><p>&copy; 2026 AniWorld</p></div></footer>
</div>
<script src="/public/js/default.js"></script>
</body>
</html>"#,
        title = esc(title),
    )
}

fn error_page() -> Response {
    html(
        StatusCode::OK,
        layout(
            "Fehler",
            r#"<div class="container"><div class="messageAlert danger">Die gewünschte Serie wurde nicht gefunden oder ist im Moment deaktiviert.</div></div>"#,
        ),
    )
}

fn not_found_page() -> String {
    layout(
        "404",
        r#"<div class="container"><h2>404 - Seite nicht gefunden</h2></div>"#,
    )
}

fn series_header(s: &Series) -> String {
    let genres: String = s
        .genres
        .iter()
        .map(|g| {
            format!(
                r#"<li><a href="/genre/{}" class="genreButton clearbutton" itemprop="genre">{}</a></li>"#,
                esc(&g.to_lowercase()),
                esc(g)
            )
        })
        .chain(pseudo_genres(s).into_iter().map(|g| {
            format!(r##"<li><a href="#" class="genreButton clearbutton">{g}</a></li>"##)
        }))
        .collect();
    let end = match s.end_year {
        Some(y) => format!(r#"<a href="/animes/jahr/{y}">{y}</a>"#),
        None => r#"<a href="/animes/laufend">heute</a>"#.to_owned(),
    };
    let mut truncated: String = s.description.chars().take(40).collect();
    truncated.push_str("...");
    let seasons: String = s
        .seasons
        .iter()
        .map(|season| {
            if season.number == 0 {
                format!(
                    r#"<li><a href="/anime/stream/{}/filme" title="Alle Filme">Filme</a></li>"#,
                    s.key
                )
            } else {
                format!(
                    r#"<li><a href="/anime/stream/{key}/staffel-{n}" title="Staffel {n}">{n}</a></li>"#,
                    key = s.key,
                    n = season.number
                )
            }
        })
        .collect();
    format!(
        r#"<section class="title" style="background-image: url(/public/img/backdrop/{key}.jpg)">
<div class="container row">
<div class="col-md-3 col-sm-3 col-xs-4"><div class="seriesCoverBox"><img src="/public/img/placeholder.png" data-src="/public/img/cover/{key}-220x330.png" alt="{name}, Cover" title="{name}" itemprop="image"></div></div>
<div class="col-md-9 col-sm-9 col-xs-8 series-title-wrap">
<div class="series-title"><h1 itemprop="name" data-alternativetitles="{alt}"><span>{name}</span></h1>
<small><span itemprop="startDate"><a href="/animes/jahr/{year}">{year}</a></span> - <span itemprop="endDate">{end}</span></small>
<div class="fsk fsk16" data-fsk="16" title="Freigegeben ab 16 Jahren"></div></div>
<p class="seri_des" itemprop="accountablePerson" data-description-type="review" data-full-description="{desc}">{truncated} <span class="showMore">mehr anzeigen</span></p>
<div class="genres"><ul>{genres}</ul></div>
<div class="cast"><a class="imdb-link" data-imdb="tt{imdb:07}" href="https://www.imdb.com/title/tt{imdb:07}" target="_blank" rel="noopener">IMDb</a></div>
</div></div></section>
<div class="container">
<div id="stream" class="hosterSiteDirectNav"><ul><li><span><strong>Staffeln:</strong></span></li>{seasons}</ul></div>
<meta itemprop="numberOfSeasons" content="{count}">
</div>"#,
        key = s.key,
        name = esc(s.name),
        alt = esc(&s.alternative_titles.join(", ")),
        year = s.year,
        desc = esc(s.description),
        truncated = esc(&truncated),
        imdb = s.key.len() * 1000 + s.year as usize,
        count = s.seasons.len(),
    )
}

/// The site's genre list also carries language tags.
fn pseudo_genres(s: &Series) -> Vec<&'static str> {
    let langs = s.languages();
    let mut out = Vec::new();
    if langs.contains(&Lang::GermanDub) {
        out.push("Ger");
    }
    if langs.contains(&Lang::GermanSub) {
        out.push("GerSub");
    }
    if langs.contains(&Lang::EnglishSub) {
        out.push("EngSub");
    }
    out
}

fn episode_href(s: &Series, season: u32, episode: u32) -> String {
    if season == 0 {
        format!("/anime/stream/{}/filme/film-{episode}", s.key)
    } else {
        format!("/anime/stream/{}/staffel-{season}/episode-{episode}", s.key)
    }
}

/// Global episode id as the site numbers them.
fn global_id(s: &Series, season: u32, episode: u32) -> u64 {
    let base: u64 = s.key.bytes().map(u64::from).sum();
    base * 1000 + u64::from(season) * 100 + u64::from(episode)
}

fn season_table(s: &Series, season: &Season) -> String {
    let rows: String = season
        .episodes
        .iter()
        .map(|e| {
            let href = episode_href(s, season.number, e.number);
            let label = if season.number == 0 {
                format!("Film {}", e.number)
            } else {
                format!("Folge {}", e.number)
            };
            let icons: String = e
                .hosters
                .iter()
                .map(|h| format!(r#"<i class="icon {h}" title="{h}"></i>"#))
                .collect();
            let flags: String = e
                .languages
                .iter()
                .map(|l| {
                    format!(
                        r#"<img class="flag" src="/public/img/{}" alt="{} Flagge" title="{}">"#,
                        l.flag(),
                        l.name(),
                        l.name()
                    )
                })
                .collect();
            format!(
                r#"<tr class="" data-episode-id="{gid}" data-episode-season-id="{n}" itemscope itemprop="episode" itemtype="http://schema.org/Episode">
<td class="season{season}EpisodeID"><meta itemprop="episodeNumber" content="{n}"><a itemprop="url" href="{href}">{label}</a></td>
<td class="seasonEpisodeTitle"><a href="{href}"><strong>{de}</strong> - <span>{en}</span></a></td>
<td><a href="{href}">{icons}</a></td>
<td class="editFunctions"><a href="{href}">{flags}</a></td>
</tr>"#,
                gid = global_id(s, season.number, e.number),
                n = e.number,
                season = season.number,
                de = esc(e.title_de),
                en = esc(e.title_en),
            )
        })
        .collect();
    format!(
        r#"<table class="seasonEpisodesList" data-season-id="{n}"><thead><tr><th>Folge</th><th>Titel</th><th>Hoster</th><th>Sprache</th></tr></thead>
<tbody id="season{n}">{rows}</tbody></table>"#,
        n = season.number
    )
}

/// `/neue-episoden`: the latest releases in `.newEpisodeList`, newest first (see
/// [`crate::airing`]).
fn new_episodes_page(state: &FixtureState) -> String {
    let rows: String = crate::airing::new_episode_entries(state)
        .iter()
        .map(|(s, season, episode, day)| {
            let flags: String = s
                .episode(*season, *episode)
                .map(|e| e.languages.clone())
                .unwrap_or_default()
                .iter()
                .take(1)
                .map(|l| {
                    format!(
                        r#"<img class="flag" src="/public/img/{}" alt="{}" title="{}">"#,
                        l.flag(),
                        l.name(),
                        l.name()
                    )
                })
                .collect();
            format!(
                r#"<div class="col-md-12 newEpisode"><a href="{href}"><strong>{name}</strong> <span class="listTag bigListTag blue2">S{season:02} E{episode:02}</span> {flags}<span class="elementFloatRight">{day}</span></a></div>"#,
                href = episode_href(s, *season, *episode),
                name = esc(s.name),
            )
        })
        .collect();
    layout(
        "Neue Episoden",
        &format!(
            r#"<div class="container"><h2>Neue Episoden</h2><div class="row newEpisodeList">{rows}</div></div>"#
        ),
    )
}

fn series_page(s: &Series) -> String {
    let first = s.seasons.iter().find(|x| x.number > 0);
    let table = first.map(|x| season_table(s, x)).unwrap_or_default();
    layout(
        s.name,
        &format!("{}<div class=\"container\">{table}</div>", series_header(s)),
    )
}

fn season_page(s: &Series, season: &Season) -> String {
    let episodes: String = season
        .episodes
        .iter()
        .map(|e| {
            format!(
                r#"<li><a href="{}" data-episode-id="{}">{}</a></li>"#,
                episode_href(s, season.number, e.number),
                global_id(s, season.number, e.number),
                e.number
            )
        })
        .collect();
    layout(
        s.name,
        &format!(
            r#"{}<div class="container"><div class="hosterSiteDirectNav episodes"><ul><li><span><strong>Episoden:</strong></span></li>{episodes}</ul></div>{}</div>"#,
            series_header(s),
            season_table(s, season)
        ),
    )
}

fn episode_page(s: &Series, season: u32, e: &Episode) -> String {
    let links = catalogue::episode_links(Site::Aniworld, s.key, season, e.number);
    let default_lang = e.languages.first().copied();
    let lang_box: String = e
        .languages
        .iter()
        .map(|l| {
            let selected = if Some(*l) == default_lang {
                " class=\"selectedLanguage\""
            } else {
                ""
            };
            format!(
                r#"<img data-lang-key="{}" title="{}" src="/public/img/{}"{selected}>"#,
                l.aniworld_key(),
                l.name(),
                l.flag()
            )
        })
        .collect();
    let entries: String = links
        .iter()
        .map(|l| {
            let hidden = if Some(l.language) == default_lang {
                ""
            } else {
                r#" style="display: none;""#
            };
            format!(
                r#"<li class="col-md-3 col-xs-12 col-sm-6 episodeLink{id}" data-lang-key="{lang}" data-link-id="{id}" data-link-target="/redirect/{id}" data-external-embed="false"{hidden}>
<div><a class="watchEpisode" itemprop="url" href="/redirect/{id}" target="_blank"><i class="icon {h}" title="Hoster {h}"></i><h4>{h}</h4><div class="hosterSiteVideoButton">Video Ansehen</div></a></div></li>"#,
                id = l.id,
                lang = l.language.aniworld_key(),
                h = l.hoster,
            )
        })
        .collect();
    let player = links
        .first()
        .map(|l| {
            format!(
                r#"<div class="inSiteWebStream"><iframe src="/redirect/{}" allowfullscreen></iframe></div>"#,
                l.id
            )
        })
        .unwrap_or_default();
    layout(
        s.name,
        &format!(
            r#"{header}<div class="container">
<div class="hosterSiteTitle" data-episode-id="{gid}" data-season-id="{season}"><h2><span class="episodeGermanTitle">{de}</span> <small class="episodeEnglishTitle">{en}</small></h2></div>
<div class="hosterSiteVideo"><div class="changeLanguageBox">{lang_box}</div>
<ul class="row">{entries}</ul>{player}</div></div>"#,
            header = series_header(s),
            gid = global_id(s, season, e.number),
            de = esc(e.title_de),
            en = esc(e.title_en),
        ),
    )
}

fn redirect(state: &FixtureState, id: &str) -> Response {
    match id.parse().ok().and_then(catalogue::link_by_id) {
        Some(link) => Response::builder()
            .status(StatusCode::FOUND)
            .header(
                "location",
                crate::hosters::embed_url(state, link.hoster, &link.video()),
            )
            .finish(),
        None => html(StatusCode::NOT_FOUND, not_found_page()),
    }
}

fn series_search(state: &FixtureState, keyword: &str) -> Response {
    match state.knob("aniworld.series_search").as_deref() {
        Some("down") => return html(StatusCode::NOT_FOUND, not_found_page()),
        Some("garbage") => return html(StatusCode::OK, "<html>Wartungsarbeiten</html>".to_owned()),
        _ => {}
    }
    let items: Vec<serde_json::Value> = search_hits(keyword)
        .map(|s| {
            serde_json::json!({
                "name": esc(s.name),
                "link": s.key,
                "description": format!("{}\u{1}", esc(s.description)),
                "cover": format!("/public/img/cover/{}-150x225.png", s.key),
                "productionYear": match s.end_year {
                    Some(end) => format!("({} - {end})", s.year),
                    None => format!("({} - heute)", s.year),
                },
            })
        })
        .collect();
    let body = serde_json::Value::Array(items).to_string();
    // The real endpoint lets raw control characters through, which is not valid JSON.
    json(body.replace("\\u0001", "\u{1}"))
}

fn search_hits(keyword: &str) -> impl Iterator<Item = &'static Series> + '_ {
    catalogue::series_of(Site::Aniworld).filter(move |s| {
        !keyword.trim().is_empty()
            && (matches(s.name, keyword)
                || s.alternative_titles.iter().any(|a| matches(a, keyword)))
    })
}

fn form_search(keyword: &str) -> Response {
    let mut items = Vec::new();
    for s in search_hits(keyword) {
        let title = highlight(&esc(s.name), keyword);
        items.push(serde_json::json!({
            "title": title,
            "description": esc(s.description),
            "link": format!("/anime/stream/{}", s.key),
        }));
        if let Some(season) = s.seasons.iter().find(|x| x.number > 0) {
            items.push(serde_json::json!({
                "title": format!("{title} Staffel {}", season.number),
                "description": "",
                "link": format!("/anime/stream/{}/staffel-{}", s.key, season.number),
            }));
            if let Some(e) = season.episodes.first() {
                items.push(serde_json::json!({
                    "title": format!("{title} Folge {}", e.number),
                    "description": "",
                    "link": episode_href(s, season.number, e.number),
                }));
            }
        }
    }
    json(serde_json::Value::Array(items).to_string())
}
