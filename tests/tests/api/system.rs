//! `/health`, Swagger UI, the web UI, and `aniworld serve` as a real process.

use std::time::Duration;

use serde_json::Value;

use crate::support::spawn_app;

#[tokio::test]
async fn health_is_public_and_reports_the_database() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["ok"], true);
    assert!(body.as_object().unwrap().contains_key("queue"), "{body}");
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    // No CDN: every script/stylesheet is inline.
    assert!(
        !html.contains("src=\"http"),
        "external script in Swagger UI"
    );
    let spec: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["paths"]["/health"].is_object());
}

#[tokio::test]
async fn web_ui_index_is_served_at_the_root() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        r.headers()
    );
    assert!(r.text().await.unwrap().contains("Aniworld"));
}

use aniworld_testkit::bin::{ServerProcess, start_binary, start_binary_with};

/// Sends SIGTERM and waits (at most 15 s) for a clean exit.
async fn terminate(child: &mut std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not stop on SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn serve_binary_answers_health_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start_binary(&dir.path().join("data"), &dir.path().join("library"));
    let body: Value = reqwest::get(format!("{url}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok");
    assert!(dir.path().join("data/config.json").exists());
    terminate(&mut child).await;
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_mid_download_keeps_the_partial_file_and_the_next_start_finishes_it() {
    use serde_json::json;
    let site = aniworld_testkit::FixtureSite::start().await;
    site.state.set_knob("media.rate", "40000");
    site.state.set_knob("hls.segment_delay_ms", "200");
    site.state.set_knob("hls.segments", "12");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let library = dir.path().join("library");
    std::fs::create_dir_all(&data).unwrap();
    let mut config = crate::support::base_config();
    config["providers"]["aniworld"] = json!({
        "enabled": true, "base_url": site.state.url("aniworld"), "rate_limit": 100.0, "retries": 0
    });
    std::fs::write(data.join("config.json"), config.to_string()).unwrap();
    let (mut child, url) = start_binary(&data, &library);
    let http = reqwest::Client::new();
    let token = aniworld_testkit::bin::setup_and_login(&http, &url).await;
    let post = |path: &str, body: Value| {
        http.post(format!("{url}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    assert_eq!(
        post(
            "/api/anime/add",
            json!({"link": "/anime/stream/attack-on-titan"})
        )
        .await
        .unwrap()
        .status(),
        201
    );
    post(
        "/api/queue/add",
        json!({"episodes": [{"key": "attack-on-titan", "season": 1, "episode": 1}]}),
    )
    .await
    .unwrap();
    post("/api/queue/start", json!({})).await.unwrap();
    // Wait until the download has written something, then stop the server.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s: Value = http
            .get(format!("{url}/api/queue/status"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let item = &s["items"][0];
        if item["status"] == "downloading" && item["bytes"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert_ne!(
            item["status"], "completed",
            "download finished too fast to interrupt"
        );
        assert_ne!(item["status"], "failed", "{s}");
        assert!(
            std::time::Instant::now() < deadline,
            "download never started: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    terminate(&mut child).await;
    let partial: Vec<_> = files_under(&library)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".part"))
        .collect();
    assert!(
        !partial.is_empty(),
        "no partial file kept: {:?}",
        files_under(&library)
    );

    // Next start: the queue was running, so it carries on and finishes the episode.
    let (mut child, url) = start_binary(&data, &library);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let item = loop {
        let s: Value = http
            .get(format!("{url}/api/queue/status"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let item = s["items"][0].clone();
        if item["status"] == "completed" {
            break item;
        }
        assert_ne!(item["status"], "failed", "{s}");
        assert!(
            std::time::Instant::now() < deadline,
            "download did not resume: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let path = std::path::PathBuf::from(item["path"].as_str().unwrap());
    assert!(path.exists(), "{}", path.display());
    assert_eq!(s_len(&path), item["bytes"].as_u64().unwrap());
    terminate(&mut child).await;
}

fn s_len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

#[tokio::test]
async fn cors_is_off_by_default_and_allows_only_configured_origins() {
    let app = crate::support::spawn_app().await;
    let r = app
        .http
        .get(app.url("/health"))
        .header("Origin", "http://ui.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let mut config = crate::support::base_config();
    config["server"] = serde_json::json!({ "cors_origins": ["http://ui.example"] });
    let app = crate::support::spawn_app_with(config).await;
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/api/config"))
        .header("Origin", "http://ui.example")
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("http://ui.example"),
        "{:?}",
        preflight.headers()
    );
    let other = app
        .http
        .get(app.url("/health"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_ne!(
        other
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("http://evil.example")
    );
}

#[test]
fn serve_refuses_a_database_url_it_cannot_use_instead_of_falling_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = aniworld_testkit::bin::aniworld()
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("ANIWORLD_DATABASE__URL", "postgres://127.0.0.1/test")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("database.url") && stderr.contains("Postgres"),
        "{stderr}"
    );
    assert!(!data.join("aniworld.db").exists(), "fell back to SQLite");
}

#[cfg(unix)]
#[tokio::test]
async fn serve_uses_the_sqlite_file_a_database_url_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("elsewhere.db");
    let mut cmd = aniworld_testkit::bin::aniworld();
    cmd.env(
        "ANIWORLD_DATABASE__URL",
        format!("sqlite://{}", db.display()),
    );
    let (mut child, url) =
        start_binary_with(cmd, &dir.path().join("data"), &dir.path().join("library"));
    let health = reqwest::get(format!("{url}/health")).await.unwrap();
    assert!(health.status().is_success());
    assert!(db.exists(), "the named SQLite file was not created");
    assert!(!dir.path().join("data/aniworld.db").exists());
    terminate(&mut child).await;
}

/// `aniworld serve` with the open-file limit set to `nofile` (through `sh -c ulimit`, which then
/// execs the server, so the pid is the server's).
#[cfg(unix)]
fn start_binary_with_fd_limit(
    nofile: u32,
    data_dir: &std::path::Path,
    library: &std::path::Path,
) -> (ServerProcess, String) {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
        .arg(aniworld_testkit::bin::aniworld_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("ANIWORLD_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("ANIWORLD_LOG", "warn");
    start_binary_with(cmd, data_dir, library)
}

/// A data dir whose config has a short header timeout (seconds).
fn data_dir_with_header_timeout(root: &std::path::Path, secs: u64) -> std::path::PathBuf {
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut config = crate::support::base_config();
    config["server"] = serde_json::json!({ "header_read_timeout": secs });
    std::fs::write(data.join("config.json"), config.to_string()).unwrap();
    data
}

/// Waits until the server closes `socket` (end of stream or reset); `false` on timeout.
async fn closed_by_server(socket: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// CPU seconds (user + system) a process has used so far.
#[cfg(target_os = "linux")]
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[cfg(unix)]
#[tokio::test]
async fn a_client_that_never_finishes_its_header_is_closed_after_the_header_timeout() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir_with_header_timeout(dir.path(), 2);
    let (_child, url) = start_binary(&data, &dir.path().join("library"));
    let addr = url.trim_start_matches("http://").to_owned();
    let mut half = tokio::net::TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let silent = tokio::net::TcpStream::connect(&addr).await;
    let mut silent = silent.unwrap();
    let started = std::time::Instant::now();
    assert!(
        closed_by_server(&mut half, Duration::from_secs(10)).await,
        "a half-sent header was still open after 10 s"
    );
    assert!(
        closed_by_server(&mut silent, Duration::from_secs(10)).await,
        "a client that sent nothing was still open after 10 s"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    // A keep-alive connection that went idle after its request is closed the same way.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut idle, Duration::from_secs(10)).await,
        "an idle keep-alive connection was still open after 10 s"
    );
}

/// Connection cap: 64 descriptors leave room for the cap the server derives (16), so it closes
/// the oldest half-open client for each newcomer.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn hundreds_of_half_open_clients_under_a_low_fd_limit_do_not_starve_health() {
    half_open_flood(64).await;
}

/// Out of descriptors: 32 are fewer than the server's own files plus its cap, so `accept` fails
/// with EMFILE; the server frees a descriptor and retries instead of spinning.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn half_open_clients_that_exhaust_the_fds_do_not_starve_health_or_spin() {
    half_open_flood(32).await;
}

#[cfg(target_os = "linux")]
async fn half_open_flood(nofile: u32) {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let data = data_dir_with_header_timeout(dir.path(), 3);
    let (child, url) = start_binary_with_fd_limit(nofile, &data, &dir.path().join("library"));
    let addr = url.trim_start_matches("http://").to_owned();
    let mut clients = Vec::new();
    for _ in 0..400 {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let _ = c
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await;
        clients.push(c);
    }
    // Generous: the header timeout (3 s) frees descriptors at the latest, and a loaded CI machine
    // can take seconds to schedule the server.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for attempt in 0..3 {
        let r = http
            .get(format!("{url}/health"))
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!("/health attempt {attempt} with 400 half-open clients: {e}")
            });
        assert_eq!(r.status(), 200);
    }
    // The accept loop waits instead of spinning while descriptors are short.
    let before = cpu_seconds(child.id());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_seconds(child.id()) - before;
    assert!(used < 1.0, "the server used {used:.2} s of CPU in 2 s");
    // Every half-open client is closed by the server (header timeout or room for newcomers).
    let results = futures::future::join_all(
        clients
            .iter_mut()
            .map(|c| closed_by_server(c, Duration::from_secs(20))),
    )
    .await;
    let open = results.iter().filter(|closed| !**closed).count();
    assert_eq!(
        open, 0,
        "{open} of 400 half-open clients still open after 20 s"
    );
    let r = http.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_ui_gets_a_content_security_policy_and_every_answer_frame_and_sniffing_protection() {
    let app = spawn_app().await;
    for path in ["/", "/js/app.js", "/app.css"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
    }
    for path in ["/health", "/api/auth/status", "/api/nope", "/docs/"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_dir_and_database_are_owner_only_and_fixed_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let app = spawn_app().await;
    app.token().await;
    let data = app.data_dir();
    assert_eq!(mode(&data), 0o700);
    for f in [
        "aniworld.db",
        "aniworld.db-wal",
        "aniworld.db-shm",
        "jwt_secret",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    // A data dir from an older version, world-readable: fixed at the next start.
    let dir = app.dir;
    app.server.shutdown().await;
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    for f in ["aniworld.db", "aniworld.db-wal", "aniworld.db-shm"] {
        std::fs::set_permissions(data.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let again = aniworld_server::App::build(aniworld_server::AppOptions {
        data_dir: data.clone(),
        library: Some(dir.path().join("library")),
        bind: None,
    })
    .await
    .unwrap();
    assert_eq!(mode(&data), 0o700);
    for f in ["aniworld.db", "aniworld.db-wal", "aniworld.db-shm"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    drop(again);
}

#[cfg(unix)]
#[tokio::test]
async fn a_second_ctrl_c_ends_serve_at_once_while_a_request_holds_the_shutdown() {
    // A site that accepts and never answers keeps a search request open for its whole timeout.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging_url = format!("http://{}", hanging.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hanging.accept().await {
            held.push(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut config = crate::support::base_config();
    config["providers"]["aniworld"] = serde_json::json!({
        "enabled": true, "base_url": hanging_url, "retries": 0, "timeout": 60
    });
    std::fs::write(data.join("config.json"), config.to_string()).unwrap();
    let (mut child, url) = start_binary(&data, &dir.path().join("library"));
    let http = reqwest::Client::new();
    let token = aniworld_testkit::bin::setup_and_login(&http, &url).await;
    let search = tokio::spawn({
        let http = http.clone();
        let url = url.clone();
        async move {
            let _ = http
                .post(format!("{url}/api/anime/search"))
                .bearer_auth(token)
                .json(&serde_json::json!({"query": "titan", "site": "aniworld"}))
                .send()
                .await;
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().to_string();
    let kill = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
    };
    // The first Ctrl-C starts a graceful shutdown that waits for the open search.
    assert!(kill("-INT").success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "still draining the open request"
    );
    assert!(kill("-INT").success());
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the second Ctrl-C did not end the server at once"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(exit.code(), Some(130), "{exit:?}");
    search.abort();
    holder.abort();
}
