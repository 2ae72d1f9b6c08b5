//! File-name parser: which season and episode(s) a video file holds.
//!
//! Patterns, tried in this order (case-insensitive):
//! 1. `S01E05`, `S01E005`, `s1e5`, `S01.E05`, multi-episode `S01E05E06`, `S01E05-E06` and
//!    `S01E05-06` (a hyphen means an inclusive range, capped at [`MAX_RANGE`] episodes);
//!    `S00E01` is season 0 (movies/specials).
//! 2. `1x05` (season 1–2 digits, episode 2–4 digits, not part of a longer number like `1920x1080`).
//! 3. Movies: `Film 1`, `Movie 2` → season 0.
//! 4. `Episode 5`, `Folge 5`, `Ep 5`, `E05`: the season comes from the nearest `Season NN` /
//!    `Staffel NN` folder; outside one they mean season 1.
//! 5. Anime absolute numbering: `[Group] Title - 05 [ABCD1234]`, `Title - 105`, `Title - 12v2`:
//!    the last ` - NNN` number. Absolute numbers map to season 1 (providers such as aniworld.to
//!    number long-running anime continuously in season 1), or to the season folder's number when
//!    the file sits in one. Four-digit numbers from 1900 to 2099 are taken for years, not episodes.

use std::sync::LazyLock;

use regex::Regex;

/// Video file extensions the scanner picks up (compared case-insensitively).
pub const VIDEO_EXTENSIONS: [&str; 7] = ["mp4", "mkv", "avi", "webm", "ts", "m4v", "mov"];

/// Longest episode range one file name may claim (`S01E01-E24`); longer ranges are implausible.
pub const MAX_RANGE: u32 = 50;

/// The season and episode numbers a file name holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    pub season: u32,
    /// One or more episode numbers, ascending.
    pub episodes: Vec<u32>,
}

impl ParsedName {
    fn one(season: u32, episode: u32) -> Self {
        ParsedName {
            season,
            episodes: vec![episode],
        }
    }
}

static SXXEYY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^a-z0-9])s(\d{1,3})[ ._-]?e(\d{1,4})((?:[ ._-]?-?[ ._]?e?\d{1,4})*)(?:[^a-z0-9]|$)")
        .expect("valid regex")
});
static EXTRA_EPISODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(-?)[ ._]?(e?)(\d{1,4})").expect("valid regex"));
static NXNN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^a-z0-9])(\d{1,2})x(\d{2,4})(?:[^a-z0-9]|$)").expect("valid regex")
});
static MOVIE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^a-z0-9])(?:film|movie)[ ._-]*(\d{1,3})(?:[^a-z0-9]|$)")
        .expect("valid regex")
});
static EPISODE_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^a-z0-9])(?:episode|folge|ep|e)[ ._-]*(\d{1,4})(?:[^a-z0-9]|$)")
        .expect("valid regex")
});
static ABSOLUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i) - #?(\d{1,4})(?:v\d)?(?:$|[ ._\[\(-])").expect("valid regex")
});
static SEASON_FOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:season|staffel|series|s)[ ._-]*(\d{1,3})(?:$|[^0-9])")
        .expect("valid regex")
});

/// Whether `file_name` has a video extension.
pub fn is_video(file_name: &str) -> bool {
    extension(file_name)
        .is_some_and(|ext| VIDEO_EXTENSIONS.iter().any(|v| v.eq_ignore_ascii_case(ext)))
}

fn extension(file_name: &str) -> Option<&str> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    (!stem.is_empty()).then_some(ext)
}

/// The name without its extension.
fn stem(file_name: &str) -> &str {
    match file_name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file_name,
    }
}

/// Sample clips (`Show.S01E01.sample.mkv`, `sample-show.mkv`) are not episodes.
pub fn is_sample(file_name: &str) -> bool {
    // Cheap check first: almost no name contains the word at all.
    let has_word = file_name
        .as_bytes()
        .windows(6)
        .any(|w| w.eq_ignore_ascii_case(b"sample"));
    has_word
        && stem(file_name)
            .split(|c: char| !c.is_alphanumeric())
            .any(|word| word.eq_ignore_ascii_case("sample"))
}

/// Folders that hold samples rather than episodes.
pub fn is_sample_folder(folder_name: &str) -> bool {
    folder_name.eq_ignore_ascii_case("sample") || folder_name.eq_ignore_ascii_case("samples")
}

