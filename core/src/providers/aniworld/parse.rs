//! aniworld.to markup → data. Pure functions over page text, so they can be benchmarked and fuzzed.
//!
//! Every function fails with [`Error::Parse`] naming the element it could not find, or with
//! [`Error::NotFound`] when the page is the site's error page. None of them panics.

use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};

use crate::error::{Error, Result};
use crate::model::{Episode, Language};
use crate::providers::search;
pub use crate::providers::search::SearchHit;
use crate::providers::text::{clean_text, element_text, first_year, non_empty};

fn sel(css: &str) -> Selector {
    Selector::parse(css).expect("constant selector is valid")
}

static ERROR_ALERT: LazyLock<Selector> = LazyLock::new(|| sel("div.messageAlert.danger"));
static TITLE: LazyLock<Selector> =
    LazyLock::new(|| sel("div.series-title h1[itemprop=name] > span"));
static TITLE_H1: LazyLock<Selector> = LazyLock::new(|| sel("div.series-title h1[itemprop=name]"));
static START_YEAR: LazyLock<Selector> = LazyLock::new(|| sel("span[itemprop=startDate] a"));
static END_YEAR: LazyLock<Selector> = LazyLock::new(|| sel("span[itemprop=endDate] a"));
static DESCRIPTION: LazyLock<Selector> = LazyLock::new(|| sel("p.seri_des"));
static GENRES: LazyLock<Selector> = LazyLock::new(|| sel("div.genres li a.genreButton"));
static COVER: LazyLock<Selector> = LazyLock::new(|| sel("div.seriesCoverBox img"));
static FSK: LazyLock<Selector> = LazyLock::new(|| sel("div.fsk[data-fsk]"));
static IMDB: LazyLock<Selector> = LazyLock::new(|| sel("a.imdb-link[data-imdb]"));
static SEASON_NAV: LazyLock<Selector> =
    LazyLock::new(|| sel("div#stream ul, div.hosterSiteDirectNav ul"));
static LINKS: LazyLock<Selector> = LazyLock::new(|| sel("a[href]"));
static EPISODE_TABLE_BODY: LazyLock<Selector> =
    LazyLock::new(|| sel("table.seasonEpisodesList tbody"));
static EPISODE_ROW: LazyLock<Selector> = LazyLock::new(|| sel("tr[itemprop=episode]"));
static EPISODE_NUMBER_META: LazyLock<Selector> =
    LazyLock::new(|| sel("meta[itemprop=episodeNumber][content]"));
static ROW_TITLE_LINK: LazyLock<Selector> = LazyLock::new(|| sel("td.seasonEpisodeTitle a"));
static STRONG: LazyLock<Selector> = LazyLock::new(|| sel("strong"));
static SPAN: LazyLock<Selector> = LazyLock::new(|| sel("span"));
static FLAG: LazyLock<Selector> = LazyLock::new(|| sel("img.flag"));
static EPISODE_TITLE_DE: LazyLock<Selector> = LazyLock::new(|| sel("h2 span.episodeGermanTitle"));
static EPISODE_TITLE_EN: LazyLock<Selector> = LazyLock::new(|| sel("h2 small.episodeEnglishTitle"));
static LANGUAGE_BOX: LazyLock<Selector> =
    LazyLock::new(|| sel("div.changeLanguageBox img[data-lang-key]"));
static HOSTER_AREA: LazyLock<Selector> = LazyLock::new(|| sel("div.hosterSiteVideo"));
static HOSTER_ENTRY: LazyLock<Selector> =
    LazyLock::new(|| sel("li[data-lang-key][data-link-id][data-link-target]"));
static H4: LazyLock<Selector> = LazyLock::new(|| sel("h4"));
static ICON: LazyLock<Selector> = LazyLock::new(|| sel("i.icon"));
static NEW_EPISODE_LIST: LazyLock<Selector> = LazyLock::new(|| sel(".newEpisodeList"));

/// What the series page says (episodes come from the season pages).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeriesPage {
    pub name: String,
    pub alternative_titles: Vec<String>,
    pub year: Option<i32>,
    /// `None` while the series is still running (`heute`).
    pub end_year: Option<i32>,
    pub description: Option<String>,
    /// Real genres; the site's language pseudo-genres (`Ger`, `GerSub`, `EngSub`) are left out.
    pub genres: Vec<String>,
    /// As the page gives it (usually a relative path).
    pub cover: Option<String>,
    pub fsk: Option<u32>,
    pub imdb: Option<String>,
    /// Season numbers in page order; 0 = the movies page (`Alle Filme`).
    pub seasons: Vec<u32>,
}

