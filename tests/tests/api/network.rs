//! Proxies, mirrors, site headers and dead sites, through the API against the fixture site (all on
//! 127.0.0.1): a forwarding proxy sees every request of a real download, a dead base URL falls over
//! to a mirror that is remembered across restarts, a site that keeps failing is "down" and calls
//! fail at once, and bad network settings are config errors naming the key.

use std::time::{Duration, Instant};

use aniworld_server::{App, AppOptions};
use aniworld_testkit::FixtureSite;
use aniworld_testkit::net::{DeadSite, Death, ForwardProxy, Socks5Proxy, refused_url};
use serde_json::{Value, json};

use crate::support::{TestApp, assert_error, base_config, spawn_app_with};

/// The fixture's aniworld and s.to with quick, unthrottled settings.
fn fixture_config(site: &FixtureSite) -> Value {
    let mut config = base_config();
    for id in ["aniworld", "sto"] {
        config["providers"][id] = json!({
            "enabled": true,
            "base_url": site.state.url(id),
            "rate_limit": 100.0,
            "retries": 0
        });
    }
    config
}

async fn search(app: &TestApp, token: &str, site: &str, query: &str) -> reqwest::Response {
    app.post(
        "/api/anime/search",
        token,
        json!({"query": query, "site": site}),
    )
    .await
}

async fn search_keys(app: &TestApp, token: &str, site: &str, query: &str) -> Vec<String> {
    let r = search(app, token, site, query).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|h| h["key"].as_str().unwrap().to_owned())
        .collect()
}

async fn health_site(app: &TestApp, id: &str) -> Value {
    let health: Value = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    health["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no site {id} in {health}"))
        .clone()
}

