//! HLS: master → variant → media playlist; segments fetched with bounded parallelism, AES-128
//! decrypted, written in order; resumable at segment granularity through the sidecar.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use futures::StreamExt;
use m3u8_rs::{KeyMethod, MasterPlaylist, MediaPlaylist, Playlist, VariantStream};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::mp4::{remove_file_if_exists, truncate};
use super::partial::{PartialState, part_path};
use super::{Transfer, redact, status_error};
use crate::error::{Error, Result};
use crate::http::describe_request_error;
use crate::model::MediaKind;

type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// Largest playlist we parse.
const MAX_PLAYLIST_BYTES: usize = 8 << 20;
/// Largest single segment we hold in memory.
const MAX_SEGMENT_BYTES: usize = 64 << 20;
const SEGMENT_ATTEMPTS: u32 = 3;
const SEGMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the resume sidecar is updated while segments arrive.
const SIDECAR_INTERVAL: Duration = Duration::from_millis(250);

/// One segment to fetch, with everything needed to decrypt it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentPlan {
    pub url: String,
    /// `(offset, length)` of an `#EXT-X-BYTERANGE` segment.
    pub range: Option<(u64, u64)>,
    pub key: Option<SegmentKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentKey {
    pub uri: String,
    pub iv: [u8; 16],
}

/// Picks the variant: the highest resolution (then bandwidth) not above `max_height`
/// (0 = no cap); when every variant is above the cap, the smallest one.
pub fn pick_variant(master: &MasterPlaylist, max_height: u32) -> Option<&VariantStream> {
    let candidates: Vec<&VariantStream> =
        master.variants.iter().filter(|v| !v.is_i_frame).collect();
    let height = |v: &VariantStream| v.resolution.map(|r| r.height).unwrap_or(0);
    let rank = |v: &&VariantStream| (height(v), v.bandwidth);
    let fitting = candidates
        .iter()
        .copied()
        .filter(|v| max_height == 0 || height(v) <= u64::from(max_height))
        .max_by_key(rank);
    fitting.or_else(|| candidates.iter().copied().min_by_key(rank))
}

/// Turns a media playlist into absolute segment URLs with their keys and IVs.
pub fn plan_segments(
    playlist: &MediaPlaylist,
    playlist_url: &url::Url,
) -> Result<Vec<SegmentPlan>> {
    let mut out = Vec::with_capacity(playlist.segments.len());
    let mut key: Option<(String, Option<[u8; 16]>)> = None;
    let mut next_offset = 0u64;
    for (i, seg) in playlist.segments.iter().enumerate() {
        if seg.map.is_some() {
            return Err(Error::Unsupported(
                "HLS with #EXT-X-MAP (fragmented MP4 segments)".to_owned(),
            ));
        }
        if let Some(k) = &seg.key {
            key = match &k.method {
                KeyMethod::None => None,
                KeyMethod::AES128 => {
                    let uri = k
                        .uri
                        .as_deref()
                        .ok_or_else(|| Error::parse("URI of #EXT-X-KEY"))?;
                    let uri = playlist_url
                        .join(uri)
                        .map_err(|_| Error::parse("URI of #EXT-X-KEY"))?;
                    let iv = k.iv.as_deref().map(parse_iv).transpose()?;
                    Some((uri.to_string(), iv))
                }
                other => {
                    return Err(Error::Unsupported(format!("HLS encryption {other}")));
                }
            };
        }
        let url = playlist_url
            .join(seg.uri.trim())
            .map_err(|_| Error::parse(format!("segment URI {:?}", seg.uri)))?;
        let range = seg.byte_range.as_ref().map(|r| {
            let offset = r.offset.unwrap_or(next_offset);
            next_offset = offset + r.length;
            (offset, r.length)
        });
        let sequence = playlist.media_sequence + i as u64;
        out.push(SegmentPlan {
            url: url.to_string(),
            range,
            key: key.as_ref().map(|(uri, iv)| SegmentKey {
                uri: uri.clone(),
                iv: iv.unwrap_or_else(|| (u128::from(sequence)).to_be_bytes()),
            }),
        });
    }
    Ok(out)
}

