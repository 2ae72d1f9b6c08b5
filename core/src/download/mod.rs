//! Download engine: candidates → media source → MP4 / HLS download → file in the library.
//!
//! [`DownloadEngine::download_episode`] does one episode: ranks the provider's hoster entries by
//! the language and hoster preferences, and tries each (`download.attempts_per_candidate` times,
//! with backoff) until one produces a complete file, which is then renamed into place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, DownloadConfig};
use crate::error::{Error, Result};
use crate::events::{DownloadHooks, EventContext, HookDecision};
use crate::metadata::SeriesMetadata;
use crate::model::{Language, MediaKind, MediaSource, SeriesKey};
use crate::network::{ProxySetting, describe_transport, is_transport};
use crate::registry::Registry;
use crate::selection::{Candidate, rank_candidates};

pub mod hls;
pub mod mp4;
pub mod naming;
pub mod partial;
pub mod rate;

pub use rate::RateLimiter;

/// Receives what a running download does. Implemented by the queue (database + events) and by tests.
pub trait ProgressSink: Send + Sync {
    /// The file the download will produce, once known (before any byte is written).
    fn target(&self, _path: &Path, _folder: &str, _language: Language) {}
    /// Bytes in the partial file so far; `total` when known (estimated for HLS).
    fn progress(&self, bytes: u64, total: Option<u64>);
}

/// A sink that ignores everything.
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn progress(&self, _: u64, _: Option<u64>) {}
}

/// One episode to download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EpisodeJob {
    /// Queue item id (0 outside the queue); used in events.
    pub item_id: i64,
    pub key: SeriesKey,
    pub site: String,
    pub season: u32,
    pub episode: u32,
    /// Forces one language; `None` = the configured preference list.
    pub language: Option<Language>,
    /// Series folder name in the library, when known.
    pub folder: Option<String>,
}

/// How an episode ended when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum EpisodeOutcome {
    Downloaded {
        path: PathBuf,
        size: u64,
        language: Language,
        hoster: String,
    },
    /// The target file already existed: nothing was fetched.
    AlreadyOnDisk { path: PathBuf },
    /// A `before_download` hook said no.
    Skipped { reason: String },
}

/// Shared by every download: HTTP client, bandwidth limit, hooks.
#[derive(Clone)]
pub struct DownloadEngine {
    registry: Registry,
    /// The media client and the proxy it was built with (`network.proxy`).
    media: Arc<RwLock<(reqwest::Client, Option<ProxySetting>)>>,
    limiter: Arc<RateLimiter>,
    hooks: Arc<dyn DownloadHooks>,
}

/// What one transfer needs: client, the hoster's headers, the shared limiter, progress, cancel.
pub struct Transfer<'a> {
    pub client: &'a reqwest::Client,
    /// The proxy `client` goes through, to tell a dead proxy from a dead media host.
    pub proxy: Option<&'a ProxySetting>,
    pub headers: &'a BTreeMap<String, String>,
    pub limiter: &'a RateLimiter,
    pub sink: &'a dyn ProgressSink,
    pub cancel: &'a CancellationToken,
}

impl Transfer<'_> {
    /// A GET carrying the headers the hoster asked for.
    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let mut req = self.client.get(url);
        for (k, v) in self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req
    }
}

impl Transfer<'_> {
    /// The error for a request to `url` that got no answer: a proxy that cannot be reached is
    /// [`Error::Proxy`]; otherwise what failed on the way to the media host.
    pub(crate) async fn request_error(&self, url: &str, e: &reqwest::Error) -> Error {
        if let Some(proxy) = self.proxy
            && is_transport(e)
            && let Some(problem) = proxy.probe().await
        {
            return proxy.error(problem);
        }
        let host = url::Url::parse(url)
            .map(|u| crate::network::host_of(&u))
            .unwrap_or_else(|_| redact(url));
        let text = format!(
            "GET {}: {}",
            redact(url),
            describe_transport(e, &host, None)
        );
        if e.is_timeout() {
            Error::Timeout(text)
        } else {
            Error::Http(text)
        }
    }
}

