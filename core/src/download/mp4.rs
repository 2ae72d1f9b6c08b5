//! Direct MP4: streamed to `NAME.part` with bounded memory, resumed with HTTP `Range` after any
//! interruption (also across restarts), length-checked and fsynced.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncWriteExt, BufWriter};

use super::partial::{PartialState, part_path};
use super::{Transfer, status_error};
use crate::error::{Error, Result};
use crate::model::MediaKind;

/// Write buffer: big enough that a 1 GiB file costs ~1000 writes, small against the memory target.
const WRITE_BUFFER: usize = 1 << 20;
/// A body that sends nothing for this long counts as an interruption.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Interruptions in a row without a single new byte before the attempt fails.
const MAX_IDLE_INTERRUPTIONS: u32 = 3;

/// Downloads `url` into `target`'s `.part` file and returns its final length. Bytes already in
/// the `.part` file are kept when its sidecar says they came from `identity`.
pub async fn download_mp4(
    t: &Transfer<'_>,
    url: &str,
    target: &Path,
    identity: &str,
) -> Result<u64> {
    let part = part_path(target);
    let mut state = match PartialState::load(target) {
        Some(s) if s.identity == identity && s.kind == MediaKind::Mp4 => s,
        _ => {
            remove_file_if_exists(&part).await?;
            PartialState::new(identity, MediaKind::Mp4)
        }
    };
    let mut have = file_len(&part).await?;
    if have == 0 {
        state.total = None;
    }
    state.save(target).await?;
    let mut idle_interruptions = 0u32;
    loop {
        if t.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let mut req = t.get(url);
        if have > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let resp = tokio::select! {
            r = tokio::time::timeout(STALL_TIMEOUT, req.send()) => r,
            _ = t.cancel.cancelled() => return Err(Error::Cancelled),
        };
        let resp = match resp.map_err(|_| "no answer within 30 s".to_owned()) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(crate::http::describe_request_error(&e)),
            Err(e) => Err(e),
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                idle_interruptions += 1;
                if idle_interruptions >= MAX_IDLE_INTERRUPTIONS {
                    return Err(Error::Http(format!("GET {}: {e}", super::redact(url))));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let status = resp.status();
        let total = match status {
            StatusCode::PARTIAL_CONTENT => {
                let Some((start, total)) = content_range(&resp) else {
                    return Err(Error::parse("Content-Range of a 206 answer"));
                };
                if start != have || state.total.is_some_and(|t| Some(t) != total) {
                    // The server resumed somewhere else, or the file changed: start over.
                    tracing::info!(url = %super::redact(url), "server cannot continue the partial file; starting over");
                    truncate(&part, 0).await?;
                    have = 0;
                    state.total = None;
                    continue;
                }
                total
            }
            StatusCode::OK => {
                if have > 0 {
                    tracing::info!(url = %super::redact(url), "server ignored Range; starting over");
                    truncate(&part, 0).await?;
                    have = 0;
                }
                resp.content_length()
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                if state.total == Some(have) {
                    break;
                }
                truncate(&part, 0).await?;
                have = 0;
                state.total = None;
                continue;
            }
            s => return Err(status_error(s, url)),
        };
        if total.is_some() && state.total != total {
            state.total = total;
            state.save(target).await?;
        }
        t.sink.progress(have, total);

        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&part)
            .await
            .map_err(|e| Error::io(&part, e))?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        let before = have;
        let mut resp = resp;
        let interrupted = loop {
            let chunk = tokio::select! {
                c = tokio::time::timeout(STALL_TIMEOUT, resp.chunk()) => c,
                _ = t.cancel.cancelled() => {
                    out.flush().await.map_err(|e| Error::io(&part, e))?;
                    return Err(Error::Cancelled);
                }
            };
            match chunk {
                Ok(Ok(Some(bytes))) => {
                    if total.is_some_and(|t| have + bytes.len() as u64 > t) {
                        out.flush().await.map_err(|e| Error::io(&part, e))?;
                        truncate(&part, 0).await?;
                        return Err(Error::Http(format!(
                            "{} sent more bytes than announced",
                            super::redact(url)
                        )));
                    }
                    out.write_all(&bytes)
                        .await
                        .map_err(|e| Error::io(&part, e))?;
                    have += bytes.len() as u64;
                    t.limiter.consume(bytes.len()).await;
                    t.sink.progress(have, total);
                }
                Ok(Ok(None)) => break total.is_some_and(|t| have < t),
                Ok(Err(e)) => {
                    tracing::info!(url = %super::redact(url), bytes = have, error = %e, "download interrupted; resuming");
                    break true;
                }
                Err(_) => {
                    tracing::info!(url = %super::redact(url), bytes = have, "download stalled; resuming");
                    break true;
                }
            }
        };
        out.flush().await.map_err(|e| Error::io(&part, e))?;
        let file = out.into_inner();
        if !interrupted {
            file.sync_all().await.map_err(|e| Error::io(&part, e))?;
            if total.is_none() {
                state.total = Some(have);
                state.save(target).await?;
            }
            break;
        }
        drop(file);
        if have > before {
            idle_interruptions = 0;
        } else {
            idle_interruptions += 1;
            if idle_interruptions >= MAX_IDLE_INTERRUPTIONS {
                return Err(Error::Http(format!(
                    "{} keeps closing the connection at byte {have}",
                    super::redact(url)
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let len = file_len(&part).await?;
    if let Some(total) = state.total
        && len != total
    {
        return Err(Error::Http(format!(
            "length mismatch: have {len} bytes, server announced {total}"
        )));
    }
    Ok(len)
}

/// `Content-Range: bytes START-END/TOTAL` → (START, TOTAL if not `*`).
fn content_range(resp: &reqwest::Response) -> Option<(u64, Option<u64>)> {
    let v = resp
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _) = range.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let total = total.trim().parse().ok();
    Some((start, total))
}

async fn file_len(path: &Path) -> Result<u64> {
    match tokio::fs::metadata(path).await {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(path, e)),
    }
}

pub(crate) async fn truncate(path: &Path, len: u64) -> Result<()> {
    let f = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(len == 0)
        .open(path)
        .await
        .map_err(|e| Error::io(path, e))?;
    f.set_len(len).await.map_err(|e| Error::io(path, e))
}

pub(crate) async fn remove_file_if_exists(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}
