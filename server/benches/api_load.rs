//! Load benchmark of the API against the real `aniworld serve` process.
//!
//! Seeds a data dir with 10,000 series, starts the server, then in one run measures
//! `GET /health` (the framework's floor) and `GET /api/anime?per_page=50`:
//! 1. maximum throughput (closed loop, `CONNECTIONS` keep-alive connections, `SECONDS` s each),
//! 2. latency at a fixed 1,000 requests/s (open loop, p50/p99),
//! 3. the server's idle memory (VmRSS) after the run.
//!
//! Run: `cargo bench -p aniworld-server --bench api_load` (release build). Figures in the README.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aniworld_core::storage::Store;

const SERIES: usize = 10_000;
const CONNECTIONS: usize = 32;
const SECONDS: u64 = 5;
const FIXED_RATE: u64 = 1_000;

async fn seed(data_dir: &Path) {
    let store = Store::open_sqlite(&data_dir.join("aniworld.db"))
        .await
        .expect("open database");
    let mut tx = store.pool().begin().await.expect("transaction");
    let now = aniworld_core::storage::now();
    for i in 0..SERIES {
        let series_id: (i64,) = sqlx::query_as(
            "INSERT INTO series (key, site, name, folder, year, created_at, updated_at)
             VALUES (?, 'aniworld', ?, ?, 2020, ?, ?) RETURNING id",
        )
        .bind(format!("series-{i:05}"))
        .bind(format!("Series number {i}"))
        .bind(format!("Series number {i} (2020)"))
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .expect("insert series");
        for e in 1..=3 {
            sqlx::query(
                "INSERT INTO episodes (series_id, season, episode, path, created_at, updated_at)
                 VALUES (?, 1, ?, ?, ?, ?)",
            )
            .bind(series_id.0)
            .bind(e)
            .bind(format!("Series number {i} (2020)/Season 01/E{e:03}.mp4"))
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .expect("insert episode");
        }
    }
    tx.commit().await.expect("commit");
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data_dir: &Path, library: &Path) -> Server {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_aniworld"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .arg("--library")
        .arg(library)
        .env("ANIWORLD_LOG", "error")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start aniworld serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("server prints its address")
            .expect("read stderr");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

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

fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
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
        std::fs::create_dir_all(&data_dir).unwrap();
        std::fs::create_dir_all(&library).unwrap();
        std::fs::write(data_dir.join("config.json"), r#"{"auth":{"bcrypt_cost":4}}"#).unwrap();
        let t = Instant::now();
        seed(&data_dir).await;
        println!("seeded {SERIES} series (3 episodes each) in {:.1} s", t.elapsed().as_secs_f64());

        let server = start_server(&data_dir, &library);
        let pid = server.child.id();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle_before = rss_kib(pid);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(CONNECTIONS * 4)
            .build()
            .unwrap();
        let password = serde_json::json!({"password": "benchmark password"});
        client
            .post(format!("{}/api/auth/setup", server.url))
            .json(&password)
            .send()
            .await
            .unwrap();
        let login: serde_json::Value = client
            .post(format!("{}/api/auth/login", server.url))
            .json(&password)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["token"].as_str().expect("token").to_owned();
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
        assert_eq!(page["total"], SERIES as u64, "{page}");
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
