//! `/api/auth`: setup, login, logout, status, rate limiting, secret handling.

use serde_json::{Value, json};

use crate::support::{PASSWORD, assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn status_before_setup_says_setup_is_needed() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/api/auth/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({ "setup_done": false, "authenticated": false }));
}

#[tokio::test]
async fn setup_then_login_gives_a_token_that_authenticates() {
    let app = spawn_app().await;
    let token = app.token().await;
    let body: Value = app
        .get("/api/auth/status", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "setup_done": true, "authenticated": true }));
    assert_eq!(app.get("/api/config", &token).await.status(), 200);
}

#[tokio::test]
async fn setup_is_refused_once_a_password_is_set() {
    let app = spawn_app().await;
    app.setup().await;
    let r = app
        .http
        .post(app.url("/api/auth/setup"))
        .json(&json!({ "password": "another password" }))
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 409).await;
    assert_eq!(body["error"], "already_setup");
    // The original password still works.
    app.login().await;
}

#[tokio::test]
async fn short_password_is_rejected_naming_the_field() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(app.url("/api/auth/setup"))
        .json(&json!({ "password": "short" }))
        .send()
        .await
        .unwrap();
    // At least 8 characters, as the document says: refused before the handler.
    let body = assert_error(r, 400).await;
    assert_eq!(body["details"]["field"], "password");
}

#[tokio::test]
async fn login_before_setup_is_a_conflict() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(r, 409).await;
}

#[tokio::test]
async fn wrong_password_is_unauthorized() {
    let app = spawn_app().await;
    app.setup().await;
    let r = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "password": "not the password" }))
        .send()
        .await
        .unwrap();
    assert_error(r, 401).await;
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited_with_retry_after() {
    let mut config = crate::support::base_config();
    config["auth"]["max_failed_logins_per_minute"] = json!(3);
    let app = spawn_app_with(config).await;
    app.setup().await;
    for _ in 0..3 {
        let r = app
            .http
            .post(app.url("/api/auth/login"))
            .json(&json!({ "password": "wrong password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // Even the right password is refused while limited.
    let r = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body = assert_error(r, 429).await;
    assert_eq!(body["error"], "rate_limited");
}

#[tokio::test]
async fn a_parallel_burst_of_wrong_passwords_is_limited_like_a_serial_one() {
    let mut config = crate::support::base_config();
    config["auth"]["max_failed_logins_per_minute"] = json!(5);
    let app = spawn_app_with(config).await;
    app.setup().await;
    let attempts = (0..40).map(|_| {
        app.http
            .post(app.url("/api/auth/login"))
            .json(&json!({ "password": "wrong password" }))
            .send()
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(unauthorized, 5, "{statuses:?}");
    assert_eq!(limited, 35, "{statuses:?}");
}

#[tokio::test]
async fn logout_revokes_the_token() {
    let app = spawn_app().await;
    let token = app.token().await;
    let other = app.login().await;
    let r = app.post("/api/auth/logout", &token, json!({})).await;
    assert_eq!(r.status(), 204);
    assert_error(app.get("/api/config", &token).await, 401).await;
    // Other sessions are untouched.
    assert_eq!(app.get("/api/config", &other).await.status(), 200);
}

#[tokio::test]
async fn tokens_survive_a_restart_but_revocations_too() {
    let app = spawn_app().await;
    let token = app.token().await;
    let revoked = app.login().await;
    assert_eq!(
        app.post("/api/auth/logout", &revoked, json!({}))
            .await
            .status(),
        204
    );
    let again = app.restart().await;
    assert_eq!(again.get("/api/config", &token).await.status(), 200);
    assert_eq!(again.get("/api/config", &revoked).await.status(), 401);
}

#[cfg(unix)]
#[tokio::test]
async fn jwt_secret_is_generated_private_and_never_returned() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    let path = app.data_dir().join("jwt_secret");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let secret = std::fs::read_to_string(&path).unwrap();
    let token = app.token().await;
    let hash: String = sqlx_free_read_hash(&app).await;
    for path in ["/api/config", "/api/auth/status", "/health"] {
        let text = app.get(path, &token).await.text().await.unwrap();
        assert!(!text.contains(secret.trim()), "{path} leaks the secret");
        assert!(!text.contains(&hash), "{path} leaks the hash");
    }
}

/// The stored bcrypt hash, read through the app's store.
async fn sqlx_free_read_hash(app: &crate::support::TestApp) -> String {
    app.server
        .state
        .store()
        .settings()
        .get("auth.master_password_hash")
        .await
        .unwrap()
        .expect("hash stored after setup")
}
