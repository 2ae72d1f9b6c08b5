//! Several real `aniworld serve` processes sharing one Redis (`database.redis_url`), each on its
//! own SQLite data dir: events reach every instance's WebSocket clients, login attempts are
//! counted across instances, and an instance whose Redis goes away keeps serving, says so in
//! `/health`, and shares events again once Redis is back. Every test runs its own
//! `redis-server` on a free port.

use std::path::Path;
use std::time::{Duration, Instant};

use aniworld_testkit::app::{PASSWORD, base_config, merge};
use aniworld_testkit::bin::{ServerProcess, setup_and_login, start_binary};
use aniworld_testkit::redis::RedisServer;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One instance: its process, base URL, token and temp dirs.
struct Instance {
    _process: ServerProcess,
    url: String,
    token: String,
    _dir: tempfile::TempDir,
}

/// Writes `config.json` (base config + `redis_url` + `extra`) and a library with `series` folders
/// (each with `.aniworld.json` and one episode file), starts `aniworld serve`, sets it up and logs
/// in.
async fn start_instance(redis_url: &str, series: &[&str], extra: Value) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let library = dir.path().join("library");
    std::fs::create_dir_all(&data).unwrap();
    for key in series {
        write_series(&library, key);
    }
    let mut config = base_config();
    merge(
        &mut config,
        json!({ "database": { "redis_url": redis_url } }),
    );
    merge(&mut config, extra);
    std::fs::write(data.join("config.json"), config.to_string()).unwrap();
    let (process, url) = start_binary(&data, &library);
    let token = setup_and_login(&reqwest::Client::new(), &url).await;
    Instance {
        _process: process,
        url,
        token,
        _dir: dir,
    }
}

fn write_series(library: &Path, key: &str) {
    let folder = library.join(format!("Show {key}"));
    std::fs::create_dir_all(folder.join("Season 01")).unwrap();
    std::fs::write(
        folder.join(".aniworld.json"),
        json!({ "key": key, "site": "aniworld", "name": format!("Show {key}") }).to_string(),
    )
    .unwrap();
    std::fs::write(
        folder.join(format!("Season 01/Show {key} - S01E001 - (German Dub).mp4")),
        b"x",
    )
    .unwrap();
}

async fn health(url: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{url}/health")).await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Waits until `/health` of `url` reports Redis as `status`.
async fn wait_for_redis(url: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = health(url).await;
        if body["redis"]["status"] == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "redis never became {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect(instance: &Instance, rooms: &str) -> Socket {
    let ws = instance.url.replace("http://", "ws://");
    let (mut socket, _) = tokio_tungstenite::connect_async(format!(
        "{ws}/ws/connect?token={}&rooms={rooms}",
        instance.token
    ))
    .await
    .expect("ws connects");
    let welcome = next_event(&mut socket, Duration::from_secs(10))
        .await
        .expect("welcome");
    assert_eq!(welcome["type"], "welcome");
    socket
}

/// The next event (heartbeats skipped), or `None` when none arrives within `wait`.
async fn next_event(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let msg = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()?;
        if let Message::Text(text) = msg.expect("socket open").expect("no socket error") {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] != "heartbeat" {
                return Some(v);
            }
        }
    }
}

/// The first `scan_complete` event whose `series` count is `series` (other scans are skipped).
async fn scan_complete_with(socket: &mut Socket, series: u64, wait: Duration) -> Option<Value> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = next_event(socket, left).await?;
        if event["type"] == "scan_complete" && event["data"]["series"] == series {
            return Some(event);
        }
    }
}

/// Counts the `scan_complete` events with `series` series arriving within `wait`.
async fn count_scan_completes(socket: &mut Socket, series: u64, wait: Duration) -> usize {
    let deadline = Instant::now() + wait;
    let mut n = 0;
    while let Some(event) =
        next_event(socket, deadline.saturating_duration_since(Instant::now())).await
    {
        if event["type"] == "scan_complete" && event["data"]["series"] == series {
            n += 1;
        }
    }
    n
}

