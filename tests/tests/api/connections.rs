//! Connections: one local receiver per kind checks the exact request each kind sends after a real
//! download through the queue (fixture site) and after `POST /api/connections/test`; failing and
//! hanging receivers never fail or hold up downloads and show up in `GET /api/connections`; a
//! connection script handles a kind of its own; secrets stay out of API answers and logs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aniworld_core::connections::DeliveryPolicy;
use aniworld_testkit::FixtureSite;
use futures::StreamExt;
use poem::listener::{Acceptor, Listener, TcpListener};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestApp, spawn_app_with};

/// One request a receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    method: String,
    /// Path and query.
    uri: String,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

enum Reply {
    Answer(u16, String),
    /// Never answers.
    Hang,
}

type Responder = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

struct ReceiverState {
    seen: Mutex<Vec<Seen>>,
    responder: Mutex<Responder>,
    arrived: tokio::sync::Notify,
}

/// A tiny HTTP server on 127.0.0.1 that records every request and answers as told.
pub(crate) struct Receiver {
    url: String,
    state: Arc<ReceiverState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(responder: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Receiver {
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let addr: SocketAddr = *acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr())
            .unwrap();
        let state = Arc::new(ReceiverState {
            seen: Mutex::new(Vec::new()),
            responder: Mutex::new(Arc::new(responder)),
            arrived: tokio::sync::Notify::new(),
        });
        let s = state.clone();
        let endpoint = poem::endpoint::make(move |req: poem::Request| {
            let state = s.clone();
            async move {
                let method = req.method().to_string();
                let uri = req.uri().to_string();
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let body = req.into_body().into_string().await.unwrap_or_default();
                let seen = Seen {
                    method,
                    uri,
                    headers,
                    body,
                };
                let responder = state.responder.lock().unwrap().clone();
                let reply = responder(&seen);
                state.seen.lock().unwrap().push(seen);
                state.arrived.notify_waiters();
                match reply {
                    Reply::Answer(status, body) => poem::Response::builder()
                        .status(poem::http::StatusCode::from_u16(status).unwrap())
                        .body(body),
                    Reply::Hang => {
                        futures::future::pending::<()>().await;
                        unreachable!()
                    }
                }
            }
        });
        let task = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run(endpoint)
                .await;
        });
        Receiver {
            url: format!("http://{addr}"),
            state,
            task,
        }
    }

    pub(crate) fn url_of(&self) -> &str {
        &self.url
    }

    pub(crate) async fn ok() -> Receiver {
        Receiver::start(|_| Reply::Answer(200, String::new())).await
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.state.seen.lock().unwrap().clear();
    }

    /// Waits (at most 30 s) until `n` requests arrived; returns them all.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let arrived = self.state.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let seen = self.seen();
            if seen.len() >= n {
                return seen;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, arrived).await.is_err() {
                panic!("{} requests expected at {}, got {seen:?}", n, self.url);
            }
        }
    }
}

fn fixture_config(site: &FixtureSite, connections: Value) -> Value {
    let mut config = crate::support::base_config();
    config["providers"]["aniworld"] = json!({
        "enabled": true,
        "base_url": site.state.url("aniworld"),
        "rate_limit": 100.0,
        "retries": 0
    });
    config["download"] = json!({ "max_parallel": 1 });
    config["connections"] = connections;
    config
}

