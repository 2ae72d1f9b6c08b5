//! Episodes that "air" while a test runs, synthetic series for benchmarks, and aniworld.to's
//! new-episodes page (`/neue-episoden`) built from both.
//!
//! - [`FixtureState::air`] adds the next episode to a season of a series (of the catalogue or a
//!   synthetic one): its season page, series page and episode page show it from then on, and it
//!   heads the new-episodes page, listed today.
//! - Knob `aniworld.synthetic` = N: the site also knows `synthetic-0` … `synthetic-{N-1}`, each with
//!   two seasons of three episodes (German Sub, VOE).
//! - The new-episodes page lists what aired (newest first, today's date), then one older release
//!   of every catalogue series (dated in 2024), so it reaches back past any check a test makes.
//!   Knob `aniworld.new_episodes` = `recent-only`: only what aired (the page does not reach back);
//!   `missing`: the page answers 404.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use crate::FixtureState;
use crate::catalogue::{self, Episode, Lang, Season, Series, Site};

/// An episode that aired while the fixture ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiredEpisode {
    pub site: Site,
    pub key: String,
    pub season: u32,
    pub episode: u32,
    /// `dd.mm.yyyy`, as the site lists it.
    pub day: String,
}

/// Synthetic series keys live as long as the process (the catalogue's types hold `&'static str`).
static SYNTHETIC_KEYS: LazyLock<Mutex<HashMap<u32, &'static str>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn synthetic_key(i: u32) -> &'static str {
    let mut keys = SYNTHETIC_KEYS.lock().expect("synthetic keys lock");
    keys.entry(i)
        .or_insert_with(|| Box::leak(format!("synthetic-{i}").into_boxed_str()))
}

fn synthetic(state: &FixtureState, site: Site, key: &str) -> Option<Series> {
    if site != Site::Aniworld {
        return None;
    }
    let count: u32 = state.knob("aniworld.synthetic")?.parse().ok()?;
    let i: u32 = key.strip_prefix("synthetic-")?.parse().ok()?;
    if i >= count || key != format!("synthetic-{i}") {
        return None;
    }
    let episode = |number| Episode {
        number,
        title_de: "Folge",
        title_en: "Episode",
        languages: vec![Lang::GermanSub],
        hosters: vec!["VOE"],
        upcoming: false,
    };
    Some(Series {
        site,
        key: synthetic_key(i),
        name: "Synthetic Series",
        alternative_titles: Vec::new(),
        year: 2020,
        end_year: None,
        description: "A generated series for benchmarks.",
        genres: vec!["Action"],
        seasons: (1..=2)
            .map(|number| Season {
                number,
                episodes: (1..=3).map(episode).collect(),
            })
            .collect(),
    })
}

/// Today as `dd.mm.yyyy` (UTC).
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{d:02}.{m:02}.{y}")
}

impl FixtureState {
    /// A series as the site shows it now: the catalogue's (or a synthetic one) with what aired.
    pub fn series(&self, site: Site, key: &str) -> Option<Series> {
        let mut series = catalogue::find(site, key)
            .cloned()
            .or_else(|| synthetic(self, site, key))?;
        for aired in self
            .aired
            .lock()
            .expect("fixture lock")
            .iter()
            .filter(|a| a.site == site && a.key == key)
        {
            let template = series
                .season(aired.season)
                .and_then(|s| s.released().last())
                .or_else(|| series.seasons.iter().flat_map(|s| s.released()).last())
                .cloned();
            let episode = Episode {
                number: aired.episode,
                title_de: "Neue Folge",
                title_en: "New Episode",
                languages: template
                    .as_ref()
                    .map_or_else(|| vec![Lang::GermanSub], |t| t.languages.clone()),
                hosters: template.map_or_else(|| vec!["VOE"], |t| t.hosters),
                upcoming: false,
            };
            match series.seasons.iter_mut().find(|s| s.number == aired.season) {
                Some(season) => season.episodes.push(episode),
                None => {
                    series.seasons.push(Season {
                        number: aired.season,
                        episodes: vec![episode],
                    });
                    series.seasons.sort_by_key(|s| s.number);
                }
            }
        }
        Some(series)
    }

    /// Makes the next episode of `season` air now; `None` when the series is unknown or the
    /// season is neither one it has nor the next one. Returns (season, episode).
    pub fn air(&self, site: Site, key: &str, season: u32) -> Option<(u32, u32)> {
        let series = self.series(site, key)?;
        let next_season = series.seasons.iter().map(|s| s.number).max().unwrap_or(0) + 1;
        let episode = match series.season(season) {
            Some(s) => s.episodes.iter().map(|e| e.number).max().unwrap_or(0) + 1,
            None if season == next_season => 1,
            None => return None,
        };
        self.aired.lock().expect("fixture lock").push(AiredEpisode {
            site,
            key: series.key.to_owned(),
            season,
            episode,
            day: today(),
        });
        Some((season, episode))
    }

    /// What aired, oldest first.
    pub fn aired(&self) -> Vec<AiredEpisode> {
        self.aired.lock().expect("fixture lock").clone()
    }
}

/// The entries of aniworld.to's new-episodes page, newest first: (series, season, episode, day).
pub fn new_episode_entries(state: &FixtureState) -> Vec<(Series, u32, u32, String)> {
    let mut out = Vec::new();
    for aired in state
        .aired()
        .iter()
        .rev()
        .filter(|a| a.site == Site::Aniworld)
    {
        if let Some(series) = state.series(Site::Aniworld, &aired.key) {
            out.push((series, aired.season, aired.episode, aired.day.clone()));
        }
    }
    if state.knob("aniworld.new_episodes").as_deref() != Some("recent-only") {
        for (i, series) in catalogue::series_of(Site::Aniworld).enumerate() {
            if let Some((season, episode)) = series.released().into_iter().rfind(|(s, _)| *s > 0) {
                out.push((
                    series.clone(),
                    season,
                    episode,
                    format!("{:02}.03.2024", 20 - i.min(19)),
                ));
            }
        }
    }
    out
}
