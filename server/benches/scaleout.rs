//! Several instances on PostgreSQL against the embedded SQLite, through real `aniworld serve`
//! processes (release build), in one run:
//!
//! 1. `GET /api/anime?per_page=50` over a library of 10,000 series folders (8,000 matched
//!    series): one server on SQLite, one on PostgreSQL, the same library; median and p95 of
//!    sequential requests, and the ratio PostgreSQL / SQLite.
//! 2. Queue claim throughput: 2,000 items, each claimed through the real queue (claim with a
//!    lease, run, record the result) by 1 and by 3 instances sharing one PostgreSQL database
//!    (SQLite with its one instance as the baseline). The items fail at once (the provider's
//!    address refuses connections), so the figure is the queue's claim-run-record machinery, not
//!    download bandwidth: items per second until every item has its final status.
//!
//! Needs PostgreSQL on 127.0.0.1:5432 (user postgres); each part uses its own scratch database.
//! Run: `cargo bench -p aniworld-server --bench scaleout`. `SCALEOUT_SERIES` and
//! `SCALEOUT_ITEMS` shrink it for a quick try. Figures in docs/benchmarks.md.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use aniworld_core::storage::scratch::ScratchPostgres;
use serde_json::{Value, json};
use support::{Server, generate_library};

const SAMPLES: usize = 300;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn write_config(data_dir: &Path, config: &Value) {
    std::fs::create_dir_all(data_dir).unwrap();
    std::fs::write(data_dir.join("config.json"), config.to_string()).unwrap();
}

async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = client.get(url).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}

