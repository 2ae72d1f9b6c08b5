//! Following series through the API and the WebSocket, against the fixture site where episodes
//! "air" while the server runs: what a check queues per monitor, never twice (across checks and
//! restarts), unfollowing, the scheduler, a blocked site, and the new-episodes page.

use std::time::{Duration, Instant};

use aniworld_testkit::app::TestApp;
use aniworld_testkit::catalogue::Site;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::websocket::connect;

const AOT: &str = "Attack on Titan (2013)";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A library with Attack on Titan (S01E01 on disk) and Kaguya-sama (nothing on disk), scanned,
/// with the providers asked once; `extra` merged into the config.
async fn library(extra: Value) -> (TestApp, String) {
    let app = TestApp::with_fixture(extra).await;
    let token = app.token().await;
    app.series_folder(
        AOT,
        "aniworld",
        "attack-on-titan",
        &["Season 01/Attack on Titan - S01E01 - (German Dub).mp4"],
    );
    app.series_folder("Kaguya", "aniworld", "kaguya-sama-love-is-war", &[]);
    app.rescan(&token).await;
    app.wait_until_idle().await;
    (app, token)
}

async fn follow(app: &TestApp, token: &str, key: &str, body: Value) -> Value {
    let r = app
        .put(&format!("/api/anime/{key}/follow"), token, body)
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

async fn system_socket(app: &TestApp, token: &str) -> Socket {
    let mut socket = connect(app, &format!("token={token}&rooms=system")).await;
    let welcome = next_message(&mut socket, Duration::from_secs(5)).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    socket
}

async fn next_message(socket: &mut Socket, within: Duration) -> Value {
    loop {
        let msg = tokio::time::timeout(within, socket.next())
            .await
            .expect("a message in time")
            .expect("socket open")
            .expect("no socket error");
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] != "heartbeat" {
                return v;
            }
        }
    }
}

/// Messages of the `system` room until `follow_check_complete` (of `check_id`, when given):
/// the `new_episodes` messages before it, and its data.
async fn until_check_done(
    socket: &mut Socket,
    check_id: Option<&str>,
    within: Duration,
) -> (Vec<Value>, Value) {
    let deadline = Instant::now() + within;
    let mut new_episodes = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = next_message(socket, left).await;
        match msg["type"].as_str() {
            Some("new_episodes") => new_episodes.push(msg["data"].clone()),
            Some("follow_check_complete")
                if check_id.is_none_or(|id| msg["data"]["check_id"] == id) =>
            {
                return (new_episodes, msg["data"].clone());
            }
            _ => {}
        }
    }
}

/// `POST /api/follow/check` and waits for its result on the WebSocket.
async fn check(app: &TestApp, token: &str) -> (Vec<Value>, Value) {
    let mut socket = system_socket(app, token).await;
    let r = app.post("/api/follow/check", token, json!({})).await;
    assert_eq!(r.status(), 202);
    let accepted: Value = r.json().await.unwrap();
    assert_eq!(accepted["started"], true, "{accepted}");
    let id = accepted["check_id"].as_str().unwrap().to_owned();
    until_check_done(&mut socket, Some(&id), Duration::from_secs(30)).await
}

/// The queue as (key, season, episode), sorted.
async fn queued(app: &TestApp, token: &str) -> Vec<(String, u64, u64)> {
    let status: Value = app
        .get("/api/queue/status?per_page=500", token)
        .await
        .json()
        .await
        .unwrap();
    let mut items: Vec<(String, u64, u64)> = status["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["key"].as_str().unwrap().to_owned(),
                i["season"].as_u64().unwrap(),
                i["episode"].as_u64().unwrap(),
            )
        })
        .collect();
    items.sort();
    items
}

fn aot(season: u64, episode: u64) -> (String, u64, u64) {
    ("attack-on-titan".to_owned(), season, episode)
}

