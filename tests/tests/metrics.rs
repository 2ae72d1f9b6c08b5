//! `GET /metrics` of a real `aniworld serve` after real traffic: requests by route template and
//! status, a scan, a download from the fixture site, provider requests, WebSocket clients; and
//! who may read it (`server.metrics_public`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aniworld_testkit::FixtureSite;
use aniworld_testkit::app::{base_config, merge};
use aniworld_testkit::bin::{setup_and_login, start_binary};
use serde_json::{Value, json};

/// The samples of an exposition: `name{labels}` → value. Checks every line is a comment or a
/// sample.
fn samples(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line:?}"));
        out.insert(name.to_owned(), value);
    }
    out
}

async fn metrics(http: &reqwest::Client, url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = http.get(format!("{url}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_scans_downloads_provider_calls_and_websocket_clients() {
    let site = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let library = dir.path().join("library");
    std::fs::create_dir_all(&data).unwrap();
    let mut config = base_config();
    merge(
        &mut config,
        json!({ "providers": { "aniworld": {
            "enabled": true, "base_url": site.state.url("aniworld"), "rate_limit": 100.0, "retries": 0
        } } }),
    );
    std::fs::write(data.join("config.json"), config.to_string()).unwrap();
    let (_process, url) = start_binary(&data, &library);
    let http = reqwest::Client::new();
    let token = setup_and_login(&http, &url).await;

    // Who may read it: a token is needed by default.
    let r = metrics(&http, &url, None).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized", "{body}");
    assert_eq!(metrics(&http, &url, Some("garbage")).await.status(), 401);

    // Traffic: a series added (provider requests), a request by key, a 404, a rescan, a download.
    let post = |path: &str, body: Value| {
        http.post(format!("{url}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let r = post(
        "/api/anime/add",
        json!({"link": "/anime/stream/attack-on-titan"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    for key in ["attack-on-titan", "no-such-series"] {
        http.get(format!("{url}/api/anime/{key}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        post("/api/anime/rescan", json!({})).await.unwrap().status(),
        202
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status: Value = http
            .get(format!("{url}/api/library/status"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["scan"].is_null() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rescan did not end: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ws = url.replace("http://", "ws://");
    let (socket, _) = tokio_tungstenite::connect_async(format!("{ws}/ws/connect?token={token}"))
        .await
        .unwrap();
    post(
        "/api/queue/add",
        json!({"episodes": [{"key": "attack-on-titan", "season": 1, "episode": 1}]}),
    )
    .await
    .unwrap();
    post("/api/queue/start", json!({})).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let item = loop {
        let s: Value = http
            .get(format!("{url}/api/queue/status"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let item = s["items"][0].clone();
        if item["status"] == "completed" {
            break item;
        }
        assert_ne!(item["status"], "failed", "{s}");
        assert!(Instant::now() < deadline, "download did not finish: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let size = std::fs::metadata(item["path"].as_str().unwrap())
        .unwrap()
        .len();
    // The scan's completion is counted when its event is emitted: wait for it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (text, m) = loop {
        let r = metrics(&http, &url, Some(&token)).await;
        assert_eq!(r.status(), 200);
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let text = r.text().await.unwrap();
        let m = samples(&text);
        // The rescan (the library folder did not exist at start: nothing was indexed then).
        if m.get("aniworld_scan_duration_seconds_count").copied() >= Some(1.0) {
            break (text, m);
        }
        assert!(Instant::now() < deadline, "scans not counted:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Requests by route template, never by raw path.
    assert!(
        m[r#"aniworld_http_requests_total{method="POST",route="/api/anime/add",status="201"}"#]
            >= 1.0,
        "{text}"
    );
    // The template as the OpenAPI document writes it.
    for status in [200, 404] {
        let key = format!(
            "aniworld_http_requests_total{{method=\"GET\",route=\"/api/anime/{{id}}\",status=\"{status}\"}}"
        );
        assert_eq!(m.get(&key), Some(&1.0), "{key}:\n{text}");
    }
    assert!(
        !text.contains("attack-on-titan") && !text.contains("no-such-series"),
        "raw paths in the route label:\n{text}"
    );
    assert!(
        m[r#"aniworld_http_requests_total{method="GET",route="/metrics",status="401"}"#] >= 2.0,
        "{text}"
    );
    // Queue, downloads, bytes.
    assert_eq!(
        m[r#"aniworld_queue_items{status="completed"}"#], 1.0,
        "{text}"
    );
    assert_eq!(
        m[r#"aniworld_queue_items{status="pending"}"#], 0.0,
        "{text}"
    );
    assert_eq!(m["aniworld_downloads_completed_total"], 1.0, "{text}");
    assert_eq!(m["aniworld_downloads_failed_total"], 0.0, "{text}");
    assert_eq!(m["aniworld_download_bytes_total"], size as f64, "{text}");
    // Provider requests by site: the add and the download asked the fixture's aniworld.
    assert!(
        m[r#"aniworld_provider_requests_total{site="aniworld"}"#] >= 2.0,
        "{text}"
    );
    assert_eq!(
        m[r#"aniworld_provider_errors_total{site="aniworld"}"#], 0.0,
        "{text}"
    );
    // Scan durations: a histogram whose +Inf bucket is the count.
    assert_eq!(
        m[r#"aniworld_scan_duration_seconds_bucket{le="+Inf"}"#],
        m["aniworld_scan_duration_seconds_count"],
        "{text}"
    );
    assert!(text.contains("# TYPE aniworld_scan_duration_seconds histogram"));
    // One WebSocket client now, none after it closed.
    assert_eq!(m["aniworld_websocket_clients"], 1.0, "{text}");
    drop(socket);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = metrics(&http, &url, Some(&token))
            .await
            .text()
            .await
            .unwrap();
        if samples(&text)["aniworld_websocket_clients"] == 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "client never counted as gone");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn provider_errors_are_counted_by_site() {
    let site = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut config = base_config();
    // sto points at a port nothing listens on.
    merge(
        &mut config,
        json!({ "providers": {
            "aniworld": { "enabled": true, "base_url": site.state.url("aniworld"), "retries": 0 },
            "sto": { "enabled": true, "base_url": "http://127.0.0.1:9", "retries": 0 }
        } }),
    );
    std::fs::write(data.join("config.json"), config.to_string()).unwrap();
    let (_process, url) = start_binary(&data, &dir.path().join("library"));
    let http = reqwest::Client::new();
    let token = setup_and_login(&http, &url).await;
    http.post(format!("{url}/api/anime/search"))
        .bearer_auth(&token)
        .json(&json!({ "query": "attack" }))
        .send()
        .await
        .unwrap();
    let text = metrics(&http, &url, Some(&token))
        .await
        .text()
        .await
        .unwrap();
    let m = samples(&text);
    assert!(
        m[r#"aniworld_provider_requests_total{site="sto"}"#] >= 1.0,
        "{text}"
    );
    assert_eq!(
        m[r#"aniworld_provider_errors_total{site="sto"}"#],
        m[r#"aniworld_provider_requests_total{site="sto"}"#],
        "{text}"
    );
    assert!(
        m[r#"aniworld_provider_requests_total{site="aniworld"}"#] >= 1.0,
        "{text}"
    );
    assert_eq!(
        m[r#"aniworld_provider_errors_total{site="aniworld"}"#], 0.0,
        "{text}"
    );
}

#[tokio::test]
async fn metrics_public_opens_metrics_without_a_token_and_is_set_in_the_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut config = base_config();
    merge(&mut config, json!({ "server": { "metrics_public": true } }));
    std::fs::write(data.join("config.json"), config.to_string()).unwrap();
    let (_process, url) = start_binary(&data, &dir.path().join("library"));
    let http = reqwest::Client::new();
    let r = metrics(&http, &url, None).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("# TYPE aniworld_http_requests_total counter"),
        "{text}"
    );
    // It opens the server to anyone: not changeable through the API.
    let token = setup_and_login(&http, &url).await;
    let r = http
        .put(format!("{url}/api/config"))
        .bearer_auth(&token)
        .json(&json!({ "server": { "metrics_public": false } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "read_only", "{body}");
    let config: Value = http
        .get(format!("{url}/api/config"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["server"]["metrics_public"], true, "{config}");
    assert!(
        config["read_only"]
            .as_array()
            .unwrap()
            .contains(&json!("server.metrics_public")),
        "{config}"
    );
}
