//! Media: MP4 with Range, HLS master/media playlists and segments (some AES-128 encrypted).
//!
//! Contract used by the hoster fixtures: any `video` id is served, with deterministic content;
//! query strings are ignored.
//!
//! Content is generated on the fly from the video id (no buffers: a 1 GiB file costs no memory);
//! tests compute the expected bytes with [`mp4_bytes`] / [`expected_hls`].
//!
//! Knobs ([`FixtureState::set_knob`]):
//! - `media.mp4_size`: MP4 length in bytes (default 1 MiB); an id containing `size-<N>` wins
//! - `media.drop_after`: the next MP4 response closes the connection after N body bytes (once)
//! - `media.fail`: every media request answers with this status (e.g. `503`); `media.fail.<video>`
//!   for one video only
//! - `media.rate`: MP4 and segment bodies are sent at about this many bytes per second
//! - `hls.segments`: segments per media playlist (default 6); an id containing `segs-<N>` wins
//! - `hls.segment_size`: plaintext bytes per segment (default 16384)
//! - `hls.segment_delay_ms`: wait before answering each segment (simulated CDN latency)
//!
//! HLS layout: `/hls/{video}/master.m3u8` lists 360p, 720p and 1080p variants
//! (`{height}/index.m3u8`). Videos whose id contains `aes` are encrypted: segment 0 plain,
//! the first half under `key.bin` with an explicit IV, the rest under `key2.bin` with the IV
//! taken from the media sequence number (the playlist starts at sequence [`MEDIA_SEQUENCE`]).
use std::sync::Arc;
use std::time::Duration;

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use bytes::Bytes;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Body, Endpoint, Request, Response};

use crate::FixtureState;

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;

/// First media sequence number of every media playlist.
pub const MEDIA_SEQUENCE: u64 = 3;
/// Variant heights of the master playlist.
pub const HEIGHTS: [u32; 3] = [360, 720, 1080];
/// Explicit IV of the first key.
pub const EXPLICIT_IV: u128 = 0x000102030405060708090a0b0c0d0e0f;
const DEFAULT_MP4_SIZE: u64 = 1 << 20;
const DEFAULT_SEGMENTS: usize = 6;
const DEFAULT_SEGMENT_SIZE: usize = 16 * 1024;
const CHUNK: usize = 256 * 1024;

/// Direct MP4 URL of `video`.
pub fn mp4_url(state: &FixtureState, video: &str) -> String {
    format!("{}/v/{video}.mp4", state.url("media"))
}

/// HLS master playlist URL of `video`.
pub fn hls_url(state: &FixtureState, video: &str) -> String {
    format!("{}/hls/{video}/master.m3u8", state.url("media"))
}

fn number_after(video: &str, tag: &str) -> Option<u64> {
    let start = video.find(tag)? + tag.len();
    let digits: String = video[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn knob_num(state: &FixtureState, name: &str) -> Option<u64> {
    state.knob(name).and_then(|v| v.trim().parse().ok())
}

/// Length of `video`'s MP4.
pub fn mp4_size(state: &FixtureState, video: &str) -> u64 {
    number_after(video, "size-")
        .or_else(|| knob_num(state, "media.mp4_size"))
        .unwrap_or(DEFAULT_MP4_SIZE)
}

fn seed(parts: &[&[u8]]) -> u64 {
    // FNV-1a: stable across runs and platforms.
    let mut h: u64 = 0xcbf29ce484222325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100000001b3);
        }
        h ^= 0xff;
    }
    h
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

/// Deterministic pseudo-random bytes of stream `seed` at `offset`.
fn fill(seed: u64, offset: u64, out: &mut [u8]) {
    let mut pos = offset;
    let mut i = 0;
    while i < out.len() {
        let word = splitmix(seed ^ (pos / 8).wrapping_mul(0x2545f4914f6cdd1d)).to_le_bytes();
        let within = (pos % 8) as usize;
        let n = (8 - within).min(out.len() - i);
        out[i..i + n].copy_from_slice(&word[within..within + n]);
        i += n;
        pos += n as u64;
    }
}

/// `len` bytes of `video`'s MP4 from `offset` (what a correct download must contain).
pub fn mp4_bytes(video: &str, offset: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    fill(seed(&[b"mp4", video.as_bytes()]), offset, &mut v);
    v
}

/// The whole MP4 of `video` (for small test files).
pub fn expected_mp4(state: &FixtureState, video: &str) -> Vec<u8> {
    let size = usize::try_from(mp4_size(state, video)).expect("test file fits in memory");
    mp4_bytes(video, 0, size)
}

