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