/// Maps an unexpected HTTP status to the error kind retry logic understands.
pub(crate) fn status_error(status: reqwest::StatusCode, url: &str) -> Error {
    let url = redact(url);
    match status.as_u16() {
        404 | 410 => Error::NotFound(format!("{url} ({status})")),
        403 => Error::Blocked {
            site: url,
            reason: status.to_string(),
        },
        _ => Error::Http(format!("GET {url}: {status}")),
    }
}

/// URL without its query (tokens) for logs and error messages.
pub(crate) fn redact(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or(url).to_owned()
}

/// The media client: browser-like, but without an overall timeout (files are big) and without
/// compression (byte ranges must refer to the file itself); through `proxy` when set.
fn media_client(proxy: Option<&ProxySetting>) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(crate::http::USER_AGENT)
        .connect_timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::limited(10))
        .no_gzip()
        .no_brotli();
    if let Some(p) = proxy {
        builder = builder.proxy(p.to_reqwest()?);
    }
    builder
        .build()
        .map_err(|e| Error::Http(format!("cannot build the media client: {e}")))
}

/// `ffmpeg` on the PATH, if any.
pub fn ffmpeg_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(format!("ffmpeg{}", std::env::consts::EXE_SUFFIX)))
        .find(|p| p.is_file())
}

/// The container an HLS download ends in: `mp4`/`mkv` when remuxing is asked for and possible.
fn hls_container(cfg: &DownloadConfig) -> &'static str {
    let wanted = match cfg.remux.to_ascii_lowercase().as_str() {
        "mp4" => "mp4",
        "mkv" => "mkv",
        _ => return "ts",
    };
    if ffmpeg_path().is_some() {
        wanted
    } else {
        tracing::warn!("download.remux is {wanted:?} but ffmpeg is not on the PATH; keeping .ts");
        "ts"
    }
}

impl DownloadEngine {
    pub fn new(
        registry: Registry,
        hooks: Arc<dyn DownloadHooks>,
        limiter: Arc<RateLimiter>,
    ) -> Self {
        let client = media_client(None).expect("media client without a proxy builds");
        DownloadEngine {
            registry,
            media: Arc::new(RwLock::new((client, None))),
            limiter,
            hooks,
        }
    }

