//! Library scan benchmark: `cargo bench -p aniworld-core --bench scan`.
//!
//! Generates 10,000 series folders holding 300,000 episode files in a temp dir, then measures in
//! one run: a plain `walkdir` file count of the same tree (the floor), the first scan (fresh
//! database, so nothing is remembered), an unchanged rescan, and the peak memory of the process.
//! Targets: first scan ≤ 2× the walk; rescan < 15% of the first scan; peak memory < 150 MB.
//!
//! Every timing is the best of `ROUNDS` runs, the walk's included, so all sides are measured the
//! same way with the page cache equally warm; walk, first scan and rescan take turns in each
//! round, so a slow spell of a shared machine does not land on one of them only. Environment: `SCAN_BENCH_SERIES` and
//! `SCAN_BENCH_EPISODES` (per series) shrink the library for a quick try; `SCAN_BENCH_DIR` keeps
//! the generated library in that folder and reuses it on the next run (the databases are always
//! fresh).

/// The allocator the `aniworld` binary ships with, so the figures are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aniworld_core::metadata::SeriesMetadata;
use aniworld_core::model::SeriesKey;
use aniworld_core::scanner::{LibraryScanner, ScanReport};
use aniworld_core::storage::Store;
use rayon::prelude::*;

const ROUNDS: usize = 7;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One series folder, in one of four layouts so every parser path is exercised:
/// flat `SxxEyy`, `Season NN/Episode N`, anime absolute numbering, and `NxNN` in `Staffel N`.
fn generate_series(root: &Path, index: usize, episodes: usize) -> std::io::Result<()> {
    let name = format!("Series {index:05} (20{:02})", index % 25);
    let folder = root.join(&name);
    std::fs::create_dir_all(&folder)?;
    // Four in five folders are matched; the rest are reported with a suggested key.
    if !index.is_multiple_of(5) {
        let key = SeriesKey::parse(&format!("series-{index}")).expect("valid key");
        SeriesMetadata {
            key,
            site: "aniworld".into(),
            name: name.clone(),
            year: Some(2000 + (index % 25) as i32),
        }
        .write(&folder)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    std::fs::write(folder.join("cover.jpg"), b"")?;
    let half = episodes / 2;
    for e in 1..=episodes {
        let (season, number) = if e <= half { (1, e) } else { (2, e - half) };
        let path = match index % 4 {
            0 => folder.join(format!(
                "Series {index} - S{season:02}E{number:03} - (German Dub).mp4"
            )),
            1 => folder
                .join(format!("Season {season:02}"))
                .join(format!("Episode {number}.mkv")),
            2 => folder.join(format!("[Group] Series {index} - {e:03} [ABCD1234].mkv")),
            _ => folder
                .join(format!("Staffel {season}"))
                .join(format!("Series {index} {season}x{number:02}.avi")),
        };
        if let Some(parent) = path.parent()
            && parent != folder
        {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, b"")?;
    }
    Ok(())
}

fn walk_count(root: &Path) -> usize {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count()
}

/// CPU time (user + system, all threads) the process has used so far; `None` without `/proc`.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in USER_HZ, 100 on every mainstream configuration.
    Some(Duration::from_millis(ticks * 10))
}

/// Runs `f` once and returns the CPU time it used.
fn cpu_of<T>(f: impl FnOnce() -> T) -> (Option<Duration>, T) {
    let before = cpu_time();
    let out = f();
    let used = cpu_time().zip(before).map(|(a, b)| a.saturating_sub(b));
    (used, out)
}

fn fmt_cpu(d: Option<Duration>) -> String {
    d.map_or("n/a".to_owned(), |d| format!("{:.0} ms", ms(d)))
}

