//! Download benchmark over loopback against the fixture's media server, in one run:
//! - a 1 GiB MP4 through the engine vs `curl` of the same URL (to `/dev/null` and to a file);
//! - HLS of 500 segments with segment parallelism 1 vs 8 (with and without simulated latency);
//! - peak memory (VmHWM, reset before each phase) of this process while downloading.
//!
//! Run: `cargo bench -p aniworld-testkit --bench download`
//! (`BENCH_MP4_BYTES` changes the MP4 size, `BENCH_HLS_SEGMENTS` the segment count.)
//! The fixture runs on its own runtime in this process, so VmHWM is an upper bound for the engine.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aniworld_core::config::DownloadConfig;
use aniworld_core::download::{DownloadEngine, NoProgress, RateLimiter};
use aniworld_core::events::NoHooks;
use aniworld_core::model::{MediaKind, MediaSource};
use aniworld_core::registry::Registry;
use aniworld_testkit::{FixtureSite, media};
use tokio_util::sync::CancellationToken;

const MIB: f64 = 1024.0 * 1024.0;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size of this process (kB), since the last [`reset_peak`].
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn current_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resets VmHWM to the current RSS (Linux `clear_refs` 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn curl_seconds(url: &str, out: &Path) -> Option<f64> {
    let start = Instant::now();
    let status = Command::new("curl")
        .args(["-s", "-f", "-o"])
        .arg(out)
        .arg(url)
        .status()
        .ok()?;
    status.success().then(|| start.elapsed().as_secs_f64())
}

fn spot_check(path: &Path, video: &str, size: u64) {
    let mut f = std::fs::File::open(path).expect("downloaded file");
    assert_eq!(
        f.metadata().unwrap().len(),
        size,
        "size of {}",
        path.display()
    );
    for offset in [0, size / 3, size / 2, size.saturating_sub(4096)] {
        let mut buf = vec![0u8; 4096.min(size as usize)];
        f.seek(SeekFrom::Start(offset)).unwrap();
        f.read_exact(&mut buf).unwrap();
        assert_eq!(
            buf,
            media::mp4_bytes(video, offset, buf.len()),
            "bytes at {offset}"
        );
    }
}

fn main() {
    let fixture_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("fixture runtime");
    let site = fixture_rt.block_on(FixtureSite::start());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("engine runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = DownloadEngine::new(
        Registry::new(),
        Arc::new(NoHooks),
        Arc::new(RateLimiter::new(0)),
    );
    let cfg = DownloadConfig::default();
    let download = |source: &MediaSource, cfg: &DownloadConfig, name: &str| -> (f64, u64) {
        let target = dir.path().join(name);
        let start = Instant::now();
        let size = rt
            .block_on(engine.download_source(
                cfg,
                source,
                &target,
                "bench",
                &NoProgress,
                &CancellationToken::new(),
            ))
            .expect("download");
        (start.elapsed().as_secs_f64(), size)
    };

    println!("download benchmark (loopback, fixture in-process on its own runtime)");
    println!(
        "baseline RSS before downloading: {} kB",
        current_rss_kb().unwrap_or(0)
    );

    // --- MP4 -----------------------------------------------------------------------------
    let size = env_num("BENCH_MP4_BYTES", 1 << 30);
    let video = format!("bench-size-{size}");
    let url = media::mp4_url(&site.state, &video);
    println!("\nMP4: {:.0} MiB", size as f64 / MIB);
    let curl_null = curl_seconds(&url, Path::new("/dev/null"));
    let curl_file_path = dir.path().join("curl.mp4");
    let curl_file = curl_seconds(&url, &curl_file_path);
    let _ = std::fs::remove_file(&curl_file_path);
    reset_peak();
    let source = MediaSource {
        url: url.clone(),
        kind: MediaKind::Mp4,
        headers: BTreeMap::new(),
    };
    let (secs, got) = download(&source, &cfg, "engine.mp4");
    let peak_mp4 = peak_rss_kb().unwrap_or(0);
    spot_check(&dir.path().join("engine.mp4"), &video, size);
    let _ = std::fs::remove_file(dir.path().join("engine.mp4"));
    assert_eq!(got, size);
    let engine_mibs = size as f64 / MIB / secs;
    println!("  engine (to file)        {secs:>7.2} s  {engine_mibs:>8.1} MiB/s");
    match (curl_null, curl_file) {
        (Some(null), Some(file)) => {
            let null_mibs = size as f64 / MIB / null;
            let file_mibs = size as f64 / MIB / file;
            println!("  curl -o /dev/null       {null:>7.2} s  {null_mibs:>8.1} MiB/s");
            println!("  curl -o file            {file:>7.2} s  {file_mibs:>8.1} MiB/s");
            println!(
                "  engine / curl(/dev/null) = {:.0}%   engine / curl(file) = {:.0}%   (target >= 90%)",
                engine_mibs / null_mibs * 100.0,
                engine_mibs / file_mibs * 100.0
            );
        }
        _ => println!("  curl not found or failed: skipping the curl baseline"),
    }
    println!(
        "  peak RSS (VmHWM) during the MP4 download: {:.1} MB (target < 60 MB)",
        peak_mp4 as f64 / 1000.0
    );

    // --- HLS -----------------------------------------------------------------------------
    let segments = env_num("BENCH_HLS_SEGMENTS", 500);
    let segment_size: u64 = 188 * 1024;
    site.state
        .set_knob("hls.segment_size", segment_size.to_string());
    let video = format!("bench-aes-segs-{segments}");
    let total = segments * segment_size;
    println!(
        "\nHLS: {segments} AES-128 segments of {} KiB ({:.0} MiB), best of 3 variants",
        segment_size / 1024,
        total as f64 / MIB
    );
    let mut peak_hls = 0;
    for delay in [0u64, 10] {
        if delay > 0 {
            site.state
                .set_knob("hls.segment_delay_ms", delay.to_string());
        }
        let mut times = Vec::new();
        for parallelism in [1u32, 8] {
            let cfg = DownloadConfig {
                segment_parallelism: parallelism,
                ..DownloadConfig::default()
            };
            let source = MediaSource {
                url: media::hls_url(&site.state, &video),
                kind: MediaKind::Hls,
                headers: BTreeMap::new(),
            };
            reset_peak();
            let name = format!("hls-{delay}-{parallelism}.ts");
            let (secs, got) = download(&source, &cfg, &name);
            peak_hls = peak_hls.max(peak_rss_kb().unwrap_or(0));
            assert_eq!(got, total, "HLS size");
            let _ = std::fs::remove_file(dir.path().join(&name));
            println!(
                "  latency {delay:>2} ms/segment, parallelism {parallelism}: {secs:>6.2} s  {:>8.1} MiB/s",
                total as f64 / MIB / secs
            );
            times.push(secs);
        }
        println!("    parallelism 8 vs 1: {:.1}x faster", times[0] / times[1]);
    }
    site.state.clear_knob("hls.segment_delay_ms");
    println!(
        "  peak RSS (VmHWM) during HLS downloads: {:.1} MB (target < 60 MB)",
        peak_hls as f64 / 1000.0
    );
    drop(site);
    fixture_rt.shutdown_timeout(Duration::from_secs(1));
}