    /// Sends media requests through `network.proxy` of `config` from now on (a no-op when it is
    /// the one in use). The error names the key when the URL is unusable.
    pub fn use_network(&self, config: &crate::config::NetworkConfig) -> Result<()> {
        let proxy = ProxySetting::parse("network.proxy", &config.proxy)?;
        if self.media.read().expect("media lock").1 == proxy {
            return Ok(());
        }
        let client = media_client(proxy.as_ref())?;
        *self.media.write().expect("media lock") = (client, proxy);
        Ok(())
    }

    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// Downloads one episode into the library, trying every candidate in preference order. A
    /// cancel ends it at once, also while a site is slow to answer.
    pub async fn download_episode(
        &self,
        config: &Config,
        job: &EpisodeJob,
        sink: &dyn ProgressSink,
        cancel: &CancellationToken,
    ) -> Result<EpisodeOutcome> {
        self.use_network(&config.network)?;
        let root = config.library.path.clone();
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(|e| Error::io(&root, e))?;
        let provider = self.registry.provider(&job.site)?;
        let series = until_cancelled(cancel, provider.series(&job.key)).await?;
        let streams =
            until_cancelled(cancel, provider.episode(&job.key, job.season, job.episode)).await?;
        let candidates = rank_candidates(&streams, &config.download, job.language);
        if candidates.is_empty() {
            return Err(Error::NotFound(format!(
                "no stream of {} S{:02}E{:03} in the wanted languages",
                job.key, job.season, job.episode
            )));
        }
        let folder = match &job.folder {
            Some(f) => naming::sanitize_part(f),
            None => naming::default_folder_name(&series.name, series.year),
        };
        let episode_title = streams
            .title_de
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .or(streams.title_en.as_deref().filter(|t| !t.trim().is_empty()));

        let attempts = config.download.attempts_per_candidate.max(1);
        let mut errors: Vec<String> = Vec::new();
        for candidate in &candidates {
            let values = naming::NamingValues {
                folder: &folder,
                title: &series.name,
                year: series.year,
                season: job.season,
                episode: job.episode,
                language: candidate.language,
                episode_title,
            };
            let relative = naming::render_template(&config.library.naming_template, &values)?;
            let mut context = EventContext::new(job.key.clone());
            context.site = Some(job.site.clone());
            context.folder = Some(folder.clone());
            context.season = Some(job.season);
            context.episode = Some(job.episode);
            context.language = Some(candidate.language);
            let file_name = relative
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let relative = match self.hooks.before_download(&context, &file_name).await {
                HookDecision::Continue => relative,
                HookDecision::Skip => {
                    return Ok(EpisodeOutcome::Skipped {
                        reason: "a before_download hook skipped it".to_owned(),
                    });
                }
                HookDecision::Rename(name) => {
                    // A name only: whatever directories the hook put in front are dropped.
                    let name = name.rsplit(['/', '\\']).next().unwrap_or_default();
                    relative.with_file_name(naming::sanitize_part(name))
                }
            };
            let base = naming::join_inside(&root, &relative)?;
            if let Some(existing) = existing_variant(&base) {
                return Ok(EpisodeOutcome::AlreadyOnDisk { path: existing });
            }

            let mut last: Option<Error> = None;
            for attempt in 0..attempts {
                if attempt > 0 {
                    let backoff = Duration::from_millis(500u64 << attempt.min(4));
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = cancel.cancelled() => return Err(Error::Cancelled),
                    }
                }
                let result = self
                    .try_candidate(
                        config, job, &series, candidate, &folder, &root, &base, sink, cancel,
                    )
                    .await;
                match result {
                    Ok((path, size)) => {
                        return Ok(EpisodeOutcome::Downloaded {
                            path,
                            size,
                            language: candidate.language,
                            hoster: candidate.hoster.clone(),
                        });
                    }
                    Err(Error::Cancelled) => return Err(Error::Cancelled),
                    Err(e) => {
                        tracing::warn!(
                            key = %job.key, season = job.season, episode = job.episode,
                            hoster = %candidate.hoster, language = %candidate.language,
                            attempt = attempt + 1, error = %e, "candidate failed"
                        );
                        let transient = e.is_transient();
                        last = Some(e);
                        if !transient {
                            break;
                        }
                    }
                }
            }
            if let Some(e) = last {
                errors.push(format!(
                    "{} ({}): {e}",
                    candidate.hoster, candidate.language
                ));
            }
        }
        Err(Error::Http(format!(
            "every candidate failed: {}",
            errors.join("; ")
        )))
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_candidate(
        &self,
        config: &Config,
        job: &EpisodeJob,
        series: &crate::model::SeriesInfo,
        candidate: &Candidate,
        folder: &str,
        root: &Path,
        base: &Path,
        sink: &dyn ProgressSink,
        cancel: &CancellationToken,
    ) -> Result<(PathBuf, u64)> {
        let provider = self.registry.provider(&job.site)?;
        let embed = until_cancelled(cancel, provider.resolve_redirect(&candidate.url)).await?;
        let hoster = match self.registry.hoster(&candidate.hoster) {
            Ok(h) => h,
            Err(e) => self.registry.hoster_for_url(&embed).ok_or(e)?,
        };
        let source = until_cancelled(cancel, hoster.extract(&embed)).await?;
        let ext = match source.kind {
            MediaKind::Mp4 => "mp4",
            MediaKind::Hls => hls_container(&config.download),
        };
        let target = naming::with_container_extension(base, ext);

        // Directories first, then prove the real (symlink-resolved) location is inside the root.
        let parent = target.parent().unwrap_or(root).to_path_buf();
        let series_dir = root.join(folder);
        let creating_series = !series_dir.exists();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| Error::io(&parent, e))?;
        naming::ensure_inside_existing(root, &target)?;
        if target.starts_with(&series_dir)
            && (creating_series || !series_dir.join(crate::metadata::METADATA_FILE).exists())
        {
            let meta = SeriesMetadata {
                key: job.key.clone(),
                site: job.site.clone(),
                name: series.name.clone(),
                year: series.year,
            };
            if let Err(e) = meta.write(&series_dir) {
                tracing::warn!(error = %e, "could not write series metadata");
            }
        }
        sink.target(&target, folder, candidate.language);
        let identity = format!(
            "{}|{}",
            candidate.language,
            candidate.hoster.to_ascii_lowercase()
        );
        let size = self
            .download_source(&config.download, &source, &target, &identity, sink, cancel)
            .await?;
        Ok((target, size))
    }

    /// Downloads a media source into `target` (via `target.part`) and renames it into place.
    /// `identity` names the source so a partial file from another source is never resumed.
    pub async fn download_source(
        &self,
        cfg: &DownloadConfig,
        source: &MediaSource,
        target: &Path,
        identity: &str,
        sink: &dyn ProgressSink,
        cancel: &CancellationToken,
    ) -> Result<u64> {
        let (client, proxy) = self.media.read().expect("media lock").clone();
        let transfer = Transfer {
            client: &client,
            proxy: proxy.as_ref(),
            headers: &source.headers,
            limiter: &self.limiter,
            sink,
            cancel,
        };
        let part = partial::part_path(target);
        let size = match source.kind {
            MediaKind::Mp4 => mp4::download_mp4(&transfer, &source.url, target, identity).await?,
            MediaKind::Hls => {
                let parallelism =
                    usize::try_from(cfg.segment_parallelism.clamp(1, 64)).unwrap_or(8);
                hls::download_hls(
                    &transfer,
                    &source.url,
                    target,
                    identity,
                    cfg.max_height,
                    parallelism,
                )
                .await?
            }
        };
        let is_remux = source.kind == MediaKind::Hls
            && target.extension().is_some_and(|e| e == "mp4" || e == "mkv");
        let size = if is_remux {
            remux(&part, target).await?
        } else {
            tokio::fs::rename(&part, target)
                .await
                .map_err(|e| Error::io(target, e))?;
            size
        };
        partial::remove_partial(target).await;
        sync_dir(target.parent()).await;
        Ok(size)
    }
}

