//! Series covers, kept in the data dir: each one is fetched once from the provider's cover URL
//! through the network stack (a site's own client for its own URLs, so its proxy, headers,
//! mirrors and rate limit apply; else the shared client with `network.proxy`), checked (an image
//! by its first bytes, at most [`MAX_COVER_BYTES`]) and stored as
//! `DATA_DIR/covers/{site}/{key}.{jpg,png,gif,webp}`. A failed fetch is not tried again for
//! [`RETRY_FAILED_AFTER`], so a blocked site costs one request per cover, not one per page view.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::catalogue::SiteKey;
use crate::error::{Error, Result};
use crate::hosters::common::HosterClient;
use crate::model::SeriesKey;
use crate::network::Network;

/// Largest cover accepted.
pub const MAX_COVER_BYTES: usize = 2 * 1024 * 1024;
/// How long a failed fetch is remembered before the next try.
pub const RETRY_FAILED_AFTER: Duration = Duration::from_secs(10 * 60);
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// A cover on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCover {
    pub path: PathBuf,
    /// `image/jpeg`, `image/png`, `image/gif` or `image/webp`.
    pub mime: &'static str,
}

type Fetching = Shared<BoxFuture<'static, std::result::Result<StoredCover, String>>>;

/// The cover store. Cheap to clone.
#[derive(Clone)]
pub struct Covers {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    network: Network,
    /// For URLs that are not a provider site's own.
    other: Option<HosterClient>,
    stored: RwLock<HashMap<SiteKey, StoredCover>>,
    failed: Mutex<HashMap<SiteKey, (Instant, String)>>,
    fetching: Mutex<HashMap<SiteKey, Fetching>>,
}

