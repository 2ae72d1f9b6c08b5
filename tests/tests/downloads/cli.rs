//! `aniworld download` as a user runs it: the real binary against the fixture site.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use aniworld_core::download::partial::PartialState;
use aniworld_core::queue::ItemStatus;
use aniworld_core::storage::Store;
use aniworld_testkit::{FixtureSite, bin, media};

use super::doubles::files_below;

const KEY: &str = "attack-on-titan";
const SEASON_DIR: &str = "Attack on Titan (2013)/Season 01";

struct Cli {
    site: FixtureSite,
    dir: tempfile::TempDir,
    /// Hoster preference (JSON list) for this test.
    hosters: &'static str,
}

impl Cli {
    async fn start(hosters: &'static str) -> Cli {
        Cli {
            site: FixtureSite::start().await,
            dir: tempfile::tempdir().expect("tempdir"),
            hosters,
        }
    }

    fn library(&self) -> PathBuf {
        self.dir.path().join("library")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, episodes: &str) -> tokio::process::Command {
        let mut cmd = bin::aniworld();
        cmd.args(["download", KEY, "--season", "1", "--episodes", episodes])
            .args(["--language", "German Dub"])
            .arg("--data-dir")
            .arg(self.data())
            .arg("--library")
            .arg(self.library())
            .env(
                "ANIWORLD_PROVIDERS__ANIWORLD__BASE_URL",
                self.site.url("aniworld"),
            )
            .env("ANIWORLD_DOWNLOAD__HOSTERS", self.hosters)
            .env("ANIWORLD_DOWNLOAD__ATTEMPTS_PER_CANDIDATE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.kill_on_drop(true);
        cmd
    }

    async fn run(&self, episodes: &str) -> Output {
        tokio::time::timeout(Duration::from_secs(60), self.command(episodes).output())
            .await
            .expect("aniworld download finishes within a minute")
            .expect("aniworld runs")
    }

    fn target(&self, episode: u32, ext: &str) -> PathBuf {
        self.library().join(format!(
            "{SEASON_DIR}/Attack on Titan - S01E{episode:03} - (German Dub).{ext}"
        ))
    }

    /// Media requests for `video` (uri, Range header).
    fn media_requests(&self, video: &str) -> Vec<(String, Option<String>)> {
        self.site
            .state
            .requests()
            .into_iter()
            .filter(|r| r.server == "media" && r.uri.contains(video))
            .map(|r| (r.uri, r.headers.get("range").cloned()))
            .collect()
    }

    async fn queue_items(&self) -> Vec<aniworld_core::queue::QueueItem> {
        let store = Store::open_sqlite(&self.data().join("aniworld.db"))
            .await
            .expect("open db");
        store.queue().list().await.expect("list")
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn video(episode: u32) -> String {
    format!("{KEY}-s1e{episode}-de")
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..600 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what}: not within 15 s");
}

fn len(path: &Path) -> u64 {
    path.metadata().map(|m| m.len()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_downloads_mp4_episodes_and_prints_a_summary() {
    let cli = Cli::start(r#"["Vidoza"]"#).await;
    let out = cli.run("1-2").await;
    assert!(out.status.success(), "{}", text(&out));
    for ep in [1, 2] {
        assert_eq!(
            std::fs::read(cli.target(ep, "mp4")).unwrap(),
            media::expected_mp4(&cli.site.state, &video(ep)),
            "episode {ep}"
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 downloaded, 0 failed"), "{}", text(&out));
    let items = cli.queue_items().await;
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i.status == ItemStatus::Completed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_downloads_hls_from_voe_as_ts() {
    let cli = Cli::start(r#"["VOE"]"#).await;
    let out = cli.run("3").await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(cli.target(3, "ts")).unwrap(),
        media::expected_hls(&cli.site.state, &video(3), 1080)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_falls_back_to_the_next_hoster_when_one_is_broken() {
    let cli = Cli::start(r#"["Vidoza", "VOE"]"#).await;
    cli.site.state.set_knob("hoster.vidoza.broken", "1");
    let out = cli.run("1").await;
    assert!(out.status.success(), "{}", text(&out));
    // Vidoza (MP4) could not be extracted: VOE's HLS stream was used.
    assert!(!cli.target(1, "mp4").exists());
    assert_eq!(
        std::fs::read(cli.target(1, "ts")).unwrap(),
        media::expected_hls(&cli.site.state, &video(1), 1080)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_second_run_does_not_download_what_is_in_the_library() {
    let cli = Cli::start(r#"["Vidoza"]"#).await;
    let first = cli.run("1").await;
    assert!(first.status.success(), "{}", text(&first));
    cli.site.state.clear_requests();
    let second = cli.run("1").await;
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("already in the library"),
        "{}",
        text(&second)
    );
    assert!(cli.media_requests(&video(1)).is_empty());
    assert_eq!(cli.queue_items().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_mp4_then_rerun_resumes_without_refetching_or_duplicates() {
    let cli = Cli::start(r#"["Vidoza"]"#).await;
    cli.site
        .state
        .set_knob("media.mp4_size", (6 << 20).to_string());
    cli.site.state.set_knob("media.rate", (1 << 20).to_string());
    let mut child = cli.command("1").spawn().expect("spawn aniworld");
    let part = PathBuf::from(format!("{}.part", cli.target(1, "mp4").display()));
    wait_until("partial file grows past 1 MiB", || len(&part) > 1 << 20).await;
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    let kept = len(&part);
    assert!(kept > 0 && kept < 6 << 20, "partial file has {kept} bytes");
    let items = cli.queue_items().await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].status,
        ItemStatus::Downloading,
        "the kill left it mid-download"
    );

    cli.site.state.clear_knob("media.rate");
    cli.site.state.clear_requests();
    let out = cli.run("1").await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("resuming 1 interrupted"),
        "{}",
        text(&out)
    );
    let requests = cli.media_requests(&video(1));
    assert!(!requests.is_empty());
    for (uri, range) in &requests {
        let start: u64 = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.split('-').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{uri} fetched without a Range: {requests:?}"));
        assert!(start >= kept, "re-fetched from byte {start}, had {kept}");
    }
    assert_eq!(
        std::fs::read(cli.target(1, "mp4")).unwrap(),
        media::expected_mp4(&cli.site.state, &video(1))
    );
    let items = cli.queue_items().await;
    assert_eq!(items.len(), 1, "duplicate queue items: {items:?}");
    assert_eq!(items[0].status, ItemStatus::Completed);
    assert!(!part.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_hls_then_rerun_fetches_only_missing_segments() {
    let cli = Cli::start(r#"["VOE"]"#).await;
    cli.site.state.set_knob("hls.segments", "80");
    cli.site.state.set_knob("hls.segment_delay_ms", "100");
    // Two segments in flight: about 4 s for the stream, so the kill lands mid-way.
    let mut child = cli
        .command("2")
        .env("ANIWORLD_DOWNLOAD__SEGMENT_PARALLELISM", "2")
        .spawn()
        .expect("spawn aniworld");
    let target = cli.target(2, "ts");
    wait_until("some segments recorded", || {
        PartialState::load(&target).is_some_and(|s| s.segments_done >= 3)
    })
    .await;
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    let done_at_kill = PartialState::load(&target).expect("sidecar").segments_done;
    assert!(done_at_kill < 80, "the stream finished before the kill");

    cli.site.state.clear_knob("hls.segment_delay_ms");
    cli.site.state.clear_requests();
    let out = cli.run("2").await;
    assert!(out.status.success(), "{}", text(&out));
    let refetched: Vec<u64> = cli
        .media_requests(&video(2))
        .into_iter()
        .filter_map(|(uri, _)| {
            let seg = uri.rsplit('/').next()?.strip_prefix("seg")?;
            seg.split('.').next()?.parse().ok()
        })
        .filter(|i| *i < done_at_kill)
        .collect();
    assert!(
        refetched.is_empty(),
        "finished segments fetched again: {refetched:?}"
    );
    assert_eq!(
        std::fs::read(&target).unwrap(),
        media::expected_hls(&cli.site.state, &video(2), 1080)
    );
    assert_eq!(cli.queue_items().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_leaves_a_resumable_partial_file() {
    let cli = Cli::start(r#"["Vidoza"]"#).await;
    cli.site
        .state
        .set_knob("media.mp4_size", (6 << 20).to_string());
    cli.site.state.set_knob("media.rate", (1 << 20).to_string());
    let child = cli.command("1").spawn().expect("spawn aniworld");
    let part = PathBuf::from(format!("{}.part", cli.target(1, "mp4").display()));
    wait_until("partial file has bytes", || len(&part) > 256 << 10).await;
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("exits after Ctrl-C")
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(len(&part) > 0, "partial file kept");
    let items = cli.queue_items().await;
    assert_eq!(items[0].status, ItemStatus::Pending);
    assert!(
        files_below(&cli.library())
            .iter()
            .all(|f| !f.ends_with(".mp4"))
    );
}

/// A site that accepts connections and never answers; counts the connections it holds.
struct HangingSite {
    url: String,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl HangingSite {
    async fn start() -> HangingSite {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(socket);
            }
        });
        HangingSite {
            url,
            accepted,
            task,
        }
    }

    fn was_asked(&self) -> bool {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst) > 0
    }
}

impl Drop for HangingSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn interrupt(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_while_the_site_hangs_stops_promptly() {
    let cli = Cli::start(r#"["Vidoza"]"#).await;
    let hanging = HangingSite::start().await;
    let mut cmd = cli.command("1");
    cmd.env("ANIWORLD_PROVIDERS__ANIWORLD__BASE_URL", &hanging.url);
    let child = cmd.spawn().expect("spawn aniworld");
    wait_until("the download asks the hanging site", || hanging.was_asked()).await;
    let asked = std::time::Instant::now();
    interrupt(child.id().expect("pid"));
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits within 10 s of Ctrl-C although the site never answers")
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    // The item goes back to pending for the next run.
    let items = cli.queue_items().await;
    assert_eq!(items[0].status, ItemStatus::Pending, "{items:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_ends_a_search_that_waits_for_a_hanging_site_at_once() {
    let hanging = HangingSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bin::aniworld();
    cmd.args(["search", "titan", "--site", "aniworld", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("ANIWORLD_PROVIDERS__ANIWORLD__BASE_URL", &hanging.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let child = cmd.spawn().expect("spawn aniworld");
    wait_until("the search asks the hanging site", || hanging.was_asked()).await;
    interrupt(child.id().expect("pid"));
    let out = tokio::time::timeout(Duration::from_secs(3), child.wait_with_output())
        .await
        .expect("exits within 3 s of Ctrl-C")
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
}

/// Runs `cmd` (a shell command line) in a pseudo-terminal with `script`, so progress bars are
/// drawn; returns everything the terminal showed.
async fn in_terminal(shell: String, env: Vec<(&'static str, String)>) -> String {
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-q", "-e", "-c", &shell, "/dev/null"])
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("finishes within a minute")
        .expect("script runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_episode_is_shown_with_its_reason_never_as_a_full_bar() {
    let cli = Cli::start(r#"["Vidoza"]"#).await;
    // The site has no episode 99: it fails right after it started.
    let shell = format!(
        "'{}' download {KEY} --season 1 --episodes 99 --language 'German Dub' --data-dir '{}' --library '{}'",
        bin::aniworld_bin().display(),
        cli.data().display(),
        cli.library().display()
    );
    let screen = in_terminal(
        shell,
        vec![
            (
                "ANIWORLD_PROVIDERS__ANIWORLD__BASE_URL",
                cli.site.url("aniworld"),
            ),
            ("ANIWORLD_DOWNLOAD__HOSTERS", r#"["Vidoza"]"#.to_owned()),
            ("ANIWORLD_DOWNLOAD__ATTEMPTS_PER_CANDIDATE", "1".to_owned()),
        ],
    )
    .await;
    assert!(screen.contains("S01E099 failed: "), "{screen}");
    let full_bar = format!("[{}]", "=".repeat(30));
    assert!(
        !screen.contains(&full_bar),
        "an episode that never downloaded a byte was drawn as a full bar: {screen}"
    );
}