/// A finished file for this target under any container extension.
fn existing_variant(base: &Path) -> Option<PathBuf> {
    crate::scanner::filename::VIDEO_EXTENSIONS
        .iter()
        .map(|ext| naming::with_container_extension(base, ext))
        .find(|p| p.is_file())
}

/// `ffmpeg -c copy` of the finished `.ts` partial into `target` (through a temp file).
async fn remux(part: &Path, target: &Path) -> Result<u64> {
    let ffmpeg =
        ffmpeg_path().ok_or_else(|| Error::Unsupported("ffmpeg is not on the PATH".into()))?;
    let format = if target.extension().is_some_and(|e| e == "mkv") {
        "matroska"
    } else {
        "mp4"
    };
    let mut tmp = target.as_os_str().to_owned();
    tmp.push(".remux");
    let tmp = PathBuf::from(tmp);
    let status = tokio::process::Command::new(ffmpeg)
        .args(["-nostdin", "-y", "-loglevel", "error", "-i"])
        .arg(part)
        .args(["-c", "copy", "-f", format])
        .arg(&tmp)
        .kill_on_drop(true)
        .status()
        .await
        .map_err(|e| Error::io(part, e))?;
    if !status.success() {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(Error::Unsupported(format!(
            "ffmpeg remux failed ({status})"
        )));
    }
    tokio::fs::rename(&tmp, target)
        .await
        .map_err(|e| Error::io(target, e))?;
    tokio::fs::remove_file(part)
        .await
        .map_err(|e| Error::io(part, e))?;
    let len = tokio::fs::metadata(target)
        .await
        .map_err(|e| Error::io(target, e))?
        .len();
    Ok(len)
}

/// fsync of a directory so a rename survives a crash (best effort; not supported everywhere).
async fn sync_dir(dir: Option<&Path>) {
    if let Some(dir) = dir
        && let Ok(f) = tokio::fs::File::open(dir).await
    {
        let _ = f.sync_all().await;
    }
}

/// `work`, or [`Error::Cancelled`] as soon as `cancel` fires (a hanging site must not hold up a
/// stop or Ctrl-C until its timeouts and retries run out).
async fn until_cancelled<T>(
    cancel: &CancellationToken,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        result = work => result,
        () = cancel.cancelled() => Err(Error::Cancelled),
    }
}
