//! How the API scales with the queue's length, against the real `aniworld serve` process.
//!
//! In one run, with 0, 2,000 and 20,000 items in the queue: `GET /health`, `GET /api/queue/status`
//! (first page of 100) and `POST /api/queue/add` of 2,000 episodes (p50/p99 of sequential
//! requests; one add per size). `/health` with an empty queue is the baseline the other figures
//! are compared with. Targets: `/health` < 5 ms and the status page < 50 ms at 20,000 items, the
//! add < 0.5 s.
//!
//! Run: `cargo bench -p aniworld-server --bench queue_scale` (release build). Figures in
//! docs/benchmarks.md.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, rss_kib};

const SIZES: [usize; 3] = [0, 2_000, 20_000];
const BATCH: usize = 2_000;
const SAMPLES: usize = 200;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

/// p50 and p99 in ms of `SAMPLES` sequential GETs (after a short warm-up).
async fn latency(client: &reqwest::Client, url: &str, token: &str) -> (f64, f64) {
    for _ in 0..20 {
        client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    let mut all = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let r = client.get(url).bearer_auth(token).send().await.unwrap();
        assert!(r.status().is_success(), "{url}: {}", r.status());
        r.bytes().await.unwrap();
        all.push(t.elapsed());
    }
    all.sort();
    (percentile(&all, 0.5), percentile(&all, 0.99))
}

/// Queues `BATCH` new episodes (one new series per call); returns the seconds it took.
async fn add_batch(client: &reqwest::Client, url: &str, token: &str, n: usize) -> f64 {
    let episodes: Vec<Value> = (1..=BATCH)
        .map(|e| json!({"key": format!("bench-series-{n:03}"), "site": "aniworld", "season": 1, "episode": e}))
        .collect();
    let t = Instant::now();
    let r = client
        .post(format!("{url}/api/queue/add"))
        .bearer_auth(token)
        .json(&json!({ "episodes": episodes }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "add: {}", r.status());
    let body: Value = r.json().await.unwrap();
    let elapsed = t.elapsed().as_secs_f64();
    assert_eq!(
        body["added"].as_array().map(Vec::len),
        Some(BATCH),
        "{}",
        body["skipped"][0]
    );
    elapsed
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
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
        // The queue stays stopped: nothing is downloaded, only queued.
        std::fs::write(
            data_dir.join("config.json"),
            r#"{"auth":{"bcrypt_cost":4},"download":{"autostart":false},"providers":{"aniworld":{"base_url":"http://127.0.0.1:9"}}}"#,
        )
        .unwrap();
        let server = Server::start_with_providers(&data_dir, &library);
        let client = reqwest::Client::new();
        let token = server.token(&client).await;
        let health = format!("{}/health", server.url);
        let status = format!("{}/api/queue/status", server.url);

        let mut queued = 0usize;
        let mut batches = 0usize;
        let mut rows = Vec::new();
        for size in SIZES {
            while queued < size {
                add_batch(&client, &server.url, &token, batches).await;
                batches += 1;
                queued += BATCH;
            }
            let page: Value = client
                .get(&status)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(page["total"], size as u64);
            let (health_p50, health_p99) = latency(&client, &health, &token).await;
            let (status_p50, status_p99) = latency(&client, &status, &token).await;
            let add = add_batch(&client, &server.url, &token, batches).await;
            batches += 1;
            queued += BATCH;
            rows.push((size, health_p50, health_p99, status_p50, status_p99, add));
        }

        println!("items in queue   /health p50   /health p99   status p50   status p99   add 2,000");
        for (size, hp50, hp99, sp50, sp99, add) in &rows {
            println!(
                "{size:>14}   {hp50:>8.2} ms   {hp99:>8.2} ms   {sp50:>7.2} ms   {sp99:>7.2} ms   {add:>7.3} s"
            );
        }
        let base = rows[0].1;
        let last = rows.last().expect("rows");
        println!();
        println!(
            "at {} items: /health p50 {:.2} ms = {:.1}x the empty queue's (target < 5 ms): {}",
            last.0,
            last.1,
            last.1 / base,
            verdict(last.1 < 5.0)
        );
        println!(
            "at {} items: status page p50 {:.2} ms = {:.1}x /health on the empty queue (target < 50 ms): {}",
            last.0,
            last.3,
            last.3 / base,
            verdict(last.3 < 50.0)
        );
        println!(
            "add of {BATCH} episodes at {} items: {:.3} s (target < 0.5 s): {}",
            last.0,
            last.5,
            verdict(last.5 < 0.5)
        );
        if let Some(peak) = rss_kib(server.pid()).map(|(_, hwm)| hwm as f64 / 1024.0) {
            println!("server peak memory: {peak:.1} MiB");
        }
    });
}
