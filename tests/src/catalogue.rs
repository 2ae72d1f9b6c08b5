//! The fixture catalogue: series, seasons, episodes, languages and hoster entries both sites serve.
//!
//! This is data, so tests assert against it instead of repeating numbers: [`series`] lists every
//! series of both sites, [`find`] one of them, [`links`] every hoster entry (with the link id used
//! by `/redirect/{linkId}` on aniworld.to and the token used by `/r?t=` on s.to).
//!
//! What the catalogue covers on purpose:
//! - aniworld.to: `attack-on-titan` (two seasons + a movies page, season 2 episode 2 without German
//!   Dub), `kaguya-sama-love-is-war` (HTML entities in titles, English Dub = language key 4),
//!   `frieren-beyond-journeys-end` (no German Dub at all, still running), `one-punch-man` (three
//!   seasons, different language sets per season).
//! - s.to: `breaking-bad` (two seasons + a movie at `staffel-0`), `dark` (three languages),
//!   `tom-und-jerry` (entities in titles), `severance` (no German Dub, an upcoming episode).

use std::sync::LazyLock;

/// Which fixture site a series lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Site {
    Aniworld,
    Sto,
}

impl Site {
    /// The provider id (`aniworld`, `sto`), also the fixture listener's name.
    pub fn id(self) -> &'static str {
        match self {
            Site::Aniworld => "aniworld",
            Site::Sto => "sto",
        }
    }
}

/// Audio/subtitle combination (the same four as `aniworld_core::Language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lang {
    GermanDub,
    GermanSub,
    EnglishSub,
    EnglishDub,
}

