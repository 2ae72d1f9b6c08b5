//! `/api/anime`: list, detail, search, add, rescan (with a provider double registered into the
//! app's registry).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestApp, app_with_fake_provider, assert_error};

async fn app_with_provider() -> (TestApp, String) {
    let app = app_with_fake_provider().await;
    let token = app.token().await;
    (app, token)
}

fn library(app: &TestApp) -> std::path::PathBuf {
    app.dir.path().join("library")
}

/// A series folder with metadata and the given season-1 episode files.
fn make_series(app: &TestApp, folder: &str, key: &str, episodes: &[u32]) {
    let dir = library(app).join(folder);
    std::fs::create_dir_all(dir.join("Season 01")).unwrap();
    std::fs::write(
        dir.join(".aniworld.json"),
        json!({"key": key, "site": "fake", "name": folder}).to_string(),
    )
    .unwrap();
    for e in episodes {
        std::fs::write(
            dir.join(format!("Season 01/{folder} - S01E{e:02}.mp4")),
            b"x",
        )
        .unwrap();
    }
}

async fn rescan_and_wait(app: &TestApp, token: &str) -> Value {
    let r = app.post("/api/anime/rescan", token, json!({})).await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app.server.state.library().current_scan().is_some() {
        assert!(std::time::Instant::now() < deadline, "scan did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    body
}

#[tokio::test]
async fn rescan_finds_series_and_list_pages_filters_and_sorts() {
    let (app, token) = app_with_provider().await;
    make_series(&app, "Alpha", "alpha", &[1, 2]);
    make_series(&app, "Beta", "beta", &[1]);
    make_series(&app, "Gamma", "gamma", &[]);
    rescan_and_wait(&app, &token).await;
    let all: Value = app.get("/api/anime", &token).await.json().await.unwrap();
    assert_eq!(all["total"], 3, "{all}");
    let names: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alpha", "Beta", "Gamma"]);
    let page2: Value = app
        .get("/api/anime?per_page=2&page=2", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["items"][0]["key"], "gamma");
    let filtered: Value = app
        .get("/api/anime?q=bet", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(filtered["total"], 1);
    assert_eq!(filtered["items"][0]["folder"], "Beta");
    let desc: Value = app
        .get("/api/anime?sort=key&order=desc", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(desc["items"][0]["key"], "gamma");
    let summary = &all["items"][0];
    for field in ["key", "name", "site", "folder", "missing_episodes", "link"] {
        assert!(
            summary.as_object().unwrap().contains_key(field),
            "{field}: {summary}"
        );
    }
}

#[tokio::test]
async fn missing_counts_come_from_the_provider_and_filter_the_list() {
    let (app, token) = app_with_provider().await;
    make_series(&app, "Alpha", "alpha", &[1, 2, 3]);
    make_series(&app, "Beta", "beta", &[1]);
    rescan_and_wait(&app, &token).await;
    // Details ask the provider: season 1 has 3, season 2 has 3, one special.
    let alpha: Value = app
        .get("/api/anime/alpha", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(alpha["missing_episodes"], 3, "{alpha}");
    assert_eq!(alpha["episodes"].as_array().unwrap().len(), 3);
    let beta: Value = app
        .get("/api/anime/beta", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(beta["missing_episodes"], 5);
    assert_eq!(beta["missing"][0], json!({"season": 0, "episodes": [1]}));
    let sorted: Value = app
        .get("/api/anime?sort=missing&order=desc&missing=true", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sorted["items"][0]["key"], "beta", "{sorted}");
    assert_eq!(sorted["items"][0]["missing_episodes"], 5);
    // A downloaded file shows up after the next rescan.
    std::fs::write(library(&app).join("Beta/Season 01/Beta - S01E02.mp4"), b"x").unwrap();
    rescan_and_wait(&app, &token).await;
    let list: Value = app
        .get("/api/anime?q=beta", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["missing_episodes"], 4, "{list}");
}

#[tokio::test]
async fn bad_list_parameters_are_rejected() {
    let (app, token) = app_with_provider().await;
    // The limits are in the document, checked before the handler: 400 naming the parameter.
    for (query, field) in [
        ("per_page=0", "per_page"),
        ("per_page=100000", "per_page"),
        ("page=0", "page"),
    ] {
        let body = assert_error(app.get(&format!("/api/anime?{query}"), &token).await, 400).await;
        assert_eq!(body["details"]["field"], field, "{query}: {body}");
    }
    assert_error(app.get("/api/anime?sort=evil", &token).await, 400).await;
    assert_error(app.get("/api/anime?page=-1", &token).await, 400).await;
}

#[tokio::test]
async fn detail_falls_back_from_key_to_folder_name() {
    let (app, token) = app_with_provider().await;
    make_series(&app, "Alpha Show (2020)", "alpha", &[1]);
    rescan_and_wait(&app, &token).await;
    let by_key: Value = app
        .get("/api/anime/alpha", &token)
        .await
        .json()
        .await
        .unwrap();
    let by_folder: Value = app
        .get("/api/anime/Alpha%20Show%20(2020)", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_key["key"], "alpha");
    assert_eq!(by_folder["key"], "alpha");
    assert_eq!(by_key["title"], "Alpha Show (2020)");
    assert!(by_key["seasons"].as_array().unwrap().len() == 3, "{by_key}");
}

#[tokio::test]
async fn unknown_and_hostile_ids_are_not_found() {
    let (app, token) = app_with_provider().await;
    for id in ["nope", "..%2F..%2Fetc%2Fpasswd", "%2E%2E", "a%00b"] {
        let r = app.get(&format!("/api/anime/{id}"), &token).await;
        let status = r.status().as_u16();
        assert!(status == 404 || status == 400, "{id}: {status}");
        assert_error(r, status).await;
    }
}

#[tokio::test]
async fn detail_survives_a_failing_provider() {
    let (app, token) = app_with_provider().await;
    make_series(&app, "Gone", "gone", &[1]);
    rescan_and_wait(&app, &token).await;
    let r = app.get("/api/anime/gone", &token).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["provider_error"].as_str().unwrap().contains("gone"),
        "{body}"
    );
    assert_eq!(body["episodes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn search_returns_provider_hits_and_validates_the_query() {
    let (app, token) = app_with_provider().await;
    let r = app
        .post("/api/anime/search", &token, json!({"query": "alpha"}))
        .await;
    assert_eq!(r.status(), 200);
    let hits: Value = r.json().await.unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(hits[0]["key"], "alpha-show");
    assert_eq!(hits[0]["link"], "/anime/stream/alpha-show");
    assert_error(
        app.post("/api/anime/search", &token, json!({"query": "  "}))
            .await,
        422,
    )
    .await;
    assert_error(
        app.post(
            "/api/anime/search",
            &token,
            json!({"query": "x", "site": "nope"}),
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn add_creates_the_folder_with_metadata_and_refuses_twice() {
    let (app, token) = app_with_provider().await;
    let r = app
        .post(
            "/api/anime/add",
            &token,
            json!({"link": "https://x.example/anime/stream/alpha-show"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let added: Value = r.json().await.unwrap();
    assert_eq!(added["key"], "alpha-show");
    assert_eq!(added["folder"], "Show alpha-show (2020)");
    assert_eq!(added["missing_episodes"], 6);
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(library(&app).join("Show alpha-show (2020)/.aniworld.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(meta["key"], "alpha-show");
    assert_eq!(meta["site"], "fake");
    let list: Value = app.get("/api/anime", &token).await.json().await.unwrap();
    assert_eq!(list["total"], 1);
    let again = app
        .post(
            "/api/anime/add",
            &token,
            json!({"link": "/anime/stream/alpha-show"}),
        )
        .await;
    assert_error(again, 409).await;
}

#[tokio::test]
async fn a_long_non_ascii_name_gets_a_folder_that_fits_in_bytes() {
    let (app, token) = app_with_provider().await;
    let r = app
        .post(
            "/api/anime/add",
            &token,
            json!({"link": "/anime/stream/long-umlauts"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let added: Value = r.json().await.unwrap();
    let folder = added["folder"].as_str().unwrap();
    assert!(
        folder.starts_with("ÜÜÜ") && folder.ends_with(" (2020)"),
        "{folder}"
    );
    assert!(folder.len() <= 255, "{} bytes", folder.len());
    assert!(library(&app).join(folder).join(".aniworld.json").is_file());
}

#[tokio::test]
async fn bidi_overrides_and_zero_width_characters_never_reach_a_folder_name() {
    let (app, token) = app_with_provider().await;
    let r = app
        .post(
            "/api/anime/add",
            &token,
            json!({"link": "/anime/stream/bidi-name"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let added: Value = r.json().await.unwrap();
    assert_eq!(added["folder"], "Evilvod.exe Show (2020)");
    let names: Vec<String> = std::fs::read_dir(library(&app))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["Evilvod.exe Show (2020)"]);
}

#[tokio::test]
async fn add_rejects_links_no_provider_knows() {
    let (app, token) = app_with_provider().await;
    // No provider has a series at such a link; an empty one does not fit the document.
    for (link, status) in [
        ("https://evil.example/", 404),
        ("../../etc", 404),
        ("", 400),
    ] {
        let body = assert_error(
            app.post("/api/anime/add", &token, json!({"link": link}))
                .await,
            status,
        )
        .await;
        if status == 404 {
            assert!(body["message"].as_str().unwrap().contains("link"), "{body}");
        } else {
            assert_eq!(body["details"]["field"], "link");
        }
    }
    assert_eq!(std::fs::read_dir(library(&app)).unwrap().count(), 0);
}

#[tokio::test]
async fn rescan_progress_arrives_over_the_websocket_and_runs_once_at_a_time() {
    let (app, token) = app_with_provider().await;
    for i in 0..1500 {
        make_series(
            &app,
            &format!("Show {i:04}"),
            &format!("show-{i:04}"),
            &[1, 2],
        );
    }
    let url = format!(
        "ws://{}/ws/connect?token={token}&rooms=scan_progress",
        app.server.addr
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let first = app.post("/api/anime/rescan", &token, json!({})).await;
    let second = app.post("/api/anime/rescan", &token, json!({})).await;
    assert_eq!(first.status(), 202);
    assert_eq!(second.status(), 202);
    let first: Value = first.json().await.unwrap();
    let second: Value = second.json().await.unwrap();
    assert_eq!(first["started"], true);
    assert_eq!(second["started"], false, "{second}");
    assert_eq!(first["scan_id"], second["scan_id"]);
    let mut kinds = Vec::new();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("scan events")
            .unwrap()
            .unwrap();
        let Message::Text(t) = msg else { continue };
        let v: Value = serde_json::from_str(&t).unwrap();
        let kind = v["type"].as_str().unwrap().to_owned();
        if kind == "scan_complete" {
            assert_eq!(v["data"]["scan_id"], first["scan_id"]);
            assert_eq!(v["data"]["series"], 1500);
            kinds.push(kind);
            break;
        }
        kinds.push(kind);
    }
    assert!(kinds.contains(&"scan_started".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"scan_progress".to_owned()), "{kinds:?}");
    ws.send(Message::Close(None)).await.ok();
    let list: Value = app
        .get("/api/anime?per_page=1", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1500);
}

#[tokio::test]
async fn rescan_of_a_missing_library_names_the_key() {
    let (app, token) = app_with_provider().await;
    std::fs::remove_dir_all(library(&app)).unwrap();
    let body = assert_error(app.post("/api/anime/rescan", &token, json!({})).await, 422).await;
    assert_eq!(body["details"]["field"], "library.path");
}

#[tokio::test]
async fn after_a_rescan_the_list_learns_missing_counts_from_the_provider() {
    let (app, token) = app_with_provider().await;
    make_series(&app, "Alpha", "alpha", &[1, 2, 3]);
    rescan_and_wait(&app, &token).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list: Value = app.get("/api/anime", &token).await.json().await.unwrap();
        if list["items"][0]["missing_episodes"] == 3 {
            assert_eq!(list["items"][0]["missing_specials"], 1);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "missing never filled: {list}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
