//! Domain types. Values that come from outside are parsed into types that cannot be built invalid.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

pub mod follow;
pub mod queue;

/// The provider-assigned, URL-safe series id: `[A-Za-z0-9][A-Za-z0-9-]{0,127}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SeriesKey(String);

impl SeriesKey {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let bytes = raw.as_bytes();
        let valid = !bytes.is_empty()
            && bytes.len() <= 128
            && bytes[0].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-');
        if valid {
            Ok(SeriesKey(raw.to_owned()))
        } else {
            Err(Error::invalid(
                "key",
                format!(
                    "{:?} is not a series key (letters, digits and '-', starting with a letter or digit, at most 128)",
                    truncate_for_message(raw)
                ),
            ))
        }
    }

    /// Derives a key from a free-form name (folder name, title): `Attack on Titan (2013)` → `attack-on-titan-2013`.
    pub fn suggest(name: &str) -> Option<Self> {
        let mut out = String::with_capacity(name.len());
        let mut last_dash = true;
        for ch in name.chars() {
            let mapped: Option<&str> = match ch {
                'ä' | 'Ä' => Some("ae"),
                'ö' | 'Ö' => Some("oe"),
                'ü' | 'Ü' => Some("ue"),
                'ß' => Some("ss"),
                _ => None,
            };
            if let Some(m) = mapped {
                out.push_str(m);
                last_dash = false;
            } else if ch.is_ascii_alphanumeric() {
                out.push(ch.to_ascii_lowercase());
                last_dash = false;
            } else if !last_dash {
                out.push('-');
                last_dash = true;
            }
            if out.len() >= 128 {
                break;
            }
        }
        let trimmed = out.trim_matches('-');
        let trimmed = &trimmed[..trimmed.len().min(128)];
        SeriesKey::parse(trimmed.trim_end_matches('-')).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn truncate_for_message(raw: &str) -> String {
    raw.chars().take(64).collect()
}

impl TryFrom<String> for SeriesKey {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        SeriesKey::parse(&value)
    }
}

impl From<SeriesKey> for String {
    fn from(k: SeriesKey) -> String {
        k.0
    }
}

impl FromStr for SeriesKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        SeriesKey::parse(s)
    }
}

impl fmt::Display for SeriesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SeriesKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Audio/subtitle combination an episode is offered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Language {
    #[serde(rename = "German Dub")]
    GermanDub,
    #[serde(rename = "German Sub")]
    GermanSub,
    #[serde(rename = "English Sub")]
    EnglishSub,
    #[serde(rename = "English Dub")]
    EnglishDub,
}

impl Language {
    pub const ALL: [Language; 4] = [
        Language::GermanDub,
        Language::GermanSub,
        Language::EnglishSub,
        Language::EnglishDub,
    ];