/// The image type of `bytes` by its signature; `None` for anything else (HTML, SVG, text).
pub fn sniff_image(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(("image/gif", "gif"))
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

fn mime_of_extension(ext: &str) -> Option<&'static str> {
    match ext {
        "jpg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// A site id usable as a folder name (ids are plain words; anything else gets no covers).
fn site_folder(site: &str) -> Option<&str> {
    (!site.is_empty()
        && site.len() <= 64
        && site
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(site)
}

impl Covers {
    /// The store in `dir` (created on the first cover), with what it holds already.
    pub fn open(dir: PathBuf, network: Network) -> Covers {
        let stored = list_stored(&dir);
        let other = match crate::hosters::common::HosterClient::on_network(&network) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "covers from other hosts cannot be fetched");
                None
            }
        };
        Covers {
            inner: Arc::new(Inner {
                dir,
                network,
                other,
                stored: RwLock::new(stored),
                failed: Mutex::new(HashMap::new()),
                fetching: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The stored cover of a series, if there is one.
    pub fn stored(&self, site: &str, key: &SeriesKey) -> Option<StoredCover> {
        self.inner
            .stored
            .read()
            .expect("covers lock")
            .get(&(site.to_owned(), key.clone()))
            .cloned()
    }

    /// The stored cover, else fetches it from `url` now (once: concurrent callers share the
    /// fetch, and a failure is remembered for [`RETRY_FAILED_AFTER`]).
    pub async fn get_or_fetch(
        &self,
        site: &str,
        key: &SeriesKey,
        url: &str,
    ) -> Result<StoredCover> {
        if let Some(c) = self.stored(site, key) {
            return Ok(c);
        }
        let id: SiteKey = (site.to_owned(), key.clone());
        if let Some((at, why)) = self.inner.failed.lock().expect("covers lock").get(&id)
            && at.elapsed() < RETRY_FAILED_AFTER
        {
            return Err(Error::NotFound(format!("cover of {key}: {why}")));
        }
        let fetching = {
            let mut fetching = self.inner.fetching.lock().expect("covers lock");
            fetching
                .entry(id.clone())
                .or_insert_with(|| {
                    let covers = self.clone();
                    let (site, key, url) = (site.to_owned(), key.clone(), url.to_owned());
                    let task = tokio::spawn(async move {
                        let result = covers.fetch(&site, &key, &url).await;
                        covers.finished(&site, &key, &result);
                        result.map_err(|e| e.to_string())
                    });
                    async move {
                        task.await
                            .unwrap_or_else(|e| Err(format!("cover fetch stopped: {e}")))
                    }
                    .boxed()
                    .shared()
                })
                .clone()
        };
        fetching
            .await
            .map_err(|why| Error::NotFound(format!("cover of {key}: {why}")))
    }

    /// The bytes of a stored cover.
    pub async fn read(&self, cover: &StoredCover) -> Result<Vec<u8>> {
        tokio::fs::read(&cover.path)
            .await
            .map_err(|e| Error::io(&cover.path, e))
    }

    fn finished(&self, site: &str, key: &SeriesKey, result: &Result<StoredCover>) {
        let id: SiteKey = (site.to_owned(), key.clone());
        self.inner.fetching.lock().expect("covers lock").remove(&id);
        match result {
            Ok(cover) => {
                self.inner
                    .stored
                    .write()
                    .expect("covers lock")
                    .insert(id.clone(), cover.clone());
                self.inner.failed.lock().expect("covers lock").remove(&id);
            }
            Err(e) => {
                tracing::info!(site, %key, error = %e, "cover not fetched");
                self.inner
                    .failed
                    .lock()
                    .expect("covers lock")
                    .insert(id, (Instant::now(), e.to_string()));
            }
        }
    }

    async fn fetch(&self, site: &str, key: &SeriesKey, url: &str) -> Result<StoredCover> {
        let folder =
            site_folder(site).ok_or_else(|| Error::invalid("site", "not a plain provider id"))?;
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::invalid("cover", format!("{url:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::invalid("cover", "not an http(s) URL"));
        }
        let (bytes, content_type) =
            match crate::http::SiteClient::of_site(&self.inner.network, site) {
                Some(client) if client.is_own_url(url) => {
                    tokio::time::timeout(FETCH_TIMEOUT, client.get_bytes(url, MAX_COVER_BYTES))
                        .await
                        .map_err(|_| {
                            Error::Timeout(format!("{site} did not send the cover in time"))
                        })??
                }
                _ => self.fetch_other(&parsed).await?,
            };
        if let Some(ct) = &content_type {
            let ct = ct.to_ascii_lowercase();
            if !(ct.starts_with("image/") || ct.starts_with("application/octet-stream")) {
                return Err(Error::parse(format!(
                    "cover of {key}: the site sent {ct}, not an image"
                )));
            }
        }
        let (mime, ext) = sniff_image(&bytes).ok_or_else(|| {
            Error::parse(format!(
                "cover of {key}: not a JPEG, PNG, GIF or WebP image"
            ))
        })?;
        let dir = self.inner.dir.join(folder);
        let path = dir.join(format!("{key}.{ext}"));
        let body = bytes;
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&target, &body))
            .await
            .map_err(|e| Error::io(&path, std::io::Error::other(e.to_string())))??;
        Ok(StoredCover { path, mime })
    }

    async fn fetch_other(&self, url: &url::Url) -> Result<(Vec<u8>, Option<String>)> {
        let client = self
            .inner
            .other
            .as_ref()
            .ok_or_else(|| Error::Unsupported("no client for cover hosts".into()))?;
        let response = client
            .get(url.clone())
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| {
                Error::Http(crate::network::describe_transport(
                    &e,
                    &crate::network::host_of(url),
                    Some(FETCH_TIMEOUT),
                ))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(Error::Http(format!(
                "{} answered {status} for a cover",
                crate::network::host_of(url)
            )));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((
            crate::http::read_bytes(response, MAX_COVER_BYTES).await?,
            content_type,
        ))
    }
}

/// Every `{site}/{key}.{ext}` below `dir` (nothing when it does not exist yet).
fn list_stored(dir: &Path) -> HashMap<SiteKey, StoredCover> {
    let mut found = HashMap::new();
    let Ok(sites) = std::fs::read_dir(dir) else {
        return found;
    };
    for site in sites.flatten() {
        let Ok(site_name) = site.file_name().into_string() else {
            continue;
        };
        if site_folder(&site_name).is_none() {
            continue;
        }
        let Ok(files) = std::fs::read_dir(site.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let (Some(stem), Some(ext)) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) else {
                continue;
            };
            if let (Ok(key), Some(mime)) = (SeriesKey::parse(stem), mime_of_extension(ext)) {
                found.insert(
                    (site_name.clone(), key),
                    StoredCover {
                        path: path.clone(),
                        mime,
                    },
                );
            }
        }
    }
    found
}

fn write_atomically(path: &Path, body: &[u8]) -> Result<()> {
    let dir = path.parent().expect("a cover path has a folder");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, body).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_raster_images_are_covers() {
        assert_eq!(
            sniff_image(&[0xFF, 0xD8, 0xFF, 0xE0]).map(|t| t.0),
            Some("image/jpeg")
        );
        assert_eq!(
            sniff_image(b"\x89PNG\r\n\x1a\n....").map(|t| t.0),
            Some("image/png")
        );
        assert_eq!(
            sniff_image(b"RIFF\0\0\0\0WEBPVP8 ").map(|t| t.0),
            Some("image/webp")
        );
        assert_eq!(sniff_image(b"<svg onload=alert(1)>"), None);
        assert_eq!(sniff_image(b"<html>Cloudflare</html>"), None);
        assert_eq!(sniff_image(b""), None);
    }

    #[test]
    fn stored_covers_are_found_again_and_strangers_ignored() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(&dir.path().join("aniworld/dark.jpg"), b"x").unwrap();
        write_atomically(&dir.path().join("aniworld/not a key.png"), b"x").unwrap();
        write_atomically(&dir.path().join("sto/dark.svg"), b"x").unwrap();
        let found = list_stored(dir.path());
        assert_eq!(found.len(), 1);
        let cover = &found[&("aniworld".to_owned(), SeriesKey::parse("dark").unwrap())];
        assert_eq!(cover.mime, "image/jpeg");
        assert!(list_stored(&dir.path().join("missing")).is_empty());
    }
}
