//! The test kit's `TestApp` for these tests, and a provider double.

use std::sync::Arc;

use aniworld_core::model::{Episode, EpisodeStreams, SearchResult, Season, SeriesInfo, SeriesKey};
use aniworld_core::registry::Origin;
use aniworld_core::traits::Provider;
use serde_json::Value;

pub use aniworld_testkit::app::{PASSWORD, TestApp, assert_error, base_config};

pub async fn spawn_app() -> TestApp {
    TestApp::start(base_config()).await
}

/// Starts the app with `config` written to `DATA_DIR/config.json` first.
pub async fn spawn_app_with(config: Value) -> TestApp {
    TestApp::start(config).await
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

/// The Python venv with the OpenAPI tools (openapi-python-client, openapi-spec-validator,
/// schemathesis): `ANIWORLD_OPENAPI_VENV`, else `target/openapi-client-venv` as `tests/run.sh`
/// makes it. Asserts that `tool` is installed there.
pub fn openapi_venv(tool: &str) -> std::path::PathBuf {
    let path = std::env::var_os("ANIWORLD_OPENAPI_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/openapi-client-venv")
        });
    assert!(
        path.join("bin").join(tool).exists(),
        "{tool} is not installed in {}: run tests/run.sh (it creates the venv with the pinned \
         tools), or set ANIWORLD_OPENAPI_VENV",
        path.display()
    );
    path
}
