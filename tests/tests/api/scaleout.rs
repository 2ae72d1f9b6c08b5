//! Several real `aniworld serve` processes on one PostgreSQL database (a fresh scratch database
//! per test on 127.0.0.1:5432) sharing one library folder, and `aniworld db migrate` from a
//! SQLite data dir into PostgreSQL.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aniworld_core::storage::scratch::ScratchPostgres;
use aniworld_testkit::FixtureSite;
use aniworld_testkit::app::{PASSWORD, base_config, merge};
use aniworld_testkit::bin::{ServerProcess, aniworld, setup_and_login, start_binary};
use aniworld_testkit::media;
use aniworld_testkit::redis::RedisServer;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "attack-on-titan";
const SERIES_FOLDER: &str = "Attack on Titan (2013)";

/// The config of one instance: the fixture site, the shared database, short leases.
fn instance_config(site: &FixtureSite, database_url: &str) -> Value {
    let mut config = base_config();
    merge(
        &mut config,
        json!({
            "providers": {
                "aniworld": {
                    "enabled": true,
                    "base_url": site.state.url("aniworld"),
                    "rate_limit": 1000.0,
                    "retries": 0
                }
            },
            "database": { "url": database_url },
            "download": {
                "max_parallel": 1,
                "lease_secs": 5,
                "hosters": ["Vidoza", "VOE", "Doodstream", "Vidmoly", "Streamtape"]
            }
        }),
    );
    config
}

fn write_config(data_dir: &Path, config: &Value) {
    std::fs::create_dir_all(data_dir).unwrap();
    std::fs::write(data_dir.join("config.json"), config.to_string()).unwrap();
}

struct Instance {
    process: ServerProcess,
    url: String,
}

fn start(data_dir: PathBuf, library: &Path) -> Instance {
    let (process, url) = start_binary(&data_dir, library);
    Instance { process, url }
}

