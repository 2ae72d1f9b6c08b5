//! The scan state a library remembers between scans, as [`SHARDS`] compact binary values.
//!
//! A rescan of an unchanged library must cost a small fraction of the first scan, so the state is
//! compact and read with one query; folders are decoded in parallel, each only once its
//! fingerprint has matched (why, and sizes: docs/scanner.md):
//!
//! ```text
//! shard   = MAGIC varint(FORMAT) varint(folders) folder*      (folders whose name hashes here)
//! folder  = str(name) fingerprint varint(len(record)) record
//! fingerprint = 0x00 | 0x01 u64-le            (0x00: racy, never matches)
//! record  = u8(has metadata file) varint(subdirs) path*   (first: the fingerprint needs them)
//!           opt-str(key) opt-str(site) str(name) opt-zigzag(year) opt-str(suggested key)
//!           varint(episodes) (varint(season) varint(episode) path)*
//!           varint(unparsed) path*
//!           varint(warnings) (str(path) str(message))*
//! path    = varint(shared prefix) varint(shared suffix) str(middle)   (against the previous path)
//! root    = MAGIC varint(FORMAT) 0x00                       (shard ROOT_SHARD; no listing kept)
//!         | MAGIC varint(FORMAT) 0x01 i128-le(root mtime) varint(names) path*  (sorted names)
//! str     = varint(len) utf-8 bytes
//! ```
//!
//! The root record keeps the library root's listing with the root's modification time: while
//! that time is unchanged no series folder was added, removed or renamed, so a rescan need not
//! list the root again. Only a plain listing is kept (no top-level symlinks, no warnings).
//!
//! Sorted episode paths share most of their bytes with the one before (`Show/S01E01 - x.mkv`,
//! `Show/S01E02 - x.mkv`), so a path usually costs four or five bytes. Folder records are kept
//! as bytes: an unchanged folder's record is copied into the next state without re-encoding.
//! Decoding checks every length and boundary, so a damaged value is a clean error (the folder, or
//! the shard's folders, are simply read again), never a panic.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use hashbrown::HashTable;
use rayon::prelude::*;

use super::episodes::CodedEpisodes;
use super::{FolderState, ScanWarning, ScannedSeries};
use crate::model::SeriesKey;

const MAGIC: &[u8] = b"AWSCAN";

/// Bumped whenever the encoding or the parsing rules change: an older state is then ignored and
/// the library read again in full.
pub(crate) const FORMAT: u64 = 2;

/// Why a stored state (or one folder of it) could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("not a scan state")]
    Magic,
    #[error("scan state format {0}, this version reads {FORMAT}")]
    Format(u64),
    #[error("scan state is damaged: {0}")]
    Damaged(&'static str),
}

type Decoded<T> = std::result::Result<T, StateError>;

/// Number of shards a library's state is split into. A folder's shard comes from a hash of its
/// name, so a rescan that finds one folder changed rewrites one shard, not the whole state.
pub const SHARDS: u32 = 64;