/// Segments per media playlist of `video`.
pub fn segment_count(state: &FixtureState, video: &str) -> usize {
    number_after(video, "segs-")
        .or_else(|| knob_num(state, "hls.segments"))
        .map(|n| n as usize)
        .unwrap_or(DEFAULT_SEGMENTS)
        .max(1)
}

fn segment_size(state: &FixtureState) -> usize {
    knob_num(state, "hls.segment_size")
        .map(|n| n as usize)
        .unwrap_or(DEFAULT_SEGMENT_SIZE)
        .max(1)
}

/// Plaintext of one segment.
pub fn segment_plain(state: &FixtureState, video: &str, height: u32, index: usize) -> Vec<u8> {
    let mut v = vec![0; segment_size(state)];
    fill(
        seed(&[
            b"seg",
            video.as_bytes(),
            &height.to_le_bytes(),
            &(index as u64).to_le_bytes(),
        ]),
        0,
        &mut v,
    );
    v
}

/// The decrypted stream of `video` at `height`: every segment's plaintext in order.
pub fn expected_hls(state: &FixtureState, video: &str, height: u32) -> Vec<u8> {
    (0..segment_count(state, video))
        .flat_map(|i| segment_plain(state, video, height, i))
        .collect()
}

/// Whether `video` is served encrypted.
pub fn is_encrypted(video: &str) -> bool {
    video.contains("aes")
}

fn key(video: &str, which: u8) -> [u8; 16] {
    let mut k = [0u8; 16];
    fill(seed(&[b"key", video.as_bytes(), &[which]]), 0, &mut k);
    k
}

/// Which key (1 or 2, 0 = plain) encrypts segment `index` of `count`, and its IV.
fn segment_key(video: &str, index: usize, count: usize) -> Option<(u8, [u8; 16])> {
    if !is_encrypted(video) || index == 0 {
        return None;
    }
    if index <= count / 2 {
        Some((1, EXPLICIT_IV.to_be_bytes()))
    } else {
        Some((2, u128::from(MEDIA_SEQUENCE + index as u64).to_be_bytes()))
    }
}

pub fn routes(state: Arc<FixtureState>) -> impl Endpoint {
    poem::endpoint::make(move |req: Request| {
        let state = state.clone();
        async move { handle(&state, &req).await }
    })
}

fn status(code: StatusCode) -> Response {
    Response::builder().status(code).finish()
}

fn fail_status(state: &FixtureState, video: &str) -> Option<StatusCode> {
    let code = state
        .knob(&format!("media.fail.{video}"))
        .or_else(|| state.knob("media.fail"))?;
    StatusCode::from_u16(code.trim().parse().ok()?).ok()
}

async fn handle(state: &FixtureState, req: &Request) -> Response {
    let path = req.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["v", file] => match file.strip_suffix(".mp4") {
            Some(video) if !video.is_empty() => {
                if let Some(code) = fail_status(state, video) {
                    return status(code);
                }
                serve_mp4(state, video, req)
            }
            _ => status(StatusCode::NOT_FOUND),
        },
        ["hls", video, rest @ ..] => {
            if let Some(code) = fail_status(state, video) {
                return status(code);
            }
            serve_hls(state, video, rest).await
        }
        _ => status(StatusCode::NOT_FOUND),
    }
}

/// `bytes=a-b` / `bytes=a-` / `bytes=-n` → inclusive range, or Err(()) when unsatisfiable.
fn parse_range(value: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let first = spec.split(',').next()?.trim();
    let (a, b) = first.split_once('-')?;
    let range = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || size == 0 {
            return Some(Err(()));
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let start: u64 = a.parse().ok()?;
        let end: u64 = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>().ok()?.min(size.saturating_sub(1))
        };
        if start >= size || end < start {
            return Some(Err(()));
        }
        (start, end)
    };
    Some(Ok(range))
}

fn serve_mp4(state: &FixtureState, video: &str, req: &Request) -> Response {
    let size = mp4_size(state, video);
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_range(v, size));
    let (code, start, end) = match range {
        None => (StatusCode::OK, 0, size),
        Some(Ok((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b + 1),
        Some(Err(())) => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .finish();
        }
    };
    let drop_after = knob_num(state, "media.drop_after");
    if drop_after.is_some() {
        state.clear_knob("media.drop_after");
    }
    let rate = knob_num(state, "media.rate").filter(|r| *r > 0);
    let body = Body::from_bytes_stream(mp4_stream(
        seed(&[b"mp4", video.as_bytes()]),
        start,
        end,
        drop_after,
        rate,
    ));
    let mut builder = Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "video/mp4")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, end - start);
    if code == StatusCode::PARTIAL_CONTENT {
        builder = builder.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", end - 1),
        );
    }
    builder.body(body)
}

