//! [`LocalEpisodes`]: the episode files of one series folder, with their paths in one buffer.
//!
//! A library of 10,000 series holds some 300,000 episode files. With a `String` per path, a
//! rescan that found nothing changed still made (and its caller later freed) 300,000
//! allocations, which was a third of its time. Here a folder's paths share one `String` and each
//! episode is four numbers, so a folder costs two allocations however many episodes it holds; a
//! file holding two episodes stores its path once. Reading the list gives [`LocalEpisodeRef`]s,
//! which borrow their path.

use std::fmt;
use std::ops::Range;

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An episode file found on disk, owned: what a [`LocalEpisodes`] list is built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalEpisode {
    pub season: u32,
    pub episode: u32,
    /// Path relative to the library root.
    pub path: String,
}

/// An episode file found on disk, as read from a [`LocalEpisodes`] list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LocalEpisodeRef<'a> {
    pub season: u32,
    pub episode: u32,
    /// Path relative to the library root.
    pub path: &'a str,
}

impl LocalEpisodeRef<'_> {
    pub fn to_episode(&self) -> LocalEpisode {
        LocalEpisode {
            season: self.season,
            episode: self.episode,
            path: self.path.to_owned(),
        }
    }
}

/// The episode files of one series folder, in the order they were added (the scanner adds them
/// sorted by season, episode and path). Compares, prints and serialises as a list of
/// `{season, episode, path}`.
#[derive(Clone, Default)]
pub struct LocalEpisodes {
    paths: String,
    items: Vec<Item>,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    season: u32,
    episode: u32,
    /// The path is `paths[start..end]`, both on character boundaries.
    start: usize,
    end: usize,
}

impl LocalEpisodes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `episodes` entries whose paths take `path_bytes` in all.
    pub fn with_capacity(episodes: usize, path_bytes: usize) -> Self {
        LocalEpisodes {
            paths: String::with_capacity(path_bytes),
            items: Vec::with_capacity(episodes),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<LocalEpisodeRef<'_>> {
        self.items.get(index).map(|item| self.view(item))
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            list: self,
            items: self.items.iter(),
        }
    }

    /// Adds one episode file.
    pub fn push(&mut self, season: u32, episode: u32, path: &str) {
        self.push_file(season, &[episode], path);
    }

    /// Adds a file that holds `episodes` (one entry each); its path is stored once.
    pub fn push_file(&mut self, season: u32, episodes: &[u32], path: &str) {
        self.push_joined(season, episodes, &[path]);
    }

    /// [`LocalEpisodes::push_file`] for a path given as the parts to join.
    pub(crate) fn push_joined(&mut self, season: u32, episodes: &[u32], parts: &[&str]) {
        let start = self.paths.len();
        for part in parts {
            self.paths.push_str(part);
        }
        let end = self.paths.len();
        self.items.extend(episodes.iter().map(|&episode| Item {
            season,
            episode,
            start,
            end,
        }));
    }

    /// Sorts by season, episode and path.
    pub fn sort(&mut self) {
        let paths = &self.paths;
        // Paths are only compared between two files of the same episode, which is rare.
        self.items.sort_unstable_by(|a, b| {
            (a.season, a.episode)
                .cmp(&(b.season, b.episode))
                .then_with(|| paths[a.start..a.end].cmp(&paths[b.start..b.end]))
        });
    }

    fn view(&self, item: &Item) -> LocalEpisodeRef<'_> {
        LocalEpisodeRef {
            season: item.season,
            episode: item.episode,
            path: &self.paths[item.start..item.end],
        }
    }
}

