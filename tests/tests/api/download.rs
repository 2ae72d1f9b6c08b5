//! End to end through the API: the built-in aniworld provider and hosters against the fixture
//! site; a download queued over HTTP reports progress over a real WebSocket client and completes.

use std::time::Duration;

use aniworld_testkit::FixtureSite;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{assert_error, spawn_app_with};

fn fixture_config(site: &FixtureSite) -> Value {
    let mut config = crate::support::base_config();
    config["providers"]["aniworld"] = json!({
        "enabled": true,
        "base_url": site.state.url("aniworld"),
        "rate_limit": 100.0,
        "retries": 0
    });
    config
}

#[tokio::test]
async fn download_queued_over_http_reports_progress_over_websocket_and_completes() {
    let site = FixtureSite::start().await;
    // Slow media so the download lasts long enough to report progress.
    site.state.set_knob("media.rate", "300000");
    site.state.set_knob("hls.segment_delay_ms", "100");
    let app = spawn_app_with(fixture_config(&site)).await;
    let token = app.token().await;

    let hits: Value = app
        .post(
            "/api/anime/search",
            &token,
            json!({"query": "Attack", "site": "aniworld"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let hit = hits
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["key"] == "attack-on-titan")
        .unwrap_or_else(|| panic!("search result: {hits}"))
        .clone();
    let r = app
        .post("/api/anime/add", &token, json!({"link": hit["link"]}))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    let url = format!(
        "ws://{}/ws/connect?token={token}&rooms=downloads,download_progress",
        app.server.addr
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();

    let added: Value = app
        .post(
            "/api/queue/add",
            &token,
            json!({"episodes": [{"key": "attack-on-titan", "season": 1, "episode": 1}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let item_id = added["added"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{added}"));
    assert_eq!(
        app.post("/api/queue/start", &token, json!({}))
            .await
            .status(),
        200
    );

    let mut progress = Vec::new();
    let completed = loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .expect("download events within 60 s")
            .expect("socket open")
            .expect("no socket error");
        let Message::Text(text) = msg else { continue };
        let v: Value = serde_json::from_str(&text).unwrap();
        match v["type"].as_str().unwrap() {
            "download_progress" => {
                assert_eq!(v["data"]["progress"]["item_id"], item_id);
                assert_eq!(v["data"]["context"]["key"], "attack-on-titan");
                progress.push(v["data"]["progress"]["bytes"].as_u64().unwrap());
            }
            "download_failed" => panic!("download failed: {v}"),
            "download_complete" if v["data"]["item_id"] == item_id => break v,
            _ => {}
        }
    };
    assert!(!progress.is_empty(), "no progress event arrived");
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress went backwards: {progress:?}"
    );
    let size = completed["data"]["size"].as_u64().unwrap();
    assert!(size > 0);

    let status: Value = app
        .get("/api/queue/status", &token)
        .await
        .json()
        .await
        .unwrap();
    let item = &status["items"][0];
    assert_eq!(item["status"], "completed", "{status}");
    let path = std::path::PathBuf::from(item["path"].as_str().unwrap());
    assert!(
        path.starts_with(app.dir.path().join("library")),
        "{}",
        path.display()
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);

    // The episode is on disk now: queueing it again is refused with the reason.
    let again: Value = app
        .post(
            "/api/queue/add",
            &token,
            json!({"episodes": [{"key": "attack-on-titan", "season": 1, "episode": 1}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["added"], json!([]), "{again}");
    assert_eq!(again["skipped"][0]["reason"], "on_disk", "{again}");
}

#[tokio::test]
async fn detail_of_an_added_fixture_series_lists_seasons_and_missing_episodes() {
    let site = FixtureSite::start().await;
    let app = spawn_app_with(fixture_config(&site)).await;
    let token = app.token().await;
    let r = app
        .post(
            "/api/anime/add",
            &token,
            json!({"link": "/anime/stream/attack-on-titan"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let added: Value = r.json().await.unwrap();
    assert_eq!(added["folder"], "Attack on Titan (2013)");
    assert!(added["missing_episodes"].as_u64().unwrap() > 0, "{added}");
    let detail: Value = app
        .get("/api/anime/attack-on-titan", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["title"], "Attack on Titan");
    assert!(
        detail["seasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["number"] == 0),
        "{detail}"
    );
    assert_eq!(detail["provider_error"], Value::Null);
    let unknown = app
        .post(
            "/api/anime/add",
            &token,
            json!({"link": "/anime/stream/no-such-series"}),
        )
        .await;
    assert_error(unknown, 404).await;
}