/// One hoster entry of an episode page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HosterEntry {
    pub language: Language,
    pub link_id: String,
    /// The redirect path (`/redirect/{linkId}`).
    pub target: String,
    pub hoster: String,
    /// Entries of non-default languages are hidden with `display: none` but valid.
    pub hidden: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EpisodePage {
    pub title_de: Option<String>,
    pub title_en: Option<String>,
    pub languages: Vec<Language>,
    pub entries: Vec<HosterEntry>,
}

const PSEUDO_GENRES: &[&str] = &["Ger", "GerSub", "EngSub", "EngDub", "Eng"];

fn check_error_page(doc: &Html) -> Result<()> {
    if let Some(alert) = doc.select(&ERROR_ALERT).next() {
        let message = element_text(alert);
        return Err(Error::NotFound(if message.is_empty() {
            "the site answered with its error page".to_owned()
        } else {
            message
        }));
    }
    Ok(())
}

/// The series page (`/anime/stream/{key}`).
pub fn parse_series_page(html: &str) -> Result<SeriesPage> {
    let doc = Html::parse_document(html);
    check_error_page(&doc)?;
    let name = doc
        .select(&TITLE)
        .next()
        .map(element_text)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::parse("series title (div.series-title h1[itemprop=name] > span)"))?;
    let alternative_titles = doc
        .select(&TITLE_H1)
        .next()
        .and_then(|h1| h1.value().attr("data-alternativetitles"))
        .map(|alt| {
            alt.split(',')
                .map(clean_text)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let year = doc
        .select(&START_YEAR)
        .next()
        .and_then(|a| first_year(&element_text(a)));
    let end_year = doc
        .select(&END_YEAR)
        .next()
        .and_then(|a| first_year(&element_text(a)));
    let description = doc.select(&DESCRIPTION).next().and_then(|p| {
        p.value()
            .attr("data-full-description")
            .map(clean_text)
            .filter(|d| !d.is_empty())
            .or_else(|| non_empty(element_text(p)))
    });
    let genres = doc
        .select(&GENRES)
        .map(element_text)
        .filter(|g| !g.is_empty() && !PSEUDO_GENRES.contains(&g.as_str()))
        .collect();
    let cover = doc.select(&COVER).next().and_then(|img| {
        img.value()
            .attr("data-src")
            .or_else(|| img.value().attr("src"))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    });
    let fsk = doc
        .select(&FSK)
        .next()
        .and_then(|d| d.value().attr("data-fsk"))
        .and_then(|v| v.trim().parse().ok());
    let imdb = doc
        .select(&IMDB)
        .next()
        .and_then(|a| a.value().attr("data-imdb"))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let nav = doc
        .select(&SEASON_NAV)
        .next()
        .ok_or_else(|| Error::parse("season list (div#stream ul)"))?;
    let mut seasons = Vec::new();
    for a in nav.select(&LINKS) {
        match a.value().attr("href").and_then(season_of_href) {
            Some(n) if !seasons.contains(&n) => seasons.push(n),
            _ => {}
        }
    }
    Ok(SeriesPage {
        name,
        alternative_titles,
        year,
        end_year,
        description,
        genres,
        cover,
        fsk,
        imdb,
        seasons,
    })
}

/// `.../staffel-3` → 3, `.../filme` → 0.
fn season_of_href(href: &str) -> Option<u32> {
    let path = href.split(['?', '#']).next()?.trim_end_matches('/');
    let last = path.rsplit('/').next()?;
    if last == "filme" {
        return Some(0);
    }
    last.strip_prefix("staffel-")?.parse().ok()
}

/// A season page (`/staffel-{N}`) or the movies page (`/filme`, `season` = 0).
pub fn parse_season_page(html: &str, season: u32) -> Result<Vec<Episode>> {
    let doc = Html::parse_document(html);
    check_error_page(&doc)?;
    let wanted_id = format!("season{season}");
    let bodies: Vec<ElementRef<'_>> = doc.select(&EPISODE_TABLE_BODY).collect();
    let body = bodies
        .iter()
        .find(|b| b.value().id() == Some(wanted_id.as_str()))
        .or(bodies.first())
        .copied()
        .ok_or_else(|| {
            Error::parse(format!(
                "episode list of season {season} (table.seasonEpisodesList tbody#{wanted_id})"
            ))
        })?;
    let mut episodes: Vec<Episode> = Vec::new();
    for row in body.select(&EPISODE_ROW) {
        let Some(number) = row_episode_number(row) else {
            continue;
        };
        if episodes.iter().any(|e| e.number == number) {
            continue;
        }
        let link = row.select(&ROW_TITLE_LINK).next();
        let title_de = link
            .and_then(|a| a.select(&STRONG).next())
            .map(element_text)
            .and_then(non_empty);
        let title_en = link
            .and_then(|a| a.select(&SPAN).next())
            .map(element_text)
            .and_then(non_empty);
        let url = link
            .and_then(|a| a.value().attr("href"))
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty());
        let mut languages: Vec<Language> = row
            .select(&FLAG)
            .filter_map(|img| img.value().attr("src").and_then(language_of_flag))
            .collect();
        languages.sort();
        languages.dedup();
        episodes.push(Episode {
            number,
            title_de,
            title_en,
            languages,
            url,
        });
    }
    Ok(episodes)
}

