//! Load benchmark of the API against the real `aniworld serve` process.
//!
//! Seeds a library with 10,000 series folders, starts the server (which indexes them at start),
//! then in one run measures
//! `GET /health` (the framework's floor) and `GET /api/anime?per_page=50`:
//! 1. maximum throughput (closed loop, `CONNECTIONS` keep-alive connections, `SECONDS` s each),
//! 2. latency at a fixed 1,000 requests/s (open loop, p50/p99),
//! 3. the server's idle memory (VmRSS) after the run.
//!
//! Run: `cargo bench -p aniworld-server --bench api_load` (release build). Figures in the README.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::{Server, connect, generate_library, rss_kib, scan_complete};

const SERIES: usize = 10_000;
const CONNECTIONS: usize = 32;
const SECONDS: u64 = 5;
const FIXED_RATE: u64 = 1_000;

struct Throughput {
    requests_per_sec: f64,
    p99_ms: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

/// Closed loop: every connection sends its next request as soon as the previous answer is read.
async fn max_throughput(client: &reqwest::Client, url: &str, token: &str) -> Throughput {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (client, url, token, stop, count) = (
            client.clone(),
            url.to_owned(),
            token.to_owned(),
            stop.clone(),
            count.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("request");
                assert!(r.status().is_success(), "{url}: {}", r.status());
                r.bytes().await.expect("body");
                latencies.push(t.elapsed());
                count.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(SECONDS)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("load task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    Throughput {
        requests_per_sec: count.load(Ordering::Relaxed) as f64 / elapsed,
        p99_ms: percentile(&all, 0.99),
    }
}

/// Open loop at a fixed rate: latency is measured from each request's scheduled start.
async fn fixed_rate(client: &reqwest::Client, url: &str, token: &str) -> (f64, f64) {
    let total = FIXED_RATE * SECONDS;
    let interval = Duration::from_secs_f64(1.0 / FIXED_RATE as f64);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = started + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let r = client
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .expect("request");
            assert!(r.status().is_success());
            r.bytes().await.expect("body");
            scheduled.elapsed()
        }));
    }
    let mut all = Vec::with_capacity(tasks.len());
    for t in tasks {
        all.push(t.await.expect("request task"));
    }
    all.sort();
    (percentile(&all, 0.5), percentile(&all, 0.99))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data");
        let library = dir.path().join("library");
        let t = Instant::now();
        generate_library(&library, SERIES, 3);
        println!("generated {SERIES} series folders (3 episodes each) in {:.1} s", t.elapsed().as_secs_f64());

        let server = Server::start(&data_dir, &library);
        let pid = server.pid();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(CONNECTIONS * 4)
            .build()
            .unwrap();
        let token = server.token(&client).await;
        // The library is indexed at start; a rescan joins that scan and says when it is done.
        let mut ws = connect(&server, &token, "scan_progress").await;
        let accepted: serde_json::Value = client
            .post(format!("{}/api/anime/rescan", server.url))
            .bearer_auth(&token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        scan_complete(&mut ws, accepted["scan_id"].as_str().expect("scan id")).await;
        drop(ws);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle_before = rss_kib(pid);
        let health = format!("{}/health", server.url);
        let list = format!("{}/api/anime?per_page=50&page=100", server.url);
        let page: serde_json::Value = client
            .get(&list)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // Four in five generated folders carry `.aniworld.json`.
        assert_eq!(page["total"], (SERIES - SERIES / 5) as u64, "{page}");
        assert_eq!(page["items"].as_array().map(Vec::len), Some(50));

        // Warm-up.
        for _ in 0..200 {
            client.get(&health).send().await.unwrap().bytes().await.unwrap();
            client.get(&list).bearer_auth(&token).send().await.unwrap().bytes().await.unwrap();
        }
        let floor = max_throughput(&client, &health, &token).await;
        let listed = max_throughput(&client, &list, &token).await;
        let (floor_p50, floor_p99) = fixed_rate(&client, &health, &token).await;
        let (list_p50, list_p99) = fixed_rate(&client, &list, &token).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle_after = rss_kib(pid);

        println!();
        println!("endpoint                      max req/s   p99 (max load)   p50 @1000/s   p99 @1000/s");
        println!(
            "GET /health (floor)          {:>10.0}   {:>11.2} ms   {:>8.2} ms   {:>8.2} ms",
            floor.requests_per_sec, floor.p99_ms, floor_p50, floor_p99
        );
        println!(
            "GET /api/anime (50 of {SERIES}) {:>10.0}   {:>11.2} ms   {:>8.2} ms   {:>8.2} ms",
            listed.requests_per_sec, listed.p99_ms, list_p50, list_p99
        );
        let ratio = listed.requests_per_sec / floor.requests_per_sec;
        println!();
        println!(
            "list / floor throughput: {:.0}% (target >= 40%): {}",
            ratio * 100.0,
            if ratio >= 0.4 { "ok" } else { "MISSED" }
        );
        println!(
            "list p99 at {FIXED_RATE} req/s: {list_p99:.2} ms (target < 10 ms): {}",
            if list_p99 < 10.0 { "ok" } else { "MISSED" }
        );
        if let (Some((idle, _)), Some((after, peak))) = (idle_before, idle_after) {
            println!(
                "server memory: idle after start {:.1} MiB (target < 40 MiB): {}; idle after the run {:.1} MiB; peak {:.1} MiB",
                idle as f64 / 1024.0,
                if idle < 40 * 1024 { "ok" } else { "MISSED" },
                after as f64 / 1024.0,
                peak as f64 / 1024.0
            );
        }
        drop(server);
    });
}