#[tokio::test]
async fn forward_proxy_sees_every_provider_hoster_and_media_request_of_a_queued_download() {
    let site = FixtureSite::start().await;
    let proxy = ForwardProxy::start().await;
    let mut config = fixture_config(&site);
    config["network"] = json!({ "proxy": proxy.url() });
    let app = spawn_app_with(config).await;
    let token = app.token().await;

    assert!(
        search_keys(&app, &token, "aniworld", "Attack")
            .await
            .contains(&"attack-on-titan".to_owned())
    );
    let r = app
        .post(
            "/api/anime/add",
            &token,
            json!({"link": "/anime/stream/attack-on-titan"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let added: Value = app
        .post(
            "/api/queue/add",
            &token,
            json!({"episodes": [{"key": "attack-on-titan", "season": 1, "episode": 1}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(added["added"][0]["id"].is_i64(), "{added}");
    assert_eq!(
        app.post("/api/queue/start", &token, json!({}))
            .await
            .status(),
        200
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let item = loop {
        let status: Value = app
            .get("/api/queue/status", &token)
            .await
            .json()
            .await
            .unwrap();
        let item = status["items"][0].clone();
        match item["status"].as_str() {
            Some("completed") => break item,
            Some("failed") => panic!("download failed: {item}"),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "download did not finish: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(std::path::Path::new(item["path"].as_str().unwrap()).is_file());

    // Every request the fixture answered came through the proxy: provider, hoster and media.
    let seen = site.state.requests();
    let servers: std::collections::BTreeSet<&str> =
        seen.iter().map(|r| r.server.as_str()).collect();
    assert!(servers.contains("aniworld"), "{servers:?}");
    assert!(servers.contains("media"), "{servers:?}");
    assert!(
        servers
            .iter()
            .any(|s| !matches!(*s, "aniworld" | "sto" | "media")),
        "no hoster was asked: {servers:?}"
    );
    for r in &seen {
        let url = format!("{}{}", site.url(&r.server), r.uri);
        assert!(proxy.saw(&url), "{url} did not go through the proxy");
    }
}

#[tokio::test]
async fn socks5_proxy_carries_the_site_traffic() {
    let site = FixtureSite::start().await;
    let socks = Socks5Proxy::start().await;
    let mut config = fixture_config(&site);
    config["network"] = json!({ "proxy": socks.url() });
    let app = spawn_app_with(config).await;
    let token = app.token().await;
    assert_eq!(
        search_keys(&app, &token, "sto", "breaking").await,
        ["breaking-bad"]
    );
    let sto = site.url("sto").trim_start_matches("http://").to_owned();
    assert!(socks.targets().contains(&sto), "{:?}", socks.targets());
}

#[tokio::test]
async fn dead_base_url_falls_over_to_a_mirror_that_is_used_first_from_then_on_also_after_a_restart()
{
    let site = FixtureSite::start().await;
    let dead = DeadSite::start(Death::Reset).await;
    let mirror = site.url("sto");
    let mut config = fixture_config(&site);
    config["providers"]["sto"]["base_url"] = json!(dead.url());
    config["providers"]["sto"]["mirrors"] = json!([mirror]);
    let app = spawn_app_with(config).await;
    let token = app.token().await;
    assert_eq!(health_site(&app, "sto").await["base_url"], dead.url());

    assert_eq!(
        search_keys(&app, &token, "sto", "breaking").await,
        ["breaking-bad"]
    );
    let tried = dead.connections();
    assert!(tried >= 1, "the base URL was not tried first");
    // Links point at the mirror that answered.
    let hits: Value = search(&app, &token, "sto", "dark")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        hits[0]["link"].as_str().unwrap().starts_with(&mirror),
        "{hits}"
    );
    assert_eq!(
        dead.connections(),
        tried,
        "the second call went to the dead base URL"
    );
    let health = health_site(&app, "sto").await;
    assert_eq!(health["base_url"], mirror, "{health}");
    assert_eq!(health["base_urls"], json!([dead.url(), mirror]));
    let plugins: Value = app.get("/api/plugins", &token).await.json().await.unwrap();
    let entry = plugins["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "sto" && p["kind"] == "provider")
        .unwrap()
        .clone();
    assert_eq!(entry["base_url"], mirror, "{entry}");

    // Remembered across a restart: the first call goes straight to the mirror.
    let app = app.restart().await;
    let token = app.login().await;
    assert_eq!(health_site(&app, "sto").await["base_url"], mirror);
    assert_eq!(
        search_keys(&app, &token, "sto", "breaking").await,
        ["breaking-bad"]
    );
    assert_eq!(
        dead.connections(),
        tried,
        "after the restart the dead base URL was asked"
    );
}

#[tokio::test]
async fn configured_headers_reach_the_site_and_changes_apply_without_a_restart() {
    let site = FixtureSite::start().await;
    let mut config = fixture_config(&site);
    config["providers"]["aniworld"]["headers"] = json!({
        "Cookie": "cf_clearance=abc123",
        "User-Agent": "HandedOver/1.0",
        "X-Extra": "yes"
    });
    let app = spawn_app_with(config).await;
    let token = app.token().await;
    search_keys(&app, &token, "aniworld", "Attack").await;
    let r = site
        .state
        .requests()
        .into_iter()
        .find(|r| r.server == "aniworld")
        .unwrap();
    assert!(
        r.headers["cookie"].contains("cf_clearance=abc123"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.headers["user-agent"], "HandedOver/1.0");
    assert_eq!(r.headers["x-extra"], "yes");

    // The cookie is a secret: shown as ***, and *** sent back keeps it.
    let shown: Value = app.get("/api/config", &token).await.json().await.unwrap();
    let headers = &shown["providers"]["aniworld"]["headers"];
    assert_eq!(headers["Cookie"], "***", "{headers}");
    assert_eq!(headers["User-Agent"], "HandedOver/1.0");
    let r = app
        .put(
            "/api/config",
            &token,
            json!({"providers": {"aniworld": {"headers": {
                "Cookie": "***",
                "User-Agent": "Browser/2.0"
            }}}}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    site.state.clear_requests();
    search_keys(&app, &token, "aniworld", "Attack").await;
    let r = site
        .state
        .requests()
        .into_iter()
        .find(|r| r.server == "aniworld")
        .unwrap();
    assert!(
        r.headers["cookie"].contains("cf_clearance=abc123"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.headers["user-agent"], "Browser/2.0");
    assert!(
        !r.headers.contains_key("x-extra"),
        "the removed header was sent"
    );
}

#[tokio::test]
async fn a_failing_site_is_down_calls_fail_at_once_until_the_cooldown_ends_and_success_clears_it() {
    let site = FixtureSite::start().await;
    let mut config = fixture_config(&site);
    config["providers"]["sto"]["retries"] = json!(2);
    config["network"] = json!({ "cooldown": 1, "max_cooldown": 2 });
    let app = spawn_app_with(config).await;
    let token = app.token().await;
    site.state.set_knob("sto.fail_next", "1000");

    // One failing search (three attempts) makes the site down.
    let body = assert_error(search(&app, &token, "sto", "breaking").await, 502).await;
    assert_eq!(body["error"], "upstream_error", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("503"), "{message}");
    assert!(!message.contains("http error"), "{message}");
    let asked = site.state.requests().len();
    assert_eq!(asked, 3);

    for _ in 0..3 {
        let start = Instant::now();
        let r = search(&app, &token, "sto", "breaking").await;
        let took = start.elapsed();
        let body = assert_error(r, 503).await;
        assert!(took < Duration::from_millis(100), "took {took:?}");
        assert_eq!(body["error"], "site_down", "{body}");
        assert_eq!(body["details"]["site"], "sto");
        assert!(
            body["details"]["retry_in_secs"].as_u64().unwrap() <= 1,
            "{body}"
        );
        assert!(
            body["message"].as_str().unwrap().contains("sto is down"),
            "{body}"
        );
    }
    assert_eq!(
        site.state.requests().len(),
        asked,
        "the down site was asked"
    );
    let health = health_site(&app, "sto").await;
    assert_eq!(health["down"], true, "{health}");
    assert!(
        health["error"].as_str().unwrap().contains("503"),
        "{health}"
    );

    // Back up: once the cooldown is over the next call goes through and clears the state.
    site.state.set_knob("sto.fail_next", "0");
    let deadline = Instant::now() + Duration::from_secs(5);
    while health_site(&app, "sto").await["down"] == true {
        assert!(Instant::now() < deadline, "the cooldown did not end");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        search_keys(&app, &token, "sto", "breaking").await,
        ["breaking-bad"]
    );
    assert_eq!(health_site(&app, "sto").await["down"], false);
}

#[tokio::test]
async fn a_site_that_never_answers_times_out_once_then_fails_fast() {
    let site = FixtureSite::start().await;
    let dead = DeadSite::start(Death::Hang).await;
    let mut config = fixture_config(&site);
    config["providers"]["sto"]["base_url"] = json!(dead.url());
    config["providers"]["sto"]["timeout"] = json!(1);
    config["network"] = json!({ "down_after": 1 });
    let app = spawn_app_with(config).await;
    let token = app.token().await;
    let body = assert_error(search(&app, &token, "sto", "x").await, 504).await;
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&dead.addr.to_string()) && message.contains("timeout"),
        "{message}"
    );
    let start = Instant::now();
    let body = assert_error(search(&app, &token, "sto", "x").await, 503).await;
    assert!(start.elapsed() < Duration::from_millis(100));
    assert_eq!(body["error"], "site_down");
    assert_eq!(body["details"]["retry_in_secs"], 30, "{body}");
}

#[tokio::test]
async fn an_unreachable_site_says_what_failed_and_where() {
    let site = FixtureSite::start().await;
    let gone = refused_url().await;
    let mut config = fixture_config(&site);
    config["providers"]["aniworld"]["base_url"] = json!(gone);
    let app = spawn_app_with(config).await;
    let token = app.token().await;
    let body = assert_error(search(&app, &token, "aniworld", "x").await, 502).await;
    let message = body["message"].as_str().unwrap();
    let host = gone.trim_start_matches("http://");
    assert_eq!(message, format!("aniworld: connection to {host} refused"));
}

#[tokio::test]
async fn a_proxy_that_refuses_connections_is_reported_as_such_not_as_the_site_being_down() {
    let site = FixtureSite::start().await;
    let mut config = fixture_config(&site);
    config["network"] = json!({ "proxy": refused_url().await, "down_after": 1 });
    let app = spawn_app_with(config).await;
    let token = app.token().await;
    for _ in 0..3 {
        let body = assert_error(search(&app, &token, "aniworld", "Attack").await, 502).await;
        assert_eq!(body["error"], "proxy_error", "{body}");
        assert_eq!(body["details"]["field"], "network.proxy");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("refused the connection"), "{message}");
    }
    assert_eq!(health_site(&app, "aniworld").await["down"], false);
    assert!(site.state.requests().is_empty());
}

#[tokio::test]
async fn bad_proxy_urls_and_mirrors_are_config_errors_naming_the_key() {
    let app = spawn_app_with(base_config()).await;
    let token = app.token().await;
    let cases = [
        (
            json!({"network": {"proxy": "ftp://127.0.0.1:21"}}),
            "network.proxy",
        ),
        (json!({"network": {"proxy": "not a url"}}), "network.proxy"),
        (
            json!({"providers": {"sto": {"proxy": "socks5://"}}}),
            "providers.sto.proxy",
        ),
        (
            json!({"providers": {"sto": {"mirrors": ["https://serienstream.to", "serienstream.cx"]}}}),
            "providers.sto.mirrors[1]",
        ),
        (
            json!({"providers": {"sto": {"headers": {"Bad Name": "x"}}}}),
            "providers.sto.headers.Bad Name",
        ),
        (
            json!({"network": {"cooldown": 60, "max_cooldown": 30}}),
            "network.max_cooldown",
        ),
    ];
    for (patch, key) in cases {
        let body = assert_error(app.put("/api/config", &token, patch.clone()).await, 422).await;
        assert_eq!(body["details"]["field"], key, "{patch} → {body}");
    }

    // The same at start: the server refuses to start and names the key.
    let mut config = base_config();
    config["network"] = json!({"proxy": "http//127.0.0.1:3128"});
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    let err = App::build(AppOptions {
        data_dir: dir.path().to_path_buf(),
        library: Some(dir.path().join("library")),
        bind: None,
    })
    .await
    .err()
    .expect("a bad proxy URL stops the start");
    assert!(err.to_string().contains("network.proxy"), "{err}");
}

#[tokio::test]
async fn a_failing_hoster_is_down_and_later_downloads_skip_it_at_once() {
    let site = FixtureSite::start().await;
    site.state.set_knob("hoster.voe.status", "503");
    let mut config = fixture_config(&site);
    config["network"] = json!({ "down_after": 1 });
    config["download"] = json!({ "max_parallel": 1, "attempts_per_candidate": 1 });
    let app = spawn_app_with(config).await;
    let token = app.token().await;
    let r = app
        .post(
            "/api/anime/add",
            &token,
            json!({"link": "/anime/stream/attack-on-titan"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let added: Value = app
        .post(
            "/api/queue/add",
            &token,
            json!({"episodes": [
                {"key": "attack-on-titan", "season": 1, "episode": 1},
                {"key": "attack-on-titan", "season": 1, "episode": 2}
            ]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(added["added"].as_array().unwrap().len(), 2, "{added}");
    app.post("/api/queue/start", &token, json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status: Value = app
            .get("/api/queue/status", &token)
            .await
            .json()
            .await
            .unwrap();
        let items = status["items"].as_array().unwrap();
        if items.iter().all(|i| i["status"] == "completed") {
            break;
        }
        assert!(
            !items.iter().any(|i| i["status"] == "failed"),
            "a download failed: {status}"
        );
        assert!(
            Instant::now() < deadline,
            "downloads did not finish: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // VOE (first in the hoster preference) was asked once; the second episode went straight on.
    let voe = site
        .state
        .requests()
        .iter()
        .filter(|r| r.server == "voe")
        .count();
    assert_eq!(voe, 1);
    let health: Value = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["hosters_down"][0]["name"], "VOE", "{health}");
    assert!(
        health["hosters_down"][0]["error"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{health}"
    );
}