/// FNV-1a offset basis: the starting value for [`fnv1a`].
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes`, continuing from `hash`: stable across runs and Rust versions, which is
/// what stored shard numbers and fingerprints need.
pub(crate) fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The shard number under which the library root's listing is stored (folders use 0..SHARDS).
pub(crate) const ROOT_SHARD: u32 = SHARDS;

/// The shard folder `name` belongs to.
pub(crate) fn shard_of(name: &str) -> u32 {
    shard_number(fnv1a(FNV_OFFSET, name.as_bytes()))
}

/// The shard of a folder whose name hashes (FNV-1a) to `hash`.
fn shard_number(hash: u64) -> u32 {
    (hash % u64::from(SHARDS)) as u32
}

/// The state a previous scan left: for every remembered series folder, its fingerprint and its
/// encoded result, decoded only when the folder turns out unchanged.
#[derive(Debug, Default)]
pub struct RememberedState {
    /// The readable stored shards, by shard number.
    shards: HashMap<u32, Shard>,
    /// Stored shards that could not be read: they are rewritten by the next scan.
    damaged: Vec<(u32, StateError)>,
    /// The root record as stored (see [`remembered_listing`]).
    root: Option<Vec<u8>>,
}

/// One stored shard and the index of its folders. The index keeps no copy of the names: each
/// entry points into the shard's bytes, and is found by the same FNV-1a hash that chose the
/// shard, so a lookup hashes the name once and allocates nothing.
#[derive(Debug)]
struct Shard {
    blob: Vec<u8>,
    index: HashTable<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    /// The folder name (checked to be UTF-8).
    name: Range<usize>,
    /// `None`: the folder was modified right around the scan, so it is read again regardless.
    fingerprint: Option<u64>,
    /// The whole folder entry (name to end of record), copied as is into the next state.
    entry: Range<usize>,
    /// The record alone.
    record: Range<usize>,
}

impl RememberedState {
    /// Reads the stored shards (shard number, value), in parallel. Only the folder index is read
    /// here; records are decoded on demand. A shard that cannot be read is left out (its folders
    /// are simply read again) and listed in [`RememberedState::damaged`].
    pub fn decode(shards: Vec<(u32, Vec<u8>)>) -> Self {
        let mut state = RememberedState::default();
        let (roots, shards): (Vec<_>, Vec<_>) = shards
            .into_iter()
            .partition(|(number, _)| *number == ROOT_SHARD);
        for (number, root) in roots {
            // Checked here, read when the listing is needed.
            match Reader::new(&root).header() {
                Ok(()) if state.root.is_some() => {
                    state
                        .damaged
                        .push((number, StateError::Damaged("shard listed twice")));
                }
                Ok(()) => state.root = Some(root),
                Err(e) => state.damaged.push((number, e)),
            }
        }
        let decoded: Vec<(u32, Decoded<Shard>)> = shards
            .into_par_iter()
            .map(|(number, blob)| (number, Shard::decode(number, blob)))
            .collect();
        for (number, shard) in decoded {
            match shard {
                Ok(_) if state.shards.contains_key(&number) => {
                    state
                        .damaged
                        .push((number, StateError::Damaged("shard listed twice")));
                }
                Ok(shard) => {
                    state.shards.insert(number, shard);
                }
                Err(e) => state.damaged.push((number, e)),
            }
        }
        state
    }

    /// Number of remembered folders.
    pub fn len(&self) -> usize {
        self.shards.values().map(|s| s.index.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Names of the remembered folders (unordered).
    pub fn folders(&self) -> impl Iterator<Item = &str> {
        self.shards.values().flat_map(|shard| {
            shard
                .index
                .iter()
                .filter_map(|e| std::str::from_utf8(&shard.blob[e.name.clone()]).ok())
        })
    }

    /// Stored shards that could not be read, and why.
    pub fn damaged(&self) -> &[(u32, StateError)] {
        &self.damaged
    }

    /// The root record as stored, if any.
    pub(crate) fn root(&self) -> Option<&[u8]> {
        self.root.as_deref()
    }

    /// Folders remembered in `shard`.
    pub(crate) fn count_in(&self, shard: u32) -> usize {
        self.shards.get(&shard).map_or(0, |s| s.index.len())
    }

    pub(crate) fn get(&self, folder: &str) -> Option<RememberedFolder<'_>> {
        let hash = fnv1a(FNV_OFFSET, folder.as_bytes());
        let shard = self.shards.get(&shard_number(hash))?;
        let blob = &shard.blob;
        let e = shard
            .index
            .find(hash, |e| &blob[e.name.clone()] == folder.as_bytes())?;
        Some(RememberedFolder {
            fingerprint: e.fingerprint,
            record: &blob[e.record.clone()],
            entry: &blob[e.entry.clone()],
        })
    }
}

impl Shard {
    /// Indexes one stored shard's folders.
    fn decode(number: u32, blob: Vec<u8>) -> Decoded<Shard> {
        let mut r = Reader::new(&blob);
        r.header()?;
        let count = r.count()?;
        let mut index: HashTable<Entry> = HashTable::with_capacity(count);
        for _ in 0..count {
            let start = r.pos;
            let name = r.str()?;
            let name_range = r.pos - name.len()..r.pos;
            let hash = fnv1a(FNV_OFFSET, name.as_bytes());
            // Names hash to one shard, so a name seen before can only be a repeat in this one.
            if shard_number(hash) != number {
                return Err(StateError::Damaged("folder in the wrong shard"));
            }
            let fingerprint = match r.byte()? {
                0 => None,
                1 => Some(u64::from_le_bytes(r.bytes(8)?.try_into().expect("8 bytes"))),
                _ => return Err(StateError::Damaged("fingerprint")),
            };
            let len = r.len()?;
            let record = r.pos..r.pos + len;
            r.bytes(len)?;
            let entry = Entry {
                name: name_range,
                fingerprint,
                entry: start..r.pos,
                record,
            };
            match index.entry(
                hash,
                |e| blob[e.name.clone()] == blob[entry.name.clone()],
                |e| fnv1a(FNV_OFFSET, &blob[e.name.clone()]),
            ) {
                hashbrown::hash_table::Entry::Occupied(_) => {
                    return Err(StateError::Damaged("folder listed twice"));
                }
                hashbrown::hash_table::Entry::Vacant(slot) => {
                    slot.insert(entry);
                }
            }
        }
        if !r.is_done() {
            return Err(StateError::Damaged("trailing bytes"));
        }
        Ok(Shard { blob, index })
    }
}

/// One remembered folder, borrowed from a [`RememberedState`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RememberedFolder<'a> {
    pub fingerprint: Option<u64>,
    record: &'a [u8],
    /// The encoded folder entry, ready to be copied into the next state.
    pub entry: &'a [u8],
}

impl<'a> RememberedFolder<'a> {
    /// Whether the folder had a metadata file, and the subfolders walked last time (relative to
    /// the series folder), read one by one; after them comes the rest of the record, for
    /// [`RememberedFolder::finish`].
    pub fn subdirs(&self) -> Decoded<(bool, Subdirs<'a>)> {
        let mut r = Reader::new(self.record);
        let metadata_file = match r.byte()? {
            0 => false,
            1 => true,
            _ => return Err(StateError::Damaged("metadata flag")),
        };
        let left = r.count()?;
        Ok((
            metadata_file,
            Subdirs {
                r,
                left,
                current: String::new(),
                next: String::new(),
            },
        ))
    }

    /// The whole remembered state of the folder.
    #[cfg(test)]
    pub fn state(&self, folder: &str) -> Decoded<FolderState> {
        let (metadata_file, mut reading) = self.subdirs()?;
        let mut subdirs = Vec::new();
        while let Some(sub) = reading.next()? {
            subdirs.push(sub.to_owned());
        }
        let (series, warnings) = Self::finish(folder, reading.rest()?)?;
        Ok(FolderState {
            series,
            warnings,
            subdirs,
            metadata_file,
        })
    }

    /// Decodes the rest of the record (after the subfolders): the series and its warnings.
    pub fn finish(folder: &str, mut r: Reader<'a>) -> Decoded<(ScannedSeries, Vec<ScanWarning>)> {
        let key = r.opt_str()?.map(parse_key).transpose()?;
        let site = r.opt_str()?.map(str::to_owned);
        let name = r.str()?.to_owned();
        let year = match r.byte()? {
            0 => None,
            1 => Some(
                i32::try_from(unzigzag(r.varint()?)).map_err(|_| StateError::Damaged("year"))?,
            ),
            _ => return Err(StateError::Damaged("year")),
        };
        let suggested_key = r.opt_str()?.map(parse_key).transpose()?;

        let folder_prefix = format!("{folder}/");
        let count = r.count()?;
        // The first path is coded against the folder's own prefix. Paths take about ten times
        // their coded size; a damaged count must not reserve much more than that.
        let max_bytes = r.remaining().saturating_mul(16);
        let mut coded = CodedEpisodes::new(&folder_prefix, count, max_bytes);
        for _ in 0..count {
            let season = r.u32()?;
            let episode = r.u32()?;
            let (prefix, suffix, middle) = r.coded_path()?;
            coded
                .push(season, episode, prefix, middle, suffix)
                .ok_or(StateError::Damaged("path"))?;
        }
        let episodes = coded
            .finish()
            .ok_or(StateError::Damaged("text is not UTF-8"))?;
        let count = r.count()?;
        let mut unparsed: Vec<String> = Vec::with_capacity(count);
        for _ in 0..count {
            let path = r.path(unparsed.last().unwrap_or(&folder_prefix))?;
            unparsed.push(path);
        }
        let count = r.count()?;
        let mut warnings = Vec::with_capacity(count);
        for _ in 0..count {
            warnings.push(ScanWarning {
                path: PathBuf::from(r.str()?),
                message: r.str()?.to_owned(),
            });
        }
        if !r.is_done() {
            return Err(StateError::Damaged("trailing bytes in a folder"));
        }
        let series = ScannedSeries {
            key,
            site,
            folder: folder.to_owned(),
            name,
            year,
            episodes,
            unparsed,
            suggested_key,
        };
        Ok((series, warnings))
    }
}

/// The remembered subfolders of a folder, read one at a time into two reused buffers: checking
/// an unchanged folder allocates nothing for them.
pub(crate) struct Subdirs<'a> {
    r: Reader<'a>,
    left: usize,
    current: String,
    next: String,
}

impl<'a> Subdirs<'a> {
    /// The next subfolder, relative to the series folder.
    pub fn next(&mut self) -> Decoded<Option<&str>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let coded = self.r.coded_path()?;
        self.next.clear();
        join_coded(&mut self.next, &self.current, coded)?;
        std::mem::swap(&mut self.current, &mut self.next);
        Ok(Some(&self.current))
    }

    /// The rest of the record, once every subfolder was read.
    pub fn rest(mut self) -> Decoded<Reader<'a>> {
        while self.next()?.is_some() {}
        Ok(self.r)
    }
}

/// The root record for a listing of `names` (sorted, unique) taken when the root's modification
/// time was `mtime`; `None`: no listing to remember.
pub(crate) fn encode_root<'a>(
    listing: Option<(i128, impl ExactSizeIterator<Item = &'a str>)>,
) -> Vec<u8> {
    let mut out = Writer::default();
    out.buf.extend_from_slice(MAGIC);
    out.varint(FORMAT);
    match listing {
        None => out.byte(0),
        Some((mtime, names)) => {
            out.byte(1);
            out.buf.extend_from_slice(&mtime.to_le_bytes());
            out.varint(names.len() as u64);
            let mut prev = "";
            for name in names {
                out.path(prev, name);
                prev = name;
            }
        }
    }
    out.buf
}

/// The series folder names a root record remembers, if the root's modification time is still
/// `mtime`. Every name is checked to be a plain folder name (`valid`), in strictly ascending
/// order, so a damaged record can neither point the scan outside the library nor list a folder
/// twice.
pub(crate) fn remembered_listing(
    root: &[u8],
    mtime: i128,
    valid: impl Fn(&str) -> bool,
) -> Decoded<Option<Vec<String>>> {
    let mut r = Reader::new(root);
    r.header()?;
    match r.byte()? {
        0 => return Ok(None),
        1 => {}
        _ => return Err(StateError::Damaged("root record")),
    }
    let stored = i128::from_le_bytes(r.bytes(16)?.try_into().expect("16 bytes"));
    if stored != mtime {
        return Ok(None);
    }
    let count = r.count()?;
    let mut names: Vec<String> = Vec::with_capacity(count);
    for _ in 0..count {
        let name = r.path(names.last().map_or("", String::as_str))?;
        if !valid(&name) || names.last().is_some_and(|prev| *prev >= name) {
            return Err(StateError::Damaged("folder name"));
        }
        names.push(name);
    }
    if !r.is_done() {
        return Err(StateError::Damaged("trailing bytes"));
    }
    Ok(Some(names))
}

/// Appends to `out` the path coded as (`prefix`, `suffix`, `middle`): the first `prefix` and
/// the last `suffix` bytes of `prev` around `middle`. Damage (a range past `prev`, a character
/// split, bytes that are not text) is an error.
fn join_coded(
    out: &mut String,
    prev: &str,
    (prefix, suffix, middle): (usize, usize, &[u8]),
) -> Decoded<()> {
    let middle =
        std::str::from_utf8(middle).map_err(|_| StateError::Damaged("text is not UTF-8"))?;
    // `get` checks both the range and that each end is a character boundary.
    let (Some(head), Some(tail)) = (
        prev.get(..prefix),
        prev.len()
            .checked_sub(suffix)
            .and_then(|split| prev.get(split..)),
    ) else {
        return Err(StateError::Damaged("path"));
    };
    if prefix + suffix > prev.len() {
        return Err(StateError::Damaged("path"));
    }
    out.reserve(head.len() + middle.len() + tail.len());
    out.push_str(head);
    out.push_str(middle);
    out.push_str(tail);
    Ok(())
}

fn parse_key(s: &str) -> Decoded<SeriesKey> {
    SeriesKey::parse(s).map_err(|_| StateError::Damaged("series key"))
}

/// Encodes one folder entry (see the module docs); `None` when the state cannot be stored
/// exactly (a warning path that is not UTF-8), and the folder is then simply read next time.
pub(crate) fn encode_folder(state: &FolderState, fingerprint: Option<u64>) -> Option<Vec<u8>> {
    let s = &state.series;
    let mut rec = Writer::default();
    rec.byte(u8::from(state.metadata_file));
    rec.varint(state.subdirs.len() as u64);
    let mut prev = "";
    for d in &state.subdirs {
        rec.path(prev, d);
        prev = d;
    }
    rec.opt_str(s.key.as_ref().map(SeriesKey::as_str));
    rec.opt_str(s.site.as_deref());
    rec.str(&s.name);
    match s.year {
        None => rec.byte(0),
        Some(y) => {
            rec.byte(1);
            rec.varint(zigzag(y));
        }
    }
    rec.opt_str(s.suggested_key.as_ref().map(SeriesKey::as_str));
    let folder_prefix = format!("{}/", s.folder);
    rec.varint(s.episodes.len() as u64);
    let mut prev = folder_prefix.as_str();
    for e in &s.episodes {
        rec.varint(u64::from(e.season));
        rec.varint(u64::from(e.episode));
        rec.path(prev, e.path);
        prev = e.path;
    }
    rec.varint(s.unparsed.len() as u64);
    let mut prev = folder_prefix.as_str();
    for p in &s.unparsed {
        rec.path(prev, p);
        prev = p;
    }
    rec.varint(state.warnings.len() as u64);
    for w in &state.warnings {
        rec.str(w.path.to_str()?);
        rec.str(&w.message);
    }

    let mut out = Writer {
        buf: Vec::with_capacity(rec.buf.len() + s.folder.len() + 24),
    };
    out.str(&s.folder);
    match fingerprint {
        None => out.byte(0),
        Some(f) => {
            out.byte(1);
            out.buf.extend_from_slice(&f.to_le_bytes());
        }
    }
    out.varint(rec.buf.len() as u64);
    out.buf.extend_from_slice(&rec.buf);
    Some(out.buf)
}

/// Assembles one shard from its folders' encoded entries (in any order; names are unique).
pub(crate) fn assemble<'a>(entries: impl ExactSizeIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Writer::default();
    out.buf.extend_from_slice(MAGIC);
    out.varint(FORMAT);
    out.varint(entries.len() as u64);
    for e in entries {
        out.buf.extend_from_slice(e);
    }
    out.buf
}

fn zigzag(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

fn unzigzag(v: u64) -> i64 {
    let v = v as i64;
    (v >> 1) ^ -(v & 1)
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.byte(0),
            Some(s) => {
                self.byte(1);
                self.str(s);
            }
        }
    }

    /// `cur` as the bytes it shares with the start and the end of `prev`, and the middle.
    fn path(&mut self, prev: &str, cur: &str) {
        let (p, b) = (prev.as_bytes(), cur.as_bytes());
        let mut prefix = p.iter().zip(b).take_while(|(x, y)| x == y).count();
        while !(prev.is_char_boundary(prefix) && cur.is_char_boundary(prefix)) {
            prefix -= 1;
        }
        let room = (p.len() - prefix).min(b.len() - prefix);
        let mut suffix = p
            .iter()
            .rev()
            .zip(b.iter().rev())
            .take(room)
            .take_while(|(x, y)| x == y)
            .count();
        while !(prev.is_char_boundary(p.len() - suffix) && cur.is_char_boundary(b.len() - suffix)) {
            suffix -= 1;
        }
        self.varint(prefix as u64);
        self.varint(suffix as u64);
        self.str(&cur[prefix..cur.len() - suffix]);
    }
}

/// Bounds-checked reading of an encoded state.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Checks the magic and the format version every stored value starts with.
    fn header(&mut self) -> Decoded<()> {
        if self.bytes(MAGIC.len())? != MAGIC {
            return Err(StateError::Magic);
        }
        let format = self.varint()?;
        if format != FORMAT {
            return Err(StateError::Format(format));
        }
        Ok(())
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn is_done(&self) -> bool {
        self.pos == self.buf.len()
    }

    fn bytes(&mut self, n: usize) -> Decoded<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or(StateError::Damaged("cut short"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Decoded<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn varint(&mut self) -> Decoded<u64> {
        // Almost every number here (lengths, episode numbers) fits in one byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(StateError::Damaged("number too long"))
    }

    fn u32(&mut self) -> Decoded<u32> {
        u32::try_from(self.varint()?).map_err(|_| StateError::Damaged("number too large"))
    }

    /// A length that must fit in what is left.
    fn len(&mut self) -> Decoded<usize> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len() - self.pos)
            .ok_or(StateError::Damaged("length past the end"))
    }

    /// An item count: each item takes at least one byte, so it too must fit in what is left
    /// (which keeps a damaged count from reserving gigabytes).
    fn count(&mut self) -> Decoded<usize> {
        self.len()
    }

    fn str(&mut self) -> Decoded<&'a str> {
        let n = self.len()?;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| StateError::Damaged("text is not UTF-8"))
    }

    fn opt_str(&mut self) -> Decoded<Option<&'a str>> {
        match self.byte()? {
            0 => Ok(None),
            1 => self.str().map(Some),
            _ => Err(StateError::Damaged("optional text")),
        }
    }

    /// A front-coded path as it is stored: (prefix, suffix, middle), unchecked.
    fn coded_path(&mut self) -> Decoded<(usize, usize, &'a [u8])> {
        let prefix = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
        let suffix = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
        let n = self.len()?;
        Ok((prefix, suffix, self.bytes(n)?))
    }

    fn path(&mut self, prev: &str) -> Decoded<String> {
        let coded = self.coded_path()?;
        let mut path = String::new();
        join_coded(&mut path, prev, coded)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::scanner::LocalEpisode;

    fn state(folder: &str, paths: &[&str]) -> FolderState {
        FolderState {
            series: ScannedSeries {
                key: Some(SeriesKey::parse("show").unwrap()),
                site: Some("aniworld".into()),
                folder: folder.into(),
                name: "Shöw".into(),
                year: Some(-3),
                episodes: paths
                    .iter()
                    .enumerate()
                    .map(|(i, p)| LocalEpisode {
                        season: 1,
                        episode: i as u32 + 1,
                        path: format!("{folder}/{p}"),
                    })
                    .collect(),
                unparsed: vec![format!("{folder}/extra.mkv")],
                suggested_key: None,
            },
            warnings: vec![ScanWarning {
                path: PathBuf::from("/lib/x"),
                message: "w".into(),
            }],
            subdirs: vec!["Season 01".into(), "Season 01/deep".into()],
            metadata_file: folder.len().is_multiple_of(2),
        }
    }

    fn round_trip(states: &[(FolderState, Option<u64>)]) -> RememberedState {
        let entries: Vec<Vec<u8>> = states
            .iter()
            .map(|(s, f)| encode_folder(s, *f).unwrap())
            .collect();
        let mut shards: HashMap<u32, Vec<&[u8]>> = HashMap::new();
        for (e, (s, _)) in entries.iter().zip(states) {
            shards
                .entry(shard_of(&s.series.folder))
                .or_default()
                .push(e);
        }
        let rows = shards
            .into_iter()
            .map(|(n, e)| (n, assemble(e.into_iter())))
            .collect();
        let remembered = RememberedState::decode(rows);
        assert!(remembered.damaged().is_empty());
        assert_eq!(remembered.len(), states.len());
        for (s, f) in states {
            let folder = remembered.get(&s.series.folder).unwrap();
            assert_eq!(folder.fingerprint, *f);
            let back = folder.state(&s.series.folder).unwrap();
            assert_eq!(&back, s);
        }
        remembered
    }

    #[test]
    fn round_trips_and_shares_bytes_between_paths() {
        let paths: Vec<String> = (1..=300)
            .map(|e| format!("Season 01/Show - S01E{e:03} - (German Dub).mp4"))
            .collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let s = state("Show", &refs);
        let entry = encode_folder(&s, Some(7)).unwrap();
        // Each episode costs a handful of bytes, not its 45-byte path.
        assert!(entry.len() < 300 * 8, "{} bytes", entry.len());
        round_trip(&[(s, Some(7))]);
    }

    #[test]
    fn round_trips_hostile_and_multibyte_names() {
        round_trip(&[
            (
                state(
                    "進撃",
                    &["é.mkv", "ê.mkv", "ê✨.mkv", "✨ê.mkv", "", "a\n\"b\t.mkv"],
                ),
                None,
            ),
            (state("a/../b", &["x", "x", "xx", "x"]), Some(u64::MAX)),
        ]);
    }

    #[test]
    fn older_formats_and_foreign_values_are_refused_per_shard() {
        let good = encode_folder(&state("Show", &["S01E01.mkv"]), Some(1)).unwrap();
        let good_shard = shard_of("Show");
        let empty = assemble(std::iter::empty());
        let mut older = empty.clone();
        older[MAGIC.len()] = 1;
        let other = (good_shard + 1) % SHARDS;
        let remembered = RememberedState::decode(vec![
            (good_shard, assemble([good.as_slice()].into_iter())),
            (other, older),
            ((good_shard + 2) % SHARDS, b"{\"json\":1}".to_vec()),
            ((good_shard + 3) % SHARDS, empty),
        ]);
        // The readable shards are used; the others are reported, not fatal.
        assert_eq!(remembered.folders().collect::<Vec<_>>(), vec!["Show"]);
        assert_eq!(remembered.count_in(good_shard), 1);
        assert_eq!(
            remembered.damaged(),
            &[
                (other, StateError::Format(1)),
                ((good_shard + 2) % SHARDS, StateError::Magic)
            ]
        );
    }

    #[test]
    fn a_folder_in_the_wrong_shard_is_damage() {
        let entry = encode_folder(&state("Show", &["S01E01.mkv"]), Some(1)).unwrap();
        let wrong = (shard_of("Show") + 1) % SHARDS;
        let remembered =
            RememberedState::decode(vec![(wrong, assemble([entry.as_slice()].into_iter()))]);
        assert!(remembered.is_empty());
        assert_eq!(
            remembered.damaged(),
            &[(wrong, StateError::Damaged("folder in the wrong shard"))]
        );
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let s = state("Show", &["S01E01.mkv", "S01E02.mkv"]);
        let entry = encode_folder(&s, Some(1)).unwrap();
        let blob = assemble([entry.as_slice()].into_iter());
        let shard = shard_of("Show");
        // Every truncation and every single-byte change either decodes or fails cleanly.
        for cut in 0..blob.len() {
            let r = RememberedState::decode(vec![(shard, blob[..cut].to_vec())]);
            assert_eq!(r.len() + r.damaged().len(), 1);
        }
        for i in 0..blob.len() {
            for b in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut bad = blob.clone();
                bad[i] = b;
                let r = RememberedState::decode(vec![(shard, bad)]);
                if let Some(f) = r.get("Show") {
                    let _ = f.state("Show");
                }
            }
        }
    }

    #[test]
    fn root_listing_round_trips_and_checks_its_names() {
        let names = ["Attack on Titan", "Attack on Titan (2013)", "進撃の巨人"];
        let record = encode_root(Some((-5, names.into_iter())));
        let ok = |_: &str| true;
        assert_eq!(
            remembered_listing(&record, -5, ok),
            Ok(Some(names.map(str::to_owned).to_vec()))
        );
        // Another root time: nothing remembered, not an error.
        assert_eq!(remembered_listing(&record, -4, ok), Ok(None));
        assert_eq!(
            remembered_listing(
                &encode_root::<'_>(None::<(i128, std::iter::Empty<&str>)>),
                0,
                ok
            ),
            Ok(None)
        );
        assert_eq!(
            remembered_listing(&record, -5, |n| !n.contains('(')),
            Err(StateError::Damaged("folder name"))
        );
        for cut in 0..record.len() {
            assert!(remembered_listing(&record[..cut], -5, ok).is_err());
        }
        // A root record is kept as it is; a damaged one is reported like any shard.
        let state = RememberedState::decode(vec![(ROOT_SHARD, record.clone())]);
        assert_eq!(state.root(), Some(record.as_slice()));
        let state = RememberedState::decode(vec![(ROOT_SHARD, b"{\"json\": true}".to_vec())]);
        assert_eq!(state.root(), None);
        assert_eq!(state.damaged(), &[(ROOT_SHARD, StateError::Magic)]);
    }

    proptest! {
        #[test]
        fn any_root_record_decodes_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut record = MAGIC.to_vec();
            record.push(FORMAT as u8);
            record.push(1);
            record.extend_from_slice(&[0; 16]);
            record.extend_from_slice(&bytes);
            let _ = remembered_listing(&record, 0, |_| true);
        }

        #[test]
        fn any_paths_round_trip(paths in proptest::collection::vec("\\PC{0,12}", 0..12)) {
            let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
            round_trip(&[(state("F", &refs), Some(3))]);
        }

        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut blob = MAGIC.to_vec();
            blob.push(FORMAT as u8);
            blob.extend_from_slice(&bytes);
            let r = RememberedState::decode((0..4).map(|s| (s, blob.clone())).collect());
            for name in r.folders().map(str::to_owned).collect::<Vec<_>>() {
                let _ = r.get(&name).unwrap().state(&name);
            }
        }
    }
}
