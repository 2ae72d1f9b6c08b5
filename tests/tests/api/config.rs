//! `/api/config`: get, put (backup + atomic write), validate, backups, restore.

use serde_json::{Value, json};

use crate::support::{assert_error, spawn_app};

#[tokio::test]
async fn get_returns_every_config_key() {
    let app = spawn_app().await;
    let token = app.token().await;
    let body: Value = app.get("/api/config", &token).await.json().await.unwrap();
    let defaults = serde_json::to_value(aniworld_core::config::Config::default()).unwrap();
    for (section, keys) in defaults.as_object().unwrap() {
        let got = &body[section];
        if keys.is_array() {
            // `connections`: a list, empty by default.
            assert_eq!(got, keys, "section {section}: {body}");
            continue;
        }
        assert!(got.is_object(), "section {section} missing: {body}");
        for key in keys.as_object().unwrap().keys() {
            assert!(got.get(key).is_some(), "{section}.{key} missing");
        }
    }
    assert_eq!(body["auth"]["bcrypt_cost"], 4);
}

#[tokio::test]
async fn put_applies_a_partial_change_and_backs_up_the_old_file() {
    let app = spawn_app().await;
    let token = app.token().await;
    let before = std::fs::read_to_string(app.data_dir().join("config.json")).unwrap();
    let r = app
        .put(
            "/api/config",
            &token,
            json!({ "download": { "max_parallel": 3 } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["config"]["download"]["max_parallel"], 3);
    // Untouched keys keep their values.
    assert_eq!(body["config"]["auth"]["bcrypt_cost"], 4);
    let backup = body["backup"].as_str().expect("backup name").to_owned();
    let saved =
        std::fs::read_to_string(app.data_dir().join("config_backups").join(&backup)).unwrap();
    assert_eq!(saved, before);
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(app.data_dir().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(on_disk["download"]["max_parallel"], 3);
    let again: Value = app.get("/api/config", &token).await.json().await.unwrap();
    assert_eq!(again["download"]["max_parallel"], 3);
}

#[tokio::test]
async fn backup_and_restore_round_trip() {
    let app = spawn_app().await;
    let token = app.token().await;
    let first = app
        .put(
            "/api/config",
            &token,
            json!({ "download": { "max_parallel": 3 } }),
        )
        .await;
    assert_eq!(first.status(), 200);
    let second = app
        .put(
            "/api/config",
            &token,
            json!({ "download": { "max_parallel": 5 } }),
        )
        .await;
    assert_eq!(second.status(), 200);
    let backups: Value = app
        .get("/api/config/backups", &token)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = backups
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{backups}");
    // Newest first: the newest backup holds max_parallel = 3.
    let r = app
        .post(
            &format!("/api/config/backups/{}/restore", names[0]),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["config"]["download"]["max_parallel"], 3);
    assert!(
        body["backup"].is_string(),
        "restoring backs up the current file: {body}"
    );
    let now: Value = app.get("/api/config", &token).await.json().await.unwrap();
    assert_eq!(now["download"]["max_parallel"], 3);
    let count = app
        .get("/api/config/backups", &token)
        .await
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    assert_eq!(count, 3);
}

#[tokio::test]
async fn restore_of_unknown_backup_is_not_found() {
    let app = spawn_app().await;
    let token = app.token().await;
    let r = app
        .post(
            "/api/config/backups/config-20000101T000000.000Z.json/restore",
            &token,
            json!({}),
        )
        .await;
    assert_error(r, 404).await;
}

#[tokio::test]
async fn restore_rejects_path_traversal_names() {
    let app = spawn_app().await;
    let token = app.token().await;
    std::fs::write(app.dir.path().join("config-evil.json"), "{}").unwrap();
    for name in [
        "..%2Fconfig-evil.json",
        "..%2F..%2Fetc%2Fpasswd",
        "config-..json",
        "%2E%2E",
    ] {
        let r = app
            .post(
                &format!("/api/config/backups/{name}/restore"),
                &token,
                json!({}),
            )
            .await;
        let status = r.status().as_u16();
        assert!((400..500).contains(&status), "{name}: {status}");
        assert_error(r, status).await;
    }
}

#[tokio::test]
async fn unknown_key_is_rejected_and_nothing_is_written() {
    let app = spawn_app().await;
    let token = app.token().await;
    let before = std::fs::read_to_string(app.data_dir().join("config.json")).unwrap();
    let r = app
        .put(
            "/api/config",
            &token,
            json!({ "download": { "max_paralel": 3 } }),
        )
        .await;
    let status = r.status().as_u16();
    assert!((400..500).contains(&status), "{status}");
    let body = assert_error(r, status).await;
    assert!(
        body["message"].as_str().unwrap().contains("max_paralel"),
        "{body}"
    );
    let after = std::fs::read_to_string(app.data_dir().join("config.json")).unwrap();
    assert_eq!(before, after);
    assert!(!app.data_dir().join("config_backups").exists());
}

#[tokio::test]
async fn validate_accepts_a_good_document_without_applying_it() {
    let app = spawn_app().await;
    let token = app.token().await;
    let r = app
        .post(
            "/api/config/validate",
            &token,
            json!({ "download": { "max_parallel": 7 } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["valid"], true);
    let now: Value = app.get("/api/config", &token).await.json().await.unwrap();
    assert_ne!(now["download"]["max_parallel"], 7);
}

#[tokio::test]
async fn invalid_value_is_unprocessable_naming_the_key() {
    let app = spawn_app().await;
    let token = app.token().await;
    let before = std::fs::read_to_string(app.data_dir().join("config.json")).unwrap();
    let r = app
        .put(
            "/api/config",
            &token,
            json!({ "download": { "max_parallel": 0 } }),
        )
        .await;
    let body = assert_error(r, 422).await;
    assert_eq!(body["details"]["field"], "download.max_parallel", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("download.max_parallel")
    );
    let after = std::fs::read_to_string(app.data_dir().join("config.json")).unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn validate_reports_the_bad_key_without_applying() {
    let app = spawn_app().await;
    let token = app.token().await;
    let r = app
        .post(
            "/api/config/validate",
            &token,
            json!({ "download": { "max_parallel": 0 } }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["valid"], false);
    assert_eq!(body["field"], "download.max_parallel");
}

#[tokio::test]
async fn a_body_limit_that_would_lock_everyone_out_is_refused() {
    let app = spawn_app().await;
    let token = app.token().await;
    let before = std::fs::read_to_string(app.data_dir().join("config.json")).unwrap();
    let r = app
        .put(
            "/api/config",
            &token,
            json!({ "server": { "body_limit": 10 } }),
        )
        .await;
    let body = assert_error(r, 422).await;
    assert_eq!(body["details"]["field"], "server.body_limit", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("64 KiB"),
        "{body}"
    );
    assert_eq!(
        before,
        std::fs::read_to_string(app.data_dir().join("config.json")).unwrap()
    );
    // Logging in and changing settings still work.
    let token = app.login().await;
    let r = app
        .put(
            "/api/config",
            &token,
            json!({ "server": { "body_limit": 65536 } }),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn failed_login_limit_above_100_is_refused() {
    let app = spawn_app().await;
    let token = app.token().await;
    let r = app
        .put(
            "/api/config",
            &token,
            json!({ "auth": { "max_failed_logins_per_minute": 1000 } }),
        )
        .await;
    let body = assert_error(r, 422).await;
    assert_eq!(
        body["details"]["field"],
        "auth.max_failed_logins_per_minute"
    );
}

#[tokio::test]
async fn keys_that_load_code_or_expose_the_server_cannot_be_changed_through_the_api() {
    let app = spawn_app().await;
    let token = app.token().await;
    let before = std::fs::read_to_string(app.data_dir().join("config.json")).unwrap();
    let cases = [
        (
            "plugins.dir",
            json!({ "plugins": { "dir": "/tmp/evil" } }),
            "ANIWORLD_PLUGINS__DIR",
        ),
        (
            "scripts.dir",
            json!({ "scripts": { "dir": "/tmp/evil" } }),
            "ANIWORLD_SCRIPTS__DIR",
        ),
        (
            "server.bind",
            json!({ "server": { "bind": "0.0.0.0:80" } }),
            "ANIWORLD_SERVER__BIND",
        ),
        (
            "server.cors_origins",
            json!({ "server": { "cors_origins": ["http://evil.example"] } }),
            "ANIWORLD_SERVER__CORS_ORIGINS",
        ),
        (
            "database.url",
            json!({ "database": { "url": "sqlite:/tmp/other.db" } }),
            "ANIWORLD_DATABASE__URL",
        ),
    ];
    for (key, patch, env) in cases {
        let r = app.put("/api/config", &token, patch.clone()).await;
        let body = assert_error(r, 422).await;
        assert_eq!(body["error"], "read_only", "{key}: {body}");
        assert_eq!(body["details"]["field"], key, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("config.json") && message.contains(env),
            "{key}: {message}"
        );
        // Validate says the same without applying.
        let v: Value = app
            .post("/api/config/validate", &token, patch)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["valid"], false, "{v}");
        assert_eq!(v["field"], key, "{v}");
    }
    assert_eq!(
        before,
        std::fs::read_to_string(app.data_dir().join("config.json")).unwrap()
    );
    assert!(!app.data_dir().join("config_backups").exists());
}

#[tokio::test]
async fn get_lists_the_read_only_keys_and_the_whole_document_can_be_sent_back() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mut doc: Value = app.get("/api/config", &token).await.json().await.unwrap();
    let read_only: Vec<&str> = doc["read_only"]
        .as_array()
        .expect("read_only list")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for key in [
        "plugins.dir",
        "scripts.dir",
        "server.bind",
        "server.cors_origins",
        "database.url",
        "database.redis_url",
    ] {
        assert!(read_only.contains(&key), "{key} in {read_only:?}");
    }
    doc["download"]["max_parallel"] = json!(4);
    let r = app.put("/api/config", &token, doc).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(app.data_dir().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(on_disk["download"]["max_parallel"], 4);
    assert!(on_disk.get("read_only").is_none(), "{on_disk}");
}

#[tokio::test]
async fn restoring_a_backup_that_changes_a_read_only_key_is_refused() {
    let app = spawn_app().await;
    let token = app.token().await;
    let backups = app.data_dir().join("config_backups");
    std::fs::create_dir_all(&backups).unwrap();
    let mut evil: Value =
        serde_json::from_str(&std::fs::read_to_string(app.data_dir().join("config.json")).unwrap())
            .unwrap();
    evil["plugins"] = json!({ "dir": "/tmp/evil" });
    let name = "config-20300101T000000.000Z-000.json";
    std::fs::write(backups.join(name), evil.to_string()).unwrap();
    let r = app
        .post(
            &format!("/api/config/backups/{name}/restore"),
            &token,
            json!({}),
        )
        .await;
    let body = assert_error(r, 422).await;
    assert_eq!(body["error"], "read_only");
    assert_eq!(body["details"]["field"], "plugins.dir");
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(app.data_dir().join("config.json")).unwrap())
            .unwrap();
    assert_ne!(on_disk["plugins"]["dir"], "/tmp/evil");
}