/// `0x00112233...` (up to 32 hex digits) → 16 bytes, left-padded with zeros.
fn parse_iv(raw: &str) -> Result<[u8; 16]> {
    let hex = raw.trim().trim_start_matches("0x").trim_start_matches("0X");
    let value = u128::from_str_radix(hex, 16).map_err(|_| Error::parse("IV of #EXT-X-KEY"))?;
    if hex.len() > 32 {
        return Err(Error::parse("IV of #EXT-X-KEY"));
    }
    Ok(value.to_be_bytes())
}

async fn fetch_text(t: &Transfer<'_>, url: &str) -> Result<(String, url::Url)> {
    tokio::time::timeout(SEGMENT_TIMEOUT, fetch_text_once(t, url))
        .await
        .map_err(|_| Error::Timeout(format!("playlist {}", redact(url))))?
}

async fn fetch_text_once(t: &Transfer<'_>, url: &str) -> Result<(String, url::Url)> {
    let resp = t.get(url).send().await.map_err(|e| {
        Error::Http(format!(
            "GET {}: {}",
            redact(url),
            describe_request_error(&e)
        ))
    })?;
    if !resp.status().is_success() {
        return Err(status_error(resp.status(), url));
    }
    let final_url = resp.url().clone();
    let body = read_limited(t, resp, MAX_PLAYLIST_BYTES, false).await?;
    Ok((String::from_utf8_lossy(&body).into_owned(), final_url))
}

