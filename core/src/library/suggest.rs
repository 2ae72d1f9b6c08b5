//! Suggestions for unmatched folders: a provider search of each folder's cleaned name, asked only
//! for the folders someone looks at (a page at a time), a few at once, remembered, and shared by
//! everyone who asks about the same folder meanwhile. A library of 2,000 unmatched folders and a
//! blocked site therefore costs one search per folder shown, each failing fast once the site is
//! known to be down, and a failed search is asked again only after [`RETRY_FAILED_AFTER`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use super::Library;
use super::index::UnmatchedFolder;
use crate::events::Event;
use crate::model::SearchResult;

/// Searches running at once for suggestions (each site's own rate limit applies on top).
pub(super) const SEARCHES_AT_ONCE: usize = 4;
/// Suggestions kept per folder.
const MAX_SUGGESTIONS: usize = 8;
/// A failed search is asked again after this long.
const RETRY_FAILED_AFTER: Duration = Duration::from_secs(60);

/// What is known of one folder's suggestions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuggestionState {
    /// The search answered (the hits may be empty).
    Ready,
    /// A search is on its way; a `suggestions_ready` event follows.
    Pending,
    /// Every provider failed (see the reason).
    Failed,
}

/// An unmatched folder with its suggestions.
#[derive(Debug, Clone)]
pub struct FolderSuggestions {
    pub folder: UnmatchedFolder,
    /// The text searched for (the folder name without year, tags and release noise).
    pub query: String,
    /// The year the folder name gives, if any.
    pub year: Option<i32>,
    pub state: SuggestionState,
    /// Best first: names equal to the query (and of the same year) lead.
    pub hits: Vec<SearchResult>,
    /// Whether the first hit is the one: its name equals the query (same year when both are
    /// known) and no other hit has that name.
    pub confident: bool,
    /// Why there are no suggestions: (error code, message), when the search failed.
    pub failure: Option<(String, String)>,
}

#[derive(Clone)]
enum Outcome {
    Hits(Vec<SearchResult>),
    Failed(String, String),
}

#[derive(Clone)]
struct Remembered {
    at: Instant,
    outcome: Outcome,
}

/// The remembered searches and those running, by folder name.
#[derive(Default)]
pub(super) struct SuggestionCache {
    done: HashMap<String, Remembered>,
    asking: HashMap<String, Shared<BoxFuture<'static, ()>>>,
}

impl SuggestionCache {
    /// Forgets a folder (matched, or gone from the library).
    pub(super) fn forget(&mut self, folder: &str) {
        self.done.remove(folder);
    }

    /// Keeps only the folders still unmatched.
    pub(super) fn retain(&mut self, unmatched: &[UnmatchedFolder]) {
        let keep: std::collections::HashSet<&str> =
            unmatched.iter().map(|u| u.folder.as_str()).collect();
        self.done.retain(|f, _| keep.contains(f.as_str()));
    }
}

