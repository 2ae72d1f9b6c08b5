//! Starting the application for a test, and small request helpers.

use std::sync::Arc;

use aniworld_core::model::{Episode, EpisodeStreams, SearchResult, Season, SeriesInfo, SeriesKey};
use aniworld_core::registry::Origin;
use aniworld_core::traits::Provider;
use aniworld_server::{App, AppOptions, RunningServer};
use serde_json::{Value, json};
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub server: RunningServer,
    pub dir: TempDir,
    pub http: reqwest::Client,
}

/// Test config: cheap bcrypt so tests stay fast; the built-in providers are off (tests never
/// reach the real sites; the fixture-site tests switch them on with local base URLs).
pub fn base_config() -> Value {
    json!({
        "auth": { "bcrypt_cost": 4 },
        "providers": {
            "aniworld": { "enabled": false, "base_url": "http://127.0.0.1:9" },
            "sto": { "enabled": false, "base_url": "http://127.0.0.1:9" }
        }
    })
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(base_config()).await
}

/// Starts the app with `config` written to `DATA_DIR/config.json` first.
pub async fn spawn_app_with(config: Value) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::create_dir_all(dir.path().join("library")).unwrap();
    std::fs::write(
        data_dir.join("config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    let app = App::build(AppOptions {
        data_dir,
        library: Some(dir.path().join("library")),
        bind: None,
    })
    .await
    .expect("app builds");
    let server = app.spawn("127.0.0.1:0").await.expect("server binds");
    TestApp {
        server,
        dir,
        http: reqwest::Client::new(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    pub async fn setup(&self) {
        let r = self
            .http
            .post(self.url("/api/auth/setup"))
            .json(&json!({ "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    pub async fn login(&self) -> String {
        let r = self
            .http
            .post(self.url("/api/auth/login"))
            .json(&json!({ "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
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
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
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
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    assert!(
        ct.starts_with("application/json"),
        "content-type {ct:?}, body {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(body["error"].is_string(), "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert!(body.as_object().unwrap().contains_key("details"), "{body}");
    body
}

/// A provider double with id `fake`: search finds `alpha-show` and `beta-show`; every series has
/// one special and two seasons of three episodes; `gone` is not found.
pub struct FakeProvider;

/// `Show <key>`; two keys carry hostile names: `long-umlauts` (130 × "Ü", 260 bytes) and
/// `bidi-name` (a right-to-left override and zero-width characters).
fn name_of(key: &SeriesKey) -> String {
    match key.as_str() {
        "long-umlauts" => "Ü".repeat(130),
        "bidi-name" => "Evil\u{202E}vod.exe\u{200B}\u{2066} Show\u{FEFF}".to_owned(),
        _ => format!("Show {key}"),
    }
}

fn info(key: &SeriesKey) -> SeriesInfo {
    let season = |number: u32, episodes: u32| Season {
        number,
        episodes: (1..=episodes)
            .map(|n| Episode {
                number: n,
                title_de: Some(format!("Folge {n}")),
                ..Default::default()
            })
            .collect(),
    };
    SeriesInfo {
        key: key.clone(),
        site: "fake".into(),
        name: name_of(key),
        year: Some(2020),
        end_year: None,
        description: Some("A show".into()),
        cover: None,
        genres: vec![],
        alternative_titles: vec![],
        seasons: vec![season(0, 1), season(1, 3), season(2, 3)],
        url: format!("http://fake/anime/stream/{key}"),
    }
}

#[async_trait::async_trait]
impl Provider for FakeProvider {
    fn id(&self) -> &str {
        "fake"
    }
    async fn search(&self, query: &str) -> aniworld_core::Result<Vec<SearchResult>> {
        Ok(["alpha-show", "beta-show"]
            .iter()
            .filter(|k| k.contains(query))
            .map(|k| SearchResult {
                key: SeriesKey::parse(k).unwrap(),
                site: "fake".into(),
                name: format!("Show {k}"),
                year: Some(2020),
                description: None,
                cover: None,
                link: format!("/anime/stream/{k}"),
            })
            .collect())
    }
    async fn series(&self, key: &SeriesKey) -> aniworld_core::Result<SeriesInfo> {
        if key.as_str() == "gone" {
            return Err(aniworld_core::Error::NotFound("series gone".into()));
        }
        Ok(info(key))
    }
    async fn episode(
        &self,
        _: &SeriesKey,
        _: u32,
        _: u32,
    ) -> aniworld_core::Result<EpisodeStreams> {
        Err(aniworld_core::Error::Unsupported(
            "no streams in the double".into(),
        ))
    }
    async fn resolve_redirect(&self, link: &str) -> aniworld_core::Result<String> {
        Ok(link.to_owned())
    }
    fn key_from_link(&self, link: &str) -> Option<SeriesKey> {
        let rest = link.split("/anime/stream/").nth(1)?;
        SeriesKey::parse(rest.split('/').next()?).ok()
    }
}

/// An app with [`FakeProvider`] registered (no password set yet).
pub async fn app_with_fake_provider() -> TestApp {
    let app = spawn_app().await;
    app.server
        .state
        .registry()
        .register_provider(Arc::new(FakeProvider), Origin::builtin());
    app
}
