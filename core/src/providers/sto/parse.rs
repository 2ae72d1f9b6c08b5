//! s.to markup (the layout since January 2026) → data. Pure functions, benchmarked and fuzzed.

use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};

use crate::error::{Error, Result};
use crate::model::{Episode, Language};
use crate::providers::search;
pub use crate::providers::search::SearchHit;
use crate::providers::text::{element_text, non_empty, years};

fn sel(css: &str) -> Selector {
    Selector::parse(css).expect("constant selector is valid")
}

static TITLE: LazyLock<Selector> = LazyLock::new(|| sel("h1"));
static DESCRIPTION: LazyLock<Selector> = LazyLock::new(|| sel("span.description-text"));
static FACTS: LazyLock<Selector> = LazyLock::new(|| sel("li.series-group"));
static FACT_LINKS: LazyLock<Selector> = LazyLock::new(|| sel("a"));
static COVER: LazyLock<Selector> = LazyLock::new(|| sel("img.series-cover, .series-cover img"));
static SEASON_PILLS: LazyLock<Selector> =
    LazyLock::new(|| sel("nav#season-nav a[data-season-pill]"));
static SEASON_NAV: LazyLock<Selector> = LazyLock::new(|| sel("nav#season-nav"));
static EPISODE_TABLE: LazyLock<Selector> = LazyLock::new(|| sel("table.episode-table"));
static EPISODE_ROW: LazyLock<Selector> = LazyLock::new(|| sel("tr.episode-row"));
static ROW_LINK: LazyLock<Selector> = LazyLock::new(|| sel("a[href]"));
static ROW_CELL: LazyLock<Selector> = LazyLock::new(|| sel("td, th"));
static TITLE_GER: LazyLock<Selector> = LazyLock::new(|| sel("strong.episode-title-ger"));
static TITLE_ENG: LazyLock<Selector> = LazyLock::new(|| sel("span.episode-title-eng"));
static ROW_FLAGS: LazyLock<Selector> = LazyLock::new(|| sel("img[title], img[alt]"));
static HEADINGS: LazyLock<Selector> = LazyLock::new(|| sel("h2"));
static PLAY_BUTTONS: LazyLock<Selector> = LazyLock::new(|| sel("[data-play-url]"));

/// What the series page says (episodes come from the season pages).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeriesPage {
    pub name: String,
    pub description: Option<String>,
    pub year: Option<i32>,
    pub end_year: Option<i32>,
    pub genres: Vec<String>,
    pub cover: Option<String>,
    /// Season numbers in page order; 0 = movies.
    pub seasons: Vec<u32>,
}

/// One hoster button of an episode page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HosterButton {
    pub language: Language,
    pub hoster: String,
    /// `/r?t=<token>`.
    pub play_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EpisodePage {
    pub season: Option<u32>,
    pub episode: Option<u32>,
    pub title_de: Option<String>,
    pub title_en: Option<String>,
    pub languages: Vec<Language>,
    pub buttons: Vec<HosterButton>,
}

/// `Deutsch` → German Dub, `Englisch` → English Dub, subtitle labels → German/English Sub.
pub fn language_of_label(label: &str) -> Option<Language> {
    let l = label.trim().to_lowercase();
    if l.contains("untertitel") || l.contains("sub") {
        if l.contains("deutsch") || l.contains("german") {
            return Some(Language::GermanSub);
        }
        return Some(Language::EnglishSub);
    }
    if l.starts_with("deutsch") || l.starts_with("german") {
        return Some(Language::GermanDub);
    }
    if l.starts_with("englisch") || l.starts_with("english") {
        return Some(Language::EnglishDub);
    }
    None
}