impl Lang {
    /// Display name, as `aniworld_core::Language` serialises it.
    pub fn name(self) -> &'static str {
        match self {
            Lang::GermanDub => "German Dub",
            Lang::GermanSub => "German Sub",
            Lang::EnglishSub => "English Sub",
            Lang::EnglishDub => "English Dub",
        }
    }

    /// aniworld.to `data-lang-key`.
    pub fn aniworld_key(self) -> u32 {
        match self {
            Lang::GermanDub => 1,
            Lang::EnglishSub => 2,
            Lang::GermanSub => 3,
            Lang::EnglishDub => 4,
        }
    }

    /// Short code used in video ids.
    pub fn code(self) -> &'static str {
        match self {
            Lang::GermanDub => "de",
            Lang::GermanSub => "desub",
            Lang::EnglishSub => "ensub",
            Lang::EnglishDub => "en",
        }
    }

    /// aniworld.to flag image.
    pub fn flag(self) -> &'static str {
        match self {
            Lang::GermanDub => "german.svg",
            Lang::GermanSub => "japanese-german.svg",
            Lang::EnglishSub => "japanese-english.svg",
            Lang::EnglishDub => "english.svg",
        }
    }

    /// s.to `data-language-label`.
    pub fn sto_label(self) -> &'static str {
        match self {
            Lang::GermanDub => "Deutsch",
            Lang::GermanSub => "Englisch mit deutschen Untertiteln",
            Lang::EnglishSub => "Englisch mit englischen Untertiteln",
            Lang::EnglishDub => "Englisch",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    pub number: u32,
    /// Empty on aniworld.to's movies page.
    pub title_de: &'static str,
    pub title_en: &'static str,
    pub languages: Vec<Lang>,
    /// Hoster names, each offered in every language of the episode.
    pub hosters: Vec<&'static str>,
    /// s.to lists it with class `upcoming`: not released, not an episode a provider returns.
    pub upcoming: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Season {
    /// 0 = movies.
    pub number: u32,
    pub episodes: Vec<Episode>,
}

impl Season {
    /// Episodes a provider returns (upcoming ones left out).
    pub fn released(&self) -> impl Iterator<Item = &Episode> {
        self.episodes.iter().filter(|e| !e.upcoming)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub site: Site,
    pub key: &'static str,
    /// Plain text; the pages escape it.
    pub name: &'static str,
    pub alternative_titles: Vec<&'static str>,
    pub year: i32,
    /// `None` = still running.
    pub end_year: Option<i32>,
    pub description: &'static str,
    pub genres: Vec<&'static str>,
    pub seasons: Vec<Season>,
}

impl Series {
    pub fn season(&self, number: u32) -> Option<&Season> {
        self.seasons.iter().find(|s| s.number == number)
    }

    pub fn episode(&self, season: u32, episode: u32) -> Option<&Episode> {
        self.season(season)?
            .episodes
            .iter()
            .find(|e| e.number == episode)
    }

    /// Every released (season, episode), season 0 included.
    pub fn released(&self) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = self
            .seasons
            .iter()
            .flat_map(|s| s.released().map(move |e| (s.number, e.number)))
            .collect();
        out.sort();
        out
    }

    /// Every language any released episode is offered in.
    pub fn languages(&self) -> Vec<Lang> {
        let mut out: Vec<Lang> = self
            .seasons
            .iter()
            .flat_map(|s| s.released().flat_map(|e| e.languages.iter().copied()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Series page path on its site.
    pub fn path(&self) -> String {
        match self.site {
            Site::Aniworld => format!("/anime/stream/{}", self.key),
            Site::Sto => format!("/serie/{}", self.key),
        }
    }
}

/// One hoster entry of one episode in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// aniworld.to `data-link-id` (unique across the catalogue).
    pub id: u64,
    pub site: Site,
    pub key: &'static str,
    pub season: u32,
    pub episode: u32,
    pub language: Lang,
    pub hoster: &'static str,
}

impl Link {
    /// The video id the hoster fixtures serve: `{key}-s{S}e{E}-{lang}`.
    pub fn video(&self) -> String {
        format!(
            "{}-s{}e{}-{}",
            self.key,
            self.season,
            self.episode,
            self.language.code()
        )
    }

    /// s.to's opaque `/r?t=` token.
    pub fn sto_token(&self) -> String {
        format!(
            "{:x}{:08x}",
            self.id,
            (self.id.wrapping_mul(2_654_435_761)) & 0xffff_ffff
        )
    }

    /// The link as the episode page gives it.
    pub fn path(&self) -> String {
        match self.site {
            Site::Aniworld => format!("/redirect/{}", self.id),
            Site::Sto => format!("/r?t={}", self.sto_token()),
        }
    }
}

fn ep(
    number: u32,
    title_de: &'static str,
    title_en: &'static str,
    languages: &[Lang],
    hosters: &[&'static str],
) -> Episode {
    Episode {
        number,
        title_de,
        title_en,
        languages: languages.to_vec(),
        hosters: hosters.to_vec(),
        upcoming: false,
    }
}

fn upcoming(number: u32, title_de: &'static str, title_en: &'static str) -> Episode {
    Episode {
        number,
        title_de,
        title_en,
        languages: Vec::new(),
        hosters: Vec::new(),
        upcoming: true,
    }
}

use Lang::{EnglishDub as EN, EnglishSub as ENSUB, GermanDub as DE, GermanSub as DESUB};

static SERIES: LazyLock<Vec<Series>> = LazyLock::new(|| {
    let all3 = [DE, DESUB, ENSUB];
    vec![
        Series {
            site: Site::Aniworld,
            key: "attack-on-titan",
            name: "Attack on Titan",
            alternative_titles: vec!["Shingeki no Kyojin", "進撃の巨人"],
            year: 2013,
            end_year: Some(2023),
            description: "Vor über hundert Jahren wurde die Menschheit von Titanen fast ausgelöscht. Eren schwört Rache.",
            genres: vec!["Action", "Drama", "Fantasy"],
            seasons: vec![
                Season {
                    number: 0,
                    episodes: vec![
                        ep(
                            1,
                            "",
                            "Attack on Titan: Crimson Bow and Arrow",
                            &[DE, DESUB],
                            &["VOE", "Doodstream"],
                        ),
                        ep(
                            2,
                            "",
                            "Attack on Titan: Wings of Freedom",
                            &[DESUB],
                            &["VOE"],
                        ),
                    ],
                },
                Season {
                    number: 1,
                    episodes: vec![
                        ep(
                            1,
                            "An dich, in 2000 Jahren",
                            "To You, in 2000 Years",
                            &all3,
                            &["VOE", "Filemoon", "Vidoza"],
                        ),
                        ep(
                            2,
                            "An jenem Tag",
                            "That Day",
                            &all3,
                            &["VOE", "Filemoon", "Vidoza"],
                        ),
                        ep(
                            3,
                            "Ein schwaches Licht inmitten der Verzweiflung",
                            "A Dim Light Amid Despair",
                            &all3,
                            &["VOE", "Filemoon", "Vidoza"],
                        ),
                    ],
                },
                Season {
                    number: 2,
                    episodes: vec![
                        ep(1, "Beast Titan", "Beast Titan", &all3, &["VOE", "Vidmoly"]),
                        ep(
                            2,
                            "Ich bin zu Hause",
                            "I'm Home",
                            &[DESUB, ENSUB],
                            &["Vidmoly", "Streamtape"],
                        ),
                    ],
                },
            ],
        },
        Series {
            site: Site::Aniworld,
            key: "kaguya-sama-love-is-war",
            name: "Kaguya-sama: Love is War – \"Ultra Romantic\" & Friends' Edition",
            alternative_titles: vec!["Kaguya-sama wa Kokurasetai", "Love & War"],
            year: 2019,
            end_year: Some(2022),
            description: "Miyuki & Kaguya <3 wollen, dass der andere zuerst gesteht – \"Liebe ist Krieg\".",
            genres: vec!["Komödie", "Romanze"],
            seasons: vec![Season {
                number: 1,
                episodes: vec![
                    ep(
                        1,
                        "Ich will ins Kino & \"Kaguya\" will's auch",
                        "I Want to Go to a Movie & Kaguya's Date",
                        &[DE, DESUB, ENSUB, EN],
                        &["Streamtape", "Vidmoly", "LoadX"],
                    ),
                    ep(
                        2,
                        "Kaguya möchte es nicht <sagen>",
                        "Kaguya Wants to Be Stopped",
                        &[DE, EN],
                        &["LoadX", "Luluvdo"],
                    ),
                ],
            }],
        },
        Series {
            site: Site::Aniworld,
            key: "frieren-beyond-journeys-end",
            name: "Frieren: Beyond Journey's End",
            alternative_titles: vec!["Sousou no Frieren"],
            year: 2023,
            end_year: None,
            description: "Nach dem Sieg über den Dämonenkönig geht die Elfin Frieren ihren eigenen Weg.",
            genres: vec!["Abenteuer", "Fantasy"],
            seasons: vec![
                Season {
                    number: 1,
                    episodes: vec![
                        ep(
                            1,
                            "Das Ende der Reise",
                            "The Journey's End",
                            &[DESUB, ENSUB],
                            &["Filemoon", "Luluvdo", "SpeedFiles"],
                        ),
                        ep(
                            2,
                            "Es hätte auch Magie sein können",
                            "It Didn't Have to Be Magic...",
                            &[DESUB, ENSUB],
                            &["Filemoon", "Luluvdo", "SpeedFiles"],
                        ),
                        ep(
                            3,
                            "Magie zum Töten von Menschen",
                            "Killing Magic",
                            &[DESUB, ENSUB],
                            &["Filemoon", "SpeedFiles"],
                        ),
                        ep(
                            4,
                            "Das Land, in dem die Seelen ruhen",
                            "The Land Where Souls Rest",
                            &[ENSUB],
                            &["SpeedFiles"],
                        ),
                    ],
                },
                Season {
                    number: 2,
                    episodes: vec![ep(
                        1,
                        "Neue Reise",
                        "A New Journey",
                        &[DESUB],
                        &["Filemoon"],
                    )],
                },
            ],
        },
        Series {
            site: Site::Aniworld,
            key: "one-punch-man",
            name: "One Punch Man",
            alternative_titles: vec!["Wanpanman"],
            year: 2015,
            end_year: Some(2019),
            description: "Saitama besiegt jeden Gegner mit einem einzigen Schlag und langweilt sich.",
            genres: vec!["Action", "Komödie"],
            seasons: vec![
                Season {
                    number: 1,
                    episodes: vec![
                        ep(
                            1,
                            "Der stärkste Mann",
                            "The Strongest Man",
                            &[DE, DESUB],
                            &["VOE", "Doodstream", "Streamtape", "Vidoza"],
                        ),
                        ep(
                            2,
                            "Der einsame Cyborg",
                            "The Lone Cyborg",
                            &[DE, DESUB],
                            &["VOE", "Doodstream"],
                        ),
                    ],
                },
                Season {
                    number: 2,
                    episodes: vec![
                        ep(
                            1,
                            "Die Rückkehr des Helden",
                            "The Return of the Hero",
                            &[DE],
                            &["Doodstream"],
                        ),
                        ep(
                            2,
                            "Der menschliche Monster",
                            "The Human Monster",
                            &[DE, DESUB],
                            &["VOE"],
                        ),
                    ],
                },
                Season {
                    number: 3,
                    episodes: vec![ep(1, "", "Tornado of Terror", &[ENSUB], &["Filemoon"])],
                },
            ],
        },
        Series {
            site: Site::Sto,
            key: "breaking-bad",
            name: "Breaking Bad",
            alternative_titles: vec![],
            year: 2008,
            end_year: Some(2013),
            description: "Der krebskranke Chemielehrer Walter White beginnt, Methamphetamin herzustellen.",
            genres: vec!["Drama", "Krimi"],
            seasons: vec![
                Season {
                    number: 0,
                    episodes: vec![ep(
                        1,
                        "El Camino",
                        "El Camino: A Breaking Bad Movie",
                        &[DE, EN],
                        &["VOE", "Doodstream"],
                    )],
                },
                Season {
                    number: 1,
                    episodes: vec![
                        ep(1, "Der Einstieg", "Pilot", &[DE, EN], &["VOE", "Vidoza"]),
                        ep(
                            2,
                            "Die Katze ist im Sack",
                            "Cat's in the Bag...",
                            &[DE, EN],
                            &["VOE", "Vidoza"],
                        ),
                        ep(
                            3,
                            "Und der Sack ist im Fluss",
                            "...And the Bag's in the River",
                            &[DE],
                            &["VOE"],
                        ),
                    ],
                },
                Season {
                    number: 2,
                    episodes: vec![
                        ep(
                            1,
                            "Sieben Dreißig Sieben",
                            "Seven Thirty-Seven",
                            &[DE, EN],
                            &["Vidoza", "Streamtape"],
                        ),
                        ep(2, "Grilled", "Grilled", &[EN], &["Streamtape"]),
                    ],
                },
            ],
        },
        Series {
            site: Site::Sto,
            key: "dark",
            name: "Dark",
            alternative_titles: vec![],
            year: 2017,
            end_year: Some(2020),
            description: "In der Kleinstadt Winden verschwinden Kinder.",
            genres: vec!["Mystery", "Science-Fiction"],
            seasons: vec![Season {
                number: 1,
                episodes: vec![
                    ep(
                        1,
                        "Geheimnisse",
                        "Secrets",
                        &[DE, DESUB, EN],
                        &["Streamtape", "Filemoon"],
                    ),
                    ep(2, "Lügen", "Lies", &[DE, EN], &["Filemoon"]),
                ],
            }],
        },
        Series {
            site: Site::Sto,
            key: "tom-und-jerry",
            name: "Tom & Jerry's \"Große\" Show",
            alternative_titles: vec![],
            year: 1975,
            end_year: Some(1977),
            description: "Katz & Maus – <Klassiker> für \"alle\".",
            genres: vec!["Animation", "Komödie"],
            seasons: vec![Season {
                number: 1,
                episodes: vec![
                    ep(
                        1,
                        "Tom & Jerry's Abenteuer",
                        "Tom & Jerry's Adventure",
                        &[DE],
                        &["VOE"],
                    ),
                    ep(
                        2,
                        "Die \"große\" Jagd",
                        "The <Big> Chase",
                        &[DE],
                        &["VOE", "Vidmoly"],
                    ),
                ],
            }],
        },
        Series {
            site: Site::Sto,
            key: "severance",
            name: "Severance",
            alternative_titles: vec![],
            year: 2022,
            end_year: None,
            description: "Angestellte von Lumon trennen ihre Erinnerungen an Arbeit und Privatleben.",
            genres: vec!["Drama", "Thriller"],
            seasons: vec![
                Season {
                    number: 1,
                    episodes: vec![
                        ep(
                            1,
                            "Gute Nachrichten über die Hölle",
                            "Good News About Hell",
                            &[EN, DESUB],
                            &["VOE", "Vidmoly"],
                        ),
                        ep(2, "Halbschleife", "Half Loop", &[EN, DESUB], &["VOE"]),
                    ],
                },
                Season {
                    number: 2,
                    episodes: vec![
                        ep(
                            1,
                            "Hallo, Ms. Cobel",
                            "Hello, Ms. Cobel",
                            &[EN],
                            &["Vidmoly"],
                        ),
                        ep(
                            2,
                            "Auf Wiedersehen, Mrs. Selvig",
                            "Goodbye, Mrs. Selvig",
                            &[EN, DESUB],
                            &["VOE"],
                        ),
                        upcoming(3, "Wer ist lebendig?", "Who Is Alive?"),
                    ],
                },
            ],
        },
    ]
});

static LINKS: LazyLock<Vec<Link>> = LazyLock::new(|| {
    let mut out = Vec::new();
    let mut next = 10_001u64;
    for s in SERIES.iter() {
        for season in &s.seasons {
            for e in season.released() {
                for &language in &e.languages {
                    for &hoster in &e.hosters {
                        out.push(Link {
                            id: next,
                            site: s.site,
                            key: s.key,
                            season: season.number,
                            episode: e.number,
                            language,
                            hoster,
                        });
                        next += 1;
                    }
                }
            }
        }
    }
    out
});

/// Every series of both sites.
pub fn series() -> &'static [Series] {
    &SERIES
}

/// The series of one site.
pub fn series_of(site: Site) -> impl Iterator<Item = &'static Series> {
    SERIES.iter().filter(move |s| s.site == site)
}

/// One series by site and key.
pub fn find(site: Site, key: &str) -> Option<&'static Series> {
    SERIES.iter().find(|s| s.site == site && s.key == key)
}

/// Every hoster entry of every released episode.
pub fn links() -> &'static [Link] {
    &LINKS
}

/// The hoster entries of one episode, in page order (language, then hoster).
pub fn episode_links(site: Site, key: &str, season: u32, episode: u32) -> Vec<&'static Link> {
    LINKS
        .iter()
        .filter(|l| l.site == site && l.key == key && l.season == season && l.episode == episode)
        .collect()
}

/// An aniworld.to link by id.
pub fn link_by_id(id: u64) -> Option<&'static Link> {
    LINKS
        .iter()
        .find(|l| l.id == id && l.site == Site::Aniworld)
}

/// An s.to link by token.
pub fn link_by_token(token: &str) -> Option<&'static Link> {
    LINKS
        .iter()
        .find(|l| l.site == Site::Sto && l.sto_token() == token)
}