async fn get(http: &reqwest::Client, url: &str, path: &str, token: &str) -> reqwest::Response {
    http.get(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    path: &str,
    token: &str,
    body: Value,
) -> reqwest::Response {
    http.post(format!("{url}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn login(http: &reqwest::Client, url: &str) -> String {
    let r = http
        .post(format!("{url}/api/auth/login"))
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login on {url}");
    let v: Value = r.json().await.unwrap();
    v["token"].as_str().unwrap().to_owned()
}

async fn queue_status(http: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = get(http, url, "/api/queue/status?per_page=100", token).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Polls `check` every 100 ms until it holds, at most `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn episode_file(library: &Path, season: u32, episode: u32) -> Option<PathBuf> {
    let dir = library
        .join(SERIES_FOLDER)
        .join(format!("Season {season:02}"));
    let tag = format!("S{season:02}E{episode:03}");
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.contains(&tag) && !name.ends_with(".part") && !name.starts_with('.')
        })
}

fn partial_len(library: &Path, season: u32, episode: u32) -> u64 {
    let dir = library
        .join(SERIES_FOLDER)
        .join(format!("Season {season:02}"));
    let tag = format!("S{season:02}E{episode:03}");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.contains(&tag) && name.ends_with(".part")
                })
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The ids of the items a `POST /api/queue/add` answer added.
fn added_ids(added: &Value) -> Vec<i64> {
    added["added"]
        .as_array()
        .unwrap_or_else(|| panic!("{added}"))
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

/// GETs of one video's MP4 on the fixture media server: (all, from its start).
fn media_gets(site: &FixtureSite, video: &str) -> (usize, usize) {
    let path = format!("/v/{video}.mp4");
    let gets: Vec<_> = site
        .state
        .requests()
        .into_iter()
        .filter(|r| r.server == "media" && r.method == "GET" && r.uri.starts_with(&path))
        .collect();
    let fresh = gets
        .iter()
        .filter(|r| r.headers.get("range").is_none_or(|v| v == "bytes=0-"))
        .count();
    (gets.len(), fresh)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_one_login_library_and_queue_and_take_over_a_killed_download() {
    let site = FixtureSite::start().await;
    let db = ScratchPostgres::create()
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (user postgres)");
    // Events fan out through a Redis of this test's own.
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library");
    std::fs::create_dir_all(&library).unwrap();
    let mut config = instance_config(&site, db.url());
    merge(
        &mut config,
        json!({ "database": { "redis_url": redis.url() } }),
    );
    let dirs: Vec<PathBuf> = ["a", "b", "c"].iter().map(|n| dir.path().join(n)).collect();
    for d in &dirs {
        write_config(d, &config);
    }
    let mut instances: Vec<Instance> = dirs.iter().map(|d| start(d.clone(), &library)).collect();
    let http = reqwest::Client::new();
    let urls: Vec<String> = instances.iter().map(|i| i.url.clone()).collect();

    // Set up on A, log in on B: the token is valid on every instance.
    let token_a = setup_and_login(&http, &urls[0]).await;
    let token = login(&http, &urls[1]).await;
    for url in &urls {
        assert_eq!(get(&http, url, "/api/anime", &token).await.status(), 200);
        assert_eq!(get(&http, url, "/api/anime", &token_a).await.status(), 200);
    }

    // A series added on A is listed by B and C.
    let r = post(
        &http,
        &urls[0],
        "/api/anime/add",
        &token,
        json!({ "link": format!("/anime/stream/{KEY}") }),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    for url in &urls[1..] {
        eventually(
            Duration::from_secs(10),
            "the series is listed everywhere",
            || async {
                let list: Value = get(&http, url, "/api/anime", &token)
                    .await
                    .json()
                    .await
                    .unwrap();
                list["items"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|i| i["key"] == KEY))
            },
        )
        .await;
    }

    // Five episodes queued on B, the queue started on C: all three instances download
    // (one at a time each), every episode exactly once.
    site.state.set_knob("media.rate", (1 << 20).to_string());
    site.state
        .set_knob("media.mp4_size", (1536 << 10).to_string());
    let episodes = [(0, 1), (0, 2), (1, 1), (1, 2), (2, 1)];
    let requests: Vec<Value> = episodes
        .iter()
        .map(|(s, e)| json!({ "key": KEY, "season": s, "episode": e }))
        .collect();
    let added: Value = post(
        &http,
        &urls[1],
        "/api/queue/add",
        &token,
        json!({ "episodes": requests }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(added["added"].as_array().unwrap().len(), 5, "{added}");
    // A WebSocket client on every instance, listening before the queue starts.
    let watchers: Vec<_> = {
        let mut watchers = Vec::new();
        for url in &urls {
            watchers.push(tokio::spawn(watch_downloads(url.clone(), token.clone(), 5)));
        }
        watchers
    };
    assert_eq!(
        post(&http, &urls[2], "/api/queue/start", &token, json!({}))
            .await
            .status(),
        200
    );
    // Every instance follows the shared start.
    for url in &urls {
        eventually(
            Duration::from_secs(5),
            "the queue runs everywhere",
            || async { queue_status(&http, url, &token).await["running"] == true },
        )
        .await;
    }
    // One download per instance at most: more than one at a time means several instances.
    let mut most_at_once = 0;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = queue_status(&http, &urls[0], &token).await;
        most_at_once = most_at_once.max(status["downloading"].as_u64().unwrap_or(0));
        assert_eq!(status["failed"], 0, "{status}");
        if status["completed"] == 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not all five completed: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        most_at_once >= 2,
        "never more than one download at a time: the instances did not share the queue"
    );
    let status = queue_status(&http, &urls[2], &token).await;
    let items = status["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "{status}");
    for item in items {
        assert_eq!(item["status"], "completed", "{item}");
        assert_eq!(item["attempts"], 1, "claimed more than once: {item}");
    }
    for (s, e) in episodes {
        let file = episode_file(&library, s, e)
            .unwrap_or_else(|| panic!("S{s}E{e} is not in the library"));
        assert!(file.metadata().unwrap().len() > 0);
    }
    // WebSocket clients on every instance saw the progress and completion of every item,
    // whichever instance downloaded it (Redis fan-out).
    let ids: std::collections::BTreeSet<i64> =
        items.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    for (url, watcher) in urls.iter().zip(watchers) {
        let seen = watcher.await.unwrap();
        assert_eq!(seen.progress, ids, "progress seen by the client on {url}");
        assert_eq!(
            seen.completed, ids,
            "completions seen by the client on {url}"
        );
    }

    // A logout on C revokes its token on every instance.
    let token_c = login(&http, &urls[2]).await;
    assert_eq!(
        get(&http, &urls[0], "/api/anime", &token_c).await.status(),
        200
    );
    assert!(
        post(&http, &urls[2], "/api/auth/logout", &token_c, json!({}))
            .await
            .status()
            .is_success()
    );
    for url in &urls {
        eventually(
            Duration::from_secs(5),
            "the logged-out token is refused",
            || async { get(&http, url, "/api/anime", &token_c).await.status() == 401 },
        )
        .await;
    }
    assert_eq!(
        get(&http, &urls[0], "/api/anime", &token).await.status(),
        200
    );

    // Only A is left; it downloads a slow episode. B comes back while A holds the live lease
    // and does not take it; A is killed; B takes it over after the lease ran out and finishes
    // it from the partial file, byte for byte.
    for i in [1, 2] {
        let mut p = instances.remove(1);
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &p.process.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while p.process.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "instance {i} did not stop");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let video = format!("{KEY}-s1e3-de");
    site.state.set_knob("media.rate", (512 << 10).to_string());
    site.state.set_knob("media.mp4_size", (3 << 20).to_string());
    let added: Value = post(
        &http,
        &urls[0],
        "/api/queue/add",
        &token,
        json!({ "episodes": [{ "key": KEY, "season": 1, "episode": 3 }] }),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = added["added"][0]["id"].as_i64().unwrap();
    eventually(Duration::from_secs(20), "A downloads S1E3", || async {
        partial_len(&library, 1, 3) > 256 << 10
    })
    .await;
    let b = start(dirs[1].clone(), &library);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        media_gets(&site, &video),
        (1, 1),
        "the new instance took a download whose lease was live"
    );
    let mut a = instances.remove(0);
    a.process.kill().expect("SIGKILL");
    a.process.wait().unwrap();
    let killed_at = Instant::now();
    let kept = partial_len(&library, 1, 3);
    assert!(kept > 0);
    site.state.clear_knob("media.rate");
    eventually(
        Duration::from_secs(40),
        "B finishes the killed download",
        || async {
            let status = queue_status(&http, &b.url, &token).await;
            status["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["id"] == id && i["status"] == "completed")
        },
    )
    .await;
    assert!(
        killed_at.elapsed() >= Duration::from_secs(3),
        "taken over before the lease could run out"
    );
    let file = episode_file(&library, 1, 3).expect("S1E3 in the library");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        media::expected_mp4(&site.state, &video),
        "the taken-over download is not byte-exact"
    );
    let (gets, fresh) = media_gets(&site, &video);
    assert_eq!(fresh, 1, "the takeover started over instead of resuming");
    assert!(gets >= 2, "no resuming request after the takeover");
    assert_eq!(partial_len(&library, 1, 3), 0, "a partial file was left");
    drop(b);
    drop(instances);
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_migrate_moves_a_sqlite_data_dir_to_postgres_and_new_rows_do_not_collide() {
    let site = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let library = dir.path().join("library");
    std::fs::create_dir_all(&library).unwrap();
    let mut config = instance_config(&site, "");
    config["download"]["hosters"] = json!(["Vidoza"]);
    write_config(&data, &config);

    // A SQLite data dir with a password, a series and queued episodes (the queue is stopped).
    let http = reqwest::Client::new();
    let (sqlite_server, url) = start_binary(&data, &library);
    let token = setup_and_login(&http, &url).await;
    let r = post(
        &http,
        &url,
        "/api/anime/add",
        &token,
        json!({ "link": format!("/anime/stream/{KEY}") }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let added: Value = post(
        &http,
        &url,
        "/api/queue/add",
        &token,
        json!({ "episodes": [
            { "key": KEY, "season": 1, "episode": 1 },
            { "key": KEY, "season": 1, "episode": 2 }
        ] }),
    )
    .await
    .json()
    .await
    .unwrap();
    let old_ids = added_ids(&added);
    assert_eq!(old_ids.len(), 2, "{added}");
    drop(sqlite_server);

    let db = ScratchPostgres::create().await.unwrap();
    let out = aniworld()
        .args(["db", "migrate", "--to", db.url(), "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("database.url") || stdout.contains("\"database\""),
        "{stdout}"
    );
    assert!(stdout.contains(db.url()), "{stdout}");

    // A second migration into the now filled database is refused, naming the problem.
    let again = aniworld()
        .args(["db", "migrate", "--to", db.url(), "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The server on the PostgreSQL URL: same password, same series and queue; old tokens stay
    // valid (the signing secret went along).
    config["database"]["url"] = json!(db.url());
    write_config(&data, &config);
    let (_pg_server, url) = start_binary(&data, &library);
    assert_eq!(get(&http, &url, "/api/anime", &token).await.status(), 200);
    let token = login(&http, &url).await;
    let list: Value = get(&http, &url, "/api/anime", &token)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["key"] == KEY),
        "{list}"
    );
    let status = queue_status(&http, &url, &token).await;
    let ids: Vec<i64> = status["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, old_ids);

    // New rows: another series and more queue items get fresh ids.
    let r = post(
        &http,
        &url,
        "/api/anime/add",
        &token,
        json!({ "link": "/anime/stream/one-punch-man" }),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let added: Value = post(
        &http,
        &url,
        "/api/queue/add",
        &token,
        json!({ "episodes": [
            { "key": KEY, "season": 1, "episode": 3 },
            { "key": "one-punch-man", "season": 1, "episode": 1 }
        ] }),
    )
    .await
    .json()
    .await
    .unwrap();
    let new_ids = added_ids(&added);
    assert_eq!(new_ids.len(), 2, "{added}");
    let max_old = *old_ids.iter().max().unwrap();
    assert!(
        new_ids.iter().all(|id| *id > max_old),
        "{new_ids:?} vs {old_ids:?}"
    );
    let list: Value = get(&http, &url, "/api/anime", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 2, "{list}");
    drop(_pg_server);
    db.drop_now().await;
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error_naming_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = base_config();
    config["database"] = json!({ "url": "postgres://postgres@127.0.0.1:9/nowhere" });
    write_config(&data, &config);
    let started = Instant::now();
    let out = aniworld()
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("127.0.0.1:9"), "{stderr}");
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Every command that opens the data dir says the same.
    let out = aniworld()
        .args(["search", "x", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:9"));
}

/// What one WebSocket client saw of the downloads.
struct SeenDownloads {
    progress: std::collections::BTreeSet<i64>,
    completed: std::collections::BTreeSet<i64>,
}

/// Connects to `url`'s WebSocket (rooms `downloads` and `download_progress`) and collects the
/// item ids of progress and completion events until `items` completions arrived (or 120 s).
async fn watch_downloads(url: String, token: String, items: usize) -> SeenDownloads {
    let ws = url.replace("http://", "ws://");
    let (mut socket, _) = tokio_tungstenite::connect_async(format!(
        "{ws}/ws/connect?token={token}&rooms=downloads,download_progress"
    ))
    .await
    .expect("ws connects");
    let mut seen = SeenDownloads {
        progress: Default::default(),
        completed: Default::default(),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while seen.completed.len() < items {
        let text = match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) | Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
        };
        let event: Value = serde_json::from_str(&text).unwrap();
        match event["type"].as_str() {
            Some("download_progress") => {
                if let Some(id) = event["data"]["progress"]["item_id"].as_i64() {
                    seen.progress.insert(id);
                }
            }
            Some("download_complete") => {
                let Some(id) = event["data"]["item_id"].as_i64() else {
                    continue;
                };
                seen.completed.insert(id);
            }
            _ => {}
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_on_one_instance_applies_on_the_others_but_server_and_database_stay() {
    let site = FixtureSite::start().await;
    let db = ScratchPostgres::create()
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (user postgres)");
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library");
    std::fs::create_dir_all(&library).unwrap();
    let config = instance_config(&site, db.url());
    let (a_dir, b_dir) = (dir.path().join("a"), dir.path().join("b"));
    write_config(&a_dir, &config);
    let mut b_config = config.clone();
    b_config["server"] = json!({ "body_limit": 123_456 });
    write_config(&b_dir, &b_config);
    let a = start(a_dir, &library);
    let b = start(b_dir.clone(), &library);
    let http = reqwest::Client::new();
    let token = setup_and_login(&http, &a.url).await;

    let r = http
        .put(format!("{}/api/config", a.url))
        .bearer_auth(&token)
        .json(&json!({ "download": { "max_parallel": 5 }, "server": { "body_limit": 654_321 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let started = Instant::now();
    eventually(Duration::from_secs(5), "B applies A's change", || async {
        let c: Value = get(&http, &b.url, "/api/config", &token)
            .await
            .json()
            .await
            .unwrap();
        c["download"]["max_parallel"] == 5
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let c: Value = get(&http, &b.url, "/api/config", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        c["server"]["body_limit"], 123_456,
        "server.* stays per instance"
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(b_dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        file["download"]["max_parallel"], 5,
        "written to B's config.json"
    );
    assert_eq!(
        file["database"]["url"],
        db.url(),
        "database.* stays per instance"
    );
    let status = queue_status(&http, &b.url, &token).await;
    assert_eq!(status["max_parallel"], 5, "in effect on B");
    drop((a, b));
    db.drop_now().await;
}