async fn read_limited(
    t: &Transfer<'_>,
    mut resp: reqwest::Response,
    max: usize,
    limit_rate: bool,
) -> Result<Vec<u8>> {
    let url = redact(resp.url().as_str());
    let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0).min(max as u64) as usize);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::Http(format!("{url}: {}", describe_request_error(&e))))?
    {
        if body.len() + chunk.len() > max {
            return Err(Error::invalid(
                "media",
                format!("{url} is larger than {max} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
        if limit_rate {
            t.limiter.consume(chunk.len()).await;
        }
    }
    Ok(body)
}

/// Resolves the playlist at `url` to the segments to download.
pub async fn load_plan(t: &Transfer<'_>, url: &str, max_height: u32) -> Result<Vec<SegmentPlan>> {
    let (text, base) = fetch_text(t, url).await?;
    let playlist =
        m3u8_rs::parse_playlist_res(text.as_bytes()).map_err(|_| Error::parse("HLS playlist"))?;
    let (media, media_url) = match playlist {
        Playlist::MediaPlaylist(m) => (m, base),
        Playlist::MasterPlaylist(master) => {
            let variant = pick_variant(&master, max_height)
                .ok_or_else(|| Error::parse("a variant in the HLS master playlist"))?;
            let variant_url = base
                .join(variant.uri.trim())
                .map_err(|_| Error::parse("variant URI"))?;
            let (text, media_base) = fetch_text(t, variant_url.as_str()).await?;
            let media = m3u8_rs::parse_media_playlist_res(text.as_bytes())
                .map_err(|_| Error::parse("HLS media playlist"))?;
            (media, media_base)
        }
    };
    if media.segments.is_empty() {
        return Err(Error::parse("segments in the HLS media playlist"));
    }
    plan_segments(&media, &media_url)
}

/// Downloads the stream at `url` into `target`'s `.part` file; returns its length.
pub async fn download_hls(
    t: &Transfer<'_>,
    url: &str,
    target: &Path,
    identity: &str,
    max_height: u32,
    parallelism: usize,
) -> Result<u64> {
    let plan = load_plan(t, url, max_height).await?;
    let part = part_path(target);
    let count = plan.len() as u64;
    let mut state = match PartialState::load(target) {
        Some(s)
            if s.identity == identity && s.kind == MediaKind::Hls && s.segment_count == count =>
        {
            // Bytes past the last recorded segment may be half a segment: cut them off.
            truncate(&part, s.bytes).await?;
            s
        }
        _ => {
            remove_file_if_exists(&part).await?;
            let mut s = PartialState::new(identity, MediaKind::Hls);
            s.segment_count = count;
            s
        }
    };
    state.save(target).await?;

    let mut keys: HashMap<String, [u8; 16]> = HashMap::new();
    let start = usize::try_from(state.segments_done).unwrap_or(usize::MAX);
    for seg in plan.iter().skip(start) {
        if let Some(k) = &seg.key
            && !keys.contains_key(&k.uri)
        {
            keys.insert(k.uri.clone(), fetch_key(t, &k.uri).await?);
        }
    }

    let file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&part)
        .await
        .map_err(|e| Error::io(&part, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.seek(std::io::SeekFrom::Start(state.bytes))
        .await
        .map_err(|e| Error::io(&part, e))?;

    let keys = &keys;
    // Futures built up front (they do nothing until polled): a lazy `map` closure here makes the
    // caller's future fail the `Send` check (higher-ranked lifetime limitation).
    let pending: Vec<_> = plan
        .iter()
        .skip(start)
        .map(|seg| fetch_segment(t, seg, keys))
        .collect();
    let mut segments = futures::stream::iter(pending).buffered(parallelism.max(1));
    t.sink.progress(state.bytes, estimate_total(&state));
    let mut last_save = std::time::Instant::now();
    loop {
        let next = tokio::select! {
            n = segments.next() => n,
            _ = t.cancel.cancelled() => None,
        };
        let Some(result) = next else { break };
        let data = match result {
            Ok(d) => d,
            Err(e) => {
                // Keep what is complete so a retry or restart resumes there.
                out.flush().await.map_err(|e| Error::io(&part, e))?;
                state.save(target).await?;
                return Err(e);
            }
        };
        out.write_all(&data)
            .await
            .map_err(|e| Error::io(&part, e))?;
        state.segments_done += 1;
        state.bytes += data.len() as u64;
        // The sidecar is written a few times a second, not per segment: per-segment file
        // operations would cost more than the segments on a fast link.
        if last_save.elapsed() >= SIDECAR_INTERVAL {
            // Flushed before the sidecar records it, so the sidecar never claims unwritten bytes.
            out.flush().await.map_err(|e| Error::io(&part, e))?;
            state.save(target).await?;
            last_save = std::time::Instant::now();
        }
        t.sink.progress(state.bytes, estimate_total(&state));
    }
    out.flush().await.map_err(|e| Error::io(&part, e))?;
    state.save(target).await?;
    if state.segments_done < count {
        return Err(Error::Cancelled);
    }
    out.into_inner()
        .sync_all()
        .await
        .map_err(|e| Error::io(&part, e))?;
    Ok(state.bytes)
}

fn estimate_total(state: &PartialState) -> Option<u64> {
    if state.segments_done == 0 {
        return None;
    }
    if state.segments_done == state.segment_count {
        return Some(state.bytes);
    }
    Some(state.bytes / state.segments_done * state.segment_count)
}

async fn fetch_key(t: &Transfer<'_>, uri: &str) -> Result<[u8; 16]> {
    tokio::time::timeout(SEGMENT_TIMEOUT, fetch_key_once(t, uri))
        .await
        .map_err(|_| Error::Timeout(format!("key {}", redact(uri))))?
}

async fn fetch_key_once(t: &Transfer<'_>, uri: &str) -> Result<[u8; 16]> {
    let resp = t.get(uri).send().await.map_err(|e| {
        Error::Http(format!(
            "GET {}: {}",
            redact(uri),
            describe_request_error(&e)
        ))
    })?;
    if !resp.status().is_success() {
        return Err(status_error(resp.status(), uri));
    }
    let body = read_limited(t, resp, 1024, false).await?;
    body.as_slice()
        .try_into()
        .map_err(|_| Error::parse(format!("AES-128 key ({} bytes instead of 16)", body.len())))
}

async fn fetch_segment(
    t: &Transfer<'_>,
    seg: &SegmentPlan,
    keys: &HashMap<String, [u8; 16]>,
) -> Result<Vec<u8>> {
    let mut last_error = None;
    for attempt in 0..SEGMENT_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
        }
        match tokio::time::timeout(SEGMENT_TIMEOUT, fetch_segment_once(t, seg)).await {
            Ok(Ok(body)) => {
                return match &seg.key {
                    None => Ok(body),
                    Some(k) => {
                        let key = keys
                            .get(&k.uri)
                            .ok_or_else(|| Error::parse("AES-128 key"))?;
                        Aes128CbcDec::new(key.into(), &k.iv.into())
                            .decrypt_padded_vec_mut::<Pkcs7>(&body)
                            .map_err(|_| Error::parse("AES-128 segment padding (wrong key or IV)"))
                    }
                };
            }
            Ok(Err(e)) if !e.is_transient() => return Err(e),
            Ok(Err(e)) => last_error = Some(e),
            Err(_) => last_error = Some(Error::Timeout(format!("segment {}", redact(&seg.url)))),
        }
    }
    Err(last_error.unwrap_or_else(|| Error::Http("segment failed".to_owned())))
}

async fn fetch_segment_once(t: &Transfer<'_>, seg: &SegmentPlan) -> Result<Vec<u8>> {
    let mut req = t.get(&seg.url);
    if let Some((offset, len)) = seg.range {
        req = req.header(
            reqwest::header::RANGE,
            format!("bytes={offset}-{}", offset + len.saturating_sub(1)),
        );
    }
    let resp = req.send().await.map_err(|e| {
        Error::Http(format!(
            "GET {}: {}",
            redact(&seg.url),
            describe_request_error(&e)
        ))
    })?;
    if !resp.status().is_success() {
        return Err(status_error(resp.status(), &seg.url));
    }
    read_limited(t, resp, MAX_SEGMENT_BYTES, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn variant_choice_honours_the_height_cap() {
        let text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlow.m3u8\n\
                    #EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080\nhigh.m3u8\n\
                    #EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720\nmid.m3u8\n";
        let Playlist::MasterPlaylist(m) = m3u8_rs::parse_playlist_res(text.as_bytes()).unwrap()
        else {
            panic!("not a master playlist")
        };
        assert_eq!(pick_variant(&m, 0).unwrap().uri, "high.m3u8");
        assert_eq!(pick_variant(&m, 720).unwrap().uri, "mid.m3u8");
        assert_eq!(pick_variant(&m, 100).unwrap().uri, "low.m3u8");
    }

    #[test]
    fn segments_are_relative_to_the_playlist_and_keys_get_ivs() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n\
                    #EXTINF:4,\nseg0.ts\n\
                    #EXT-X-KEY:METHOD=AES-128,URI=\"../key.bin\"\n#EXTINF:4,\nseg1.ts\n\
                    #EXTINF:4,\nhttp://other/seg2.ts\n\
                    #EXT-X-KEY:METHOD=AES-128,URI=\"k2\",IV=0x0000000000000000000000000000002A\n#EXTINF:4,\nseg3.ts\n\
                    #EXT-X-ENDLIST\n";
        let m = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        let plan = plan_segments(&m, &url("http://h/hls/v/720/index.m3u8?x=1")).unwrap();
        assert_eq!(plan[0].url, "http://h/hls/v/720/seg0.ts");
        assert_eq!(plan[0].key, None);
        let k1 = plan[1].key.as_ref().unwrap();
        assert_eq!(k1.uri, "http://h/hls/v/key.bin");
        assert_eq!(k1.iv, 8u128.to_be_bytes());
        assert_eq!(plan[2].url, "http://other/seg2.ts");
        assert_eq!(plan[2].key.as_ref().unwrap().iv, 9u128.to_be_bytes());
        assert_eq!(plan[3].key.as_ref().unwrap().iv, 42u128.to_be_bytes());
    }

    #[test]
    fn sample_aes_is_reported_as_unsupported() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n\
                    #EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"k\"\n#EXTINF:4,\ns.ts\n#EXT-X-ENDLIST\n";
        let m = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        let err = plan_segments(&m, &url("http://h/p.m3u8")).unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{err}");
    }
}