/// The season a folder name stands for: `Season 01`, `Staffel 2`, `S3` → that number;
/// `Specials`, `Movies`, `Filme` → 0.
pub fn season_from_folder(folder_name: &str) -> Option<u32> {
    let name = folder_name.trim();
    for special in [
        "specials", "special", "movies", "movie", "filme", "films", "extras",
    ] {
        if name.eq_ignore_ascii_case(special) {
            return Some(0);
        }
    }
    let caps = SEASON_FOLDER.captures(name)?;
    caps[1].parse().ok()
}

/// Parses a video file name. `season_folder` is the season of the nearest enclosing season folder.
pub fn parse_episode(file_name: &str, season_folder: Option<u32>) -> Option<ParsedName> {
    let name = stem(file_name);
    parse_stem(name, season_folder, Hints::of(name))
}

/// Which patterns can possibly match a name: cheap necessary conditions checked in one pass over
/// ASCII names, so most names skip most regexes. The regexes still decide every match; names with
/// any non-ASCII character (Unicode digits and case folding) always go through all of them.
#[derive(Debug, Clone, Copy)]
struct Hints {
    sxxeyy: bool,
    nxnn: bool,
    movie: bool,
    episode_word: bool,
    absolute: bool,
}

impl Hints {
    const ALL: Hints = Hints {
        sxxeyy: true,
        nxnn: true,
        movie: true,
        episode_word: true,
        absolute: true,
    };

    fn of(name: &str) -> Hints {
        if !name.is_ascii() {
            return Hints::ALL;
        }
        let b = name.as_bytes();
        let mut h = Hints {
            sxxeyy: false,
            nxnn: false,
            movie: false,
            episode_word: false,
            absolute: false,
        };
        for (i, &byte) in b.iter().enumerate() {
            let c = byte.to_ascii_lowercase();
            let word_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
            let digit_after = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            let rest = &b[i..];
            let starts = |word: &[u8]| {
                rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word)
            };
            match c {
                // `s(\d` at a word start.
                b's' => h.sxxeyy |= word_start && digit_after,
                // `\dx\d`.
                b'x' => h.nxnn |= i > 0 && b[i - 1].is_ascii_digit() && digit_after,
                // `episode`, `ep` and `e` all start with `e` at a word start.
                b'e' => h.episode_word |= word_start,
                b'f' if word_start => {
                    h.movie |= starts(b"film");
                    h.episode_word |= starts(b"folge");
                }
                b'm' => h.movie |= word_start && starts(b"movie"),
                b' ' => h.absolute |= starts(b" - "),
                _ => {}
            }
        }
        h
    }
}

fn parse_stem(name: &str, season_folder: Option<u32>, hints: Hints) -> Option<ParsedName> {
    if hints.sxxeyy
        && let Some(caps) = SXXEYY.captures(name)
    {
        let season: u32 = caps[1].parse().ok()?;
        let first: u32 = caps[2].parse().ok()?;
        let episodes = multi_episode(first, caps.get(3).map_or("", |m| m.as_str()));
        return Some(ParsedName { season, episodes });
    }
    if hints.nxnn
        && let Some(caps) = NXNN.captures(name)
    {
        return Some(ParsedName::one(
            caps[1].parse().ok()?,
            caps[2].parse().ok()?,
        ));
    }
    if hints.movie
        && let Some(caps) = MOVIE.captures(name)
    {
        return Some(ParsedName::one(0, caps[1].parse().ok()?));
    }
    let season = season_folder.unwrap_or(1);
    if hints.episode_word
        && let Some(caps) = EPISODE_WORD.captures(name)
    {
        return Some(ParsedName::one(season, caps[1].parse().ok()?));
    }
    if !hints.absolute {
        return None;
    }
    let absolute = ABSOLUTE
        .captures_iter(name)
        .filter_map(|caps| {
            let digits = caps.get(1)?.as_str();
            let n: u32 = digits.parse().ok()?;
            let looks_like_year = digits.len() == 4 && (1900..=2099).contains(&n);
            (!looks_like_year).then_some(n)
        })
        .last()?;
    Some(ParsedName::one(season, absolute))
}