fn air(app: &TestApp, key: &str, season: u32) -> (u32, u32) {
    app.fixture()
        .state
        .air(Site::Aniworld, key, season)
        .expect("the fixture knows the series")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_shows_in_the_summary_and_the_followed_filter() {
    let (app, token) = library(json!({})).await;
    let summary = follow(
        &app,
        &token,
        "attack-on-titan",
        json!({"followed": true, "monitor": "all", "language": "German Sub"}),
    )
    .await;
    assert_eq!(summary["followed"], true, "{summary}");
    assert_eq!(summary["monitor"], "all", "{summary}");
    assert_eq!(summary["language"], "German Sub", "{summary}");
    let list: Value = app
        .get("/api/anime?followed=true", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["key"], "attack-on-titan");
    let detail: Value = app
        .get("/api/anime/attack-on-titan", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&detail["followed"], &detail["monitor"]),
        (&json!(true), &json!("all"))
    );
    // Kept across a restart.
    let app = app.restart().await;
    let token = app.login().await;
    let list: Value = app
        .get("/api/anime?followed=true", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["monitor"], "all", "{list}");
    // Bad input: a clear error, nothing changed.
    let r = app
        .put(
            "/api/anime/attack-on-titan/follow",
            &token,
            json!({"followed": true, "monitor": "sometimes"}),
        )
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = app
        .put(
            "/api/anime/attack-on-titan/follow",
            &token,
            json!({"followed": true, "language": "Klingon"}),
        )
        .await;
    // Languages are a closed set in the API document: refused before the handler, naming it.
    let body = aniworld_testkit::app::assert_error(r, 400).await;
    assert_eq!(body["details"]["field"], "language", "{body}");
    let r = app
        .put(
            "/api/anime/no-such-series/follow",
            &token,
            json!({"followed": true}),
        )
        .await;
    aniworld_testkit::app::assert_error(r, 404).await;
    let list: Value = app
        .get("/api/anime?followed=true", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["monitor"], "all", "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_new_queues_only_the_episode_that_aired() {
    let (app, token) = library(json!({})).await;
    follow(
        &app,
        &token,
        "attack-on-titan",
        json!({"followed": true, "monitor": "new"}),
    )
    .await;
    let (season, episode) = air(&app, "attack-on-titan", 2);
    assert_eq!((season, episode), (2, 3));
    let (new_episodes, done) = check(&app, &token).await;
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(done["queued"], 1, "{done}");
    assert_eq!(queued(&app, &token).await, vec![aot(2, 3)]);
    assert_eq!(new_episodes.len(), 1, "{new_episodes:?}");
    assert_eq!(new_episodes[0]["key"], "attack-on-titan");
    assert_eq!(
        new_episodes[0]["episodes"],
        json!([{"season": 2, "episode": 3}])
    );
    // The "Upcoming / new" list.
    let found: Value = app
        .get("/api/follow/found", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found[0]["key"], "attack-on-titan", "{found}");
    assert_eq!(
        (found[0]["season"].clone(), found[0]["episode"].clone()),
        (json!(2), json!(3))
    );
    assert_eq!(found[0]["queued"], true, "{found}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_all_queues_every_missing_episode_and_none_on_disk() {
    let (app, token) = library(json!({})).await;
    follow(
        &app,
        &token,
        "attack-on-titan",
        json!({"followed": true, "monitor": "all"}),
    )
    .await;
    let (_, done) = check(&app, &token).await;
    assert_eq!(done["ok"], true, "{done}");
    // S01E01 is on disk: every other episode the site lists (movies included).
    assert_eq!(
        queued(&app, &token).await,
        vec![
            aot(0, 1),
            aot(0, 2),
            aot(1, 2),
            aot(1, 3),
            aot(2, 1),
            aot(2, 2)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfollowing_stops_the_checks() {
    let (app, token) = library(json!({})).await;
    follow(
        &app,
        &token,
        "attack-on-titan",
        json!({"followed": true, "monitor": "new"}),
    )
    .await;
    let summary = follow(&app, &token, "attack-on-titan", json!({"followed": false})).await;
    assert_eq!(summary["followed"], false, "{summary}");
    air(&app, "attack-on-titan", 2);
    let (new_episodes, done) = check(&app, &token).await;
    assert_eq!(done["series"], 0, "{done}");
    assert!(new_episodes.is_empty(), "{new_episodes:?}");
    assert_eq!(queued(&app, &token).await, vec![]);
    let list: Value = app
        .get("/api/anime?followed=true", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_in_a_row_and_after_a_restart_queue_nothing_twice() {
    let (app, token) = library(json!({})).await;
    follow(
        &app,
        &token,
        "attack-on-titan",
        json!({"followed": true, "monitor": "all"}),
    )
    .await;
    check(&app, &token).await;
    let first = queued(&app, &token).await;
    assert_eq!(first.len(), 6, "{first:?}");
    let (new_episodes, done) = check(&app, &token).await;
    assert_eq!(done["queued"], 0, "{done}");
    assert!(new_episodes.is_empty(), "{new_episodes:?}");
    assert_eq!(queued(&app, &token).await, first);
    // An item the user removed is not queued again by a check.
    let status: Value = app
        .get("/api/queue/status", &token)
        .await
        .json()
        .await
        .unwrap();
    let id = status["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        app.delete(&format!("/api/queue/{id}"), &token)
            .await
            .status(),
        204
    );
    let app = app.restart().await;
    let token = app.login().await;
    let (_, done) = check(&app, &token).await;
    assert_eq!(done["queued"], 0, "{done}");
    assert_eq!(queued(&app, &token).await.len(), 5);
    // What airs later is queued, once.
    air(&app, "attack-on-titan", 1);
    let (_, done) = check(&app, &token).await;
    assert_eq!(done["queued"], 1, "{done}");
    check(&app, &token).await;
    let now = queued(&app, &token).await;
    assert_eq!(now.len(), 6);
    assert!(now.contains(&aot(1, 4)), "{now:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_alone_finds_a_new_episode() {
    // The shortest interval the config allows.
    let (app, token) = library(json!({"follow": {"interval": 10}})).await;
    let mut socket = system_socket(&app, &token).await;
    follow(
        &app,
        &token,
        "attack-on-titan",
        json!({"followed": true, "monitor": "new"}),
    )
    .await;
    air(&app, "attack-on-titan", 2);
    let (new_episodes, done) = until_check_done(&mut socket, None, Duration::from_secs(30)).await;
    assert_eq!(done["trigger"], "schedule", "{done}");
    assert_eq!(new_episodes.len(), 1, "{new_episodes:?}");
    assert_eq!(queued(&app, &token).await, vec![aot(2, 3)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_missed_while_the_server_was_down_runs_at_start() {
    let (app, token) = library(json!({"follow": {"interval": 10}})).await;
    follow(
        &app,
        &token,
        "attack-on-titan",
        json!({"followed": true, "monitor": "new"}),
    )
    .await;
    check(&app, &token).await;
    // The last check is an hour old by the time the server starts again.
    let store = aniworld_core::storage::Store::open_sqlite(&app.data_dir().join("aniworld.db"))
        .await
        .unwrap();
    let last = store
        .settings()
        .get("follow.last_check")
        .await
        .unwrap()
        .unwrap();
    let mut last: Value = serde_json::from_str(&last).unwrap();
    last["finished_at"] = json!(last["finished_at"].as_i64().unwrap() - 3600);
    store
        .settings()
        .set("follow.last_check", &last.to_string())
        .await
        .unwrap();
    drop(store);
    air(&app, "attack-on-titan", 2);
    let app = app.restart().await;
    let token = app.login().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let overview: Value = app.get("/api/follow", &token).await.json().await.unwrap();
        if overview["last_check"]["trigger"] == "startup" {
            assert_eq!(overview["last_check"]["queued"], 1, "{overview}");
            break;
        }
        assert!(Instant::now() < deadline, "no check at start: {overview}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(queued(&app, &token).await, vec![aot(2, 3)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_site_during_a_check_queues_nothing_and_reports_it() {
    let (app, token) = library(json!({})).await;
    follow(
        &app,
        &token,
        "attack-on-titan",
        json!({"followed": true, "monitor": "new"}),
    )
    .await;
    check(&app, &token).await;
    air(&app, "attack-on-titan", 2);
    app.fixture()
        .state
        .set_knob("aniworld.challenge", "ddos-guard");
    let (new_episodes, done) = check(&app, &token).await;
    assert_eq!(done["ok"], false, "{done}");
    assert_eq!(done["failures"][0]["key"], "attack-on-titan", "{done}");
    assert_eq!(done["failures"][0]["code"], "blocked", "{done}");
    assert!(
        done["message"].as_str().unwrap().contains("blocked"),
        "{done}"
    );
    assert!(new_episodes.is_empty(), "{new_episodes:?}");
    assert_eq!(queued(&app, &token).await, vec![]);
    let health: Value = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["follow"]["ok"], false, "{health}");
    assert_eq!(
        health["follow"]["failures"][0]["code"], "blocked",
        "{health}"
    );
    let overview: Value = app.get("/api/follow", &token).await.json().await.unwrap();
    assert_eq!(overview["series"][0]["error_code"], "blocked", "{overview}");
    assert_eq!(overview["series"][0]["monitor"], "new", "{overview}");
    // The site is back: the next check finds the episode, once.
    app.fixture().state.clear_knob("aniworld.challenge");
    let (_, done) = check(&app, &token).await;
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(queued(&app, &token).await, vec![aot(2, 3)]);
    check(&app, &token).await;
    assert_eq!(queued(&app, &token).await, vec![aot(2, 3)]);
    let health: Value = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["follow"]["ok"], true, "{health}");
}

/// Requests the aniworld fixture saw, as paths.
fn aniworld_requests(app: &TestApp) -> Vec<String> {
    app.fixture()
        .state
        .requests()
        .into_iter()
        .filter(|r| r.server == "aniworld")
        .map(|r| r.uri)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_episodes_page_spares_the_season_pages_of_unchanged_series() {
    let (app, token) = library(json!({})).await;
    for key in ["attack-on-titan", "kaguya-sama-love-is-war"] {
        follow(
            &app,
            &token,
            key,
            json!({"followed": true, "monitor": "new"}),
        )
        .await;
    }
    check(&app, &token).await;
    air(&app, "attack-on-titan", 2);
    app.fixture().state.clear_requests();
    let (_, done) = check(&app, &token).await;
    assert_eq!(done["release_lists"], json!(["aniworld"]), "{done}");
    assert_eq!(done["read"], 1, "{done}");
    let requests = aniworld_requests(&app);
    assert_eq!(requests[0], "/neue-episoden", "{requests:?}");
    assert!(
        requests.iter().all(|r| !r.contains("kaguya")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("attack-on-titan/staffel-2")),
        "{requests:?}"
    );
    assert_eq!(queued(&app, &token).await, vec![aot(2, 3)]);
    // A list that does not reach back to the last check proves nothing: every series is read.
    app.fixture()
        .state
        .set_knob("aniworld.new_episodes", "recent-only");
    app.fixture().state.clear_requests();
    let (_, done) = check(&app, &token).await;
    assert_eq!(done["read"], 2, "{done}");
    assert!(
        aniworld_requests(&app).iter().any(|r| r.contains("kaguya")),
        "{:?}",
        aniworld_requests(&app)
    );
    assert_eq!(queued(&app, &token).await, vec![aot(2, 3)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_interval_is_validated() {
    let (app, token) = library(json!({})).await;
    let r = app
        .put("/api/config", &token, json!({"follow": {"interval": 5}}))
        .await;
    let body = aniworld_testkit::app::assert_error(r, 422).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("follow.interval"),
        "{body}"
    );
    let r = app
        .put("/api/config", &token, json!({"follow": {"interval": 60}}))
        .await;
    assert_eq!(r.status(), 200);
    let overview: Value = app.get("/api/follow", &token).await.json().await.unwrap();
    assert_eq!(overview["interval"], 60, "{overview}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_subscribed_to_new_episodes_is_told() {
    let receiver = crate::connections::Receiver::ok().await;
    let (app, token) = library(json!({"connections": [{
        "name": "hook", "kind": "webhook", "url": format!("{}/hook", receiver.url_of()),
        "events": ["new_episodes"],
    }]}))
    .await;
    follow(
        &app,
        &token,
        "attack-on-titan",
        json!({"followed": true, "monitor": "new"}),
    )
    .await;
    air(&app, "attack-on-titan", 2);
    check(&app, &token).await;
    let seen = receiver.wait_for(1).await;
    let body = seen[0].json();
    assert_eq!(body["event"], "new_episodes", "{body}");
    assert_eq!(body["key"], "attack-on-titan", "{body}");
}