fn row_episode_number(row: ElementRef<'_>) -> Option<u32> {
    row.select(&EPISODE_NUMBER_META)
        .next()
        .and_then(|m| m.value().attr("content"))
        .and_then(|c| c.trim().parse().ok())
        .or_else(|| {
            row.value()
                .attr("data-episode-season-id")
                .and_then(|c| c.trim().parse().ok())
        })
}

fn language_of_flag(src: &str) -> Option<Language> {
    let file = src.rsplit('/').next()?.split('?').next()?;
    match file {
        "german.svg" => Some(Language::GermanDub),
        "japanese-german.svg" => Some(Language::GermanSub),
        "japanese-english.svg" => Some(Language::EnglishSub),
        "english.svg" => Some(Language::EnglishDub),
        _ => None,
    }
}

/// The new-episodes page (`/neue-episoden`): every episode link in `.newEpisodeList`
/// (`/anime/stream/{key}/staffel-N/episode-M`, movies `/filme/film-K` = season 0), its language
/// flag and the day it was listed (`dd.mm.yyyy` text in the entry), in page order (newest first).
pub fn parse_new_episodes(html: &str) -> Result<Vec<crate::model::follow::Release>> {
    let doc = Html::parse_document(html);
    check_error_page(&doc)?;
    let lists: Vec<ElementRef<'_>> = doc.select(&NEW_EPISODE_LIST).collect();
    if lists.is_empty() {
        return Err(Error::parse("new episodes list (.newEpisodeList)"));
    }
    let mut out = Vec::new();
    for list in lists {
        for a in list.select(&LINKS) {
            let Some((key, season, episode)) = a.value().attr("href").and_then(episode_of_link)
            else {
                continue;
            };
            let language = a
                .select(&FLAG)
                .find_map(|img| img.value().attr("src").and_then(language_of_flag));
            let date = a.text().find_map(|t| {
                t.split_whitespace()
                    .find_map(|w| chrono::NaiveDate::parse_from_str(w, "%d.%m.%Y").ok())
            });
            out.push(crate::model::follow::Release {
                key,
                season,
                episode,
                language,
                date,
            });
        }
    }
    Ok(out)
}

/// `(key, season, episode)` of an episode link (path or full URL).
fn episode_of_link(href: &str) -> Option<(crate::model::SeriesKey, u32, u32)> {
    let path = href.split(['?', '#']).next()?;
    let rest = &path[path.find("/anime/stream/")? + "/anime/stream/".len()..];
    let mut parts = rest.trim_end_matches('/').split('/');
    let key = crate::model::SeriesKey::parse(parts.next()?).ok()?;
    let (season, episode) = match (parts.next()?, parts.next()?) {
        ("filme", film) => (0, film.strip_prefix("film-")?.parse().ok()?),
        (staffel, ep) => (
            staffel.strip_prefix("staffel-")?.parse().ok()?,
            ep.strip_prefix("episode-")?.parse().ok()?,
        ),
    };
    if parts.next().is_some() {
        return None;
    }
    Some((key, season, episode))
}

/// An episode or movie page: titles, languages and every hoster entry, hidden ones included.
pub fn parse_episode_page(html: &str) -> Result<EpisodePage> {
    let doc = Html::parse_document(html);
    check_error_page(&doc)?;
    let title_de = doc
        .select(&EPISODE_TITLE_DE)
        .next()
        .map(element_text)
        .and_then(non_empty);
    let title_en = doc
        .select(&EPISODE_TITLE_EN)
        .next()
        .map(element_text)
        .and_then(non_empty);
    let mut entries = Vec::new();
    for li in doc.select(&HOSTER_ENTRY) {
        let v = li.value();
        let Some(language) = v
            .attr("data-lang-key")
            .and_then(|k| k.trim().parse().ok())
            .and_then(Language::from_aniworld_key)
        else {
            tracing::debug!(key = ?v.attr("data-lang-key"), "skipping hoster entry with an unknown language key");
            continue;
        };
        let hoster = li
            .select(&H4)
            .next()
            .map(element_text)
            .filter(|h| !h.is_empty())
            .or_else(|| {
                li.select(&ICON).next().and_then(|i| {
                    i.value()
                        .classes()
                        .find(|c| *c != "icon")
                        .map(str::to_owned)
                })
            });
        let Some(hoster) = hoster else {
            tracing::debug!("skipping hoster entry without a hoster name");
            continue;
        };
        let target = v.attr("data-link-target").unwrap_or_default().trim();
        if target.is_empty() {
            continue;
        }
        let hidden = v
            .attr("style")
            .map(|s| s.replace(' ', "").contains("display:none"))
            .unwrap_or(false);
        entries.push(HosterEntry {
            language,
            link_id: v.attr("data-link-id").unwrap_or_default().trim().to_owned(),
            target: target.to_owned(),
            hoster,
            hidden,
        });
    }
    if entries.is_empty() && doc.select(&HOSTER_AREA).next().is_none() {
        return Err(Error::parse(
            "hoster list (div.hosterSiteVideo li[data-lang-key][data-link-id][data-link-target])",
        ));
    }
    let mut languages: Vec<Language> = doc
        .select(&LANGUAGE_BOX)
        .filter_map(|img| img.value().attr("data-lang-key"))
        .filter_map(|k| k.trim().parse().ok())
        .filter_map(Language::from_aniworld_key)
        .collect();
    if languages.is_empty() {
        languages = entries.iter().map(|e| e.language).collect();
    }
    let mut seen = Vec::new();
    languages.retain(|l| {
        let new = !seen.contains(l);
        seen.push(*l);
        new
    });
    Ok(EpisodePage {
        title_de,
        title_en,
        languages,
        entries,
    })
}