impl Library {
    /// A page of the unmatched folders (in folder-name order) whose name contains `text`
    /// (case-insensitive); returns the page and the total matching.
    pub fn unmatched_page(
        &self,
        text: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> (Vec<UnmatchedFolder>, usize) {
        let all = self.unmatched();
        let needle = text.map(str::to_lowercase).filter(|t| !t.trim().is_empty());
        let hits: Vec<&UnmatchedFolder> = all
            .iter()
            .filter(|u| {
                needle
                    .as_deref()
                    .is_none_or(|n| u.folder.to_lowercase().contains(n.trim()))
            })
            .collect();
        let total = hits.len();
        let page = hits.into_iter().skip(offset).take(limit).cloned().collect();
        (page, total)
    }

    /// Suggestions for `folders`: remembered ones at once; the others are searched now (a few
    /// at a time), waiting at most `wait` for them. Those still running come back `Pending`,
    /// and a `suggestions_ready` event announces each one when its search has answered.
    pub async fn suggestions(
        &self,
        folders: &[UnmatchedFolder],
        wait: Duration,
    ) -> Vec<FolderSuggestions> {
        let mut waiting = Vec::new();
        {
            let mut cache = self.inner.suggestions.lock().expect("suggestions lock");
            for f in folders {
                if let Some(r) = cache.done.get(&f.folder)
                    && is_current(r, self.catalogue().ttl_secs())
                {
                    continue;
                }
                let asking = match cache.asking.get(&f.folder) {
                    Some(a) => a.clone(),
                    None => {
                        let a = self.start_search(f.folder.clone());
                        cache.asking.insert(f.folder.clone(), a.clone());
                        a
                    }
                };
                waiting.push(asking);
            }
        }
        if !waiting.is_empty() {
            let _ = tokio::time::timeout(wait, futures::future::join_all(waiting)).await;
        }
        let cache = self.inner.suggestions.lock().expect("suggestions lock");
        folders
            .iter()
            .map(|f| {
                let (query, year) = search_text_of_folder(&f.folder);
                let outcome = cache.done.get(&f.folder).map(|r| r.outcome.clone());
                let mut s = FolderSuggestions {
                    folder: f.clone(),
                    query,
                    year,
                    state: SuggestionState::Pending,
                    hits: Vec::new(),
                    confident: false,
                    failure: None,
                };
                match outcome {
                    Some(Outcome::Hits(hits)) => {
                        s.confident = is_confident(&s.query, year, &hits);
                        s.hits = hits;
                        s.state = SuggestionState::Ready;
                    }
                    Some(Outcome::Failed(code, message)) => {
                        s.failure = Some((code, message));
                        s.state = SuggestionState::Failed;
                    }
                    None => {}
                }
                s
            })
            .collect()
    }

    /// Searches for one folder in the background; the returned future ends when it is done.
    fn start_search(&self, folder: String) -> Shared<BoxFuture<'static, ()>> {
        let library = self.clone();
        let task = tokio::spawn(async move {
            let slots = library.inner.suggestion_slots.clone();
            let _slot = slots.acquire().await;
            let (query, year) = search_text_of_folder(&folder);
            let outcome =
                match crate::search::search(library.catalogue().registry(), &query, None).await {
                    Ok(found) => Outcome::Hits(rank(&query, year, found.hits)),
                    Err(e) => Outcome::Failed(e.code().to_owned(), e.to_string()),
                };
            {
                let mut cache = library.inner.suggestions.lock().expect("suggestions lock");
                cache.asking.remove(&folder);
                // A folder matched meanwhile is no longer unmatched: nothing to remember.
                if library.unmatched().iter().any(|u| u.folder == folder) {
                    cache.done.insert(
                        folder.clone(),
                        Remembered {
                            at: Instant::now(),
                            outcome,
                        },
                    );
                }
            }
            library.events().emit(Event::SuggestionsReady { folder });
        });
        async move {
            let _ = task.await;
        }
        .boxed()
        .shared()
    }
}

fn is_current(r: &Remembered, ttl_secs: u64) -> bool {
    let limit = match r.outcome {
        Outcome::Hits(_) => Duration::from_secs(ttl_secs),
        Outcome::Failed(..) => RETRY_FAILED_AFTER,
    };
    r.at.elapsed() < limit
}

/// Best first: names equal to the query, of the same year first, then the providers' order.
fn rank(query: &str, year: Option<i32>, mut hits: Vec<SearchResult>) -> Vec<SearchResult> {
    let wanted = normalized(query);
    let score = |h: &SearchResult| {
        let same_name = normalized(&h.name) == wanted;
        let same_year = year.is_some() && h.year == year;
        match (same_name, same_year) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => 2,
            (false, false) => 3,
        }
    };
    // A stable sort keeps each provider's own order within a score.
    hits.sort_by_key(score);
    hits.truncate(MAX_SUGGESTIONS);
    hits
}

fn is_confident(query: &str, year: Option<i32>, hits: &[SearchResult]) -> bool {
    let wanted = normalized(query);
    let Some(first) = hits.first() else {
        return false;
    };
    let same_name = |h: &SearchResult| normalized(&h.name) == wanted;
    let year_fits = match (year, first.year) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    same_name(first) && year_fits && hits.iter().filter(|h| same_name(h)).count() == 1
}

/// Lowercase letters and digits only, umlauts folded (`Mädchen-Show!` → `maedchenshow`).
fn normalized(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            c if c.is_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out
}

/// Release and quality words that say nothing about which series a folder holds.
const NOISE: [&str; 24] = [
    "480p", "576p", "720p", "1080p", "2160p", "4k", "uhd", "x264", "x265", "h264", "h265", "hevc",
    "bluray", "bdrip", "webrip", "web-dl", "webdl", "dvdrip", "german", "dubbed", "subbed",
    "complete", "dual", "multi",
];

