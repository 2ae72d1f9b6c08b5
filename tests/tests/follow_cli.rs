//! `aniworld follow` and `aniworld check` over the real binary, pointed at the fixture site,
//! where an episode airs between two checks.

use std::path::Path;
use std::process::Output;

use aniworld_testkit::FixtureSite;
use aniworld_testkit::bin::aniworld;
use aniworld_testkit::catalogue::Site;
use serde_json::{Value, json};

/// Runs the binary off the runtime (the fixture keeps serving on the other worker).
async fn run(fixture: &FixtureSite, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = aniworld();
    cmd.args(args)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("ANIWORLD_LIBRARY__PATH", dir.join("library"))
        .env(
            "ANIWORLD_PROVIDERS__ANIWORLD__BASE_URL",
            fixture.url("aniworld"),
        )
        .env("ANIWORLD_PROVIDERS__STO__BASE_URL", fixture.url("sto"))
        .env("ANIWORLD_PROVIDERS__ANIWORLD__RETRIES", "0")
        .env("ANIWORLD_PROVIDERS__ANIWORLD__RATE_LIMIT", "1000");
    tokio::task::spawn_blocking(move || cmd.output().expect("run aniworld"))
        .await
        .expect("join")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn write(root: &Path, rel: &str, body: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// Episodes in the data dir's queue for `key`, sorted.
async fn queue_of(dir: &Path, key: &str) -> Vec<(u32, u32)> {
    let store = aniworld_core::storage::Store::open_sqlite(&dir.join("data/aniworld.db"))
        .await
        .unwrap();
    let mut eps: Vec<(u32, u32)> = store
        .queue()
        .live_episodes(key)
        .await
        .unwrap()
        .into_keys()
        .collect();
    eps.sort();
    eps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_then_check_queues_the_missing_and_then_only_what_aired() {
    let fixture = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        &d.join("library"),
        "Attack on Titan (2013)/.aniworld.json",
        r#"{"key":"attack-on-titan","site":"aniworld","name":"Attack on Titan"}"#,
    );
    write(
        &d.join("library"),
        "Attack on Titan (2013)/Season 01/Attack on Titan - S01E01 - (German Dub).mp4",
        "v",
    );
    json_of(&run(&fixture, d, &["scan", "--json"]).await);

    let followed = json_of(
        &run(
            &fixture,
            d,
            &["follow", "attack-on-titan", "--monitor", "all", "--json"],
        )
        .await,
    );
    assert_eq!(followed["followed"], true, "{followed}");
    assert_eq!(followed["monitor"], "all", "{followed}");
    let list = json_of(&run(&fixture, d, &["follow", "--list", "--json"]).await);
    assert_eq!(list[0]["key"], "attack-on-titan", "{list}");
    assert_eq!(list[0]["monitor"], "all", "{list}");

    let report = json_of(&run(&fixture, d, &["check", "--json"]).await);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["queued"], 6, "{report}");
    assert_eq!(
        queue_of(d, "attack-on-titan").await,
        vec![(0, 1), (0, 2), (1, 2), (1, 3), (2, 1), (2, 2)]
    );
    let again = json_of(&run(&fixture, d, &["check", "--json"]).await);
    assert_eq!(again["queued"], 0, "{again}");

    fixture.state.air(Site::Aniworld, "attack-on-titan", 2);
    let text = run(&fixture, d, &["check"]).await;
    assert!(text.status.success());
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.contains("1 new episodes found, 1 queued"), "{out}");
    assert_eq!(queue_of(d, "attack-on-titan").await.len(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_of_a_blocked_site_fails_saying_why_and_unknown_series_are_refused() {
    let fixture = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        &d.join("library"),
        "Attack on Titan (2013)/.aniworld.json",
        r#"{"key":"attack-on-titan","site":"aniworld","name":"Attack on Titan"}"#,
    );
    json_of(&run(&fixture, d, &["scan", "--json"]).await);
    json_of(&run(&fixture, d, &["follow", "attack-on-titan", "--json"]).await);
    fixture.state.set_knob("aniworld.challenge", "captcha");
    let out = run(&fixture, d, &["check"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("blocked"), "{stderr}");
    assert!(queue_of(d, "attack-on-titan").await.is_empty());

    let out = run(&fixture, d, &["follow", "no-such-series"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no series"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &fixture,
        d,
        &["follow", "attack-on-titan", "--monitor", "sometimes"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let list = json_of(&run(&fixture, d, &["follow", "--list", "--json"]).await);
    assert_eq!(
        list,
        json!([{
            "key": "attack-on-titan", "site": "aniworld", "name": "Attack on Titan",
            "monitor": "new", "language": null, "checked_at": null,
            "error": list[0]["error"].clone(),
        }])
    );
    assert!(
        list[0]["error"].as_str().unwrap().contains("blocked"),
        "{list}"
    );
}