async fn rescan(instance: &Instance) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/anime/rescan", instance.url))
        .bearer_auth(&instance.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
}

/// Waits until the startup index of `instance` is done (so its own scan events are over).
async fn wait_until_indexed(instance: &Instance) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body: Value = reqwest::Client::new()
            .get(format!("{}/api/library/status", instance.url))
            .bearer_auth(&instance.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null);
        if body.get("scan").is_some_and(Value::is_null) {
            return;
        }
        assert!(Instant::now() < deadline, "never indexed: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_websocket_client_on_one_instance_sees_the_events_of_another() {
    let redis = RedisServer::start();
    // A's library has 3 series, B's 1: the scan events say whose they are.
    let a = start_instance(&redis.url(), &["alpha", "beta", "gamma"], json!({})).await;
    let b = start_instance(&redis.url(), &["delta"], json!({})).await;
    wait_for_redis(&a.url, "ok").await;
    wait_for_redis(&b.url, "ok").await;
    wait_until_indexed(&a).await;
    wait_until_indexed(&b).await;
    let mut on_b = connect(&b, "scan_progress").await;
    let mut on_a = connect(&a, "scan_progress").await;

    rescan(&a).await;
    let seen_on_b = scan_complete_with(&mut on_b, 3, Duration::from_secs(15))
        .await
        .expect("B's client saw A's scan");
    assert_eq!(seen_on_b["data"]["series"], 3, "{seen_on_b}");
    let seen_on_a = scan_complete_with(&mut on_a, 3, Duration::from_secs(15))
        .await
        .expect("A's client saw A's scan");
    assert_eq!(seen_on_a["data"], seen_on_b["data"]);
    // Each instance stamps the message when it sends it: the difference is what the trip
    // through Redis adds.
    let stamp =
        |v: &Value| chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap()).unwrap();
    eprintln!(
        "scan_complete on A's client at {}, on B's client {} ms later",
        seen_on_a["timestamp"],
        (stamp(&seen_on_b) - stamp(&seen_on_a)).num_milliseconds()
    );
    // A's own client gets A's scan exactly once (its own events come back from Redis and are
    // not delivered again).
    assert_eq!(
        count_scan_completes(&mut on_a, 3, Duration::from_secs(2)).await,
        0,
        "A's own scan delivered twice"
    );

    // And the other way round.
    rescan(&b).await;
    assert!(
        scan_complete_with(&mut on_a, 1, Duration::from_secs(15))
            .await
            .is_some(),
        "A's client never saw B's scan"
    );
    assert_eq!(
        count_scan_completes(&mut on_b, 1, Duration::from_secs(2)).await,
        1,
        "B's own scan delivered once"
    );
}