/// The series page (`/serie/{key}`).
pub fn parse_series_page(html: &str) -> Result<SeriesPage> {
    let doc = Html::parse_document(html);
    let name = doc
        .select(&TITLE)
        .next()
        .map(element_text)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::parse("series title (h1)"))?;
    let description = doc
        .select(&DESCRIPTION)
        .next()
        .map(element_text)
        .and_then(non_empty);
    let mut year = None;
    let mut end_year = None;
    let mut genres = Vec::new();
    for fact in doc.select(&FACTS) {
        let text = element_text(fact);
        let lower = text.to_lowercase();
        if lower.contains("genre") {
            genres.extend(
                fact.select(&FACT_LINKS)
                    .map(element_text)
                    .filter(|g| !g.is_empty()),
            );
        } else if lower.contains("jahr") && year.is_none() {
            let mut found = years(&text);
            year = found.next();
            end_year = found.next();
        }
    }
    let cover = doc.select(&COVER).next().and_then(|img| {
        img.value()
            .attr("data-src")
            .or_else(|| img.value().attr("src"))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    });
    if doc.select(&SEASON_NAV).next().is_none() {
        return Err(Error::parse("season list (nav#season-nav)"));
    }
    let mut seasons = Vec::new();
    for pill in doc.select(&SEASON_PILLS) {
        match pill
            .value()
            .attr("data-season-pill")
            .and_then(|n| n.trim().parse::<u32>().ok())
        {
            Some(n) if !seasons.contains(&n) => seasons.push(n),
            _ => {}
        }
    }
    Ok(SeriesPage {
        name,
        description,
        year,
        end_year,
        genres,
        cover,
        seasons,
    })
}

/// A season page (`/serie/{key}/staffel-{N}`): released episodes only (rows marked `upcoming` are not).
pub fn parse_season_page(html: &str, season: u32) -> Result<Vec<Episode>> {
    let doc = Html::parse_document(html);
    let table = doc.select(&EPISODE_TABLE).next().ok_or_else(|| {
        Error::parse(format!(
            "episode list of season {season} (table.episode-table)"
        ))
    })?;
    let mut episodes: Vec<Episode> = Vec::new();
    for row in table.select(&EPISODE_ROW) {
        if row.value().classes().any(|c| c == "upcoming") {
            continue;
        }
        let href = row
            .select(&ROW_LINK)
            .filter_map(|a| a.value().attr("href"))
            .find(|h| episode_of_href(h).is_some());
        let Some(number) = href
            .and_then(episode_of_href)
            .or_else(|| first_cell_number(row))
        else {
            continue;
        };
        if episodes.iter().any(|e| e.number == number) {
            continue;
        }
        let mut languages: Vec<Language> = row
            .select(&ROW_FLAGS)
            .filter_map(|img| {
                img.value()
                    .attr("title")
                    .or_else(|| img.value().attr("alt"))
            })
            .filter_map(language_of_label)
            .collect();
        languages.sort();
        languages.dedup();
        episodes.push(Episode {
            number,
            title_de: row
                .select(&TITLE_GER)
                .next()
                .map(element_text)
                .and_then(non_empty),
            title_en: row
                .select(&TITLE_ENG)
                .next()
                .map(element_text)
                .and_then(non_empty),
            languages,
            url: href.map(|h| h.trim().to_owned()),
        });
    }
    Ok(episodes)
}

fn episode_of_href(href: &str) -> Option<u32> {
    let path = href.split(['?', '#']).next()?.trim_end_matches('/');
    path.rsplit('/')
        .next()?
        .strip_prefix("episode-")?
        .parse()
        .ok()
}