/// Iterator over a [`LocalEpisodes`] list.
#[derive(Clone)]
pub struct Iter<'a> {
    list: &'a LocalEpisodes,
    items: std::slice::Iter<'a, Item>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = LocalEpisodeRef<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = self.items.next()?;
        Some(self.list.view(item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.items.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let item = self.items.next_back()?;
        Some(self.list.view(item))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a LocalEpisodes {
    type Item = LocalEpisodeRef<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<LocalEpisode> for LocalEpisodes {
    fn from_iter<I: IntoIterator<Item = LocalEpisode>>(iter: I) -> Self {
        let mut list = LocalEpisodes::new();
        list.extend(iter);
        list
    }
}

impl Extend<LocalEpisode> for LocalEpisodes {
    fn extend<I: IntoIterator<Item = LocalEpisode>>(&mut self, iter: I) {
        for e in iter {
            self.push(e.season, e.episode, &e.path);
        }
    }
}

impl PartialEq for LocalEpisodes {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for LocalEpisodes {}

impl fmt::Debug for LocalEpisodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for LocalEpisodes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for e in self {
            seq.serialize_element(&e)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for LocalEpisodes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<LocalEpisode>::deserialize(deserializer).map(LocalEpisodes::from_iter)
    }
}

/// Rebuilds a list from front-coded paths (see `state.rs`): each path is given as the first
/// `prefix` bytes of the path before it, new bytes, and the last `suffix` bytes of the path
/// before it. Nothing is trusted: [`CodedEpisodes::finish`] checks that the result is text.
pub(crate) struct CodedEpisodes {
    bytes: Vec<u8>,
    items: Vec<Item>,
    prev: Range<usize>,
    /// (episodes, at most how many bytes to reserve for their paths).
    expected: (usize, usize),
}

impl CodedEpisodes {
    /// `first_prev` is what the first path is coded against (it is kept at the buffer's start);
    /// room is made for `episodes` paths once the first shows their length, at most `max_bytes`.
    pub fn new(first_prev: &str, episodes: usize, max_bytes: usize) -> Self {
        let mut bytes = Vec::with_capacity(first_prev.len());
        bytes.extend_from_slice(first_prev.as_bytes());
        CodedEpisodes {
            bytes,
            items: Vec::with_capacity(episodes),
            prev: 0..first_prev.len(),
            expected: (episodes, max_bytes),
        }
    }

    /// `None` when `prefix` and `suffix` overlap or overrun the path before.
    pub fn push(
        &mut self,
        season: u32,
        episode: u32,
        prefix: usize,
        middle: &[u8],
        suffix: usize,
    ) -> Option<()> {
        let prev = self.prev.clone();
        if prefix.checked_add(suffix)? > prev.len() {
            return None;
        }
        let start = self.bytes.len();
        if prefix + middle.len() + suffix == prev.len() {
            // The usual case (`S01E07` after `S01E06`): the path before with a few bytes
            // replaced. One copy of the whole path and a small one beat three small copies.
            self.bytes.extend_from_within(prev);
            self.bytes[start + prefix..start + prefix + middle.len()].copy_from_slice(middle);
        } else {
            self.bytes
                .extend_from_within(prev.start..prev.start + prefix);
            self.bytes.extend_from_slice(middle);
            self.bytes.extend_from_within(prev.end - suffix..prev.end);
        }
        let end = self.bytes.len();
        self.items.push(Item {
            season,
            episode,
            start,
            end,
        });
        if self.items.len() == 1 {
            // Paths of one folder are about as long as each other.
            let (episodes, max_bytes) = self.expected;
            let room = episodes.saturating_mul(end - start + 2).min(max_bytes);
            self.bytes.reserve(room);
        }
        self.prev = start..end;
        Some(())
    }

    /// The list; `None` when the bytes are not text or a path splits a character.
    pub fn finish(self) -> Option<LocalEpisodes> {
        let paths = String::from_utf8(self.bytes).ok()?;
        let whole = self
            .items
            .iter()
            .all(|i| paths.is_char_boundary(i.start) && paths.is_char_boundary(i.end));
        whole.then_some(LocalEpisodes {
            paths,
            items: self.items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(season: u32, episode: u32, path: &str) -> LocalEpisode {
        LocalEpisode {
            season,
            episode,
            path: path.into(),
        }
    }

    #[test]
    fn behaves_like_a_list_of_episodes() {
        let mut list = LocalEpisodes::new();
        list.push_file(1, &[3, 4], "Show/S01E03-E04.mkv");
        list.push(1, 1, "Show/S01E01.mkv");
        list.push(0, 1, "Show/Film 1.mkv");
        list.sort();
        let owned: Vec<LocalEpisode> = list.iter().map(|e| e.to_episode()).collect();
        assert_eq!(
            owned,
            vec![
                ep(0, 1, "Show/Film 1.mkv"),
                ep(1, 1, "Show/S01E01.mkv"),
                ep(1, 3, "Show/S01E03-E04.mkv"),
                ep(1, 4, "Show/S01E03-E04.mkv"),
            ]
        );
        // The two-episode file's path is stored once.
        assert_eq!(
            list.paths.len(),
            "Show/S01E03-E04.mkvShow/S01E01.mkvShow/Film 1.mkv".len()
        );
        assert_eq!(list.len(), 4);
        assert_eq!(list.get(3).unwrap().episode, 4);
        assert!(list.get(4).is_none());
        assert_eq!(list.iter().next_back().unwrap().episode, 4);
        assert_eq!(list, owned.iter().cloned().collect());

        let json = serde_json::to_string(&list).unwrap();
        assert_eq!(
            serde_json::from_str::<Vec<LocalEpisode>>(&json).unwrap(),
            owned
        );
        let back: LocalEpisodes = serde_json::from_str(&json).unwrap();
        assert_eq!(back, list);
        assert!(format!("{list:?}").contains("S01E03-E04"));
    }

    #[test]
    fn coded_paths_are_checked_not_trusted() {
        let mut c = CodedEpisodes::new("Show/", 2, 32);
        c.push(1, 1, 5, b"S01E01.mkv", 0).unwrap();
        c.push(1, 2, 10, b"2", 4).unwrap();
        let list = c.finish().unwrap();
        assert_eq!(
            list.iter().map(|e| e.path).collect::<Vec<_>>(),
            ["Show/S01E01.mkv", "Show/S01E02.mkv"]
        );

        // Overlapping or overrunning prefix and suffix.
        let mut c = CodedEpisodes::new("é", 1, 8);
        assert_eq!(c.push(1, 1, 2, b"", 1), None);
        assert_eq!(c.push(1, 1, usize::MAX, b"", 1), None);
        // Half a character each: the buffer is text, but neither path alone is.
        c.push(1, 1, 1, b"", 0).unwrap();
        c.push(1, 2, 0, &[0xa9], 0).unwrap();
        assert!(c.finish().is_none());
        let mut c = CodedEpisodes::new("a", 1, 8);
        c.push(1, 1, 0, &[0xff], 0).unwrap();
        assert!(c.finish().is_none());
    }
}