fn mp4_stream(
    seed: u64,
    start: u64,
    end: u64,
    drop_after: Option<u64>,
    rate: Option<u64>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let stop_at = drop_after.map(|n| start + n);
    futures::stream::unfold(start, move |pos| async move {
        if pos >= end {
            return None;
        }
        if stop_at.is_some_and(|s| pos >= s) {
            // Dropping mid-body: hyper aborts the connection since Content-Length is not met.
            return Some((
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "fixture: dropped connection",
                )),
                end,
            ));
        }
        let mut len = (end - pos).min(CHUNK as u64);
        if let Some(s) = stop_at {
            len = len.min(s - pos);
        }
        if let Some(r) = rate {
            len = len.min((r / 20).max(1));
            tokio::time::sleep(Duration::from_secs_f64(len as f64 / r as f64)).await;
        }
        let mut buf = vec![0u8; len as usize];
        fill(seed, pos, &mut buf);
        Some((Ok(Bytes::from(buf)), pos + len))
    })
}

async fn serve_hls(state: &FixtureState, video: &str, rest: &[&str]) -> Response {
    let count = segment_count(state, video);
    match rest {
        ["master.m3u8"] => {
            let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
            for h in HEIGHTS {
                let w = h * 16 / 9;
                let bw = u64::from(h) * 4000;
                text.push_str(&format!(
                    "#EXT-X-STREAM-INF:BANDWIDTH={bw},RESOLUTION={w}x{h}\n{h}/index.m3u8\n"
                ));
            }
            playlist(text)
        }
        ["key.bin"] => Response::builder().body(key(video, 1).to_vec()),
        ["key2.bin"] => Response::builder().body(key(video, 2).to_vec()),
        [height, "index.m3u8"] => {
            let Some(_h) = parse_height(height) else {
                return status(StatusCode::NOT_FOUND);
            };
            let mut text = format!(
                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:{MEDIA_SEQUENCE}\n#EXT-X-PLAYLIST-TYPE:VOD\n"
            );
            let mut current = 0u8;
            for i in 0..count {
                if let Some((which, _)) = segment_key(video, i, count)
                    && which != current
                {
                    current = which;
                    if which == 1 {
                        text.push_str(&format!(
                            "#EXT-X-KEY:METHOD=AES-128,URI=\"../key.bin\",IV=0x{EXPLICIT_IV:032x}\n"
                        ));
                    } else {
                        text.push_str(&format!(
                            "#EXT-X-KEY:METHOD=AES-128,URI=\"/hls/{video}/key2.bin\"\n"
                        ));
                    }
                }
                text.push_str(&format!("#EXTINF:4.0,\nseg{i}.ts\n"));
            }
            text.push_str("#EXT-X-ENDLIST\n");
            playlist(text)
        }
        [height, file] => {
            let (Some(h), Some(index)) = (
                parse_height(height),
                file.strip_prefix("seg")
                    .and_then(|f| f.strip_suffix(".ts"))
                    .and_then(|n| n.parse::<usize>().ok()),
            ) else {
                return status(StatusCode::NOT_FOUND);
            };
            if index >= count {
                return status(StatusCode::NOT_FOUND);
            }
            if let Some(ms) = knob_num(state, "hls.segment_delay_ms") {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            let plain = segment_plain(state, video, h, index);
            let body = match segment_key(video, index, count) {
                None => plain,
                Some((which, iv)) => Aes128CbcEnc::new(&key(video, which).into(), &iv.into())
                    .encrypt_padded_vec_mut::<Pkcs7>(&plain),
            };
            if let Some(r) = knob_num(state, "media.rate").filter(|r| *r > 0) {
                tokio::time::sleep(Duration::from_secs_f64(body.len() as f64 / r as f64)).await;
            }
            Response::builder()
                .header(header::CONTENT_TYPE, "video/mp2t")
                .body(body)
        }
        _ => status(StatusCode::NOT_FOUND),
    }
}

fn parse_height(s: &str) -> Option<u32> {
    s.parse().ok().filter(|h| HEIGHTS.contains(h))
}

fn playlist(text: String) -> Response {
    let mut r = Response::builder().body(text);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.apple.mpegurl"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_bytes_do_not_depend_on_chunking() {
        let whole = mp4_bytes("v", 0, 1000);
        let mut pieces = mp4_bytes("v", 0, 3);
        pieces.extend(mp4_bytes("v", 3, 500));
        pieces.extend(mp4_bytes("v", 503, 497));
        assert_eq!(whole, pieces);
        assert_ne!(mp4_bytes("v", 0, 64), mp4_bytes("w", 0, 64));
    }

    #[test]
    fn ranges_parse_like_http_says() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("items=1-2", 100), None);
    }
}