fn first_cell_number(row: ElementRef<'_>) -> Option<u32> {
    let text = element_text(row.select(&ROW_CELL).next()?);
    text.trim_start_matches(|c: char| !c.is_ascii_digit())
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// `S01E02: German title (English title)` → (1, 2, German, English).
fn parse_heading(text: &str) -> Option<(u32, u32, Option<String>, Option<String>)> {
    let rest = text.trim().strip_prefix(['S', 's'])?;
    let (season, rest) = rest.split_once(['E', 'e'])?;
    let season = season.trim().parse().ok()?;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let episode = rest[..digits_end].parse().ok()?;
    let titles = rest[digits_end..].trim_start_matches([':', ' ']).trim();
    let (de, en) = match titles
        .strip_suffix(')')
        .and_then(|t| t.rfind(" (").map(|i| (t, i)))
    {
        Some((t, i)) => (t[..i].trim(), Some(t[i + 2..].trim())),
        None => (titles, None),
    };
    Some((
        season,
        episode,
        non_empty(de.to_owned()),
        en.and_then(|e| non_empty(e.to_owned())),
    ))
}

/// An episode page (`/serie/{key}/staffel-{N}/episode-{M}`): heading and every hoster button.
pub fn parse_episode_page(html: &str) -> Result<EpisodePage> {
    let doc = Html::parse_document(html);
    let heading = doc
        .select(&HEADINGS)
        .map(element_text)
        .find_map(|t| parse_heading(&t));
    let mut buttons = Vec::new();
    for b in doc.select(&PLAY_BUTTONS) {
        let v = b.value();
        let play_url = v.attr("data-play-url").unwrap_or_default().trim();
        let hoster = v.attr("data-provider-name").unwrap_or_default().trim();
        let language = v.attr("data-language-label").and_then(language_of_label);
        match language {
            Some(language) if !play_url.is_empty() && !hoster.is_empty() => {
                buttons.push(HosterButton {
                    language,
                    hoster: hoster.to_owned(),
                    play_url: play_url.to_owned(),
                })
            }
            _ => tracing::debug!("skipping an incomplete hoster button"),
        }
    }
    let Some((season, episode, title_de, title_en)) = heading else {
        return Err(Error::parse(
            "episode heading (h2 \"S01E01: German title (English title)\")",
        ));
    };
    let mut languages: Vec<Language> = Vec::new();
    for b in &buttons {
        if !languages.contains(&b.language) {
            languages.push(b.language);
        }
    }
    Ok(EpisodePage {
        season: Some(season),
        episode: Some(episode),
        title_de,
        title_en,
        languages,
        buttons,
    })
}

/// `GET /ajax/seriesSearch?keyword=` (same JSON as aniworld.to, links `/serie/{key}` or bare keys).
pub fn parse_series_search(body: &str) -> Result<Vec<SearchHit>> {
    search::parse_series_search(body, SERIES_PREFIX)
}

/// `POST /ajax/search` → `[{title, description, link}]`; only series links are kept.
pub fn parse_form_search(body: &str) -> Result<Vec<SearchHit>> {
    search::parse_form_search(body, SERIES_PREFIX)
}

/// `GET /api/search/suggest?term=` → `{"shows": [{"name", "url"}]}` (the search of the 2026 layout).
pub fn parse_suggest(body: &str) -> Result<Vec<SearchHit>> {
    search::parse_suggest(body, SERIES_PREFIX)
}

const SERIES_PREFIX: &str = "/serie/";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggest_answer_keeps_series_links_and_strips_highlighting() {
        let body = r#"{"shows": [
            {"name": "<em>Bre</em>aking Bad", "url": "/serie/breaking-bad"},
            {"name": "Breaking Bad", "url": "/serie/breaking-bad"},
            {"name": "Staffel", "url": "/serie/breaking-bad/staffel-1"},
            {"name": "No link"}
        ], "people": [{"name": "x"}]}"#;
        let hits = parse_suggest(body).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].key, "breaking-bad");
        assert_eq!(hits[0].name, "Breaking Bad");
        assert!(parse_suggest(r#"{"shows": []}"#).unwrap().is_empty());
        assert!(matches!(
            parse_suggest("<html>Wartung</html>"),
            Err(Error::Parse { .. })
        ));
        assert!(matches!(parse_suggest("[]"), Err(Error::Parse { .. })));
    }

    #[test]
    fn headings() {
        assert_eq!(
            parse_heading("S01E02: Die Katze (The Cat)"),
            Some((1, 2, Some("Die Katze".into()), Some("The Cat".into())))
        );
        assert_eq!(
            parse_heading("S00E01: El Camino"),
            Some((0, 1, Some("El Camino".into()), None))
        );
        assert_eq!(parse_heading("Staffel 1"), None);
        assert_eq!(parse_heading("S"), None);
    }

    #[test]
    fn language_labels() {
        assert_eq!(language_of_label("Deutsch"), Some(Language::GermanDub));
        assert_eq!(language_of_label("Englisch"), Some(Language::EnglishDub));
        assert_eq!(
            language_of_label("Englisch mit deutschen Untertiteln"),
            Some(Language::GermanSub)
        );
        assert_eq!(language_of_label("Klingonisch"), None);
    }
}