/// `GET /ajax/seriesSearch?keyword=` → `[{name, link, description, cover, productionYear}]`.
pub fn parse_series_search(body: &str) -> Result<Vec<SearchHit>> {
    search::parse_series_search(body, SERIES_PREFIX)
}

/// `POST /ajax/search` → `[{title, description, link}]`; only series links are kept.
pub fn parse_form_search(body: &str) -> Result<Vec<SearchHit>> {
    search::parse_form_search(body, SERIES_PREFIX)
}

const SERIES_PREFIX: &str = "/anime/stream/";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_episodes_page_gives_key_numbers_language_and_day() {
        let html = r#"<html><body><div class="newEpisodeList">
            <div class="row"><a href="/anime/stream/one-piece/staffel-21/episode-1101">
              <strong>One Piece</strong> <span class="listTag">S21 E1101</span>
              <img class="flag" src="/public/img/japanese-german.svg">
              <span class="elementFloatRight">30.11.2026</span></a></div>
            <div class="row"><a href="https://aniworld.to/anime/stream/aot/filme/film-3">
              <strong>AoT</strong><span class="elementFloatRight">29.11.2026</span></a></div>
            <div class="row"><a href="/anime/stream/aot">series link only</a></div>
          </div></body></html>"#;
        let found = parse_new_episodes(html).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].key.as_str(), found[0].season, found[0].episode),
            ("one-piece", 21, 1101)
        );
        assert_eq!(found[0].language, Some(Language::GermanSub));
        assert_eq!(found[0].date, chrono::NaiveDate::from_ymd_opt(2026, 11, 30));
        assert_eq!((found[1].season, found[1].episode), (0, 3));
        assert!(parse_new_episodes("<html><body>nothing</body></html>").is_err());
    }

    #[test]
    fn season_hrefs() {
        assert_eq!(season_of_href("/anime/stream/x/staffel-2"), Some(2));
        assert_eq!(season_of_href("/anime/stream/x/filme"), Some(0));
        assert_eq!(season_of_href("/anime/stream/x"), None);
    }

    #[test]
    fn form_search_keeps_only_series_links() {
        let body = r#"[{"title":"<em>Naruto</em> &amp; Co","description":"d","link":"/anime/stream/naruto"},
            {"title":"Naruto S1","description":"","link":"/anime/stream/naruto/staffel-1"},
            {"title":"News","description":"","link":"/news/1"}]"#;
        let hits = parse_form_search(body).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].key, "naruto");
        assert_eq!(hits[0].name, "Naruto & Co");
    }

    #[test]
    fn series_search_tolerates_control_characters() {
        let body = "[{\"name\":\"A\u{0001}B &#039;x&#039;\",\"link\":\"a-b\",\"description\":\"\",\"cover\":\"/c.jpg\",\"productionYear\":\"(2020 - 2024)\"}]";
        let hits = parse_series_search(body).unwrap();
        assert_eq!(hits[0].name, "A B 'x'");
        assert_eq!(hits[0].year, Some(2020));
    }

    #[test]
    fn garbage_is_a_parse_error() {
        assert!(matches!(
            parse_series_page("<html></html>"),
            Err(Error::Parse { .. })
        ));
        assert!(matches!(parse_season_page("", 1), Err(Error::Parse { .. })));
        assert!(matches!(
            parse_episode_page("<p>hi"),
            Err(Error::Parse { .. })
        ));
        assert!(matches!(parse_series_search("{"), Err(Error::Parse { .. })));
    }
}