/// `S01E05` followed by `E06`, `-E07`, `-07`: listed episodes, and hyphen ranges expanded.
fn multi_episode(first: u32, tail: &str) -> Vec<u32> {
    let mut episodes = vec![first];
    for caps in EXTRA_EPISODE.captures_iter(tail) {
        let is_range = !caps[1].is_empty();
        let has_e = !caps[2].is_empty();
        let Ok(n) = caps[3].parse::<u32>() else {
            continue;
        };
        let last = *episodes.last().expect("starts non-empty");
        if is_range && n > last && n - last <= MAX_RANGE {
            episodes.extend(last + 1..=n);
        } else if has_e || is_range {
            episodes.push(n);
        }
        // A bare number without `E` or `-` (`S01E05 1080`) is not an episode.
    }
    episodes.sort_unstable();
    episodes.dedup();
    episodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str) -> Option<(u32, Vec<u32>)> {
        parse_episode(name, None).map(|p| (p.season, p.episodes))
    }

    fn parse_in(name: &str, season: u32) -> Option<(u32, Vec<u32>)> {
        parse_episode(name, Some(season)).map(|p| (p.season, p.episodes))
    }

    #[test]
    fn sxxeyy() {
        assert_eq!(parse("Attack on Titan S01E05.mkv"), Some((1, vec![5])));
        assert_eq!(parse("Show.S02E11.1080p.WEB.x264.mp4"), Some((2, vec![11])));
    }

    #[test]
    fn sxxeyyy_three_digit_episode() {
        assert_eq!(
            parse("One Piece - S01E005 - (German Dub).mp4"),
            Some((1, vec![5]))
        );
        assert_eq!(parse("One Piece S01E1071.mkv"), Some((1, vec![1071])));
    }

    #[test]
    fn lowercase_unpadded() {
        assert_eq!(parse("show s1e5.mkv"), Some((1, vec![5])));
    }

    #[test]
    fn nxnn() {
        assert_eq!(parse("Show 1x05.avi"), Some((1, vec![5])));
        assert_eq!(parse("Show - 12x103 - Title.mkv"), Some((12, vec![103])));
    }

    #[test]
    fn resolution_is_not_nxnn() {
        assert_eq!(parse("Show 1920x1080.mkv"), None);
    }

    #[test]
    fn multi_episode_listed() {
        assert_eq!(parse("Show S01E05E06.mkv"), Some((1, vec![5, 6])));
    }

    #[test]
    fn multi_episode_hyphen_range() {
        assert_eq!(parse("Show S01E05-E06.mkv"), Some((1, vec![5, 6])));
        assert_eq!(parse("Show S01E05-E08.mkv"), Some((1, vec![5, 6, 7, 8])));
        assert_eq!(parse("Show S01E05-06.mkv"), Some((1, vec![5, 6])));
    }

    #[test]
    fn absurd_range_keeps_only_its_ends() {
        assert_eq!(parse("Show S01E01-E9999.mkv"), Some((1, vec![1, 9999])));
    }

    #[test]
    fn trailing_quality_number_is_not_an_episode() {
        assert_eq!(parse("Show S01E05 1080p.mkv"), Some((1, vec![5])));
        assert_eq!(parse("Show.S01E05.720.mkv"), Some((1, vec![5])));
    }

    #[test]
    fn episode_words_inside_season_folder() {
        assert_eq!(parse_in("Episode 5.mp4", 2), Some((2, vec![5])));
        assert_eq!(parse_in("Folge 12 - Der Titel.mp4", 3), Some((3, vec![12])));
        assert_eq!(parse_in("E05.mkv", 4), Some((4, vec![5])));
        assert_eq!(parse_in("Show - Ep.07.mkv", 1), Some((1, vec![7])));
    }

    #[test]
    fn episode_words_outside_season_folder_mean_season_1() {
        assert_eq!(parse("Episode 5.mp4"), Some((1, vec![5])));
    }

    #[test]
    fn anime_absolute_with_group_and_crc() {
        assert_eq!(
            parse("[SubsPlease] Frieren - 05 [ABCD1234].mkv"),
            Some((1, vec![5]))
        );
        assert_eq!(
            parse("[Group] Title - 05 (1080p) [ABCD1234].mkv"),
            Some((1, vec![5]))
        );
    }

    #[test]
    fn anime_absolute_plain() {
        assert_eq!(parse("One Piece - 105.mkv"), Some((1, vec![105])));
        assert_eq!(parse("Title - 12v2.mkv"), Some((1, vec![12])));
    }

    #[test]
    fn anime_absolute_inside_season_folder_takes_its_season() {
        assert_eq!(parse_in("Title - 05.mkv", 2), Some((2, vec![5])));
    }

    #[test]
    fn year_after_dash_is_not_an_episode() {
        assert_eq!(parse("Some Show - 2013.mkv"), None);
    }

    #[test]
    fn movies_are_season_0() {
        assert_eq!(parse("Film 1.mp4"), Some((0, vec![1])));
        assert_eq!(parse("Naruto Movie 2 - The Title.mkv"), Some((0, vec![2])));
        assert_eq!(parse("Show S00E01.mkv"), Some((0, vec![1])));
    }

    #[test]
    fn unparseable_names() {
        for name in [
            "random video.mp4",
            "Show.mkv",
            "2013.mkv",
            "",
            ".mkv",
            "S.E.mkv",
        ] {
            assert_eq!(parse(name), None, "{name:?}");
        }
    }

    #[test]
    fn season_folder_names() {
        assert_eq!(season_from_folder("Season 01"), Some(1));
        assert_eq!(season_from_folder("Staffel 2"), Some(2));
        assert_eq!(season_from_folder("season.10"), Some(10));
        assert_eq!(season_from_folder("S3"), Some(3));
        assert_eq!(season_from_folder("Specials"), Some(0));
        assert_eq!(season_from_folder("Filme"), Some(0));
        assert_eq!(season_from_folder("Extras stuff"), None);
        assert_eq!(season_from_folder("Something"), None);
    }

    #[test]
    fn video_extensions() {
        for name in [
            "a.mp4", "a.MKV", "a.avi", "a.webm", "a.ts", "a.m4v", "a.mov",
        ] {
            assert!(is_video(name), "{name}");
        }
        for name in ["a.srt", "a.nfo", "a.mp4.part", "mkv", ".mkv", "a.jpg"] {
            assert!(!is_video(name), "{name}");
        }
    }

    #[test]
    fn samples() {
        assert!(is_sample("Show.S01E01.sample.mkv"));
        assert!(is_sample("sample-show.mkv"));
        assert!(!is_sample("Samples of Life S01E01.mkv"));
        assert!(is_sample_folder("Sample"));
    }

    #[test]
    fn unicode_names() {
        assert_eq!(parse("進撃の巨人 S01E03.mkv"), Some((1, vec![3])));
        assert_eq!(parse("Mädchen – Folge 4 ✨.mp4"), Some((1, vec![4])));
        assert_eq!(parse("🎬🎬🎬.mkv"), None);
    }

    #[test]
    fn very_long_names_do_not_panic() {
        let long = format!("{} S01E02 {}.mkv", "x".repeat(5000), "é".repeat(5000));
        assert_eq!(parse(&long), Some((1, vec![2])));
        let digits = format!("{}.mkv", "9".repeat(10_000));
        let _ = parse(&digits);
        let many = "S01E01".repeat(2000);
        let _ = parse(&many);
    }

    #[test]
    fn names_with_dot_dot() {
        assert_eq!(parse("..S01E07...mkv"), Some((1, vec![7])));
        assert_eq!(parse("../../etc/passwd.mkv"), None);
    }

    #[test]
    fn skipping_regexes_by_hints_never_changes_a_result() {
        let parts = [
            "Show",
            "S01E05",
            "s1e5",
            "S01.E05",
            "E06",
            "-E07",
            "-07",
            "1x05",
            "1920x1080",
            "12x103",
            "Film 1",
            "movie2",
            "Episode 5",
            "Ep.07",
            "Folge 12",
            "E05",
            "e",
            "f",
            " - ",
            "- 05",
            " - 105",
            "v2",
            "[ABCD1234]",
            "(1080p)",
            "2013",
            "x",
            "s",
            "-",
            ".",
            "_",
            " ",
            "9",
            "Series",
            "Staffel",
            "FILM",
            "MOVIE",
            "SXE",
            "e1",
            "x1",
            "1x",
        ];
        let mut checked = 0;
        for a in parts {
            for b in parts {
                for c in parts {
                    for sep in ["", " ", ".", "-"] {
                        let name = format!("{a}{sep}{b}{sep}{c}");
                        for season in [None, Some(3)] {
                            assert_eq!(
                                parse_stem(&name, season, Hints::of(&name)),
                                parse_stem(&name, season, Hints::ALL),
                                "{name:?}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 100_000);
    }

    #[test]
    fn huge_numbers_do_not_overflow() {
        assert_eq!(parse("Show S999E9999.mkv"), Some((999, vec![9999])));
    }
}