    /// The display name, also used in file names and config (`German Dub`).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::GermanDub => "German Dub",
            Language::GermanSub => "German Sub",
            Language::EnglishSub => "English Sub",
            Language::EnglishDub => "English Dub",
        }
    }

    /// aniworld.to `data-lang-key`: 1 = German Dub, 2 = English Sub, 3 = German Sub, 4 = English Dub.
    pub fn from_aniworld_key(key: u32) -> Option<Language> {
        match key {
            1 => Some(Language::GermanDub),
            2 => Some(Language::EnglishSub),
            3 => Some(Language::GermanSub),
            4 => Some(Language::EnglishDub),
            _ => None,
        }
    }

    pub fn aniworld_key(self) -> u32 {
        match self {
            Language::GermanDub => 1,
            Language::EnglishSub => 2,
            Language::GermanSub => 3,
            Language::EnglishDub => 4,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Language {
    type Err = Error;
    /// Accepts the display name in any case and with `-`/`_`/space (`german-dub`), and short forms (`de`, `de-sub`, `en-sub`, `en`).
    fn from_str(s: &str) -> Result<Self, Error> {
        let norm: String = s
            .trim()
            .chars()
            .map(|c| {
                if c == '-' || c == '_' {
                    ' '
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let lang = match norm.as_str() {
            "german dub" | "de" | "ger" | "german" | "deutsch" | "1" => Language::GermanDub,
            "german sub" | "de sub" | "gersub" | "3" => Language::GermanSub,
            "english sub" | "en sub" | "engsub" | "2" => Language::EnglishSub,
            "english dub" | "en" | "eng" | "english" | "englisch" | "4" => Language::EnglishDub,
            _ => {
                return Err(Error::invalid(
                    "language",
                    format!(
                        "{:?} is not a language (German Dub, German Sub, English Sub, English Dub)",
                        truncate_for_message(s)
                    ),
                ));
            }
        };
        Ok(lang)
    }
}

/// One episode of one series. Season 0 holds movies and specials.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EpisodeRef {
    pub key: SeriesKey,
    pub season: u32,
    pub episode: u32,
}

/// One episode as a provider describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Episode {
    pub number: u32,
    pub title_de: Option<String>,
    pub title_en: Option<String>,
    /// Languages offered; empty when the listing did not say (the episode page is authoritative).
    pub languages: Vec<Language>,
    /// The provider's page for this episode, when known.
    pub url: Option<String>,
}

impl Episode {
    /// The best title for a file name: German first, then English.
    pub fn title(&self) -> Option<&str> {
        self.title_de
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .or(self.title_en.as_deref().filter(|t| !t.trim().is_empty()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Season {
    /// 0 = movies/specials.
    pub number: u32,
    pub episodes: Vec<Episode>,
}

/// What a provider knows about a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesInfo {
    pub key: SeriesKey,
    pub site: String,
    pub name: String,
    pub year: Option<i32>,
    pub end_year: Option<i32>,
    pub description: Option<String>,
    pub cover: Option<String>,
    pub genres: Vec<String>,
    pub alternative_titles: Vec<String>,
    pub seasons: Vec<Season>,
    /// The series page URL.
    pub url: String,
}

impl SeriesInfo {
    /// Every (season, episode) the provider lists.
    pub fn episode_numbers(&self) -> BTreeSet<(u32, u32)> {
        self.seasons
            .iter()
            .flat_map(|s| s.episodes.iter().map(move |e| (s.number, e.number)))
            .collect()
    }

    pub fn episode(&self, season: u32, episode: u32) -> Option<&Episode> {
        self.seasons
            .iter()
            .find(|s| s.number == season)?
            .episodes
            .iter()
            .find(|e| e.number == episode)
    }
}

/// A set of (season, episode) pairs: what a folder holds or what a provider lists.
pub type EpisodeSet = BTreeSet<(u32, u32)>;

/// The compact text of an episode set, one value per series in the database:
/// `0:1;1:1-12,14;2:1-3` (seasons in order, runs of episodes as ranges).
pub fn encode_episodes(set: &EpisodeSet) -> String {
    let mut out = String::new();
    let mut current: Option<u32> = None;
    let mut run: Option<(u32, u32)> = None;
    let flush = |out: &mut String, run: (u32, u32)| {
        use std::fmt::Write;
        if run.0 == run.1 {
            let _ = write!(out, "{}", run.0);
        } else {
            let _ = write!(out, "{}-{}", run.0, run.1);
        }
    };
    for &(season, episode) in set {
        if current != Some(season) {
            if let Some(r) = run.take() {
                flush(&mut out, r);
            }
            if current.is_some() {
                out.push(';');
            }
            out.push_str(&season.to_string());
            out.push(':');
            current = Some(season);
        }
        match run {
            Some((start, end)) if episode == end + 1 => run = Some((start, episode)),
            Some(r) => {
                flush(&mut out, r);
                out.push(',');
                run = Some((episode, episode));
            }
            None => run = Some((episode, episode)),
        }
    }
    if let Some(r) = run {
        flush(&mut out, r);
    }
    out
}

/// Largest run of episodes one range of [`encode_episodes`] text may stand for.
const MAX_EPISODE_RUN: u32 = 100_000;

/// Reads [`encode_episodes`] text back; damaged text is an error naming what is wrong.
pub fn decode_episodes(text: &str) -> Result<EpisodeSet, Error> {
    let bad = |why: &str| {
        Error::parse(format!(
            "episode list {:?}: {why}",
            truncate_for_message(text)
        ))
    };
    let mut set = EpisodeSet::new();
    for part in text.split(';').filter(|p| !p.is_empty()) {
        let (season, runs) = part.split_once(':').ok_or_else(|| bad("no season"))?;
        let season: u32 = season.parse().map_err(|_| bad("bad season"))?;
        for run in runs.split(',').filter(|r| !r.is_empty()) {
            let (a, b) = match run.split_once('-') {
                Some((a, b)) => (a, b),
                None => (run, run),
            };
            let a: u32 = a.parse().map_err(|_| bad("bad episode"))?;
            let b: u32 = b.parse().map_err(|_| bad("bad episode"))?;
            if a > b || b - a > MAX_EPISODE_RUN {
                return Err(bad("bad range"));
            }
            set.extend((a..=b).map(|e| (season, e)));
        }
    }
    Ok(set)
}

/// Episodes the provider lists that are not on disk. Regular seasons and season 0 (movies/specials) apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MissingEpisodes {
    /// season → episode numbers, seasons ≥ 1.
    pub seasons: BTreeMap<u32, Vec<u32>>,
    /// Season 0 episode numbers (movies/specials).
    pub specials: Vec<u32>,
}

impl MissingEpisodes {
    /// Provider's episodes minus the ones on disk, per season.
    pub fn compute(available: &BTreeSet<(u32, u32)>, on_disk: &BTreeSet<(u32, u32)>) -> Self {
        let mut out = MissingEpisodes::default();
        for &(season, episode) in available.difference(on_disk) {
            if season == 0 {
                out.specials.push(episode);
            } else {
                out.seasons.entry(season).or_default().push(episode);
            }
        }
        out
    }

    pub fn regular_count(&self) -> usize {
        self.seasons.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.specials.is_empty() && self.seasons.values().all(Vec::is_empty)
    }

    /// All missing (season, episode) pairs, specials included, in order.
    pub fn pairs(&self) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self.specials.iter().map(|e| (0, *e)).collect();
        for (s, eps) in &self.seasons {
            v.extend(eps.iter().map(|e| (*s, *e)));
        }
        v
    }
}

/// A provider search hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    pub key: SeriesKey,
    pub site: String,
    pub name: String,
    pub year: Option<i32>,
    pub description: Option<String>,
    pub cover: Option<String>,
    /// Series page URL.
    pub link: String,
}

/// One hoster entry on an episode page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamLink {
    pub language: Language,
    /// Hoster name as the page gives it (`VOE`, `Filemoon`, ...).
    pub hoster: String,
    /// The provider's redirect link (resolve with `Provider::resolve_redirect`) or a direct embed URL.
    pub url: String,
}

/// An episode page: titles, languages and every hoster entry (hidden ones included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeStreams {
    pub key: SeriesKey,
    pub season: u32,
    pub episode: u32,
    pub title_de: Option<String>,
    pub title_en: Option<String>,
    pub languages: Vec<Language>,
    pub links: Vec<StreamLink>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Mp4,
    Hls,
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MediaKind::Mp4 => "mp4",
            MediaKind::Hls => "hls",
        })
    }
}