/// The text to search for a folder, and the year its name gives: `Attack on Titan (2013)` →
/// (`Attack on Titan`, 2013); `Dark.2017.German.1080p.WEB-DL` → (`Dark`, 2017). Bracketed tags
/// and release words are dropped; never longer than a search accepts.
pub fn search_text_of_folder(folder: &str) -> (String, Option<i32>) {
    let mut text = String::with_capacity(folder.len());
    let mut depth = 0usize;
    for c in folder.chars() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth = depth.saturating_sub(1),
            c if depth == 0 => text.push(c),
            _ => {}
        }
    }
    // Scene-style names (`Dark.2017.German`) separate words with dots; there a bare year is
    // the release year, elsewhere it may be part of the title (`Blade Runner 2049`).
    let scene_style = !text.contains(' ');
    if scene_style {
        text = text.replace(['.', '_'], " ");
    }
    let mut year = None;
    let mut words: Vec<String> = Vec::new();
    for raw in text.split_whitespace() {
        let bare = raw.trim_matches(|c: char| matches!(c, '(' | ')' | ',' | '-' | '.'));
        if let Some(y) = as_year(bare)
            && (raw.starts_with('(') || (scene_style && !words.is_empty()))
        {
            year = year.or(Some(y));
            continue;
        }
        let lower = bare.to_lowercase();
        if NOISE.contains(&lower.as_str()) || is_season_tag(&lower) {
            continue;
        }
        words.push(raw.to_owned());
    }
    let mut query = words.join(" ");
    query = query
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')'))
        .to_owned();
    if query.is_empty() {
        query = folder.trim().to_owned();
    }
    let query: String = query.chars().take(crate::search::MAX_QUERY_CHARS).collect();
    (query, year)
}

fn as_year(word: &str) -> Option<i32> {
    if word.len() != 4 || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok().filter(|y| (1900..=2100).contains(y))
}

/// `s01`, `s1`, `season`, `staffel`, `s01e01`.
fn is_season_tag(word: &str) -> bool {
    if matches!(word, "season" | "staffel") {
        return true;
    }
    let Some(rest) = word.strip_prefix('s') else {
        return false;
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    !digits.is_empty()
        && (rest.len() == digits.len()
            || rest[digits.len()..]
                .strip_prefix('e')
                .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeriesKey;

    fn hit(name: &str, year: Option<i32>) -> SearchResult {
        SearchResult {
            key: SeriesKey::suggest(name).unwrap(),
            site: "aniworld".into(),
            name: name.into(),
            year,
            description: None,
            cover: None,
            link: String::new(),
        }
    }

    #[test]
    fn folder_names_become_search_text_and_year() {
        let cases = [
            ("Attack on Titan (2013)", "Attack on Titan", Some(2013)),
            ("Dark.2017.German.1080p.WEB-DL", "Dark", Some(2017)),
            (
                "[SubGroup] One Punch Man S01 [1080p]",
                "One Punch Man",
                None,
            ),
            ("Blade Runner 2049", "Blade Runner 2049", None),
            ("1917", "1917", None),
            (
                "Kaguya-sama - Love is War",
                "Kaguya-sama - Love is War",
                None,
            ),
            ("[only tags]", "[only tags]", None),
        ];
        for (folder, text, year) in cases {
            assert_eq!(
                search_text_of_folder(folder),
                (text.to_owned(), year),
                "{folder}"
            );
        }
        let long = "x".repeat(500);
        assert_eq!(
            search_text_of_folder(&long).0.chars().count(),
            crate::search::MAX_QUERY_CHARS
        );
    }

    #[test]
    fn the_same_name_and_year_rank_first_and_only_a_unique_one_is_confident() {
        let hits = vec![
            hit("Attack on Titan: Junior High", Some(2015)),
            hit("Attack on Titan", Some(2013)),
        ];
        let ranked = rank("Attack on Titan", Some(2013), hits);
        assert_eq!(ranked[0].name, "Attack on Titan");
        assert!(is_confident("Attack on Titan", Some(2013), &ranked));
        // Another year: not the one.
        assert!(!is_confident("Attack on Titan", Some(2020), &ranked));
        // Two series of that name: ask the user.
        let twice = vec![hit("Dark", Some(2017)), hit("Dark", Some(2017))];
        assert!(!is_confident("Dark", Some(2017), &twice));
        assert!(!is_confident("Dark", None, &[]));
        assert!(!is_confident("Dark", None, &[hit("Dark Matter", None)]));
    }
}
