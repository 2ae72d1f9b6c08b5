//! The script runtime through its real door: `.rhai` files in a scripts folder, loaded by
//! `ScriptHost`, driven through the registry, the event manager and `DownloadHooks`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aniworld_core::SeriesKey;
use aniworld_core::events::{CallbackManager, DownloadHooks, Event, EventContext, HookDecision};
use aniworld_core::registry::{ComponentStatus, Registry, Source};
use aniworld_scripts::{ScriptHost, ScriptHostConfig, ScriptLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn host_with(dir: &Path, settings: &[(&str, &str)]) -> (ScriptHost, Registry) {
    host_with_limits(dir, settings, ScriptLimits::default())
}

fn host_with_limits(
    dir: &Path,
    settings: &[(&str, &str)],
    limits: ScriptLimits,
) -> (ScriptHost, Registry) {
    let registry = Registry::new();
    let host = ScriptHost::new(
        registry.clone(),
        ScriptHostConfig {
            dir: dir.to_owned(),
            limits,
            settings: settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        },
        ScriptHost::default_client(),
    )
    .expect("script host");
    (host, registry)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write script");
}

fn shipped(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .expect("shipped script")
}

/// Runs a hook in every script, off the async runtime; results as text.
async fn run_hook(host: &ScriptHost, hook: &'static str) -> Vec<Result<String, String>> {
    let host = host.clone();
    tokio::task::spawn_blocking(move || {
        host.run_hook_blocking(hook, &aniworld_scripts::hooks::event_map(hook, None))
            .into_iter()
            .map(|(_, r)| r.map(|v| v.to_string()).map_err(|e| e.to_string()))
            .collect()
    })
    .await
    .expect("hook task")
}

fn context() -> EventContext {
    let mut c = EventContext::new(SeriesKey::parse("demo-show").expect("key"));
    c.site = Some("aniworld".into());
    c.folder = Some("Demo Show (2020)".into());
    c.season = Some(1);
    c.episode = Some(3);
    c.language = Some(aniworld_core::Language::GermanDub);
    c.path =
        Some("/library/Demo Show (2020)/Season 01/Demo Show - S01E003 - (German Dub).mp4".into());
    c
}

/// One recorded request: method, path, body.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// A loopback HTTP server answering every request with `status` and `body`, recording what it got.
async fn receiver(status: u16, body: &'static str) -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            let mut first = text.lines().next().unwrap_or("").split_whitespace();
                            let method = first.next().unwrap_or("").to_owned();
                            let path = first.next().unwrap_or("").to_owned();
                            let body_text = text[end + 4..].to_owned();
                            log.lock().expect("log").push((method, path, body_text));
                            let reply = format!(
                                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            );
                            let _ = sock.write_all(reply.as_bytes()).await;
                            return;
                        }
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), seen)
}