fn best<T>(rounds: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..rounds {
        // One result alive at a time, so peak memory reflects a single scan.
        drop(last.take());
        let start = Instant::now();
        let out = f();
        best = best.min(start.elapsed());
        last = Some(out);
    }
    (best, last.expect("at least one round"))
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn check(report: &ScanReport, series: usize, episodes: usize) {
    let found: usize = report.series.iter().map(|s| s.episodes.len()).sum();
    let unparsed: usize = report.series.iter().map(|s| s.unparsed.len()).sum();
    assert_eq!(report.series.len(), series, "series found");
    assert_eq!(found, series * episodes, "episodes found");
    assert_eq!(unparsed, 0, "unparsed files");
}

fn main() {
    let series = env_usize("SCAN_BENCH_SERIES", 10_000);
    let episodes = env_usize("SCAN_BENCH_EPISODES", 30);
    let dir = tempfile::tempdir().expect("temp dir");
    let kept = std::env::var_os("SCAN_BENCH_DIR").map(PathBuf::from);
    let root: PathBuf = match &kept {
        Some(k) => k.join(format!("library-{series}x{episodes}")),
        None => dir.path().join("library"),
    };
    let marker = root.with_extension("complete");
    if marker.exists() {
        println!("reusing the library in {}", root.display());
    } else {
        if root.exists() {
            std::fs::remove_dir_all(&root).expect("remove half-generated library");
        }
        std::fs::create_dir_all(&root).expect("library dir");
        let start = Instant::now();
        (0..series)
            .into_par_iter()
            .try_for_each(|i| generate_series(&root, i, episodes))
            .expect("generate library");
        println!(
            "generated {series} series folders with {} episode files in {:.1} s",
            series * episodes,
            start.elapsed().as_secs_f64()
        );
        if kept.is_some() {
            std::fs::write(&marker, b"").expect("marker");
        }
        // Folders modified within 2 s of a scan are always re-read (same-tick changes would be
        // invisible); a real library is older than that, so let the generated one age past it.
        std::thread::sleep(Duration::from_millis(2_100));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // Warms the page cache for every measurement alike.
    let files = walk_count(&root);
    let scanner = LibraryScanner::new(&root).expect("library opens");
    // The rescans' database holds what one first scan remembered.
    let db = dir.path().join("rescan.db");
    let store = runtime.block_on(Store::open_sqlite(&db)).expect("database");
    runtime.block_on(scanner.scan(&store)).expect("scan");

    // The three are measured in turns, round after round, so a slow spell of a shared machine
    // weighs on all of them alike instead of on whichever ran during it.
    let (mut walk, mut first, mut rescan) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for round in 0..ROUNDS {
        let start = Instant::now();
        assert_eq!(walk_count(&root), files);
        walk = walk.min(start.elapsed());

        // A fresh database each round: nothing remembered, the cold-ish first scan.
        let fresh = dir.path().join(format!("first-{round}.db"));
        let (elapsed, report) = runtime.block_on(async {
            let store = Store::open_sqlite(&fresh).await.expect("database");
            let start = Instant::now();
            let report = scanner.scan(&store).await.expect("scan");
            (start.elapsed(), report)
        });
        first = first.min(elapsed);
        check(&report, series, episodes);
        assert_eq!(report.folders_rescanned as usize, series);
        // One result alive at a time, so peak memory reflects a single scan.
        drop(report);

        let start = Instant::now();
        let report = runtime.block_on(scanner.scan(&store)).expect("rescan");
        rescan = rescan.min(start.elapsed());
        check(&report, series, episodes);
        assert_eq!(
            report.folders_unchanged as usize, series,
            "rescan reused every folder"
        );
        drop(report);
    }

    // Where the first scan's time goes: the walk + parse alone, without any database work.
    let (walk_and_parse, outcome) = best(ROUNDS, || {
        scanner
            .scan_blocking(&Default::default())
            .expect("scan without database")
    });
    let state_bytes: usize = outcome.state.iter().map(|(_, s)| s.len()).sum();
    drop(outcome);

    // Where the rescan's time goes: reading the remembered state, and checking + rebuilding.
    let (load, previous) = best(ROUNDS, || {
        runtime
            .block_on(scanner.remembered(&store))
            .expect("load state")
    });
    assert_eq!(previous.len(), series, "every folder remembered");
    let (check_and_rebuild, outcome) = best(ROUNDS, || {
        scanner
            .scan_blocking(&previous)
            .expect("rescan without database")
    });
    assert!(
        outcome.state.is_empty(),
        "an unchanged rescan writes nothing"
    );
    drop((previous, outcome));

    // CPU time of one more run of each, for a machine shared with other work (where wall-clock
    // ratios also measure the neighbours).
    let (walk_cpu, _) = cpu_of(|| walk_count(&root));
    let fresh_db = dir.path().join("cpu.db");
    let first_cpu = runtime.block_on(async {
        let store = Store::open_sqlite(&fresh_db).await.expect("database");
        let before = cpu_time();
        let report = scanner.scan(&store).await.expect("scan");
        let used = cpu_time().zip(before).map(|(a, b)| a.saturating_sub(b));
        drop(report);
        used
    });
    let (rescan_cpu, _) = cpu_of(|| runtime.block_on(scanner.scan(&store)).expect("rescan"));

    let hwm = vm_hwm_kib();
    println!(
        "CPU time (one run each): walk {}, first scan {}, rescan {}",
        fmt_cpu(walk_cpu),
        fmt_cpu(first_cpu),
        fmt_cpu(rescan_cpu)
    );
    let first_vs_walk = first.as_secs_f64() / walk.as_secs_f64();
    let rescan_vs_first = rescan.as_secs_f64() / first.as_secs_f64();
    println!("files in tree (walkdir count): {files}");
    println!("plain walk (walkdir, floor):   {:>9.1} ms", ms(walk));
    println!("first scan (fresh database):   {:>9.1} ms", ms(first));
    println!(
        "  of which walk + parse:       {:>9.1} ms (no database; {:.1} MB of scan state stored)",
        ms(walk_and_parse),
        state_bytes as f64 / 1e6
    );
    println!("unchanged rescan:              {:>9.1} ms", ms(rescan));
    println!("  of which loading state:      {:>9.1} ms", ms(load));
    println!(
        "  of which check + rebuild:    {:>9.1} ms",
        ms(check_and_rebuild)
    );
    println!(
        "first scan / walk:             {first_vs_walk:>9.2}x  (target <= 2.00x) {}",
        verdict(first_vs_walk <= 2.0)
    );
    println!(
        "rescan / first scan:           {:>9.1} %  (target < 15 %) {}",
        rescan_vs_first * 100.0,
        verdict(rescan_vs_first < 0.15)
    );
    match hwm {
        Some(kib) => {
            let mib = kib as f64 / 1024.0;
            println!(
                "peak memory (VmHWM):           {mib:>9.1} MiB (target < 150 MB) {}",
                verdict(kib * 1024 < 150_000_000)
            );
        }
        None => println!("peak memory (VmHWM):           unavailable (no /proc/self/status)"),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "OK" } else { "MISSED" }
}
