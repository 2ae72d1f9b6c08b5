//! Native plugins: the example provider and the deliberately broken ones, loaded from real library
//! files built by the workspace.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aniworld_testkit::bin::target_profile_dir;

/// `target/<profile>/lib<name>.so` (or the platform's equivalent).
fn library(crate_name: &str) -> PathBuf {
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        crate_name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    let path = target_profile_dir().join(file);
    assert!(
        path.exists(),
        "{} missing: build the workspace first",
        path.display()
    );
    path
}

/// A temp plugins dir holding copies of the given libraries.
fn plugins_dir(crates: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for c in crates {
        let src = library(c);
        let dst: &Path = dir.path();
        std::fs::copy(&src, dst.join(src.file_name().expect("file name"))).expect("copy plugin");
    }
    dir
}

mod loader {
    use super::*;
    use aniworld_core::registry::{ComponentKind, ComponentStatus, Registry, Source};
    use aniworld_plugins::{PluginHost, PluginHostConfig, PluginState};

    fn host(dir: &Path, timeout_ms: u64) -> (PluginHost, Registry) {
        let registry = Registry::new();
        let host = PluginHost::new(
            registry.clone(),
            PluginHostConfig {
                dir: dir.to_owned(),
                call_timeout: Duration::from_millis(timeout_ms),
                provider_settings: Default::default(),
            },
        );
        (host, registry)
    }

