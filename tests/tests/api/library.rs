//! `/api/library` (status, unmatched folders with suggestions, matching a folder), honest
//! missing-episode states in the list and on the series page, covers, and the queue starting by
//! itself, against the fixture site.

use aniworld_testkit::app::TestApp;
use serde_json::{Value, json};

use crate::support::assert_error;

const AOT: &str = "Attack on Titan (2013)";

/// A folder without `.aniworld.json`, with empty episode files at the given paths.
fn plain_folder(app: &TestApp, folder: &str, files: &[&str]) {
    let dir = app.library().join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    for f in files {
        let path = dir.join(f);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }
}

async fn json_of(r: reqwest::Response) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} {e}: {text}"))
}

/// A fixture app with one unmatched folder holding two episodes of Attack on Titan.
async fn app_with_unmatched_folder() -> (TestApp, String) {
    let app = TestApp::with_fixture(json!({})).await;
    let token = app.token().await;
    plain_folder(
        &app,
        AOT,
        &[
            "Season 01/Attack on Titan - S01E01.mkv",
            "Season 01/Attack on Titan - S01E02.mkv",
            "notes.txt",
        ],
    );
    app.rescan(&token).await;
    (app, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmatched_folder_is_listed_with_the_sites_suggestions() {
    let (app, token) = app_with_unmatched_folder().await;
    let status = json_of(app.get("/api/library/status", &token).await).await;
    assert_eq!(status["unmatched"], 1, "{status}");
    assert_eq!(status["readable"], true);
    assert!(status["scan"].is_null(), "{status}");

    let list = json_of(app.get("/api/library/unmatched", &token).await).await;
    assert_eq!(list["total"], 1, "{list}");
    let item = &list["items"][0];
    assert_eq!(item["folder"], AOT);
    assert_eq!(item["episodes"], 2);
    assert_eq!(item["query"], "Attack on Titan");
    assert_eq!(item["year"], 2013);
    assert_eq!(item["suggestions_state"], "ready", "{item}");
    assert_eq!(item["suggestions"][0]["key"], "attack-on-titan", "{item}");
    assert_eq!(item["suggestions"][0]["site"], "aniworld");
    assert_eq!(item["confident"], true, "{item}");
    assert!(item["reason"].is_null());

    // Asked again: remembered, no second search.
    app.fixture().state.clear_requests();
    let again = json_of(app.get("/api/library/unmatched", &token).await).await;
    assert_eq!(again["items"][0]["suggestions"], item["suggestions"]);
    assert!(app.fixture().state.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_a_folder_writes_its_identity_and_shows_its_episodes_and_missing_ones() {
    let (app, token) = app_with_unmatched_folder().await;
    let r = app
        .post(
            "/api/library/match",
            &token,
            json!({ "folder": AOT, "link": "/anime/stream/attack-on-titan", "site": "aniworld" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let summary = json_of(r).await;
    assert_eq!(summary["key"], "attack-on-titan");
    assert_eq!(summary["folder"], AOT);
    assert_eq!(summary["episodes_on_disk"], 2);
    assert_eq!(summary["missing_state"], "known", "{summary}");
    assert_eq!(summary["missing_episodes"], 3, "{summary}");

    let dir = app.library().join(AOT);
    let meta: Value =
        serde_json::from_slice(&std::fs::read(dir.join(".aniworld.json")).unwrap()).unwrap();
    assert_eq!(meta["key"], "attack-on-titan");
    assert_eq!(meta["site"], "aniworld");
    assert_eq!(meta["name"], "Attack on Titan");
    assert_eq!(meta["year"], 2013);
    // Nothing else in the folder changed.
    assert_eq!(std::fs::read(dir.join("notes.txt")).unwrap(), b"x");
    assert!(dir.join("Season 01/Attack on Titan - S01E01.mkv").is_file());

    let detail = json_of(app.get("/api/anime/attack-on-titan", &token).await).await;
    let on_disk: Vec<(u64, u64)> = detail["episodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["season"].as_u64().unwrap(),
                e["episode"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(on_disk, [(1, 1), (1, 2)]);
    assert_eq!(detail["missing_state"], "known");
    assert!(
        !detail["missing"].as_array().unwrap().is_empty(),
        "{detail}"
    );

    let list = json_of(app.get("/api/library/unmatched", &token).await).await;
    assert_eq!(list["total"], 0, "{list}");
    // A rescan agrees: one series, no unmatched folder.
    app.rescan(&token).await;
    let status = json_of(app.get("/api/library/status", &token).await).await;
    assert_eq!(
        (status["series"].clone(), status["unmatched"].clone()),
        (json!(1), json!(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_refuses_hostile_names_unknown_folders_and_matched_ones_and_writes_nothing() {
    let (app, token) = app_with_unmatched_folder().await;
    let outside = app.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, app.library().join("Escape")).unwrap();
    let link = "/anime/stream/attack-on-titan";
    let try_match = |folder: &'static str| {
        let app = &app;
        let token = &token;
        async move {
            app.post(
                "/api/library/match",
                token,
                json!({ "folder": folder, "link": link }),
            )
            .await
        }
    };
    // Not a plain folder name: the document's pattern refuses it before the handler.
    for hostile in ["../outside", "..", "a/b", ".hidden", "", "/etc"] {
        let body = assert_error(try_match(hostile).await, 400).await;
        assert_eq!(body["details"]["field"], "folder", "{hostile:?}: {body}");
    }
    let long = "x".repeat(300);
    let body = assert_error(
        app.post(
            "/api/library/match",
            &token,
            json!({ "folder": long, "link": link }),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(body["details"]["field"], "folder");
    for unknown in ["No Such Folder", "Escape"] {
        let body = assert_error(try_match(unknown).await, 404).await;
        assert_eq!(body["error"], "not_found", "{unknown}: {body}");
    }
    assert!(!outside.join(".aniworld.json").exists());
    assert!(!app.dir.path().join(".aniworld.json").exists());

    // A link no provider knows, and a series the site does not have.
    assert_error(
        app.post(
            "/api/library/match",
            &token,
            json!({ "folder": AOT, "link": "https://example.org/x" }),
        )
        .await,
        404,
    )
    .await;
    assert_error(
        app.post(
            "/api/library/match",
            &token,
            json!({ "folder": AOT, "link": "/anime/stream/no-such-series" }),
        )
        .await,
        404,
    )
    .await;
    assert!(!app.library().join(AOT).join(".aniworld.json").exists());

    // Matched once: the folder, and the series for another folder, are taken.
    assert_eq!(try_match(AOT).await.status(), 201);
    let again = assert_error(try_match(AOT).await, 409).await;
    assert_eq!(again["error"], "conflict");
    plain_folder(&app, "Shingeki no Kyojin", &["S01E03.mkv"]);
    app.rescan(&token).await;
    assert_error(try_match("Shingeki no Kyojin").await, 409).await;
    assert!(
        !app.library()
            .join("Shingeki no Kyojin/.aniworld.json")
            .exists()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmatched_folder_by_name_is_a_404_pointing_to_the_import() {
    let (app, token) = app_with_unmatched_folder().await;
    let body = assert_error(
        app.get(&format!("/api/anime/{}", urlencode(AOT)), &token)
            .await,
        404,
    )
    .await;
    assert_eq!(body["error"], "unmatched_folder", "{body}");
    assert_eq!(body["details"]["folder"], AOT);
    assert_eq!(body["details"]["unmatched"], "/api/library/unmatched");
    let plain = assert_error(app.get("/api/anime/nothing-here", &token).await, 404).await;
    assert_eq!(plain["error"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_sites_give_no_suggestions_and_say_why() {
    let app = TestApp::with_fixture(json!({})).await;
    let token = app.token().await;
    for site in ["aniworld", "sto"] {
        app.fixture()
            .state
            .set_knob(&format!("{site}.challenge"), "cloudflare");
    }
    plain_folder(&app, "Dark (2017)", &["S01E01.mkv"]);
    app.rescan(&token).await;
    let list = json_of(app.get("/api/library/unmatched", &token).await).await;
    let item = &list["items"][0];
    assert_eq!(item["suggestions_state"], "failed", "{item}");
    assert_eq!(item["suggestions"], json!([]));
    assert!(
        item["reason"].as_str().unwrap().starts_with("blocked"),
        "{item}"
    );
    assert_eq!(item["confident"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_folders_and_hanging_sites_answer_a_page_at_once_with_a_few_searches() {
    let app = TestApp::with_fixture(json!({})).await;
    let token = app.token().await;
    for i in 0..300 {
        plain_folder(&app, &format!("Show {i:03}"), &[]);
    }
    app.rescan(&token).await;
    for site in ["aniworld", "sto"] {
        app.fixture().state.set_knob(&format!("{site}.hang"), "on");
    }
    app.fixture().state.clear_requests();
    let list = json_of(
        app.get("/api/library/unmatched?per_page=20&page=2", &token)
            .await,
    )
    .await;
    assert_eq!(list["total"], 300);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    assert_eq!(items[0]["folder"], "Show 020");
    // The sites hang: the page answered anyway, its searches still running.
    assert!(
        items.iter().all(|i| i["suggestions_state"] == "pending"),
        "{list}"
    );
    // A few searches at once (two sites each), never one per folder of the library.
    let asked = app.fixture().state.requests().len();
    assert!((1..=8).contains(&asked), "{asked} requests");

    let filtered = json_of(app.get("/api/library/unmatched?q=show%2029", &token).await).await;
    assert_eq!(filtered["total"], 10, "{filtered}");
    assert_error(
        app.get("/api/library/unmatched?per_page=0", &token).await,
        400,
    )
    .await;
    assert_error(app.get("/api/library/unmatched?page=0", &token).await, 400).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_site_is_never_complete_or_zero() {
    let app = TestApp::with_fixture(json!({
        "providers": { "aniworld": { "base_url": "http://127.0.0.1:9" } }
    }))
    .await;
    let token = app.token().await;
    app.series_folder(
        AOT,
        "aniworld",
        "attack-on-titan",
        &["Season 01/Attack on Titan - S01E01.mkv"],
    );
    app.series_folder(
        "Dark",
        "sto",
        "dark",
        &["Season 01/Dark - S01E01.mkv", "Season 01/Dark - S01E02.mkv"],
    );
    app.rescan(&token).await;
    app.wait_until_idle().await;

    let list = json_of(app.get("/api/anime", &token).await).await;
    let aot = &list["items"][0];
    assert_eq!(aot["key"], "attack-on-titan");
    assert_eq!(aot["missing_state"], "failed", "{aot}");
    assert_eq!(aot["missing_reason"], "site_down", "{aot}");
    assert!(aot["missing_episodes"].is_null());
    assert!(aot["missing_error"].is_string());
    assert_eq!(aot["episodes_on_disk"], 1);
    let dark = &list["items"][1];
    assert_eq!(dark["missing_state"], "known", "{dark}");
    assert!(dark["missing_reason"].is_null());

    let keys = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let missing = json_of(app.get("/api/anime?missing=true", &token).await).await;
    assert!(
        !keys(&missing).contains(&"attack-on-titan".to_owned()),
        "{missing}"
    );
    let unknown = json_of(app.get("/api/anime?state=unknown", &token).await).await;
    assert_eq!(keys(&unknown), ["attack-on-titan"]);
    let complete = json_of(app.get("/api/anime?state=complete", &token).await).await;
    assert!(!keys(&complete).contains(&"attack-on-titan".to_owned()));
    assert_error(app.get("/api/anime?state=perfect", &token).await, 400).await;

    let detail = json_of(app.get("/api/anime/attack-on-titan", &token).await).await;
    assert_eq!(detail["missing_state"], "failed", "{detail}");
    assert_eq!(detail["provider_state"], "failed");
    assert!(detail["missing_episodes"].is_null());
    assert_eq!(detail["seasons"], json!([]));
    assert_eq!(detail["episodes"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_of_a_disabled_provider_is_unknown_not_complete() {
    let app = TestApp::start(aniworld_testkit::app::base_config()).await;
    let token = app.token().await;
    app.series_folder("Dark", "sto", "dark", &[]);
    app.rescan(&token).await;
    let list = json_of(app.get("/api/anime", &token).await).await;
    assert_eq!(list["items"][0]["missing_state"], "unknown", "{list}");
    assert_eq!(list["items"][0]["missing_reason"], "no_provider");
    assert!(list["items"][0]["cover_url"].is_null());
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(&format!("http://x{url}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn covers_are_fetched_once_kept_in_the_data_dir_and_served_by_signed_url() {
    let app = TestApp::with_fixture(json!({})).await;
    let token = app.token().await;
    app.series_folder(AOT, "aniworld", "attack-on-titan", &[]);
    app.series_folder("Dark", "sto", "dark", &[]);
    app.rescan(&token).await;
    app.wait_until_idle().await;
    let list = json_of(app.get("/api/anime", &token).await).await;
    let url = list["items"][0]["cover_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("/api/anime/attack-on-titan/cover?"),
        "{url}"
    );

    app.fixture().state.clear_requests();
    // An <img> sends no token: the signed URL is enough.
    let r = app.http.get(app.url(&url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
    let stored = app.data_dir().join("covers/aniworld/attack-on-titan.png");
    assert_eq!(std::fs::read(&stored).unwrap(), bytes.to_vec());
    // Served from the data dir from now on.
    for _ in 0..2 {
        assert_eq!(
            app.http.get(app.url(&url)).send().await.unwrap().status(),
            200
        );
    }
    let fetched = app
        .fixture()
        .state
        .requests()
        .iter()
        .filter(|r| r.uri.contains("/cover/"))
        .count();
    assert_eq!(fetched, 1);

    // s.to's covers are JPEGs.
    let dark = list["items"][1]["cover_url"].as_str().unwrap().to_owned();
    let r = app.http.get(app.url(&dark)).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/jpeg");

    // Another series' signature, a changed expiry, no signature: refused; the token works.
    let q = query_of(&url);
    let forged = format!("/api/anime/dark/cover?exp={}&sig={}", q["exp"], q["sig"]);
    assert_error(app.http.get(app.url(&forged)).send().await.unwrap(), 401).await;
    let later = format!(
        "/api/anime/attack-on-titan/cover?exp={}&sig={}",
        q["exp"].parse::<i64>().unwrap() + 86_400,
        q["sig"]
    );
    assert_error(app.http.get(app.url(&later)).send().await.unwrap(), 401).await;
    let bare = "/api/anime/attack-on-titan/cover";
    assert_error(app.http.get(app.url(bare)).send().await.unwrap(), 401).await;
    assert_eq!(app.get(bare, &token).await.status(), 200);

    // A restart finds the stored covers without asking the sites.
    let app = app.restart().await;
    app.fixture().state.clear_requests();
    let token = app.login().await;
    assert_eq!(app.get(bare, &token).await.status(), 200);
    assert!(
        !app.fixture()
            .state
            .requests()
            .iter()
            .any(|r| r.uri.contains("/cover/"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cover_that_is_not_an_image_is_refused_and_not_kept() {
    let app = TestApp::with_fixture(json!({})).await;
    let token = app.token().await;
    app.fixture().state.set_knob("aniworld.covers", "html");
    app.series_folder(AOT, "aniworld", "attack-on-titan", &[]);
    app.rescan(&token).await;
    app.wait_until_idle().await;
    let r = app.get("/api/anime/attack-on-titan/cover", &token).await;
    assert_error(r, 404).await;
    assert!(!app.data_dir().join("covers/aniworld").exists());
    // The failure is remembered: no second request for a while.
    app.fixture().state.clear_requests();
    assert_error(
        app.get("/api/anime/attack-on-titan/cover", &token).await,
        404,
    )
    .await;
    assert!(app.fixture().state.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_settings_leaves_command_line_overrides_out_of_the_file() {
    let app = TestApp::with_fixture(json!({})).await;
    let token = app.token().await;
    let config = json_of(app.get("/api/config", &token).await).await;
    // The test kit starts the app with `--library`.
    let overridden = config["overridden"].as_array().unwrap();
    let library = overridden
        .iter()
        .find(|k| k["key"] == "library.path")
        .unwrap_or_else(|| panic!("{overridden:?}"));
    assert_eq!(library["source"], "cli");
    assert_eq!(library["by"], "--library");
    let shown_path = config["library"]["path"].clone();
    assert_eq!(shown_path, json!(app.library().display().to_string()));

    // The whole document as shown, one value changed: saved without the override.
    let mut sent = config.clone();
    sent.as_object_mut().unwrap().remove("overridden");
    sent.as_object_mut().unwrap().remove("connections");
    sent["download"]["max_parallel"] = json!(5);
    let r = app.put("/api/config", &token, sent.clone()).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let file: Value =
        serde_json::from_slice(&std::fs::read(app.data_dir().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(file["download"]["max_parallel"], 5);
    assert_eq!(file["library"]["path"], "./library", "{file}");
    let now = json_of(app.get("/api/config", &token).await).await;
    assert_eq!(now["library"]["path"], shown_path);

    // Changing the overridden key itself is refused, naming it and its flag.
    sent["library"]["path"] = json!("/somewhere/else");
    let body = assert_error(app.put("/api/config", &token, sent.clone()).await, 422).await;
    assert_eq!(body["details"]["field"], "library.path");
    assert!(
        body["message"].as_str().unwrap().contains("--library"),
        "{body}"
    );
    let check = json_of(app.post("/api/config/validate", &token, sent).await).await;
    assert_eq!(check["valid"], false);
    assert_eq!(check["field"], "library.path");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_runs_from_the_start_unless_autostart_is_off() {
    let mut config = aniworld_testkit::app::base_config();
    config["download"]["autostart"] = json!(true);
    let app = TestApp::start(config).await;
    let token = app.token().await;
    let status = json_of(app.get("/api/queue/status", &token).await).await;
    assert_eq!(status["running"], true, "{status}");
    // Paused stays paused across a restart, autostart or not.
    app.post("/api/queue/pause", &token, json!({})).await;
    let app = app.restart().await;
    let token = app.login().await;
    let status = json_of(app.get("/api/queue/status", &token).await).await;
    assert_eq!(
        (status["running"].clone(), status["paused"].clone()),
        (json!(true), json!(true))
    );

    let off = TestApp::start(aniworld_testkit::app::base_config()).await;
    let token = off.token().await;
    let status = json_of(off.get("/api/queue/status", &token).await).await;
    assert_eq!(status["running"], false, "{status}");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
