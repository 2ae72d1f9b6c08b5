//! Bad input of every kind gets a 4xx with the JSON error body.

use serde_json::json;

use crate::support::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(app.url("/api/auth/setup"))
        .header("content-type", "application/json")
        .body("{\"password\": ")
        .send()
        .await
        .unwrap();
    assert_error(r, 400).await;
}

#[tokio::test]
async fn wrong_types_are_a_bad_request() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(app.url("/api/auth/setup"))
        .json(&json!({ "password": ["a", "b"] }))
        .send()
        .await
        .unwrap();
    assert_error(r, 400).await;
    let token = app.token().await;
    let r = app
        .put(
            "/api/config",
            &token,
            json!({ "download": { "max_parallel": "many" } }),
        )
        .await;
    assert_error(r, 400).await;
}

#[tokio::test]
async fn missing_content_type_is_rejected_with_json_body() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(app.url("/api/auth/setup"))
        .body("{\"password\": \"long enough password\"}")
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!((400..500).contains(&status), "{status}");
    assert_error(r, status).await;
}

#[tokio::test]
async fn oversized_body_is_payload_too_large() {
    let mut config = crate::support::base_config();
    config["server"] = json!({ "body_limit": 65536 });
    let app = spawn_app_with(config).await;
    let big = "x".repeat(70_000);
    let r = app
        .http
        .post(app.url("/api/auth/setup"))
        .json(&json!({ "password": big }))
        .send()
        .await
        .unwrap();
    assert_error(r, 413).await;
}

#[tokio::test]
async fn oversized_chunked_body_is_payload_too_large() {
    let mut config = crate::support::base_config();
    config["server"] = json!({ "body_limit": 65536 });
    let app = spawn_app_with(config).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b' '; 4096])).collect();
    let r = app
        .http
        .post(app.url("/api/auth/setup"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_error(r, 413).await;
}

#[tokio::test]
async fn unknown_route_is_not_found_with_json_body() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/api/nope")).send().await.unwrap();
    assert_error(r, 404).await;
}

#[tokio::test]
async fn wrong_method_is_rejected_with_json_body() {
    let app = spawn_app().await;
    let r = app
        .http
        .delete(app.url("/api/auth/login"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!(status == 405 || status == 404, "{status}");
    assert_error(r, status).await;
}

#[tokio::test]
async fn deeply_nested_json_is_rejected_without_crashing() {
    let app = spawn_app().await;
    let token = app.token().await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = app
        .http
        .put(app.url("/api/config"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!((400..500).contains(&status), "{status}");
    assert_error(r, status).await;
    assert_eq!(app.get("/health", &token).await.status(), 200);
}

#[tokio::test]
async fn a_wrong_typed_body_names_the_field() {
    let app = crate::support::app_with_fake_provider().await;
    let token = app.token().await;
    let cases = [
        (
            "/api/queue/add",
            json!({"episodes": [{"key": "alpha-show", "season": 1, "episode": 1}, {"key": "alpha-show", "season": "two", "episode": 1}]}),
            "episodes[1].season",
        ),
        (
            "/api/queue/add",
            json!({"episodes": [{"key": "alpha-show", "season": 1}]}),
            "episodes[0].episode",
        ),
        ("/api/anime/search", json!({"query": ["a"]}), "query"),
    ];
    for (path, body, field) in cases {
        let r = app.post(path, &token, body).await;
        let err = assert_error(r, 400).await;
        assert_eq!(err["details"]["field"], field, "{err}");
        assert!(err["message"].as_str().unwrap().contains(field), "{err}");
    }
}

#[tokio::test]
async fn a_wrong_typed_setting_names_the_key() {
    let app = spawn_app().await;
    let token = app.token().await;
    for (body, field) in [
        (
            json!({"download": {"max_parallel": "two"}}),
            "download.max_parallel",
        ),
        (
            json!({"providers": {"aniworld": {"timeout": "soon"}}}),
            "providers.aniworld.timeout",
        ),
        (
            json!({"download": {"max_paralel": 3}}),
            "download.max_paralel",
        ),
    ] {
        let err = assert_error(app.put("/api/config", &token, body).await, 400).await;
        assert_eq!(err["details"]["field"], field, "{err}");
    }
}
