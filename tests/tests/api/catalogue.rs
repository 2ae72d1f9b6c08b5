//! The missing-episode catalogue and the library index through the API, against the fixture
//! site: rescans within the TTL ask no site, a restart keeps the counts, and the queue's
//! "is it on disk?" is the scanner's answer.

use aniworld_testkit::app::TestApp;
use serde_json::{Value, json};

const AOT: &str = "Attack on Titan (2013)";

/// The list, as `key → missing_episodes`.
async fn missing_counts(app: &TestApp, token: &str) -> Vec<(String, Value)> {
    let list: Value = app.get("/api/anime", token).await.json().await.unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["key"].as_str().unwrap().to_owned(),
                i["missing_episodes"].clone(),
            )
        })
        .collect()
}

/// A library of one aniworld and one s.to series, scanned, with the providers asked once.
async fn scanned_library() -> (TestApp, String) {
    let app = TestApp::with_fixture(json!({})).await;
    let token = app.token().await;
    app.series_folder(
        AOT,
        "aniworld",
        "attack-on-titan",
        &["Season 01/Attack on Titan - S01E01 - (German Dub).mp4"],
    );
    app.series_folder("Dark", "sto", "dark", &[]);
    app.rescan(&token).await;
    app.wait_until_idle().await;
    (app, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescan_asks_the_providers_once_and_the_list_shows_what_is_missing() {
    let (app, token) = scanned_library().await;
    let counts = missing_counts(&app, &token).await;
    assert_eq!(
        counts,
        vec![
            ("attack-on-titan".to_owned(), json!(4)),
            ("dark".to_owned(), json!(2))
        ]
    );
    let asked: Vec<String> = app
        .fixture()
        .state
        .requests()
        .into_iter()
        .map(|r| format!("{} {}", r.server, r.uri))
        .collect();
    assert!(
        asked
            .iter()
            .any(|r| r.starts_with("aniworld /anime/stream/attack-on-titan")),
        "{asked:?}"
    );
    assert!(
        asked.iter().any(|r| r.starts_with("sto /serie/dark")),
        "{asked:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_rescan_within_the_ttl_sends_the_providers_no_request() {
    let (app, token) = scanned_library().await;
    let before = missing_counts(&app, &token).await;
    app.fixture().state.clear_requests();
    app.rescan(&token).await;
    app.wait_until_idle().await;
    assert_eq!(missing_counts(&app, &token).await, before);
    assert!(
        app.fixture().state.requests().is_empty(),
        "{:?}",
        app.fixture().state.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_missing_counts_without_asking_any_site() {
    let (app, token) = scanned_library().await;
    let before = missing_counts(&app, &token).await;
    // Whatever the sites would answer now, they are not asked.
    app.fixture()
        .state
        .set_knob("aniworld.challenge", "captcha");
    app.fixture().state.set_knob("sto.challenge", "captcha");
    app.fixture().state.clear_requests();
    let app = app.restart().await;
    app.wait_until_idle().await;
    assert_eq!(missing_counts(&app, &token).await, before);
    assert!(
        app.fixture().state.requests().is_empty(),
        "{:?}",
        app.fixture().state.requests()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescan_after_a_new_file_updates_missing_without_asking_again() {
    let (app, token) = scanned_library().await;
    app.fixture().state.clear_requests();
    let season = app.library().join(AOT).join("Season 01");
    std::fs::write(
        season.join("Attack on Titan - S01E02 - (German Dub).mp4"),
        b"x",
    )
    .unwrap();
    app.rescan(&token).await;
    app.wait_until_idle().await;
    let counts = missing_counts(&app, &token).await;
    assert_eq!(counts[0], ("attack-on-titan".to_owned(), json!(3)));
    assert!(app.fixture().state.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_absolute_numbering_is_on_disk_for_the_queue() {
    let app = TestApp::with_fixture(json!({})).await;
    let token = app.token().await;
    app.series_folder(
        AOT,
        "aniworld",
        "attack-on-titan",
        &["Attack on Titan - 05.mkv"],
    );
    app.rescan(&token).await;
    let r = app
        .post(
            "/api/queue/add",
            &token,
            json!({"episodes": [
                {"key": "attack-on-titan", "site": "aniworld", "season": 1, "episode": 5},
                {"key": "attack-on-titan", "site": "aniworld", "season": 1, "episode": 3}
            ]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["skipped"][0]["episode"], 5, "{body}");
    assert_eq!(body["skipped"][0]["reason"], "on_disk", "{body}");
    let path = body["skipped"][0]["path"].as_str().unwrap();
    assert!(
        path.ends_with("Attack on Titan (2013)/Attack on Titan - 05.mkv"),
        "{path}"
    );
    assert_eq!(body["added"][0]["episode"], 3, "{body}");
    assert_eq!(body["added"][0]["folder"], AOT, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_series_page_of_a_blocked_site_answers_with_the_cached_data() {
    let (app, token) = scanned_library().await;
    app.fixture()
        .state
        .set_knob("aniworld.challenge", "captcha");
    // Older than the TTL: the page asks again, the site refuses, the cached data is shown.
    app.server.state.catalogue().set_ttl(0);
    let detail: Value = app
        .get("/api/anime/attack-on-titan", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["provider_state"], "failed", "{detail}");
    assert!(
        detail["provider_error"]
            .as_str()
            .unwrap()
            .contains("blocked"),
        "{detail}"
    );
    assert_eq!(detail["missing_episodes"], 4, "{detail}");
    assert!(
        !detail["seasons"].as_array().unwrap().is_empty(),
        "{detail}"
    );
    assert_eq!(detail["episodes"][0]["episode"], 1, "{detail}");
}