/// What a hoster extractor returns: where the media is and how to ask for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaSource {
    pub url: String,
    pub kind: MediaKind,
    /// Request headers the download must send (User-Agent, Referer, Origin, ...).
    pub headers: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_accepts_slugs_and_rejects_everything_else() {
        assert!(SeriesKey::parse("attack-on-titan").is_ok());
        assert!(SeriesKey::parse("86").is_ok());
        for bad in ["", "-x", "a/b", "../etc", "a b", "ä", &"a".repeat(129)] {
            assert!(SeriesKey::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn key_suggestion_from_folder_name() {
        assert_eq!(
            SeriesKey::suggest("Attack on Titan (2013)")
                .unwrap()
                .as_str(),
            "attack-on-titan-2013"
        );
        assert_eq!(
            SeriesKey::suggest("Mädchen & Co").unwrap().as_str(),
            "maedchen-co"
        );
        assert!(SeriesKey::suggest("...").is_none());
    }

    #[test]
    fn key_deserialisation_validates() {
        assert!(serde_json::from_str::<SeriesKey>("\"ok-key\"").is_ok());
        assert!(serde_json::from_str::<SeriesKey>("\"../x\"").is_err());
    }

    #[test]
    fn language_parsing_and_site_keys() {
        assert_eq!(
            "german-dub".parse::<Language>().unwrap(),
            Language::GermanDub
        );
        assert_eq!(
            "English Sub".parse::<Language>().unwrap(),
            Language::EnglishSub
        );
        assert!("klingon".parse::<Language>().is_err());
        for l in Language::ALL {
            assert_eq!(Language::from_aniworld_key(l.aniworld_key()), Some(l));
        }
    }

    #[test]
    fn episode_sets_round_trip_as_compact_text() {
        let set: EpisodeSet = [(0, 1), (1, 1), (1, 2), (1, 3), (1, 5), (2, 7), (2, 8)].into();
        let text = encode_episodes(&set);
        assert_eq!(text, "0:1;1:1-3,5;2:7-8");
        assert_eq!(decode_episodes(&text).unwrap(), set);
        assert_eq!(encode_episodes(&EpisodeSet::new()), "");
        assert!(decode_episodes("").unwrap().is_empty());
        for bad in ["x", "1:", "1:a", "1:5-3", "1:1-999999999", ":1"] {
            if let Ok(set) = decode_episodes(bad) {
                assert!(set.is_empty(), "{bad:?} decoded to {set:?}");
            }
        }
        assert!(decode_episodes("1:5-3").is_err());
        assert!(decode_episodes("1:1-999999999").is_err());
    }

    #[test]
    fn missing_separates_specials() {
        let avail: BTreeSet<_> = [(0, 1), (1, 1), (1, 2), (2, 1)].into();
        let disk: BTreeSet<_> = [(1, 1)].into();
        let m = MissingEpisodes::compute(&avail, &disk);
        assert_eq!(m.specials, vec![1]);
        assert_eq!(m.seasons.get(&1), Some(&vec![2]));
        assert_eq!(m.seasons.get(&2), Some(&vec![1]));
        assert_eq!(m.regular_count(), 2);
    }
}
