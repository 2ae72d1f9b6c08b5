//! `/api/queue`: every operation over HTTP.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{TestApp, app_with_fake_provider, assert_error};

async fn app() -> (TestApp, String) {
    let app = app_with_fake_provider().await;
    let token = app.token().await;
    (app, token)
}

fn episodes(key: &str, numbers: &[u32]) -> Value {
    json!({ "episodes": numbers.iter().map(|e| json!({"key": key, "site": "fake", "season": 1, "episode": e})).collect::<Vec<_>>() })
}

async fn status(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/queue/status", token).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn status_of_a_fresh_queue_is_empty_and_stopped() {
    let (app, token) = app().await;
    let s = status(&app, &token).await;
    assert_eq!(s["running"], false);
    assert_eq!(s["pending"], 0);
    assert_eq!(s["items"], json!([]));
    let health: Value = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["queue"]["running"], false, "{health}");
}

#[tokio::test]
async fn add_queues_episodes_once_and_says_why_it_skipped() {
    let (app, token) = app().await;
    let r = app
        .post("/api/queue/add", &token, episodes("alpha-show", &[1, 2]))
        .await;
    assert_eq!(r.status(), 200);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["added"].as_array().unwrap().len(), 2, "{first}");
    assert_eq!(first["added"][0]["status"], "pending");
    let again: Value = app
        .post("/api/queue/add", &token, episodes("alpha-show", &[2, 3]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["added"].as_array().unwrap().len(), 1);
    assert_eq!(again["skipped"][0]["reason"], "already_queued");
    assert_eq!(again["skipped"][0]["episode"], 2);
    assert_eq!(again["skipped"][0]["item_id"], first["added"][1]["id"]);
    let s = status(&app, &token).await;
    assert_eq!(s["pending"], 3);
    assert_eq!(s["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn add_rejects_bad_keys_languages_and_empty_lists_naming_the_field() {
    let (app, token) = app().await;
    let body = assert_error(
        app.post(
            "/api/queue/add",
            &token,
            json!({"episodes": [{"key": "../etc", "season": 1, "episode": 1}]}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(body["details"]["field"], "episodes[0].key");
    let body = assert_error(
        app.post(
            "/api/queue/add",
            &token,
            json!({"episodes": [{"key": "ok", "season": 1, "episode": 1, "language": "Klingon"}]}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(body["details"]["field"], "episodes[0].language");
    let body = assert_error(
        app.post("/api/queue/add", &token, json!({"episodes": []}))
            .await,
        400,
    )
    .await;
    assert_eq!(body["details"]["field"], "episodes");
    assert_error(
        app.post(
            "/api/queue/add",
            &token,
            json!({"episodes": [{"key": "ok", "season": -1, "episode": 1}]}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(status(&app, &token).await["items"], json!([]));
}

#[tokio::test]
async fn remove_deletes_an_item_and_unknown_ids_are_not_found() {
    let (app, token) = app().await;
    let added: Value = app
        .post("/api/queue/add", &token, episodes("alpha-show", &[1]))
        .await
        .json()
        .await
        .unwrap();
    let id = added["added"][0]["id"].as_i64().unwrap();
    let r = app
        .http
        .delete(app.url(&format!("/api/queue/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(status(&app, &token).await["items"], json!([]));
    let r = app
        .http
        .delete(app.url("/api/queue/999999"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(r, 404).await;
    let r = app
        .http
        .delete(app.url("/api/queue/not-a-number"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(r, 400).await;
}

#[tokio::test]
async fn start_pause_resume_stop_are_reflected_in_the_status() {
    let (app, token) = app().await;
    let s: Value = app
        .post("/api/queue/start", &token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["running"], true);
    let s: Value = app
        .post("/api/queue/pause", &token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["paused"], true);
    let s: Value = app
        .post("/api/queue/resume", &token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["paused"], false);
    let s: Value = app
        .post("/api/queue/stop", &token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["running"], false);
}

#[tokio::test]
async fn failed_items_can_be_retried_and_completed_cleared() {
    let (app, token) = app().await;
    // The provider double has no streams: the download fails.
    app.post("/api/queue/add", &token, episodes("alpha-show", &[1]))
        .await;
    app.post("/api/queue/start", &token, json!({})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = status(&app, &token).await;
        if s["failed"] == 1 {
            assert!(s["items"][0]["last_error"].is_string(), "{s}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "item did not fail: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.post("/api/queue/stop", &token, json!({})).await;
    let retried: Value = app
        .post("/api/queue/retry", &token, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(retried["retried"].as_array().unwrap().len(), 1, "{retried}");
    assert_eq!(status(&app, &token).await["pending"], 1);
    let r = app
        .http
        .delete(app.url("/api/queue/completed"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["removed"], 0);
}

#[tokio::test]
async fn status_pages_the_items_and_keeps_the_counts_complete() {
    let (app, token) = app().await;
    let numbers: Vec<u32> = (1..=250).collect();
    let added: Value = app
        .post("/api/queue/add", &token, episodes("alpha-show", &numbers))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(added["added"].as_array().unwrap().len(), 250);
    // Default: the first 100 items, every count.
    let first = status(&app, &token).await;
    assert_eq!(first["pending"], 250);
    assert_eq!(first["total"], 250);
    assert_eq!(first["page"], 1);
    assert_eq!(first["per_page"], 100);
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 100);
    assert_eq!(items[0]["episode"], 1);
    // The last page holds the rest, in queue order.
    let last: Value = app
        .get("/api/queue/status?page=3&per_page=100", &token)
        .await
        .json()
        .await
        .unwrap();
    let items = last["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    assert_eq!(items[0]["episode"], 201);
    assert_eq!(items[49]["episode"], 250);
    // A status filter pages only matching items; counts stay complete.
    let id = first["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        app.http
            .delete(app.url(&format!("/api/queue/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let pending: Value = app
        .get("/api/queue/status?status=pending&per_page=10", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending["total"], 249);
    assert_eq!(pending["items"].as_array().unwrap().len(), 10);
    assert_eq!(pending["items"][0]["episode"], 2);
    let failed: Value = app
        .get("/api/queue/status?status=failed", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed["total"], 0);
    assert_eq!(failed["items"], json!([]));
    assert_eq!(failed["pending"], 249);
}

#[tokio::test]
async fn status_paging_parameters_are_checked() {
    let (app, token) = app().await;
    for (query, field) in [
        ("page=0", "page"),
        ("per_page=0", "per_page"),
        ("per_page=1001", "per_page"),
    ] {
        let body = assert_error(
            app.get(&format!("/api/queue/status?{query}"), &token).await,
            400,
        )
        .await;
        assert_eq!(body["details"]["field"], field, "{query}: {body}");
    }
    let r = app.get("/api/queue/status?status=sleeping", &token).await;
    assert_error(r, 400).await;
}

#[tokio::test]
async fn seasons_beyond_1000_and_episode_zero_are_refused() {
    let (app, token) = app().await;
    for (episode, field) in [
        (
            json!({"key": "alpha-show", "site": "fake", "season": 4294967295u32, "episode": 1}),
            "episodes[0].season",
        ),
        (
            json!({"key": "alpha-show", "site": "fake", "season": 1001, "episode": 1}),
            "episodes[0].season",
        ),
        (
            json!({"key": "alpha-show", "site": "fake", "season": 1, "episode": 0}),
            "episodes[0].episode",
        ),
    ] {
        let body = assert_error(
            app.post("/api/queue/add", &token, json!({ "episodes": [episode] }))
                .await,
            400,
        )
        .await;
        assert_eq!(body["details"]["field"], field, "{body}");
    }
    assert_eq!(status(&app, &token).await["total"], 0);
    // The bounds themselves are fine.
    let ok: Value = app
        .post(
            "/api/queue/add",
            &token,
            json!({"episodes": [{"key": "alpha-show", "site": "fake", "season": 1000, "episode": 1}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ok["added"].as_array().unwrap().len(), 1, "{ok}");
}

#[tokio::test]
async fn status_can_list_the_items_of_one_series() {
    let (app, token) = app().await;
    app.post("/api/queue/add", &token, episodes("alpha-show", &[1, 2, 3]))
        .await;
    app.post("/api/queue/add", &token, episodes("beta-show", &[1, 2]))
        .await;
    let beta: Value = app
        .get("/api/queue/status?key=beta-show", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(beta["total"], 2);
    assert_eq!(beta["pending"], 5, "counts stay complete: {beta}");
    let keys: Vec<&str> = beta["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["beta-show", "beta-show"]);
    let body = assert_error(app.get("/api/queue/status?key=../x", &token).await, 400).await;
    assert_eq!(body["details"]["field"], "key");
}