async fn wait_for(seen: &Seen, n: usize) {
    let until = Instant::now() + Duration::from_secs(5);
    while seen.lock().expect("log").len() < n && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_loop_is_stopped_within_one_second_and_reported() {
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "spin.rhai",
        "fn on_download_completed(e) { loop { } }\n",
    );
    // No operation limit: only the 1 s wall-clock limit can stop it.
    let limits = ScriptLimits {
        max_operations: 0,
        time_limit: Duration::from_secs(1),
        ..ScriptLimits::default()
    };
    let (host, _) = host_with_limits(dir.path(), &[], limits);
    host.reload().await;
    let callbacks = CallbackManager::new();
    host.attach(&callbacks);
    let mut events = callbacks.subscribe();
    let started = Instant::now();
    callbacks.emit(Event::DownloadCompleted {
        item_id: 1,
        context: context(),
        size: 10,
    });
    let failure = loop {
        match tokio::time::timeout(Duration::from_secs(3), events.recv()).await {
            Ok(Ok(Event::HookFailed {
                script,
                hook,
                error,
            })) => break (script, hook, error),
            Ok(Ok(_)) => continue,
            other => panic!("no HookFailed event: {other:?}"),
        }
    };
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(failure.0, "spin.rhai");
    assert_eq!(failure.1, "on_download_completed");
    assert!(failure.2.contains("time limit"), "{}", failure.2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_is_refused_at_compile_time() {
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "sneaky.rhai",
        "fn on_scan_completed(e) {\n  eval(\"1 + 1\")\n}\n",
    );
    let (host, _) = host_with(dir.path(), &[]);
    let statuses = host.reload().await;
    assert!(!statuses[0].active);
    let problem = statuses[0].error.clone().expect("error recorded");
    assert_eq!(problem.file, "sneaky.rhai");
    assert_eq!(problem.line, Some(2));
    assert!(problem.message.contains("eval"), "{}", problem.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeclared_domain_is_refused() {
    let (declared_url, declared_seen) = receiver(200, "ok").await;
    let dir = tempfile::tempdir().expect("dir");
    // Declares example.org only; the receiver runs on 127.0.0.1.
    write(
        dir.path(),
        "nosy.rhai",
        "fn meta() { #{ allowed_hosts: [\"example.org\"] } }\nfn on_scan_completed(e) { http_get(config(\"target\")) }\n",
    );
    let (host, _) = host_with(dir.path(), &[("target", &declared_url)]);
    host.reload().await;
    let results = run_hook(&host, "on_scan_completed").await;
    let err = results[0].clone().expect_err("refused");
    assert!(err.contains("not declared"), "{err}");
    assert!(
        declared_seen.lock().expect("log").is_empty(),
        "request went out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_outside_the_scripts_folder_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let outside = tempfile::tempdir().expect("outside");
    write(outside.path(), "evil.rhai", "fn x() { 1 }\n");
    let rel = format!(
        "../{}/evil",
        outside.path().file_name().expect("name").to_string_lossy()
    );
    write(
        dir.path(),
        "imp.rhai",
        &format!("fn on_scan_completed(e) {{ import \"{rel}\" as m; m::x() }}\n"),
    );
    let (host, _) = host_with(dir.path(), &[]);
    host.reload().await;
    let results = run_hook(&host, "on_scan_completed").await;
    let err = results[0].clone().expect_err("refused");
    assert!(
        err.contains("Module not found") || err.contains("imports are plain names"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_error_keeps_the_previous_version_active() {
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "h.rhai",
        "fn meta() { #{ kind: \"hoster\", name: \"Demo\", version: \"1\" } }\nfn extract(u) { #{ url: u + \"/v1.mp4\" } }\n",
    );
    let (host, registry) = host_with(dir.path(), &[]);
    host.reload().await;
    write(
        dir.path(),
        "h.rhai",
        "fn meta() { #{ kind: \"hoster\", name: \"Demo\", version: \"2\" } }\nfn extract(u) {\n  let x = ;\n}\n",
    );
    let statuses = host.reload().await;
    assert!(statuses[0].active);
    assert_eq!(statuses[0].version, "1");
    let problem = statuses[0].error.clone().expect("error reported");
    assert_eq!((problem.file.as_str(), problem.line), ("h.rhai", Some(3)));
    let media = registry
        .hoster("demo")
        .expect("still registered")
        .extract("http://x")
        .await
        .expect("v1 works");
    assert_eq!(media.url, "http://x/v1.mp4");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_hoster_overrides_a_builtin_of_the_same_name() {
    struct Builtin;
    #[async_trait::async_trait]
    impl aniworld_core::traits::Hoster for Builtin {
        fn name(&self) -> &str {
            "Vidoza"
        }
        async fn extract(
            &self,
            _: &str,
        ) -> aniworld_core::Result<aniworld_core::model::MediaSource> {
            Err(aniworld_core::Error::parse("builtin is broken"))
        }
    }
    let (site, _) = receiver(200, r#"<script>var p = { sourcesCode: [{ src: "/media/ep.mp4", type: "video/mp4" }] };</script>"#).await;
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "vidoza-hoster.rhai",
        &shipped("vidoza-hoster.rhai"),
    );
    let (host, registry) = host_with(dir.path(), &[("vidoza_mirror", &site)]);
    registry.register_hoster(
        Arc::new(Builtin),
        aniworld_core::registry::Origin::builtin(),
    );
    host.reload().await;
    let hoster = registry.hoster("VIDOZA").expect("registered");
    let media = hoster
        .extract(&format!("{site}/embed-abc.html"))
        .await
        .expect("script extractor");
    assert_eq!(media.url, format!("{site}/media/ep.mp4"));
    assert_eq!(
        media.headers.get("Referer").map(String::as_str),
        Some(format!("{site}/embed-abc.html").as_str())
    );
    let rows = registry.components();
    let active: Vec<_> = rows
        .iter()
        .filter(|r| r.id == "vidoza" && r.status == ComponentStatus::Active)
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].source, Source::Script);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_download_renames_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "rename.rhai",
        "fn before_download(e) { `${e.key} ${e.season}x${e.episode} [${e.language}].mp4` }\n",
    );
    let (host, _) = host_with(dir.path(), &[]);
    host.reload().await;
    let decision = host.before_download(&context(), "original.mp4").await;
    assert_eq!(
        decision,
        HookDecision::Rename("demo-show 1x3 [German Dub].mp4".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_download_returning_false_skips() {
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "skip.rhai",
        "fn before_download(e) { if e.episode == 3 { false } else { () } }\n",
    );
    let (host, _) = host_with(dir.path(), &[]);
    host.reload().await;
    assert_eq!(
        host.before_download(&context(), "x.mp4").await,
        HookDecision::Skip
    );
    let mut other = context();
    other.episode = Some(4);
    assert_eq!(
        host.before_download(&other, "x.mp4").await,
        HookDecision::Continue
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_download_cannot_rename_outside_the_folder() {
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "climb.rhai",
        "fn before_download(e) { \"../../etc/passwd\" }\n",
    );
    let (host, _) = host_with(dir.path(), &[]);
    host.reload().await;
    assert_eq!(
        host.before_download(&context(), "x.mp4").await,
        HookDecision::Continue
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_hook_posts_the_event_fields_after_a_completed_download() {
    let (url, seen) = receiver(200, "ok").await;
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "webhook-notify.rhai",
        &shipped("webhook-notify.rhai"),
    );
    let (host, _) = host_with(dir.path(), &[("webhook_url", &format!("{url}/hook"))]);
    let statuses = host.reload().await;
    assert!(statuses[0].active, "{statuses:?}");
    let callbacks = CallbackManager::new();
    host.attach(&callbacks);
    callbacks.emit(Event::DownloadCompleted {
        item_id: 9,
        context: context(),
        size: 4096,
    });
    wait_for(&seen, 1).await;
    let (method, path, body) = seen.lock().expect("log")[0].clone();
    assert_eq!((method.as_str(), path.as_str()), ("POST", "/hook"));
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(json["event"], "download_completed");
    assert_eq!(json["key"], "demo-show");
    assert_eq!(json["site"], "aniworld");
    assert_eq!(json["folder"], "Demo Show (2020)");
    assert_eq!(json["season"], 1);
    assert_eq!(json["episode"], 3);
    assert_eq!(json["language"], "German Dub");
    assert_eq!(json["size"], 4096);
    assert!(
        json["path"]
            .as_str()
            .expect("path")
            .ends_with("(German Dub).mp4")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_hook_does_not_stop_the_next_one() {
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "a.rhai",
        "fn on_scan_completed(e) { throw \"boom\" }\n",
    );
    write(dir.path(), "b.rhai", "fn on_scan_completed(e) { 42 }\n");
    let (host, _) = host_with(dir.path(), &[]);
    host.reload().await;
    let results = run_hook(&host, "on_scan_completed").await;
    assert_eq!(results.len(), 2);
    assert!(results[0].clone().expect_err("a fails").contains("boom"));
    assert_eq!(results[1].clone().expect("b runs"), "42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_picks_up_edits_and_drops_deleted_files() {
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "p.rhai",
        "fn meta() { #{ kind: \"provider\", id: \"scripted\" } }\nfn search(q) { [#{ key: \"k-1\", name: q, link: \"/x\" }] }\nfn series(k) { #{ name: k } }\nfn episode(k, s, e) { #{} }\n",
    );
    let (host, registry) = host_with(dir.path(), &[]);
    host.reload().await;
    let hits = registry
        .provider("scripted")
        .expect("provider")
        .search("hello")
        .await
        .expect("search");
    assert_eq!(hits[0].name, "hello");
    assert_eq!(hits[0].site, "scripted");
    std::fs::remove_file(dir.path().join("p.rhai")).expect("rm");
    assert!(host.reload().await.is_empty());
    assert!(registry.provider("scripted").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_limit_applies() {
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "ops.rhai",
        "fn on_scan_completed(e) { let x = 0; for i in 0..100000000 { x += i; } x }\n",
    );
    let registry = Registry::new();
    let host = ScriptHost::new(
        registry,
        ScriptHostConfig {
            dir: dir.path().to_owned(),
            limits: ScriptLimits {
                max_operations: 10_000,
                ..ScriptLimits::default()
            },
            settings: BTreeMap::new(),
        },
        ScriptHost::default_client(),
    )
    .expect("host");
    host.reload().await;
    let results = run_hook(&host, "on_scan_completed").await;
    let err = results[0].clone().expect_err("stopped");
    assert!(err.to_lowercase().contains("too many operations"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_script_without_send_is_rejected() {
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "half.rhai",
        "fn meta() { #{ kind: \"connection\", id: \"half\" } }\n",
    );
    let (host, _) = host_with(dir.path(), &[]);
    let statuses = host.reload().await;
    assert!(!statuses[0].active);
    let error = statuses[0].error.clone().expect("an error").message;
    assert!(error.contains("no fn send"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_script_reaches_its_connection_url_and_nothing_else() {
    use aniworld_core::config::ConnectionConfig;
    use aniworld_core::connections::{ConnectionEvent, CustomConnections, Notification};

    let (url, seen) = receiver(200, "ok").await;
    let (other_url, other_seen) = receiver(200, "ok").await;
    let dir = tempfile::tempdir().expect("dir");
    write(
        dir.path(),
        "mine.rhai",
        "fn meta() { #{ kind: \"connection\", id: \"mine\" } }\n\
         fn send(c, e) {\n\
           if e.event == \"test\" { return http_get(config(\"other\")); }\n\
           http_post(c.url + \"/in\", #{ key: e.key, token: c.token })\n\
         }\n",
    );
    // Same server, other host name: not the connection's host, so refused.
    let other = other_url.replace("127.0.0.1", "localhost");
    let (host, _) = host_with(dir.path(), &[("other", &other)]);
    host.reload().await;
    let connection = ConnectionConfig {
        name: "c".into(),
        kind: "script:mine".into(),
        url: url.clone(),
        token: Some("t0k".into()),
        events: None,
    };
    let mut n = Notification::new(ConnectionEvent::DownloadCompleted);
    n.key = Some("demo".into());
    let sent = host
        .send("mine", &connection, &n, Duration::from_secs(5))
        .await
        .expect("the script handles its id")
        .expect("delivered");
    assert_eq!(sent.status, Some(200));
    wait_for(&seen, 1).await;
    let (method, path, body) = seen.lock().expect("log")[0].clone();
    assert_eq!((method.as_str(), path.as_str()), ("POST", "/in"));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"key": "demo", "token": "t0k"})
    );

    let refused = host
        .send(
            "mine",
            &connection,
            &Notification::test("c"),
            Duration::from_secs(5),
        )
        .await
        .expect("the script handles its id")
        .expect_err("another host is refused");
    assert!(
        refused.message.contains("not declared"),
        "{}",
        refused.message
    );
    assert!(other_seen.lock().expect("log").is_empty());
    assert!(
        host.send("other", &connection, &n, Duration::from_secs(5))
            .await
            .is_none()
    );
}
