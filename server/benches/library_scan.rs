//! The library scan as a user waits for it, through the real server.
//!
//! Generates 10,000 series folders with 300,000 episode files, starts `aniworld serve` (release
//! build) on a fresh data dir with an empty library, drops the generated folders into the
//! library (as a user copying a library in), and measures, over the HTTP API and the WebSocket:
//! - the first scan: `POST /api/anime/rescan` → `scan_complete`, every series written;
//! - the unchanged rescan: the same, with nothing changed on disk;
//! - `find LIBRARY -type f` of the same tree, the baseline, taking turns with the rescans;
//! - the server's peak memory (VmHWM).
//!
//! Targets: unchanged rescan ≤ 0.3× `find`, first scan ≤ 4× `find`, peak RSS < 150 MB.
//!
//! Run: `cargo bench -p aniworld-server --bench library_scan`. `SCAN_BENCH_SERIES` and
//! `SCAN_BENCH_EPISODES` (per series) shrink the library for a quick try; `SCAN_BENCH_ROUNDS`
//! sets how many fresh servers do a first scan (default 3).

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, Socket, connect, generate_library, rss_kib, scan_complete};

/// Unchanged rescans (and `find` runs) per server.
const RESCANS: usize = 7;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn find(root: &Path) -> Duration {
    let start = Instant::now();
    let status = Command::new("find")
        .arg(root)
        .args(["-type", "f"])
        .stdout(Stdio::null())
        .status()
        .expect("run find");
    assert!(status.success());
    start.elapsed()
}

/// `POST /api/anime/rescan` → its `scan_complete`: the time and the event's data.
async fn rescan(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    ws: &mut Socket,
) -> (Duration, Value) {
    let start = Instant::now();
    let accepted: Value = client
        .post(format!("{}/api/anime/rescan", server.url))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .expect("rescan")
        .json()
        .await
        .expect("rescan JSON");
    let scan_id = accepted["scan_id"].as_str().expect("scan id").to_owned();
    let done = scan_complete(ws, &scan_id).await;
    (start.elapsed(), done)
}

fn main() {
    let series = env_usize("SCAN_BENCH_SERIES", 10_000);
    let episodes = env_usize("SCAN_BENCH_EPISODES", 30);
    let rounds = env_usize("SCAN_BENCH_ROUNDS", 3).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let staged = dir.path().join("staged");
    let library = dir.path().join("library");
    let t = Instant::now();
    generate_library(&staged, series, episodes);
    println!(
        "generated {series} series folders with {} episode files in {:.1} s",
        series * episodes,
        t.elapsed().as_secs_f64()
    );
    // Folders changed within 2 s of a scan are always read again (a change in the same clock
    // tick would not show); a real library is older than that.
    std::thread::sleep(Duration::from_millis(2_500));
    let files = walkdir::WalkDir::new(&staged)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    let mut first = Vec::new();
    let mut rescans = Vec::new();
    let mut finds = Vec::new();
    let mut peak_kib = 0u64;
    for round in 0..rounds {
        std::fs::create_dir_all(&library).expect("empty library");
        let data_dir = dir.path().join(format!("data-{round}"));
        let server = Server::start(&data_dir, &library);
        runtime.block_on(async {
            let token = server.token(&client).await;
            let mut ws = connect(&server, &token, "scan_progress").await;
            // The index at start (of the empty library) is done before the folders arrive.
            rescan(&client, &server, &token, &mut ws).await;
            std::fs::remove_dir(&library).expect("library is empty");
            std::fs::rename(&staged, &library).expect("move the library in");

            let (took, done) = rescan(&client, &server, &token, &mut ws).await;
            assert_eq!(
                done["series"],
                (series - series.div_ceil(5)) as u64,
                "{done}"
            );
            assert_eq!(done["unmatched"], series.div_ceil(5) as u64, "{done}");
            assert_eq!(done["episodes"], (series * episodes) as u64, "{done}");
            first.push(took);
            for i in 0..RESCANS {
                // Turns, so a slow spell of a shared machine weighs on both alike.
                if i % 2 == 0 {
                    finds.push(find(&library));
                }
                let (took, done) = rescan(&client, &server, &token, &mut ws).await;
                assert_eq!(done["episodes"], (series * episodes) as u64, "{done}");
                rescans.push(took);
                if i % 2 == 1 {
                    finds.push(find(&library));
                }
            }
        });
        if let Some((_, hwm)) = rss_kib(server.pid()) {
            peak_kib = peak_kib.max(hwm);
        }
        drop(server);
        std::fs::rename(&library, &staged).expect("move the library out");
    }

    let find_ms = ms(median(finds.clone()));
    let first_ms = ms(median(first.clone()));
    let rescan_ms = ms(median(rescans.clone()));
    println!("files in the tree: {files}; {rounds} fresh servers, {RESCANS} rescans each");
    println!();
    println!("                                      median       best");
    println!(
        "find LIBRARY -type f (baseline)   {:>9.0} ms {:>8.0} ms",
        find_ms,
        ms(*finds.iter().min().expect("find runs"))
    );
    println!(
        "first scan (rescan → scan_complete) {:>7.0} ms {:>8.0} ms",
        first_ms,
        ms(*first.iter().min().expect("first scans"))
    );
    println!(
        "unchanged rescan                  {:>9.0} ms {:>8.0} ms",
        rescan_ms,
        ms(*rescans.iter().min().expect("rescans"))
    );
    println!();
    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };
    let rescan_ratio = rescan_ms / find_ms;
    let first_ratio = first_ms / find_ms;
    println!(
        "unchanged rescan / find: {rescan_ratio:.2} (target ≤ 0.30): {}",
        verdict(rescan_ratio <= 0.3)
    );
    println!(
        "first scan / find:       {first_ratio:.2} (target ≤ 4.00): {}",
        verdict(first_ratio <= 4.0)
    );
    let peak_mib = peak_kib as f64 / 1024.0;
    println!(
        "server peak memory (VmHWM): {peak_mib:.0} MiB (target < 150 MB = 143 MiB): {}",
        verdict(peak_mib < 150.0 * 1e6 / (1024.0 * 1024.0))
    );
}