/// Waits until the server lists `series` series (its start-up index of the library is done).
async fn wait_indexed(client: &reqwest::Client, server: &Server, token: &str, series: u64) {
    let url = format!("{}/api/anime?per_page=1", server.url);
    let deadline = Instant::now() + Duration::from_secs(1200);
    loop {
        let total = get_json(client, &url, token).await["total"]
            .as_u64()
            .unwrap_or(0);
        if total >= series {
            return;
        }
        assert!(Instant::now() < deadline, "library not indexed: {total}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// (median, p95) in ms of `SAMPLES` sequential GETs of `url`, after a warm-up.
async fn latency(client: &reqwest::Client, url: &str, token: &str) -> (f64, f64) {
    for _ in 0..30 {
        get_json(client, url, token).await;
    }
    let mut all = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let page = get_json(client, url, token).await;
        all.push(t.elapsed());
        assert_eq!(page["items"].as_array().map(Vec::len), Some(50));
    }
    all.sort();
    let at = |p: f64| ms(all[((all.len() as f64 - 1.0) * p).round() as usize]);
    (at(0.5), at(0.95))
}

/// Part 1: the series list on SQLite and on PostgreSQL.
async fn series_list(client: &reqwest::Client, root: &Path, series: usize) {
    let library = root.join("library");
    generate_library(&library, series, 2);
    let matched = (series - series.div_ceil(5)) as u64;
    let mut results = Vec::new();
    let pg = ScratchPostgres::create()
        .await
        .expect("PostgreSQL on 127.0.0.1:5432");
    for (name, url) in [("SQLite", ""), ("PostgreSQL", pg.url())] {
        let data = root.join(format!("data-list-{name}"));
        // Providers off (no site is reachable from a benchmark machine), in the file: an
        // environment override of one provider key alone leaves its base URL empty.
        write_config(
            &data,
            &json!({
                "auth": { "bcrypt_cost": 4 },
                "database": { "url": url },
                "providers": {
                    "aniworld": { "enabled": false, "base_url": "http://127.0.0.1:9" },
                    "sto": { "enabled": false, "base_url": "http://127.0.0.1:9" }
                }
            }),
        );
        let server = Server::start_with_providers(&data, &library);
        let token = server.token(client).await;
        let t = Instant::now();
        wait_indexed(client, &server, &token, matched).await;
        let indexed = t.elapsed();
        let page = format!("{}/api/anime?per_page=50&page=3", server.url);
        let (p50, p95) = latency(client, &page, &token).await;
        results.push((name, p50, p95, indexed));
    }
    println!(
        "GET /api/anime?per_page=50 over {matched} series ({series} folders), {SAMPLES} sequential requests:"
    );
    for (name, p50, p95, indexed) in &results {
        println!(
            "  {name:<10}  median {p50:>6.2} ms   p95 {p95:>6.2} ms   (first index at start {:.1} s)",
            indexed.as_secs_f64()
        );
    }
    println!(
        "  PostgreSQL / SQLite: median {:.2}x, p95 {:.2}x",
        results[1].1 / results[0].1,
        results[1].2 / results[0].2
    );
    drop(pg);
}

/// Part 2: `items` queue items through `instances` servers on one database (`url`, empty =
/// SQLite in the first data dir); items per second until every item ended.
async fn claim_throughput(
    client: &reqwest::Client,
    root: &Path,
    label: &str,
    url: &str,
    instances: usize,
    items: usize,
) -> f64 {
    let library = root.join(format!("library-{label}"));
    std::fs::create_dir_all(&library).unwrap();
    let config = json!({
        "auth": { "bcrypt_cost": 4 },
        "database": { "url": url },
        "download": { "autostart": false, "max_parallel": 2, "lease_secs": 30 },
        "providers": {
            "aniworld": { "enabled": true, "base_url": "http://127.0.0.1:9", "retries": 0, "rate_limit": 1000.0 },
            "sto": { "enabled": false, "base_url": "http://127.0.0.1:9" }
        }
    });
    let servers: Vec<Server> = (0..instances)
        .map(|i| {
            let data = root.join(format!("data-{label}-{i}"));
            write_config(&data, &config);
            Server::start_with_providers(&data, &library)
        })
        .collect();
    let token = servers[0].token(client).await;
    // Every instance must be up and logged in before the queue starts.
    for s in &servers[1..] {
        get_json(client, &format!("{}/api/queue/status", s.url), &token).await;
    }
    for chunk in (1..=items).collect::<Vec<_>>().chunks(1000) {
        let episodes: Vec<Value> = chunk
            .iter()
            .map(|e| json!({ "key": format!("bench-{}", e / 1000), "site": "aniworld", "season": 1, "episode": e % 1000 + 1 }))
            .collect();
        let r = client
            .post(format!("{}/api/queue/add", servers[0].url))
            .bearer_auth(&token)
            .json(&json!({ "episodes": episodes }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    let status_url = format!("{}/api/queue/status?per_page=1", servers[0].url);
    let pending = get_json(client, &status_url, &token).await["pending"]
        .as_u64()
        .unwrap();
    assert_eq!(pending, items as u64);
    let start = Instant::now();
    // Start on every instance at once, so none waits for its poll to notice.
    for s in &servers {
        client
            .post(format!("{}/api/queue/start", s.url))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
    }
    loop {
        let s = get_json(client, &status_url, &token).await;
        let ended = s["failed"].as_u64().unwrap_or(0)
            + s["completed"].as_u64().unwrap_or(0)
            + s["cancelled"].as_u64().unwrap_or(0);
        if ended >= items as u64 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(900),
            "queue stuck: {s}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    items as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let client = reqwest::Client::new();
        let series = env_usize("SCALEOUT_SERIES", 10_000);
        let items = env_usize("SCALEOUT_ITEMS", 2_000);

        series_list(&client, dir.path(), series).await;

        println!();
        println!(
            "queue: {items} items claimed, run and recorded (each fails at once: refused provider), max_parallel 2 per instance:"
        );
        let sqlite = claim_throughput(&client, dir.path(), "sqlite", "", 1, items).await;
        let pg1 = ScratchPostgres::create().await.expect("PostgreSQL");
        let one = claim_throughput(&client, dir.path(), "pg1", pg1.url(), 1, items).await;
        drop(pg1);
        let pg3 = ScratchPostgres::create().await.expect("PostgreSQL");
        let three = claim_throughput(&client, dir.path(), "pg3", pg3.url(), 3, items).await;
        drop(pg3);
        println!("  SQLite,     1 instance : {sqlite:>8.1} items/s");
        println!("  PostgreSQL, 1 instance : {one:>8.1} items/s  ({:.2}x SQLite)", one / sqlite);
        println!(
            "  PostgreSQL, 3 instances: {three:>8.1} items/s  ({:.2}x one PostgreSQL instance)",
            three / one
        );
    });
}