/// Polls `check` every 50 ms until it gives a value (at most `secs`).
async fn wait_until<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Adds the fixture's Attack on Titan, queues the episodes, starts the queue.
async fn queue_episodes(app: &TestApp, token: &str, episodes: &[(u32, u32)]) {
    let r = app
        .post(
            "/api/anime/add",
            token,
            json!({"link": "/anime/stream/attack-on-titan"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let list: Vec<Value> = episodes
        .iter()
        .map(|(s, e)| json!({"key": "attack-on-titan", "season": s, "episode": e}))
        .collect();
    let added: Value = app
        .post("/api/queue/add", token, json!({ "episodes": list }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        added["added"].as_array().map(Vec::len),
        Some(episodes.len()),
        "{added}"
    );
    let r = app.post("/api/queue/start", token, json!({})).await;
    assert_eq!(r.status(), 200);
}

/// The queue's items once every one of them completed (a failure fails the test).
async fn completed_items(app: &TestApp, token: &str, count: usize) -> Vec<Value> {
    wait_until(120, "the downloads to complete", || async {
        let status: Value = app
            .get("/api/queue/status", token)
            .await
            .json()
            .await
            .unwrap();
        let items = status["items"].as_array().cloned().unwrap_or_default();
        if let Some(failed) = items.iter().find(|i| i["status"] == "failed") {
            panic!("download failed: {failed}");
        }
        (items.len() == count && items.iter().all(|i| i["status"] == "completed")).then_some(items)
    })
    .await
}

async fn connections(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app.get("/api/connections", token).await;
    assert_eq!(r.status(), 200);
    r.json::<Vec<Value>>().await.unwrap()
}

async fn test_connection(app: &TestApp, token: &str, name: &str) -> Value {
    let r = app
        .post("/api/connections/test", token, json!({ "name": name }))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

fn plex_sections(library: &str) -> String {
    json!({"MediaContainer": {"size": 2, "Directory": [
        {"key": "1", "type": "movie", "title": "Movies", "Location": [{"id": 1, "path": "/srv/movies"}]},
        {"key": "2", "type": "show", "title": "Anime", "Location": [{"id": 2, "path": library}]}
    ]}})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_sends_its_request_after_a_real_download_and_after_test() {
    let site = FixtureSite::start().await;
    let webhook = Receiver::ok().await;
    let ntfy = Receiver::ok().await;
    let discord = Receiver::start(|_| Reply::Answer(204, String::new())).await;
    let jellyfin = Receiver::start(|s| {
        if s.uri == "/System/Info" {
            Reply::Answer(200, r#"{"ServerName":"jf-box","Version":"10.10.7"}"#.into())
        } else {
            Reply::Answer(204, String::new())
        }
    })
    .await;
    let emby = Receiver::start(|_| Reply::Answer(204, String::new())).await;
    // The library path is known once the app exists; the responder reads it from here.
    let library_root = Arc::new(Mutex::new(String::new()));
    let root = library_root.clone();
    let plex = Receiver::start(move |s| {
        if s.uri == "/library/sections" {
            Reply::Answer(200, plex_sections(&root.lock().unwrap()))
        } else {
            Reply::Answer(200, String::new())
        }
    })
    .await;
    let config = fixture_config(
        &site,
        json!([
            {"name": "hook", "kind": "webhook", "url": format!("{}/hooks/aniworld", webhook.url), "token": "wh-secret-1"},
            {"name": "phone", "kind": "ntfy", "url": format!("{}/downloads", ntfy.url), "token": "tk_ntfy-secret"},
            {"name": "chat", "kind": "discord", "url": format!("{}/api/webhooks/42/discord-secret", discord.url)},
            {"name": "jellyfin", "kind": "jellyfin", "url": jellyfin.url, "token": "jf-key-secret"},
            {"name": "emby", "kind": "emby", "url": format!("{}/emby", emby.url), "token": "emby-key-secret"},
            {"name": "plex", "kind": "plex", "url": plex.url, "token": "plex-token-secret"}
        ]),
    );
    let app = spawn_app_with(config).await;
    let library = app.dir.path().join("library");
    *library_root.lock().unwrap() = library.display().to_string();
    let token = app.token().await;

    queue_episodes(&app, &token, &[(1, 1)]).await;
    let item = completed_items(&app, &token, 1).await.remove(0);
    let path = item["path"].as_str().unwrap().to_owned();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(std::path::Path::new(&path).starts_with(&library), "{path}");

    // Webhook: the documented JSON body, bearer token.
    let hook = webhook.wait_for(1).await.remove(0);
    // The language the download used is the one in the file name.
    let language = hook.json()["language"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        path.contains(&format!("({language})")),
        "{language:?} {path}"
    );
    assert_eq!(
        (hook.method.as_str(), hook.uri.as_str()),
        ("POST", "/hooks/aniworld")
    );
    assert_eq!(hook.header("authorization"), Some("Bearer wh-secret-1"));
    assert_eq!(hook.header("content-type"), Some("application/json"));
    let mut body = hook.json();
    let timestamp = body
        .as_object_mut()
        .unwrap()
        .remove("timestamp")
        .expect("timestamp");
    assert!(
        chrono::DateTime::parse_from_rfc3339(timestamp.as_str().unwrap()).is_ok(),
        "{timestamp}"
    );
    assert_eq!(
        body,
        json!({
            "event": "download_completed",
            "key": "attack-on-titan",
            "site": "aniworld",
            "folder": "Attack on Titan (2013)",
            "name": "Attack on Titan",
            "season": 1,
            "episode": 1,
            "language": language,
            "path": path,
            "size": size,
        })
    );

    // ntfy: short text with title and tags.
    let note = ntfy.wait_for(1).await.remove(0);
    assert_eq!(
        (note.method.as_str(), note.uri.as_str()),
        ("POST", "/downloads")
    );
    assert_eq!(note.header("title"), Some("Download completed"));
    assert_eq!(note.header("tags"), Some("white_check_mark"));
    assert_eq!(note.header("authorization"), Some("Bearer tk_ntfy-secret"));
    assert_eq!(
        note.body,
        format!("Attack on Titan S01E01 ({language}) downloaded")
    );

    // Discord: an embed with series, episode and language.
    let post = discord.wait_for(1).await.remove(0);
    assert_eq!(
        (post.method.as_str(), post.uri.as_str()),
        ("POST", "/api/webhooks/42/discord-secret")
    );
    let embed = post.json()["embeds"][0].clone();
    assert_eq!(embed["title"], "Download completed");
    assert_eq!(
        embed["fields"],
        json!([
            {"name": "Series", "value": "Attack on Titan", "inline": true},
            {"name": "Episode", "value": "S01E01", "inline": true},
            {"name": "Language", "value": language, "inline": true}
        ])
    );

    // Jellyfin: the new file's path, the key in the MediaBrowser authorization (and the legacy header).
    let jf = jellyfin.wait_for(1).await.remove(0);
    assert_eq!(
        (jf.method.as_str(), jf.uri.as_str()),
        ("POST", "/Library/Media/Updated")
    );
    assert_eq!(
        jf.header("authorization"),
        Some("MediaBrowser Token=\"jf-key-secret\"")
    );
    assert_eq!(jf.header("x-emby-token"), Some("jf-key-secret"));
    assert_eq!(
        jf.json(),
        json!({"Updates": [{"Path": path, "UpdateType": "Created"}]})
    );

    // Emby: same call below its base path, key in X-Emby-Token.
    let em = emby.wait_for(1).await.remove(0);
    assert_eq!(
        (em.method.as_str(), em.uri.as_str()),
        ("POST", "/emby/Library/Media/Updated")
    );
    assert_eq!(em.header("x-emby-token"), Some("emby-key-secret"));
    assert_eq!(em.header("authorization"), None);
    assert_eq!(
        em.json(),
        json!({"Updates": [{"Path": path, "UpdateType": "Created"}]})
    );

    // Plex: finds the section holding the file, refreshes the file's folder in it.
    let px = plex.wait_for(2).await;
    assert_eq!(
        (px[0].method.as_str(), px[0].uri.as_str()),
        ("GET", "/library/sections")
    );
    assert_eq!(px[0].header("x-plex-token"), Some("plex-token-secret"));
    assert_eq!(px[0].header("accept"), Some("application/json"));
    let folder = std::path::Path::new(&path)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let expected = format!(
        "/library/sections/2/refresh?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("path", &folder)
            .finish()
    );
    assert_eq!(
        (px[1].method.as_str(), px[1].uri.as_str()),
        ("GET", expected.as_str())
    );
    assert_eq!(px[1].header("x-plex-token"), Some("plex-token-secret"));

    // Each delivery was recorded as the connection's last result.
    let rows = wait_until(10, "every connection's result", || async {
        let rows = connections(&app, &token).await;
        rows.iter().all(|r| r["last_ok"] == true).then_some(rows)
    })
    .await;
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hook", "phone", "chat", "jellyfin", "emby", "plex"]);
    for r in &rows {
        assert_eq!(r["last_error"], Value::Null, "{r}");
        assert!(r["last_at"].as_i64().unwrap() > 1_700_000_000, "{r}");
    }

    // Test deliveries.
    for r in [&webhook, &ntfy, &discord, &jellyfin, &emby, &plex] {
        r.clear();
    }
    let answer = test_connection(&app, &token, "hook").await;
    assert_eq!(
        answer,
        json!({"ok": true, "status": 200, "message": "HTTP 200"})
    );
    let t = webhook.wait_for(1).await.remove(0);
    assert_eq!(t.json()["event"], "test");
    assert_eq!(
        t.json()["message"],
        "Test notification from Aniworld Server (connection \"hook\")"
    );
    assert_eq!(t.header("authorization"), Some("Bearer wh-secret-1"));

    assert_eq!(test_connection(&app, &token, "phone").await["ok"], true);
    let t = ntfy.wait_for(1).await.remove(0);
    assert_eq!(t.header("title"), Some("Test"));
    assert_eq!(t.header("tags"), Some("test_tube"));
    assert_eq!(
        t.body,
        "Test notification from Aniworld Server (connection \"phone\")"
    );

    let answer = test_connection(&app, &token, "chat").await;
    assert_eq!(
        answer,
        json!({"ok": true, "status": 204, "message": "HTTP 204"})
    );
    assert_eq!(
        discord.wait_for(1).await[0].json()["embeds"][0]["title"],
        "Test"
    );

    let answer = test_connection(&app, &token, "jellyfin").await;
    assert_eq!(
        answer,
        json!({"ok": true, "status": 200, "message": "reached jf-box (version 10.10.7)"})
    );
    let t = jellyfin.wait_for(1).await.remove(0);
    assert_eq!((t.method.as_str(), t.uri.as_str()), ("GET", "/System/Info"));
    assert_eq!(
        t.header("authorization"),
        Some("MediaBrowser Token=\"jf-key-secret\"")
    );

    assert_eq!(test_connection(&app, &token, "emby").await["ok"], true);
    let t = emby.wait_for(1).await.remove(0);
    assert_eq!(
        (t.method.as_str(), t.uri.as_str()),
        ("GET", "/emby/System/Info")
    );
    assert_eq!(t.header("x-emby-token"), Some("emby-key-secret"));

    let answer = test_connection(&app, &token, "plex").await;
    assert_eq!(
        answer,
        json!({"ok": true, "status": 200, "message": "reached Plex: 2 library sections"})
    );
    let t = plex.wait_for(1).await;
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].method.as_str(), t[0].uri.as_str()),
        ("GET", "/library/sections")
    );

    let unknown = app
        .post("/api/connections/test", &token, json!({"name": "nope"}))
        .await;
    crate::support::assert_error(unknown, 404).await;

    // No answer shows a secret: tokens are `***`, the Discord URL is shown as configured (not discord.com).
    let config_text = app.get("/api/config", &token).await.text().await.unwrap();
    let list_text = app
        .get("/api/connections", &token)
        .await
        .text()
        .await
        .unwrap();
    for secret in [
        "wh-secret-1",
        "tk_ntfy-secret",
        "jf-key-secret",
        "emby-key-secret",
        "plex-token-secret",
    ] {
        assert!(!config_text.contains(secret), "{secret} in {config_text}");
        assert!(!list_text.contains(secret), "{secret} in {list_text}");
    }
    let config: Value = serde_json::from_str(&config_text).unwrap();
    assert_eq!(config["connections"][0]["token"], "***");
    assert_eq!(config["connections"][2].get("token"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_500_leaves_the_download_completed_and_reports_the_error() {
    let site = FixtureSite::start().await;
    // Echoes the credentials it got, as some broken receivers do.
    let broken = Receiver::start(|s| {
        Reply::Answer(
            500,
            format!(
                "internal error for {}",
                s.header("authorization").unwrap_or_default()
            ),
        )
    })
    .await;
    let fine = Receiver::ok().await;
    let config = fixture_config(
        &site,
        json!([
            {"name": "broken", "kind": "webhook", "url": format!("{}/h", broken.url), "token": "tok-500-secret"},
            {"name": "fine", "kind": "webhook", "url": format!("{}/h", fine.url)}
        ]),
    );
    let app = spawn_app_with(config).await;
    app.server.state.connections().set_policy(DeliveryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(20),
        ..DeliveryPolicy::default()
    });
    let token = app.token().await;
    let ws_url = format!(
        "ws://{}/ws/connect?token={token}&rooms=system",
        app.server.addr
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();

    queue_episodes(&app, &token, &[(1, 1)]).await;
    completed_items(&app, &token, 1).await;

    let failed = loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("connection_failed within 30 s")
            .expect("socket open")
            .expect("no socket error");
        let Message::Text(text) = msg else { continue };
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["type"] == "connection_failed" {
            break v;
        }
    };
    assert_eq!(failed["data"]["name"], "broken");
    assert_eq!(failed["data"]["kind"], "webhook");
    assert_eq!(failed["data"]["event"], "download_completed");
    assert_eq!(failed["data"]["attempts"], 3);
    assert_eq!(
        failed["data"]["error"],
        "answered HTTP 500: internal error for Bearer ***"
    );
    // Three attempts, then it gave up.
    assert_eq!(broken.seen().len(), 3);

    let rows = connections(&app, &token).await;
    assert_eq!(rows[0]["name"], "broken");
    assert_eq!(rows[0]["last_ok"], false);
    assert_eq!(
        rows[0]["last_error"],
        "answered HTTP 500: internal error for Bearer ***"
    );
    assert_eq!(rows[1]["name"], "fine");
    assert_eq!(rows[1]["last_ok"], true);
    // The download itself is unaffected.
    let status: Value = app
        .get("/api/queue/status", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["items"][0]["status"], "completed", "{status}");

    let answer = test_connection(&app, &token, "broken").await;
    assert_eq!(
        answer,
        json!({"ok": false, "status": 500, "message": "answered HTTP 500: internal error for Bearer ***"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_never_holds_up_the_queue_and_times_out() {
    let site = FixtureSite::start().await;
    let hanging = Receiver::start(|_| Reply::Hang).await;
    let config = fixture_config(
        &site,
        json!([{"name": "slow", "kind": "webhook", "url": hanging.url}]),
    );
    let app = spawn_app_with(config).await;
    app.server.state.connections().set_policy(DeliveryPolicy {
        timeout: Duration::from_secs(3),
        attempts: 1,
        ..DeliveryPolicy::default()
    });
    let token = app.token().await;

    queue_episodes(&app, &token, &[(1, 1), (1, 2)]).await;
    completed_items(&app, &token, 2).await;
    // Both downloads finished while the first notification is still unanswered.
    let seen = hanging.wait_for(1).await;
    assert_eq!(seen.len(), 1, "the second waits behind the first");
    assert_eq!(connections(&app, &token).await[0]["last_ok"], Value::Null);

    let row = wait_until(30, "the timeout to be recorded", || async {
        let rows = connections(&app, &token).await;
        (rows[0]["last_ok"] == false).then(|| rows[0].clone())
    })
    .await;
    assert_eq!(row["last_error"], "no answer within 3 s");
}

/// The example connection script shipped in `scripts/`, also shown in the README.
const GOTIFY_SCRIPT: &str = include_str!("../../../scripts/gotify-connection.rhai");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_script_handles_a_kind_of_its_own() {
    let site = FixtureSite::start().await;
    let gotify = Receiver::ok().await;
    let config = fixture_config(
        &site,
        json!([
            {"name": "gotify", "kind": "script:gotify", "url": gotify.url, "token": "gotify-app-token",
             "events": ["download_completed", "download_failed"]},
            {"name": "missing", "kind": "script:nosuch", "url": gotify.url}
        ]),
    );
    let app = spawn_app_with(config).await;
    let token = app.token().await;
    // Dropped into the scripts folder and picked up by a reload, as a user would.
    let scripts = app.data_dir().join("scripts");
    std::fs::create_dir_all(&scripts).unwrap();
    std::fs::write(scripts.join("gotify-connection.rhai"), GOTIFY_SCRIPT).unwrap();
    let r = app.post("/api/plugins/reload", &token, json!({})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let plugins: Value = app.get("/api/plugins", &token).await.json().await.unwrap();
    let entry = plugins["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "gotify")
        .unwrap_or_else(|| panic!("{plugins}"))
        .clone();
    assert_eq!(entry["kind"], "connection");
    assert_eq!(entry["status"], "active");

    queue_episodes(&app, &token, &[(1, 1)]).await;
    completed_items(&app, &token, 1).await;
    let message = gotify.wait_for(1).await.remove(0);
    assert_eq!(
        (message.method.as_str(), message.uri.as_str()),
        ("POST", "/message")
    );
    assert_eq!(message.header("x-gotify-key"), Some("gotify-app-token"));
    assert_eq!(
        message.json(),
        json!({"title": "Download completed", "message": "Attack on Titan S01E01", "priority": 5})
    );

    gotify.clear();
    let answer = test_connection(&app, &token, "gotify").await;
    assert_eq!(
        answer,
        json!({"ok": true, "status": 200, "message": "HTTP 200"})
    );
    assert_eq!(gotify.wait_for(1).await[0].json()["title"], "Test");
    let answer = test_connection(&app, &token, "missing").await;
    assert_eq!(answer["ok"], false);
    assert_eq!(
        answer["message"],
        "no connection script with id \"nosuch\" is loaded (scripts.dir, meta().kind \"connection\")"
    );
    let rows = connections(&app, &token).await;
    assert_eq!(rows[0]["last_ok"], true);
    assert_eq!(rows[1]["last_ok"], false);
}

#[tokio::test]
async fn config_validation_names_the_bad_connection_and_keeps_stored_secrets() {
    let app = crate::support::spawn_app().await;
    let token = app.token().await;
    let bad = app
        .put(
            "/api/config",
            &token,
            json!({"connections": [
                {"name": "a", "kind": "webhook", "url": "http://127.0.0.1:9/a"},
                {"name": "b", "kind": "pager", "url": "http://127.0.0.1:9/b"}
            ]}),
        )
        .await;
    let body = crate::support::assert_error(bad, 422).await;
    assert!(body.to_string().contains("connections[1].kind"), "{body}");
    for (connection, field) in [
        (
            json!({"name": "a", "kind": "webhook", "url": "ftp://x/y"}),
            "connections[0].url",
        ),
        (
            json!({"name": "a", "kind": "webhook", "url": "http://x/y", "events": ["download_completed", "boom"]}),
            "connections[0].events[1]",
        ),
        (
            json!({"name": "a", "kind": "plex", "url": "http://x"}),
            "connections[0].token",
        ),
    ] {
        let v: Value = app
            .post(
                "/api/config/validate",
                &token,
                json!({ "connections": [connection] }),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v["valid"], false);
        assert_eq!(v["field"], field, "{v}");
    }

    let saved = app
        .put(
            "/api/config",
            &token,
            json!({"connections": [{"name": "jf", "kind": "jellyfin",
                "url": "http://admin:url-password@127.0.0.1:9/jf", "token": "jf-api-key"}]}),
        )
        .await;
    assert_eq!(saved.status(), 200);
    let shown: Value = app.get("/api/config", &token).await.json().await.unwrap();
    let c = &shown["connections"][0];
    assert_eq!(c["token"], "***");
    assert_eq!(c["url"], "http://admin:***@127.0.0.1:9/jf");
    // The UI sends back what it was shown, with another event: secrets stay.
    let mut edited = c.clone();
    edited["events"] = json!(["download_completed", "scan_completed"]);
    let r = app
        .put("/api/config", &token, json!({ "connections": [edited] }))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let file = std::fs::read_to_string(app.data_dir().join("config.json")).unwrap();
    let on_disk: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(on_disk["connections"][0]["token"], "jf-api-key");
    assert_eq!(
        on_disk["connections"][0]["url"],
        "http://admin:url-password@127.0.0.1:9/jf"
    );
    assert_eq!(
        on_disk["connections"][0]["events"],
        json!(["download_completed", "scan_completed"])
    );
    // A `***` with nothing stored behind it is refused, not saved.
    let r = app
        .put(
            "/api/config",
            &token,
            json!({"connections": [{"name": "new", "kind": "ntfy", "url": "http://127.0.0.1:9/t", "token": "***"}]}),
        )
        .await;
    let body = crate::support::assert_error(r, 422).await;
    assert!(body.to_string().contains("connections[0].token"), "{body}");
}

/// `aniworld serve` as a process with debug logging, its stderr in a file.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_api_answers_or_logs() {
    use std::process::Stdio;

    let echo = Receiver::start(|s| {
        Reply::Answer(
            500,
            format!(
                "denied {} {} {}",
                s.uri,
                s.header("authorization").unwrap_or_default(),
                s.header("x-plex-token").unwrap_or_default()
            ),
        )
    })
    .await;
    let host = echo.url.trim_start_matches("http://").to_owned();
    let secrets = [
        "hook-bearer-secret",
        "url-pass-secret",
        "query-token-secret",
        "ntfy-auth-secret",
        "plex-token-secret",
    ];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let library = dir.path().join("library");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&library).unwrap();
    let mut config = crate::support::base_config();
    config["connections"] = json!([
        {"name": "hook", "kind": "webhook",
         "url": format!("http://user:url-pass-secret@{host}/h?token=query-token-secret"),
         "token": "hook-bearer-secret", "events": ["scan_completed"]},
        {"name": "phone", "kind": "ntfy", "url": format!("http://{host}/t?auth=ntfy-auth-secret"),
         "events": ["scan_completed"]},
        {"name": "plex", "kind": "plex", "url": echo.url, "token": "plex-token-secret",
         "events": ["scan_completed"]}
    ]);
    std::fs::write(data.join("config.json"), config.to_string()).unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = aniworld_testkit::bin::aniworld()
        .env("ANIWORLD_LOG", "debug")
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--library")
        .arg(&library)
        .stderr(Stdio::from(log))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let read_log = || strip_ansi(&std::fs::read_to_string(&log_path).unwrap_or_default());
    let url = wait_until(30, "the server's address", || async {
        read_log()
            .lines()
            .find_map(|l| l.split("listening on ").nth(1).map(|u| u.trim().to_owned()))
    })
    .await;
    let http = reqwest::Client::new();
    let token = aniworld_testkit::bin::setup_and_login(&http, &url).await;
    let mut answers = String::new();
    for name in ["hook", "phone", "plex"] {
        let r = http
            .post(format!("{url}/api/connections/test"))
            .bearer_auth(&token)
            .json(&json!({ "name": name }))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(v["status"], 500, "{v}");
        answers.push_str(&v.to_string());
    }
    // The three receivers' echoes went through scrubbing: the secrets became `***`.
    assert!(answers.contains("Bearer ***"), "{answers}");
    assert!(answers.contains("token=***"), "{answers}");
    for path in ["/api/config", "/api/connections"] {
        answers.push_str(
            &http
                .get(format!("{url}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    // A scan reaches the background delivery path (which logs its failures) as well.
    let r = http
        .post(format!("{url}/api/anime/rescan"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    wait_until(30, "the background failures in the log", || async {
        let log = read_log();
        (["hook", "phone", "plex"]
            .iter()
            .all(|n| log.contains(&format!("connection={n}")) && log.contains("retrying")))
        .then_some(())
    })
    .await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    let log = read_log();
    assert!(log.contains("answered HTTP 500"), "{log}");
    for secret in secrets {
        assert!(
            !answers.contains(secret),
            "{secret} in an API answer: {answers}"
        );
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

/// The log without terminal colour codes.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
