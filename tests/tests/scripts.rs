//! rhai scripts in the real app: a script hoster replacing a built-in one in a real download, the
//! shipped webhook hook, `before_download` renaming and skipping through the queue, the script
//! provider against the fixture site, and script errors in `GET /api/plugins`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aniworld_testkit::FixtureSite;
use aniworld_testkit::app::{TestApp, base_config};
use serde_json::{Value, json};

/// A shipped script from the repository's `scripts/` folder.
fn shipped(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// App config: the fixture site as `aniworld`, scripts from `scripts_dir`, hosters in `hosters` order.
fn config(site: &FixtureSite, scripts_dir: &Path, hosters: &[&str], settings: Value) -> Value {
    let mut c = base_config();
    c["providers"]["aniworld"] = json!({
        "enabled": true,
        "base_url": site.url("aniworld"),
        "rate_limit": 100.0,
        "retries": 0
    });
    c["download"] = json!({ "hosters": hosters, "attempts_per_candidate": 1 });
    c["scripts"] = json!({ "dir": scripts_dir, "watch": false, "settings": settings });
    c
}

async fn add_series(app: &TestApp, token: &str, key: &str) {
    let r = app
        .post(
            "/api/anime/add",
            token,
            json!({ "link": format!("/anime/stream/{key}"), "site": "aniworld" }),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}

/// Queues one episode, starts the queue and waits until the item leaves pending/downloading.
async fn download(app: &TestApp, token: &str, key: &str, season: u32, episode: u32) -> Value {
    let added: Value = app
        .post(
            "/api/queue/add",
            token,
            json!({ "episodes": [{ "key": key, "season": season, "episode": episode }] }),
        )
        .await
        .json()
        .await
        .expect("json");
    let id = added["added"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{added}"));
    assert_eq!(
        app.post("/api/queue/start", token, json!({}))
            .await
            .status(),
        200
    );
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let status: Value = app
            .get("/api/queue/status", token)
            .await
            .json()
            .await
            .expect("json");
        let item = status["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("item {id} missing: {status}"));
        if !matches!(item["status"].as_str(), Some("pending" | "downloading")) {
            return item;
        }
        assert!(Instant::now() < until, "download did not finish: {item}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Seen = Arc<Mutex<Vec<Value>>>;

/// A loopback webhook receiver recording JSON bodies.
async fn webhook_receiver() -> (String, Seen) {
    use poem::{EndpointExt, Route, handler, post, web::Json};
    let seen: Seen = Arc::default();
    #[handler]
    fn hook(Json(body): Json<Value>, seen: poem::web::Data<&Seen>) -> &'static str {
        seen.lock().expect("lock").push(body);
        "ok"
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let app = Route::new().at("/hook", post(hook)).data(seen.clone());
    let acceptor = poem::listener::TcpListener::bind(addr.to_string());
    tokio::spawn(async move {
        let _ = poem::Server::new(acceptor).run(app).await;
    });
    // The port was free a moment ago; wait until the server is listening.
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (format!("http://{addr}/hook"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_hoster_replacing_the_builtin_one_is_used_by_a_real_download() {
    let site = FixtureSite::start().await;
    let scripts = tempfile::tempdir().expect("dir");
    std::fs::write(
        scripts.path().join("vidoza-hoster.rhai"),
        shipped("vidoza-hoster.rhai"),
    )
    .expect("write");
    let settings = json!({ "vidoza_mirror": site.url("vidoza") });
    let app = TestApp::start(config(&site, scripts.path(), &["Vidoza"], settings)).await;
    let token = app.token().await;

    let listing: Value = app
        .get("/api/plugins", &token)
        .await
        .json()
        .await
        .expect("json");
    let vidoza: Vec<&Value> = listing["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["kind"] == "hoster" && i["id"] == "vidoza")
        .collect();
    let script_row = vidoza
        .iter()
        .find(|i| i["source"] == "script")
        .expect("script row");
    assert_eq!(script_row["status"], "active", "{listing}");
    let builtin_row = vidoza
        .iter()
        .find(|i| i["source"] == "builtin")
        .expect("builtin row");
    assert_eq!(builtin_row["status"], "overridden", "{listing}");

    add_series(&app, &token, "attack-on-titan").await;
    site.state.clear_requests();
    let item = download(&app, &token, "attack-on-titan", 1, 1).await;
    assert_eq!(item["status"], "completed", "{item}");
    let path = item["path"].as_str().expect("path");
    assert!(std::fs::metadata(path).expect("file on disk").len() > 0);

    // The media request carries the script's headers: Referer = the full embed URL (the built-in
    // extractor sends the hoster's origin).
    let requests = site.state.requests();
    let embed = requests
        .iter()
        .find(|r| r.server == "vidoza")
        .expect("the embed page was fetched");
    let embed_url = format!("{}{}", site.url("vidoza"), embed.uri);
    let media = requests
        .iter()
        .find(|r| r.server == "media")
        .expect("the media was fetched");
    assert_eq!(media.headers.get("referer"), Some(&embed_url), "{media:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_hook_posts_the_event_after_a_real_download() {
    let site = FixtureSite::start().await;
    let (hook_url, seen) = webhook_receiver().await;
    let scripts = tempfile::tempdir().expect("dir");
    std::fs::write(
        scripts.path().join("webhook-notify.rhai"),
        shipped("webhook-notify.rhai"),
    )
    .expect("write");
    let settings = json!({ "webhook_url": hook_url });
    let app = TestApp::start(config(&site, scripts.path(), &["VOE"], settings)).await;
    let token = app.token().await;
    add_series(&app, &token, "attack-on-titan").await;
    let item = download(&app, &token, "attack-on-titan", 1, 2).await;
    assert_eq!(item["status"], "completed", "{item}");

    let until = Instant::now() + Duration::from_secs(10);
    while seen.lock().expect("lock").is_empty() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bodies = seen.lock().expect("lock").clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let e = &bodies[0];
    assert_eq!(e["event"], "download_completed");
    assert_eq!(e["key"], "attack-on-titan");
    assert_eq!(e["site"], "aniworld");
    assert_eq!(e["season"], 1);
    assert_eq!(e["episode"], 2);
    assert_eq!(
        e["language"], "German Dub",
        "first preferred language the episode has"
    );
    assert_eq!(e["path"], item["path"]);
    let size = std::fs::metadata(item["path"].as_str().expect("path"))
        .expect("file")
        .len();
    assert_eq!(e["size"], size);
    assert!(
        e["folder"]
            .as_str()
            .is_some_and(|f| f.starts_with("Attack on Titan")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_download_renames_and_skips_through_the_queue() {
    let site = FixtureSite::start().await;
    let scripts = tempfile::tempdir().expect("dir");
    std::fs::write(
        scripts.path().join("naming.rhai"),
        "fn before_download(e) {\n  if e.episode == 3 { return false; }\n  `${e.key}-${e.season}x${e.episode}.mp4`\n}\n",
    )
    .expect("write");
    let app = TestApp::start(config(&site, scripts.path(), &["VOE"], json!({}))).await;
    let token = app.token().await;
    add_series(&app, &token, "attack-on-titan").await;

    let renamed = download(&app, &token, "attack-on-titan", 1, 1).await;
    assert_eq!(renamed["status"], "completed", "{renamed}");
    let path = Path::new(renamed["path"].as_str().expect("path"));
    // The engine keeps the container's extension (`.ts` for HLS); the name is the hook's.
    assert_eq!(
        path.file_stem().and_then(|n| n.to_str()),
        Some("attack-on-titan-1x1"),
        "{}",
        path.display()
    );
    assert!(path.starts_with(app.dir.path().join("library")));
    assert!(path.exists());

    let skipped = download(&app, &token, "attack-on-titan", 1, 3).await;
    assert_eq!(skipped["status"], "cancelled", "{skipped}");
    assert!(
        skipped["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("before_download"),
        "{skipped}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_provider_searches_and_lists_the_fixture_site() {
    let site = FixtureSite::start().await;
    let scripts = tempfile::tempdir().expect("dir");
    std::fs::write(
        scripts.path().join("fixture-provider.rhai"),
        shipped("fixture-provider.rhai"),
    )
    .expect("write");
    let settings = json!({ "fixture_url": site.url("aniworld") });
    let app = TestApp::start(config(&site, scripts.path(), &["VOE"], settings)).await;
    let token = app.token().await;
    let r = app
        .post(
            "/api/anime/search",
            &token,
            json!({ "query": "one punch", "site": "fixture-script" }),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let hits: Value = r.json().await.expect("json");
    assert_eq!(hits[0]["key"], "one-punch-man", "{hits}");
    assert_eq!(hits[0]["site"], "fixture-script");
    let r = app
        .post(
            "/api/anime/search",
            &token,
            json!({ "query": "kaguya", "site": "fixture-script" }),
        )
        .await;
    let kaguya: Value = r.json().await.expect("json");
    let expected_name = aniworld_testkit::catalogue::find(
        aniworld_testkit::catalogue::Site::Aniworld,
        "kaguya-sama-love-is-war",
    )
    .expect("catalogue")
    .name;
    assert_eq!(kaguya[0]["name"], expected_name, "entities decoded");
    let r = app
        .post(
            "/api/anime/add",
            &token,
            json!({ "link": hits[0]["link"], "site": "fixture-script" }),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let detail: Value = app
        .get("/api/anime/one-punch-man", &token)
        .await
        .json()
        .await
        .expect("json");
    let expected = aniworld_testkit::catalogue::find(
        aniworld_testkit::catalogue::Site::Aniworld,
        "one-punch-man",
    )
    .expect("catalogue");
    let seasons = detail["seasons"].as_array().expect("seasons");
    assert_eq!(seasons.len(), expected.seasons.len(), "{detail}");
    let item = download(&app, &token, "one-punch-man", 1, 1).await;
    assert_eq!(item["status"], "completed", "{item}");
}

#[tokio::test]
async fn script_provider_requests_go_through_network_proxy() {
    let site = FixtureSite::start().await;
    let proxy = aniworld_testkit::net::ForwardProxy::start().await;
    let scripts = tempfile::tempdir().expect("dir");
    std::fs::write(
        scripts.path().join("fixture-provider.rhai"),
        shipped("fixture-provider.rhai"),
    )
    .expect("write");
    let settings = json!({ "fixture_url": site.url("aniworld") });
    let mut config = config(&site, scripts.path(), &["VOE"], settings);
    config["network"] = json!({ "proxy": proxy.url() });
    let app = TestApp::start(config).await;
    let token = app.token().await;
    let r = app
        .post(
            "/api/anime/search",
            &token,
            json!({ "query": "one punch", "site": "fixture-script" }),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let seen = site.state.requests();
    assert!(!seen.is_empty());
    for r in &seen {
        let url = format!("{}{}", site.url(&r.server), r.uri);
        assert!(proxy.saw(&url), "{url} did not go through the proxy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_errors_are_listed_with_file_and_line_and_reload_keeps_the_good_version() {
    let site = FixtureSite::start().await;
    let scripts = tempfile::tempdir().expect("dir");
    let file = scripts.path().join("notify.rhai");
    std::fs::write(&file, "fn on_scan_completed(e) { 1 }\n").expect("write");
    let app = TestApp::start(config(&site, scripts.path(), &["VOE"], json!({}))).await;
    let token = app.token().await;
    std::fs::write(&file, "fn on_scan_completed(e) {\n  let = 1;\n}\n").expect("write");
    let r = app.post("/api/plugins/reload", &token, json!({})).await;
    assert_eq!(r.status(), 200);
    let listing: Value = r.json().await.expect("json");
    let row = listing["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == "notify")
        .cloned()
        .unwrap_or_else(|| panic!("{listing}"));
    assert_eq!(row["kind"], "hook");
    assert_eq!(row["status"], "active", "previous version stays: {row}");
    assert_eq!(row["hooks"], json!(["on_scan_completed"]));
    assert_eq!(row["line"], 2, "{row}");
    assert!(
        row["error"]
            .as_str()
            .unwrap_or("")
            .contains("notify.rhai:2"),
        "{row}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_hook_is_reported_over_the_websocket_and_the_add_still_succeeds() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let site = FixtureSite::start().await;
    let scripts = tempfile::tempdir().expect("dir");
    std::fs::write(
        scripts.path().join("grumpy.rhai"),
        "fn on_series_added(e) {\n  throw `no thanks: ${e.key}`;\n}\n",
    )
    .expect("write");
    let app = TestApp::start(config(&site, scripts.path(), &["VOE"], json!({}))).await;
    let token = app.token().await;
    let url = format!(
        "ws://{}/ws/connect?token={token}&rooms=system",
        app.server.addr
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connects");
    add_series(&app, &token, "one-punch-man").await;
    let failure = loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an event within 10 s")
            .expect("socket open")
            .expect("no socket error");
        let Message::Text(text) = msg else { continue };
        let v: Value = serde_json::from_str(&text).expect("json");
        if v["type"] == "hook_failed" {
            break v;
        }
    };
    assert_eq!(failure["data"]["script"], "grumpy.rhai");
    assert_eq!(failure["data"]["hook"], "on_series_added");
    assert!(
        failure["data"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("no thanks: one-punch-man"),
        "{failure}"
    );
}