async fn login(url: &str, password: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{url}/api/auth/login"))
        .json(&json!({ "password": password }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn login_attempts_are_counted_across_instances() {
    let redis = RedisServer::start();
    let limit = json!({ "auth": { "max_failed_logins_per_minute": 3 } });
    let a = start_instance(&redis.url(), &[], limit.clone()).await;
    let b = start_instance(&redis.url(), &[], limit).await;
    wait_for_redis(&a.url, "ok").await;
    wait_for_redis(&b.url, "ok").await;
    // Setup logged in once on each: a success forgets the client's attempts.
    assert_eq!(login(&a.url, "wrong password 1").await, 401);
    assert_eq!(login(&b.url, "wrong password 2").await, 401);
    assert_eq!(login(&a.url, "wrong password 3").await, 401);
    // Three attempts from this address across both instances: the fourth is refused everywhere,
    // even with the right password, on the instance that saw only one of them too.
    assert_eq!(login(&b.url, PASSWORD).await, 429);
    assert_eq!(login(&a.url, PASSWORD).await, 429);
    let r = reqwest::Client::new()
        .post(format!("{}/api/auth/login", b.url))
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
}

#[tokio::test]
async fn an_instance_whose_redis_goes_away_keeps_serving_and_shares_events_again_when_it_is_back() {
    let mut redis = RedisServer::start();
    let a = start_instance(
        &redis.url(),
        &["alpha", "beta"],
        json!({ "auth": { "max_failed_logins_per_minute": 2 } }),
    )
    .await;
    let b = start_instance(&redis.url(), &[], json!({})).await;
    let (status, body) = health(&a.url).await;
    assert_eq!(status, 200);
    wait_for_redis(&a.url, "ok").await;
    wait_for_redis(&b.url, "ok").await;
    assert_eq!(body["database"]["status"], "ok", "{body}");
    wait_until_indexed(&a).await;
    wait_until_indexed(&b).await;
    let mut on_a = connect(&a, "scan_progress").await;
    let mut on_b = connect(&b, "scan_progress").await;

    redis.kill();
    let body = wait_for_redis(&a.url, "down").await;
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(
        body["redis"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(body["database"]["status"], "ok", "{body}");
    let (status, _) = health(&a.url).await;
    assert_eq!(status, 200, "an instance without Redis still serves");
    // The API serves, local events still reach local clients, logins are limited locally.
    let r = reqwest::Client::new()
        .get(format!("{}/api/anime", a.url))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    rescan(&a).await;
    assert!(
        scan_complete_with(&mut on_a, 2, Duration::from_secs(15))
            .await
            .is_some(),
        "A's own client lost A's events while Redis was down"
    );
    assert_eq!(login(&a.url, "wrong password 1").await, 401);
    assert_eq!(login(&a.url, "wrong password 2").await, 401);
    assert_eq!(login(&a.url, PASSWORD).await, 429, "local limiter");
    // B's client did not get A's scan (Redis carried nothing).
    assert!(
        scan_complete_with(&mut on_b, 2, Duration::from_millis(500))
            .await
            .is_none()
    );

    redis.restart();
    wait_for_redis(&a.url, "ok").await;
    wait_for_redis(&b.url, "ok").await;
    let (status, body) = health(&a.url).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ok")),
        "{body}"
    );
    rescan(&a).await;
    assert!(
        scan_complete_with(&mut on_b, 2, Duration::from_secs(15))
            .await
            .is_some(),
        "events did not flow again after Redis came back"
    );
}

#[tokio::test]
async fn without_redis_health_says_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("config.json"), base_config().to_string()).unwrap();
    let (_process, url) = start_binary(&data, &dir.path().join("library"));
    let (status, body) = health(&url).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["redis"]["status"], "disabled", "{body}");
    assert_eq!(body["database"]["status"], "ok", "{body}");
    assert_eq!(body["database"]["ok"], true, "{body}");
}

#[tokio::test]
async fn a_redis_url_that_is_not_one_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut config = base_config();
    config["database"] = json!({ "redis_url": "redis://:hunter2@127.0.0.1:6379/notanumber" });
    std::fs::write(data.join("config.json"), config.to_string()).unwrap();
    let out = aniworld_testkit::bin::aniworld()
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--library")
        .arg(dir.path().join("library"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("database.redis_url"), "{stderr}");
    assert!(stderr.contains("database number"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[tokio::test]
async fn an_instance_starts_while_redis_is_down_and_connects_when_it_comes() {
    let mut redis = RedisServer::start();
    redis.kill();
    let a = start_instance(&redis.url(), &["alpha"], json!({})).await;
    let (status, body) = health(&a.url).await;
    assert_eq!(status, 200);
    assert_eq!(body["redis"]["status"], "down", "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    redis.restart();
    let body = wait_for_redis(&a.url, "ok").await;
    assert_eq!(body["status"], "ok", "{body}");
    // And it shares events now.
    let b = start_instance(&redis.url(), &[], json!({})).await;
    wait_for_redis(&b.url, "ok").await;
    wait_until_indexed(&a).await;
    let mut on_b = connect(&b, "scan_progress").await;
    rescan(&a).await;
    assert!(
        scan_complete_with(&mut on_b, 1, Duration::from_secs(15))
            .await
            .is_some(),
        "B never saw A's scan"
    );
}
