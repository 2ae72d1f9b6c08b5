//! The application as the black-box tests start it: the real server (`App::build`, the same
//! composition root as `aniworld serve`) on 127.0.0.1:0 with a temp data dir and library,
//! optionally pointed at the fixture site, with the master password set up and a login at hand.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aniworld_server::{App, AppOptions, RunningServer};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::FixtureSite;

pub const PASSWORD: &str = "correct horse battery";

/// Test config: cheap bcrypt so tests stay fast; the built-in providers are off (tests never
/// reach the real sites; [`TestApp::with_fixture`] points them at the fixture site); the queue
/// waits for Start (`download.autostart` off), so a test sees what it queued before it runs.
pub fn base_config() -> Value {
    json!({
        "auth": { "bcrypt_cost": 4 },
        "download": { "autostart": false },
        "providers": {
            "aniworld": { "enabled": false, "base_url": "http://127.0.0.1:9" },
            "sto": { "enabled": false, "base_url": "http://127.0.0.1:9" }
        }
    })
}

/// [`base_config`] with the built-in providers on and pointed at `fixture`, no retries and no
/// rate limit to wait for.
pub fn fixture_config(fixture: &FixtureSite) -> Value {
    let site = |name: &str| json!({ "enabled": true, "base_url": fixture.url(name), "retries": 0, "rate_limit": 1000.0 });
    let mut config = base_config();
    config["providers"] = json!({ "aniworld": site("aniworld"), "sto": site("sto") });
    config
}

/// Recursive merge of `patch` into `base` (objects key by key, anything else replaced).
pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

pub struct TestApp {
    pub server: RunningServer,
    pub dir: TempDir,
    pub http: reqwest::Client,
    /// The fixture site the providers point at, when started with one.
    pub fixture: Option<FixtureSite>,
}

impl TestApp {
    /// Starts the app with `config` written to `DATA_DIR/config.json` first, and waits until the
    /// library has been indexed at start.
    pub async fn start(config: Value) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).expect("data dir");
        std::fs::create_dir_all(dir.path().join("library")).expect("library dir");
        std::fs::write(
            data_dir.join("config.json"),
            serde_json::to_vec_pretty(&config).expect("config serialises"),
        )
        .expect("write config");
        Self::serve(dir, None).await
    }

    /// Starts the app with the built-in providers pointed at a fresh fixture site, `extra`
    /// merged into the config.
    pub async fn with_fixture(extra: Value) -> TestApp {
        let fixture = FixtureSite::start().await;
        let mut config = fixture_config(&fixture);
        merge(&mut config, extra);
        let mut app = Self::start(config).await;
        app.fixture = Some(fixture);
        app
    }

    async fn serve(dir: TempDir, fixture: Option<FixtureSite>) -> TestApp {
        let app = App::build(AppOptions {
            data_dir: dir.path().join("data"),
            library: Some(dir.path().join("library")),
            bind: None,
        })
        .await
        .expect("app builds");
        let server = app.spawn("127.0.0.1:0").await.expect("server binds");
        let app = TestApp {
            server,
            dir,
            http: reqwest::Client::new(),
            fixture,
        };
        app.wait_for_scan().await;
        app
    }

    /// Stops the server and starts it again on the same data dir and library (as after a
    /// restart of the process).
    pub async fn restart(self) -> TestApp {
        let TestApp {
            server,
            dir,
            fixture,
            ..
        } = self;
        server.shutdown().await;
        Self::serve(dir, fixture).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn library(&self) -> PathBuf {
        self.dir.path().join("library")
    }

    pub fn fixture(&self) -> &FixtureSite {
        self.fixture
            .as_ref()
            .expect("the app was started with a fixture site")
    }

    /// Waits until no library scan runs (the one at start, or one started by a request).
    pub async fn wait_for_scan(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.server.state.library().current_scan().is_some() {
            assert!(Instant::now() < deadline, "the library scan did not finish");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until no scan runs and no background catalogue refresh either.
    pub async fn wait_until_idle(&self) {
        self.wait_for_scan().await;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.server.state.library().is_refreshing() {
            assert!(
                Instant::now() < deadline,
                "the catalogue refresh did not finish"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Writes a series folder `folder` with `.aniworld.json` naming `key` on `site`, and empty
    /// episode files at the given paths (relative to the folder).
    pub fn series_folder(&self, folder: &str, site: &str, key: &str, files: &[&str]) {
        let dir = self.library().join(folder);
        std::fs::create_dir_all(&dir).expect("series folder");
        std::fs::write(
            dir.join(".aniworld.json"),
            json!({ "key": key, "site": site, "name": folder }).to_string(),
        )
        .expect("metadata file");
        for f in files {
            let path = dir.join(f);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
            std::fs::write(path, b"x").expect("episode file");
        }
    }

    pub async fn setup(&self) {
        let r = self
            .http
            .post(self.url("/api/auth/setup"))
            .json(&json!({ "password": PASSWORD }))
            .send()
            .await
            .expect("setup request");
        let status = r.status();
        assert_eq!(status, 200, "{}", r.text().await.unwrap_or_default());
    }

    pub async fn login(&self) -> String {
        let r = self
            .http
            .post(self.url("/api/auth/login"))
            .json(&json!({ "password": PASSWORD }))
            .send()
            .await
            .expect("login request");
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("login JSON");
        body["token"]
            .as_str()
            .expect("token in login response")
            .to_owned()
    }

    /// Setup + login: a valid token.
    pub async fn token(&self) -> String {
        self.setup().await;
        self.login().await
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("PUT")
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("DELETE")
    }

    /// `POST /api/anime/rescan`, then waits until the scan is done; returns the 202 body.
    pub async fn rescan(&self, token: &str) -> Value {
        let r = self.post("/api/anime/rescan", token, json!({})).await;
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.expect("rescan JSON");
        self.wait_for_scan().await;
        body
    }
}

/// Asserts the status and the JSON error body `{"error", "message", "details"}`; returns the body.
pub async fn assert_error(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "body: {text}");
    assert!(
        ct.starts_with("application/json"),
        "content-type {ct:?}, body {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(body["error"].is_string(), "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert!(
        body.as_object().expect("object").contains_key("details"),
        "{body}"
    );
    body
}