    fn reason_of(host: &PluginHost, id: &str) -> Option<String> {
        host.statuses()
            .into_iter()
            .find(|s| s.id == id)
            .and_then(|s| match s.state {
                PluginState::Disabled { reason } => Some(reason),
                PluginState::Active => None,
            })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_abi_version_is_refused_before_any_call() {
        let dir = plugins_dir(&["broken-abi-plugin"]);
        let (host, registry) = host(dir.path(), 2_000);
        let statuses = host.reload().await;
        assert_eq!(statuses.len(), 1);
        // The library's call function aborts the process: reaching this line proves it was never called.
        let reason = reason_of(&host, "libbroken_abi_plugin").expect("disabled");
        assert!(reason.contains("wrong ABI version"), "{reason}");
        assert!(registry.providers().is_empty() && registry.hosters().is_empty());
        // The registry lists it as disabled, with the reason.
        let rows = registry.components();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].status, ComponentStatus::Disabled);
        assert_eq!(rows[0].kind, ComponentKind::Unknown);
        let problem = rows[0].problem.as_ref().expect("reason");
        assert!(problem.message.contains("wrong ABI version"), "{problem:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn example_provider_loads_and_registers_as_native() {
        let dir = plugins_dir(&["fixture-provider"]);
        let (host, registry) = host(dir.path(), 2_000);
        let statuses = host.reload().await;
        assert_eq!(statuses.len(), 1, "{statuses:?}");
        assert!(statuses[0].is_active(), "{statuses:?}");
        assert_eq!(statuses[0].id, "fixture");
        assert_eq!(
            statuses[0].kinds,
            vec!["provider".to_owned(), "hoster".to_owned()]
        );
        let provider = registry.provider("fixture").expect("registered");
        assert_eq!(
            provider
                .key_from_link("/anime/stream/demo-key/staffel-1")
                .map(|k| k.to_string()),
            Some("demo-key".to_owned())
        );
        let rows = registry.components();
        assert_eq!(rows[0].source, Source::Native);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn panicking_call_disables_the_plugin_and_the_host_lives_on() {
        let dir = plugins_dir(&["broken-panic-plugin"]);
        let (host, registry) = host(dir.path(), 2_000);
        host.reload().await;
        let provider = registry.provider("broken-panic").expect("active at first");
        let err = provider.search("x").await.expect_err("panic is an error");
        assert!(err.to_string().contains("deliberate panic"), "{err}");
        let reason = reason_of(&host, "broken-panic").expect("disabled");
        assert!(reason.contains("panicked"), "{reason}");
        assert!(
            registry.provider("broken-panic").is_err(),
            "still registered"
        );
        let again = provider.search("x").await.expect_err("stays disabled");
        assert!(again.to_string().contains("disabled"), "{again}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invalid_json_reply_disables_the_plugin() {
        let dir = plugins_dir(&["broken-json-plugin"]);
        let (host, registry) = host(dir.path(), 2_000);
        host.reload().await;
        let provider = registry.provider("broken-json").expect("active at first");
        provider.search("x").await.expect_err("garbage is an error");
        let reason = reason_of(&host, "broken-json").expect("disabled");
        assert!(reason.contains("invalid JSON"), "{reason}");
        assert!(registry.provider("broken-json").is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn call_that_never_returns_times_out_and_disables_the_plugin() {
        let dir = plugins_dir(&["broken-hang-plugin"]);
        let (host, registry) = host(dir.path(), 300);
        host.reload().await;
        let provider = registry.provider("broken-hang").expect("active at first");
        let started = std::time::Instant::now();
        let err = provider.search("x").await.expect_err("timeout");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(matches!(err, aniworld_core::Error::Timeout(_)), "{err}");
        let reason = reason_of(&host, "broken-hang").expect("disabled");
        assert!(
            reason.contains("timed out after 300 ms in search"),
            "{reason}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reload_picks_up_new_files_and_keeps_loaded_ones() {
        let dir = plugins_dir(&[]);
        let (host, registry) = host(dir.path(), 2_000);
        assert!(host.reload().await.is_empty());
        let src = library("fixture-provider");
        std::fs::copy(&src, dir.path().join(src.file_name().expect("name"))).expect("copy");
        let statuses = host.reload().await;
        assert_eq!(statuses.len(), 1);
        assert!(registry.provider("fixture").is_ok());
        let again = host.reload().await;
        assert_eq!(again, statuses);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_that_are_not_libraries_are_ignored_and_junk_libraries_reported() {
        let dir = plugins_dir(&[]);
        std::fs::write(dir.path().join("notes.txt"), "hi").expect("write");
        std::fs::write(dir.path().join("junk.so"), "not an ELF file").expect("write");
        let (host, _) = host(dir.path(), 2_000);
        let statuses = host.reload().await;
        assert_eq!(statuses.len(), 1, "{statuses:?}");
        let reason = reason_of(&host, "junk").expect("disabled");
        assert!(reason.contains("could not load"), "{reason}");
    }
}

/// The example plugin against the fixture site, through `core`'s `Provider` trait.
mod fixture_provider {
    use super::*;
    use aniworld_core::SeriesKey;
    use aniworld_core::registry::Registry;
    use aniworld_plugins::{PluginHost, PluginHostConfig};
    use aniworld_testkit::FixtureSite;
    use aniworld_testkit::catalogue::{self, Site};

    async fn provider(
        fixture: &FixtureSite,
    ) -> (
        tempfile::TempDir,
        PluginHost,
        std::sync::Arc<dyn aniworld_core::traits::Provider>,
    ) {
        let dir = plugins_dir(&["fixture-provider"]);
        let registry = Registry::new();
        let mut settings = std::collections::BTreeMap::new();
        settings.insert(
            "fixture".to_owned(),
            serde_json::json!({ "base_url": fixture.url("aniworld") }),
        );
        let host = PluginHost::new(
            registry.clone(),
            PluginHostConfig {
                dir: dir.path().to_owned(),
                call_timeout: Duration::from_secs(10),
                provider_settings: settings,
            },
        );
        host.reload().await;
        let p = registry.provider("fixture").expect("plugin registered");
        (dir, host, p)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn search_finds_series_with_decoded_names() {
        let fixture = FixtureSite::start().await;
        let (_dir, _host, p) = provider(&fixture).await;
        let hits = p.search("kaguya").await.expect("search");
        let expected =
            catalogue::find(Site::Aniworld, "kaguya-sama-love-is-war").expect("in catalogue");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].key.as_str(), expected.key);
        assert_eq!(hits[0].name, expected.name);
        assert_eq!(hits[0].site, "fixture");
        assert_eq!(hits[0].year, Some(expected.year));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn series_lists_every_season_and_episode_of_the_catalogue() {
        let fixture = FixtureSite::start().await;
        let (_dir, _host, p) = provider(&fixture).await;
        for expected in catalogue::series_of(Site::Aniworld) {
            let info = p
                .series(&SeriesKey::parse(expected.key).expect("key"))
                .await
                .expect("series");
            assert_eq!(info.name, expected.name);
            assert_eq!(info.year, Some(expected.year));
            assert_eq!(info.end_year, expected.end_year);
            assert_eq!(info.description.as_deref(), Some(expected.description));
            let got: Vec<(u32, u32)> = info.episode_numbers().into_iter().collect();
            assert_eq!(got, expected.released(), "{}", expected.key);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn episode_lists_every_hoster_entry_and_redirects_resolve() {
        let fixture = FixtureSite::start().await;
        let (_dir, _host, p) = provider(&fixture).await;
        let series = catalogue::find(Site::Aniworld, "attack-on-titan").expect("in catalogue");
        let key = SeriesKey::parse(series.key).expect("key");
        let streams = p.episode(&key, 1, 1).await.expect("episode");
        let expected = catalogue::episode_links(Site::Aniworld, series.key, 1, 1);
        assert_eq!(streams.links.len(), expected.len());
        let ep = series.episode(1, 1).expect("episode");
        assert_eq!(streams.title_de.as_deref(), Some(ep.title_de));
        let embed = p
            .resolve_redirect(&streams.links[0].url)
            .await
            .expect("redirect resolves");
        assert!(embed.starts_with("http://127.0.0.1:"), "{embed}");
        assert!(!embed.contains("/redirect/"), "{embed}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_series_is_not_found() {
        let fixture = FixtureSite::start().await;
        let (_dir, _host, p) = provider(&fixture).await;
        let err = p
            .series(&SeriesKey::parse("no-such-show").expect("key"))
            .await
            .expect_err("missing");
        assert!(matches!(err, aniworld_core::Error::NotFound(_)), "{err}");
    }
}

/// The real server with plugins in its `plugins.dir`.
mod server {
    use super::*;
    use aniworld_testkit::FixtureSite;
    use aniworld_testkit::app::{TestApp, merge};
    use serde_json::{Value, json};

    /// The test kit's app with plugins in its `plugins.dir`, logged in.
    struct Running {
        app: TestApp,
        _plugins: tempfile::TempDir,
        token: String,
    }

    impl Running {
        async fn get(&self, path: &str) -> reqwest::Response {
            self.app.get(path, &self.token).await
        }

        async fn post(&self, path: &str, body: Value) -> reqwest::Response {
            self.app.post(path, &self.token, body).await
        }

        async fn plugins(&self) -> Vec<Value> {
            let r = self.get("/api/plugins").await;
            assert_eq!(r.status(), 200);
            let body: Value = r.json().await.expect("json");
            body["items"].as_array().expect("items").clone()
        }
    }

    async fn start(plugins: tempfile::TempDir, fixture: &FixtureSite, timeout_ms: u64) -> Running {
        let mut config = aniworld_testkit::app::fixture_config(fixture);
        merge(
            &mut config,
            json!({
                "plugins": { "dir": plugins.path(), "call_timeout_ms": timeout_ms },
                "scripts": { "watch": false },
                "providers": { "fixture": { "base_url": fixture.url("aniworld") } }
            }),
        );
        let app = TestApp::start(config).await;
        let token = app.token().await;
        Running {
            app,
            _plugins: plugins,
            token,
        }
    }

    fn entry<'a>(items: &'a [Value], id: &str) -> &'a Value {
        items
            .iter()
            .find(|i| i["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {items:?}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn example_plugin_drives_search_add_and_a_queued_download() {
        let fixture = FixtureSite::start().await;
        let app = start(plugins_dir(&["fixture-provider"]), &fixture, 10_000).await;
        let items = app.plugins().await;
        let fixture_row = entry(&items, "fixture");
        assert_eq!(fixture_row["source"], "native");
        assert_eq!(fixture_row["kind"], "provider");
        assert_eq!(fixture_row["status"], "active");

        let r = app
            .post(
                "/api/anime/search",
                json!({ "query": "frieren", "site": "fixture" }),
            )
            .await;
        assert_eq!(r.status(), 200);
        let hits: Value = r.json().await.expect("json");
        assert_eq!(hits[0]["key"], "frieren-beyond-journeys-end", "{hits}");
        assert_eq!(hits[0]["site"], "fixture");

        let link = hits[0]["link"].as_str().expect("link").to_owned();
        let r = app
            .post("/api/anime/add", json!({ "link": link, "site": "fixture" }))
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
        let r = app.get("/api/anime/frieren-beyond-journeys-end").await;
        assert_eq!(r.status(), 200);
        let detail: Value = r.json().await.expect("json");
        assert_eq!(detail["site"], "fixture");

        // Download through the queue: episode page and redirect through the plugin, media through
        // the built-in hosters.
        let added: Value = app
            .post(
                "/api/queue/add",
                json!({ "episodes": [{ "key": "frieren-beyond-journeys-end", "site": "fixture", "season": 1, "episode": 1 }] }),
            )
            .await
            .json()
            .await
            .expect("json");
        let id = added["added"][0]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{added}"));
        assert_eq!(app.post("/api/queue/start", json!({})).await.status(), 200);
        let until = std::time::Instant::now() + Duration::from_secs(60);
        let item = loop {
            let status: Value = app
                .get("/api/queue/status")
                .await
                .json()
                .await
                .expect("json");
            let item = status["items"]
                .as_array()
                .and_then(|items| items.iter().find(|i| i["id"] == id))
                .cloned()
                .unwrap_or_else(|| panic!("{status}"));
            if !matches!(item["status"].as_str(), Some("pending" | "downloading")) {
                break item;
            }
            assert!(
                std::time::Instant::now() < until,
                "download did not finish: {item}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(item["status"], "completed", "{item}");
        let path = std::path::PathBuf::from(item["path"].as_str().expect("path"));
        assert!(std::fs::metadata(&path).expect("file on disk").len() > 0);
        assert!(
            fixture
                .state
                .requests()
                .iter()
                .any(|r| r.server == "aniworld"
                    && r.uri.starts_with(
                        "/anime/stream/frieren-beyond-journeys-end/staffel-1/episode-1"
                    )),
            "the plugin fetched the episode page"
        );
        assert!(
            fixture
                .state
                .requests()
                .iter()
                .any(|r| r.server == "aniworld" && r.uri.starts_with("/anime/stream/frieren"))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn broken_plugins_are_disabled_with_reasons_and_the_server_keeps_serving() {
        let fixture = FixtureSite::start().await;
        let app = start(
            plugins_dir(&[
                "broken-abi-plugin",
                "broken-panic-plugin",
                "broken-json-plugin",
                "broken-hang-plugin",
                "fixture-provider",
            ]),
            &fixture,
            500,
        )
        .await;
        let items = app.plugins().await;
        let abi = entry(&items, "libbroken_abi_plugin");
        assert_eq!(abi["status"], "disabled");
        assert!(
            abi["error"]
                .as_str()
                .unwrap_or("")
                .contains("wrong ABI version"),
            "{abi}"
        );

        // Each misbehaving call fails cleanly and switches its plugin off.
        for site in ["broken-panic", "broken-json", "broken-hang"] {
            let r = app
                .post("/api/anime/search", json!({ "query": "x", "site": site }))
                .await;
            assert!(
                r.status().is_client_error() || r.status().is_server_error(),
                "{site}: {}",
                r.status()
            );
            let body: Value = r.json().await.expect("error body is JSON");
            assert!(body["error"].is_string(), "{body}");
        }
        let items = app.plugins().await;
        let reasons = [
            ("broken-panic", "panicked"),
            ("broken-json", "invalid JSON"),
            ("broken-hang", "timed out after 500 ms"),
        ];
        for (id, reason) in reasons {
            let row = entry(&items, id);
            assert_eq!(row["status"], "disabled", "{row}");
            assert!(
                row["error"].as_str().unwrap_or("").contains(reason),
                "{row}"
            );
        }
        // Still serving: health, and the good plugin still answers.
        let r = app
            .app
            .http
            .get(app.app.url("/health"))
            .send()
            .await
            .expect("health");
        assert_eq!(r.status(), 200);
        let r = app
            .post(
                "/api/anime/search",
                json!({ "query": "frieren", "site": "fixture" }),
            )
            .await;
        assert_eq!(r.status(), 200);
        app.app.server.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reload_endpoint_picks_up_a_plugin_dropped_in_later() {
        let fixture = FixtureSite::start().await;
        let plugins = plugins_dir(&[]);
        let path = plugins.path().to_owned();
        let app = start(plugins, &fixture, 10_000).await;
        assert!(!app.plugins().await.iter().any(|i| i["id"] == "fixture"));
        let src = library("fixture-provider");
        std::fs::copy(&src, path.join(src.file_name().expect("name"))).expect("copy");
        let r = app.post("/api/plugins/reload", json!({})).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        let items = body["items"].as_array().expect("items");
        assert_eq!(entry(items, "fixture")["status"], "active");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn listing_needs_a_token() {
        let fixture = FixtureSite::start().await;
        let app = start(plugins_dir(&[]), &fixture, 1_000).await;
        let r = app
            .app
            .http
            .get(app.app.url("/api/plugins"))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 401);
    }
}

/// The command line with plugins in the data dir's `plugins` folder: the same registry as the
/// server (one composition root).
mod cli {
    use super::*;
    use aniworld_testkit::FixtureSite;
    use serde_json::json;

    /// A data dir whose `plugins` folder holds the example plugin, and whose config points the
    /// built-in providers and the plugin at `fixture`.
    fn data_dir(fixture: &FixtureSite) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).expect("plugins dir");
        let lib = library("fixture-provider");
        std::fs::copy(&lib, plugins.join(lib.file_name().expect("name"))).expect("copy plugin");
        let site = |url: String| json!({ "base_url": url, "retries": 0, "rate_limit": 1000.0 });
        let config = json!({
            "providers": {
                "aniworld": site(fixture.url("aniworld")),
                "sto": site(fixture.url("sto")),
                "fixture": site(fixture.url("aniworld")),
            },
            "download": { "attempts_per_candidate": 1 }
        });
        std::fs::write(dir.path().join("config.json"), config.to_string()).expect("config");
        dir
    }

    async fn run(args: Vec<String>) -> std::process::Output {
        tokio::task::spawn_blocking(move || {
            aniworld_testkit::bin::aniworld()
                .args(args)
                .output()
                .expect("run aniworld")
        })
        .await
        .expect("join")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn download_with_a_plugin_site_uses_the_data_dirs_native_plugin() {
        let fixture = FixtureSite::start().await;
        let data = data_dir(&fixture);
        let library = tempfile::tempdir().expect("library");
        let out = run(vec![
            "download".into(),
            "frieren-beyond-journeys-end".into(),
            "--site".into(),
            "fixture".into(),
            "--season".into(),
            "1".into(),
            "--episodes".into(),
            "1".into(),
            "--data-dir".into(),
            data.path().display().to_string(),
            "--library".into(),
            library.path().display().to_string(),
        ])
        .await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("1 downloaded"), "{stdout}");
        let files: Vec<_> = walkdir_files(library.path());
        assert!(
            files
                .iter()
                .any(|f| f.ends_with(".mp4") || f.ends_with(".ts")),
            "{files:?}"
        );
        // The plugin, not the built-in provider, read the episode page.
        assert!(
            fixture
                .state
                .requests()
                .iter()
                .any(|r| r.server == "aniworld"
                    && r.uri.starts_with(
                        "/anime/stream/frieren-beyond-journeys-end/staffel-1/episode-1"
                    )),
            "the plugin fetched the episode page"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn resolve_uses_a_hoster_of_the_data_dirs_native_plugin() {
        let fixture = FixtureSite::start().await;
        let data = data_dir(&fixture);
        let out = run(vec![
            "resolve".into(),
            "https://fixture-host.test/e/abc123".into(),
            "--json".into(),
            "--data-dir".into(),
            data.path().display().to_string(),
        ])
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
        assert_eq!(json["hoster"], "FixtureHost");
        assert_eq!(json["url"], "https://fixture-host.test/v/abc123.mp4");
        assert_eq!(json["kind"], "mp4");
        assert_eq!(
            json["headers"]["Referer"],
            "https://fixture-host.test/e/abc123"
        );
    }

    fn walkdir_files(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(path.display().to_string());
                }
            }
        }
        out
    }
}
