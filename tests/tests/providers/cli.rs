//! `aniworld search`, `aniworld info` and the online `aniworld scan` over the real binary,
//! pointed at the fixture site with `ANIWORLD_PROVIDERS__<SITE>__BASE_URL`.

use std::path::Path;
use std::process::Output;

use aniworld_testkit::FixtureSite;
use aniworld_testkit::bin::aniworld;
use aniworld_testkit::catalogue::{self, Site};
use serde_json::Value;

/// Runs the binary off the runtime (the fixture keeps serving on the other worker).
async fn run(fixture: &FixtureSite, data_dir: &Path, args: &[&str]) -> Output {
    let mut cmd = aniworld();
    cmd.args(args)
        .arg("--data-dir")
        .arg(data_dir)
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

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_json_prints_the_hits_of_one_site() {
    let fixture = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &fixture,
        dir.path(),
        &["search", "kaguya", "--site", "aniworld", "--json"],
    )
    .await;
    let hits = json(&out);
    let expected = catalogue::find(Site::Aniworld, "kaguya-sama-love-is-war").unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(hits[0]["key"], expected.key);
    assert_eq!(hits[0]["site"], "aniworld");
    assert_eq!(hits[0]["name"], expected.name);
    assert_eq!(hits[0]["year"], expected.year);
    assert!(
        hits[0]["link"]
            .as_str()
            .unwrap()
            .starts_with(&fixture.url("aniworld"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_without_site_asks_every_provider() {
    let fixture = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hits = json(&run(&fixture, dir.path(), &["search", "an", "--json"]).await);
    let sites: std::collections::BTreeSet<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["site"].as_str().unwrap())
        .collect();
    assert_eq!(sites, ["aniworld", "sto"].into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_prints_a_readable_table() {
    let fixture = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    // aniworld's search answers with years (s.to's suggestions carry names only).
    let out = run(
        &fixture,
        dir.path(),
        &["search", "one punch", "--site", "aniworld"],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("KEY"), "{text}");
    assert!(
        text.contains("one-punch-man") && text.contains("One Punch Man (2015)"),
        "{text}"
    );
    let out = run(&fixture, dir.path(), &["search", "dark", "--site", "sto"]).await;
    let text = stdout(&out);
    assert!(text.contains("dark") && text.contains("Dark"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_json_has_every_season_with_movies_as_season_0() {
    let fixture = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let info = json(&run(&fixture, dir.path(), &["info", "attack-on-titan", "--json"]).await);
    let expected = catalogue::find(Site::Aniworld, "attack-on-titan").unwrap();
    assert_eq!(info["name"], expected.name);
    assert_eq!(info["site"], "aniworld");
    let seasons = info["seasons"].as_array().unwrap();
    assert_eq!(
        seasons
            .iter()
            .map(|s| s["number"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    for s in seasons {
        let n = s["number"].as_u64().unwrap() as u32;
        assert_eq!(
            s["episodes"].as_array().unwrap().len(),
            expected.season(n).unwrap().episodes.len()
        );
    }
    assert_eq!(
        seasons[1]["episodes"][0]["title_en"],
        "To You, in 2000 Years"
    );
    assert_eq!(
        seasons[1]["episodes"][0]["languages"],
        serde_json::json!(["German Dub", "German Sub", "English Sub"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_prints_seasons_and_episodes_as_text() {
    let fixture = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(&fixture, dir.path(), &["info", "attack-on-titan"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Attack on Titan (2013–2023)"), "{text}");
    assert!(text.contains("Movies (2)"), "{text}");
    assert!(text.contains("Season 1 (3 episodes)"), "{text}");
    assert!(text.contains("E02  An jenem Tag / That Day"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_takes_a_link_and_finds_its_site() {
    let fixture = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let link = format!("{}/serie/breaking-bad", fixture.url("sto"));
    let info = json(&run(&fixture, dir.path(), &["info", &link, "--json"]).await);
    assert_eq!(info["site"], "sto");
    assert_eq!(info["key"], "breaking-bad");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_of_a_blocked_site_fails_saying_blocked() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("aniworld.challenge", "ddos-guard");
    let dir = tempfile::tempdir().unwrap();
    let out = run(&fixture, dir.path(), &["info", "attack-on-titan"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("blocked by aniworld: DDoS-Guard"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_of_an_unknown_series_fails_saying_not_found() {
    let fixture = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &fixture,
        dir.path(),
        &["info", "no-such-series", "--site", "aniworld"],
    )
    .await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_rejects_an_invalid_key() {
    let fixture = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(&fixture, dir.path(), &["info", "..evil"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(fixture.state.requests().is_empty());
}

fn write(root: &Path, rel: &str, body: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_scan_fills_missing_and_reuses_the_cache() {
    let fixture = FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library");
    write(
        &library,
        "Attack on Titan (2013)/.aniworld.json",
        r#"{"key":"attack-on-titan","site":"aniworld","name":"Attack on Titan"}"#,
    );
    write(
        &library,
        "Attack on Titan (2013)/Season 01/Attack on Titan - S01E01 - (German Dub).mp4",
        "v",
    );
    write(
        &library,
        "Attack on Titan (2013)/Season 02/Attack on Titan - S02E02 - (German Sub).mp4",
        "v",
    );
    write(
        &library,
        "Dark/.aniworld.json",
        r#"{"key":"dark","site":"sto","name":"Dark"}"#,
    );
    write(&library, "Unmatched/Show - S01E01.mp4", "v");
    let data = dir.path().join("data");
    let lib = library.to_str().unwrap();
    let args = ["scan", "--library", lib, "--json"];

    let first = json(&run(&fixture, &data, &args).await);
    let by_folder = |v: &Value, folder: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|s| s["folder"] == folder)
            .cloned()
            .unwrap()
    };
    let aot = by_folder(&first, "Attack on Titan (2013)");
    assert_eq!(
        aot["missing"],
        serde_json::json!([
            {"season": 0, "episode": 1}, {"season": 0, "episode": 2},
            {"season": 1, "episode": 2}, {"season": 1, "episode": 3},
            {"season": 2, "episode": 1}
        ])
    );
    assert_eq!(
        by_folder(&first, "Dark")["missing"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(by_folder(&first, "Unmatched")["missing"].is_null());

    // Within cache.series_ttl the answer comes from the database, even with the site blocked.
    fixture.state.set_knob("aniworld.challenge", "captcha");
    fixture.state.set_knob("sto.challenge", "captcha");
    fixture.state.clear_requests();
    let second = json(&run(&fixture, &data, &args).await);
    assert_eq!(
        by_folder(&second, "Attack on Titan (2013)")["missing"],
        aot["missing"]
    );
    assert!(fixture.state.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_scan_keeps_going_when_a_site_is_blocked() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("sto.challenge", "cloudflare");
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library");
    write(
        &library,
        "One Punch Man/.aniworld.json",
        r#"{"key":"one-punch-man","site":"aniworld","name":"One Punch Man"}"#,
    );
    write(
        &library,
        "Dark/.aniworld.json",
        r#"{"key":"dark","site":"sto","name":"Dark"}"#,
    );
    let out = run(
        &fixture,
        &dir.path().join("data"),
        &["scan", "--library", library.to_str().unwrap(), "--json"],
    )
    .await;
    let report = json(&out);
    let series = report.as_array().unwrap();
    let opm = series
        .iter()
        .find(|s| s["folder"] == "One Punch Man")
        .unwrap();
    assert_eq!(opm["missing"].as_array().unwrap().len(), 5);
    let dark = series.iter().find(|s| s["folder"] == "Dark").unwrap();
    assert!(dark["missing"].is_null());
    assert!(
        stderr(&out).contains("Dark: cannot list missing episodes: blocked by sto"),
        "{}",
        stderr(&out)
    );
}
