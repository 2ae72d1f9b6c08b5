//! `aniworld scan` through the real binary, on generated libraries.

use std::path::Path;
use std::process::Output;

use aniworld_testkit::bin::aniworld;
use serde_json::{Value, json};

fn write(root: &Path, rel: &str, body: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// A small library: one matched series with seasons, specials and a multi-episode file, one
/// unmatched folder with an unparsable video, and files the scanner must ignore.
fn generate_library(root: &Path) {
    write(
        root,
        "Attack on Titan (2013)/.aniworld.json",
        r#"{"key":"attack-on-titan","site":"aniworld","name":"Attack on Titan","year":2013}"#,
    );
    write(
        root,
        "Attack on Titan (2013)/Season 01/Attack on Titan - S01E01 - (German Dub).mp4",
        "v",
    );
    write(
        root,
        "Attack on Titan (2013)/Season 01/Attack on Titan - S01E02E03.mkv",
        "v",
    );
    write(root, "Attack on Titan (2013)/Staffel 2/Folge 1.mp4", "v");
    write(root, "Attack on Titan (2013)/Filme/Movie 1.mkv", "v");
    write(root, "Attack on Titan (2013)/Season 01/cover.jpg", "x");
    write(
        root,
        "Attack on Titan (2013)/Season 01/S01E04.mp4.part",
        "x",
    );
    write(root, "Attack on Titan (2013)/.trash/S01E09.mkv", "x");
    write(
        root,
        "[Fansub] Frieren/[Fansub] Frieren - 05 [ABCD1234].mkv",
        "v",
    );
    write(root, "[Fansub] Frieren/trailer.mkv", "v");
}

fn run(args: &[&str], cwd: &Path) -> Output {
    aniworld()
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run aniworld")
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}, stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

#[test]
fn scan_json_reports_series_episodes_and_unparsed_files() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    generate_library(&lib);
    let out = run(
        &[
            "scan",
            "--library",
            lib.to_str().unwrap(),
            "--offline",
            "--json",
        ],
        dir.path(),
    );
    let value = stdout_json(&out);
    assert_eq!(
        value,
        json!([
            {
                "key": "attack-on-titan",
                "site": "aniworld",
                "folder": "Attack on Titan (2013)",
                "name": "Attack on Titan",
                "episodes": [
                    {"season": 0, "episode": 1, "path": "Attack on Titan (2013)/Filme/Movie 1.mkv"},
                    {"season": 1, "episode": 1, "path": "Attack on Titan (2013)/Season 01/Attack on Titan - S01E01 - (German Dub).mp4"},
                    {"season": 1, "episode": 2, "path": "Attack on Titan (2013)/Season 01/Attack on Titan - S01E02E03.mkv"},
                    {"season": 1, "episode": 3, "path": "Attack on Titan (2013)/Season 01/Attack on Titan - S01E02E03.mkv"},
                    {"season": 2, "episode": 1, "path": "Attack on Titan (2013)/Staffel 2/Folge 1.mp4"}
                ],
                "missing": null,
                "unparsed": []
            },
            {
                "key": null,
                "site": null,
                "folder": "[Fansub] Frieren",
                "name": "[Fansub] Frieren",
                "episodes": [
                    {"season": 1, "episode": 5, "path": "[Fansub] Frieren/[Fansub] Frieren - 05 [ABCD1234].mkv"}
                ],
                "missing": null,
                "unparsed": ["[Fansub] Frieren/trailer.mkv"]
            }
        ])
    );
}

#[test]
fn scan_json_of_an_empty_library_is_an_empty_array() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    let out = run(
        &["scan", "--library", "empty", "--offline", "--json"],
        dir.path(),
    );
    assert_eq!(stdout_json(&out), json!([]));
}

#[test]
fn scan_with_data_dir_remembers_folders_and_gives_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    generate_library(&lib);
    let data = dir.path().join("data");
    let args = [
        "scan",
        "--library",
        lib.to_str().unwrap(),
        "--offline",
        "--json",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let first = stdout_json(&run(&args, dir.path()));
    assert!(data.join("aniworld.db").is_file());
    assert!(data.join("config.json").is_file());
    let second = stdout_json(&run(&args, dir.path()));
    assert_eq!(first, second);
}

#[test]
fn scan_without_json_prints_a_table_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    generate_library(&lib);
    let out = run(&["scan", "--library", "library", "--offline"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("FOLDER"), "{text}");
    for header in ["KEY", "SEASONS", "EPISODES", "UNPARSED", "MISSING"] {
        assert!(lines[0].contains(header), "{text}");
    }
    let aot = lines
        .iter()
        .find(|l| l.starts_with("Attack on Titan (2013)"))
        .expect("row for the matched series");
    assert!(aot.contains("attack-on-titan"), "{aot}");
    assert!(aot.contains("specials,1,2"), "{aot}");
    let frieren = lines
        .iter()
        .find(|l| l.starts_with("[Fansub] Frieren"))
        .expect("row for the unmatched series");
    assert!(
        frieren.contains("(unmatched, suggest fansub-frieren)"),
        "{frieren}"
    );
    assert!(
        text.contains("2 series (1 unmatched), 6 episodes, 1 unparsed files"),
        "{text}"
    );
}

#[test]
fn scan_of_a_missing_library_fails_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "scan",
            "--library",
            "no-such-library",
            "--offline",
            "--json",
        ],
        dir.path(),
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-library"), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn scan_of_a_file_instead_of_a_folder_fails_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("not-a-folder"), "x").unwrap();
    let out = run(
        &["scan", "--library", "not-a-folder", "--offline"],
        dir.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not-a-folder"), "{stderr}");
    assert!(stderr.contains("not a folder"), "{stderr}");
}

#[test]
fn scan_warnings_go_to_stderr_and_keep_stdout_json() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    generate_library(&lib);
    write(&lib, "Loose S01E01.mkv", "v");
    let out = run(
        &["scan", "--library", "library", "--offline", "--json"],
        dir.path(),
    );
    let value = stdout_json(&out);
    assert_eq!(value.as_array().unwrap().len(), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Loose S01E01.mkv"), "{stderr}");
}

#[test]
fn provider_warnings_are_counted_in_the_summary_and_logs_have_no_colours_in_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("library");
    for (folder, key) in [
        ("A (2001)", "a-show"),
        ("B (2002)", "b-show"),
        ("C (2003)", "c-show"),
    ] {
        write(
            &lib,
            &format!("{folder}/.aniworld.json"),
            &format!(r#"{{"key":"{key}","site":"aniworld","name":"{folder}"}}"#),
        );
        write(&lib, &format!("{folder}/Season 01/{key} - S01E01.mp4"), "v");
    }
    // Nothing listens there: every series gets a provider warning.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let out = aniworld()
        .args(["scan", "--library", lib.to_str().unwrap()])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("ANIWORLD_PROVIDERS__ANIWORLD__BASE_URL", &base)
        .env("ANIWORLD_PROVIDERS__ANIWORLD__RETRIES", "0")
        .env("ANIWORLD_LOG", "info")
        .current_dir(dir.path())
        .output()
        .expect("run aniworld");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    let printed = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .count();
    assert_eq!(printed, 3, "{stderr}");
    assert!(stdout.contains(", 3 warnings ("), "{stdout}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI escape codes in a piped log: {stderr:?}"
    );
    assert!(
        stderr.contains(" INFO "),
        "info logs were written: {stderr}"
    );
}
