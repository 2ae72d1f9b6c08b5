//! A follow check over 1,000 followed series of which 10 got a new episode, against the fixture
//! site (the `aniworld-fixture-site` process with 1,000 synthetic series), through the real
//! `aniworld serve`: requests the site received and the time from `POST /api/follow/check` to the
//! `follow_check_complete` event, for
//! - the new-episodes page (`/neue-episoden`, one request tells which series changed), and
//! - the baseline in the same run: every followed series' pages read (series page + one per
//!   season), as when the site has no such page or it does not reach back to the last check
//!   (fixture knob `aniworld.new_episodes = recent-only`).
//!
//! The site's rate limit is lifted (`rate_limit` 1000/s) so the baseline finishes in seconds; the
//! time the default limit (4 requests/s) would impose is printed as requests / 4.
//!
//! Run: `cargo build --release -p aniworld-testkit --bin aniworld-fixture-site` then
//! `cargo bench -p aniworld-server --bench follow_check`. Figures in docs/benchmarks.md.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, Socket, connect, next_event};

const SERIES: usize = 1_000;
const CHANGED: usize = 10;
/// The provider's default rate limit (requests per second), for the projected times.
const DEFAULT_RATE: f64 = 4.0;

/// The fixture site process, driven through its stdin commands.
struct Fixture {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    aniworld: String,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Fixture {
    fn start() -> Fixture {
        let bin = fixture_bin();
        let mut child = Command::new(&bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let stdin = child.stdin.take().expect("stdin");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let urls: Value =
            serde_json::from_str(&lines.next().expect("urls line").expect("read")).expect("JSON");
        Fixture {
            child,
            stdin,
            lines,
            aniworld: urls["aniworld"].as_str().expect("aniworld url").to_owned(),
        }
    }

    fn command(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("write command");
        self.stdin.flush().expect("flush");
        self.lines.next().expect("answer").expect("read answer")
    }

    /// Requests the aniworld listener has received so far.
    fn aniworld_requests(&mut self) -> usize {
        let log: Value = serde_json::from_str(&self.command("requests")).expect("request log");
        log.as_array()
            .expect("array")
            .iter()
            .filter(|r| r["server"] == "aniworld")
            .count()
    }
}

/// `target/release/aniworld-fixture-site`, next to this benchmark's `deps` folder.
fn fixture_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let bin = dir.join("aniworld-fixture-site");
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release -p aniworld-testkit --bin aniworld-fixture-site",
        bin.display()
    );
    bin
}

/// `SERIES` folders `synthetic-N` with every episode the fixture lists on disk (nothing missing).
fn generate_library(root: &Path) {
    for i in 0..SERIES {
        let folder = root.join(format!("Synthetic {i:04}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join(".aniworld.json"),
            json!({"key": format!("synthetic-{i}"), "site": "aniworld", "name": format!("Synthetic {i:04}")})
                .to_string(),
        )
        .unwrap();
        for season in 1..=2 {
            for episode in 1..=3 {
                std::fs::write(
                    folder.join(format!("Synthetic {i:04} - S{season:02}E{episode:03}.mp4")),
                    b"",
                )
                .unwrap();
            }
        }
    }
}

/// `POST /api/follow/check` → its `follow_check_complete`: (seconds, the event's data).
async fn timed_check(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    ws: &mut Socket,
) -> (f64, Value) {
    let t = Instant::now();
    let r = client
        .post(format!("{}/api/follow/check", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["check_id"].clone();
    loop {
        let event = next_event(ws).await;
        if event["type"] == "follow_check_complete" && event["data"]["check_id"] == id {
            return (t.elapsed().as_secs_f64(), event["data"].clone());
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut fixture = Fixture::start();
        assert_eq!(fixture.command(&format!("knob aniworld.synthetic {SERIES}")), "ok");
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("data");
        let library = dir.path().join("library");
        std::fs::create_dir_all(&data_dir).unwrap();
        generate_library(&library);
        std::fs::write(
            data_dir.join("config.json"),
            json!({
                "auth": {"bcrypt_cost": 4},
                "download": {"autostart": false},
                "providers": {
                    "aniworld": {"base_url": fixture.aniworld, "rate_limit": 1000.0, "retries": 0},
                    "sto": {"enabled": false, "base_url": "http://127.0.0.1:9"},
                },
            })
            .to_string(),
        )
        .unwrap();
        let server = Server::start_with_providers(&data_dir, &library);
        let client = reqwest::Client::new();
        let token = server.token(&client).await;
        // Wait until the start scan indexed the library and the catalogue knows every series.
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let all: Value = client
                .get(format!("{}/api/anime?per_page=1&state=complete", server.url))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if all["total"] == SERIES as u64 {
                break;
            }
            assert!(Instant::now() < deadline, "the library was not indexed: {all}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for i in 0..SERIES {
            let r = client
                .put(format!("{}/api/anime/synthetic-{i}/follow", server.url))
                .bearer_auth(&token)
                .json(&json!({"followed": true, "monitor": "new"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "follow synthetic-{i}");
        }
        let mut ws = connect(&server, &token, "system").await;

        // The first check reads every series once (no check before it to compare with).
        let before = fixture.aniworld_requests();
        let (first_secs, first) = timed_check(&client, &server, &token, &mut ws).await;
        let first_requests = fixture.aniworld_requests() - before;
        assert_eq!(first["ok"], true, "{first}");

        let air = |fixture: &mut Fixture, round: usize| {
            for n in 0..CHANGED {
                let i = n * (SERIES / CHANGED) + round;
                let answer = fixture.command(&format!("air synthetic-{i} 2"));
                assert!(answer.starts_with('{'), "{answer}");
            }
        };

        air(&mut fixture, 1);
        let before = fixture.aniworld_requests();
        let (list_secs, list) = timed_check(&client, &server, &token, &mut ws).await;
        let list_requests = fixture.aniworld_requests() - before;
        assert_eq!(list["queued"], CHANGED as u64, "{list}");
        assert_eq!(list["release_lists"], json!(["aniworld"]), "{list}");

        // Baseline: the list does not reach back, so every series' pages are read.
        assert_eq!(fixture.command("knob aniworld.new_episodes recent-only"), "ok");
        air(&mut fixture, 2);
        let before = fixture.aniworld_requests();
        let (base_secs, base) = timed_check(&client, &server, &token, &mut ws).await;
        let base_requests = fixture.aniworld_requests() - before;
        assert_eq!(base["queued"], CHANGED as u64, "{base}");
        assert_eq!(base["release_lists"], json!([]), "{base}");

        println!("follow check: {SERIES} followed series, {CHANGED} with a new episode");
        println!("method                          requests   check (POST -> event)   at 4 req/s (projected)");
        let row = |name: &str, requests: usize, secs: f64| {
            println!(
                "{name:<30} {requests:>9}   {:>18.3} s   {:>19.1} s",
                secs,
                requests as f64 / DEFAULT_RATE
            );
        };
        row("new-episodes page", list_requests, list_secs);
        row("season pages (baseline)", base_requests, base_secs);
        row("first check (all read)", first_requests, first_secs);
        println!();
        println!(
            "new-episodes page: {:.1}x fewer requests, {:.1}x faster than the baseline (target: far fewer requests): {}",
            base_requests as f64 / list_requests.max(1) as f64,
            base_secs / list_secs.max(f64::EPSILON),
            if list_requests * 10 <= base_requests { "ok" } else { "MISSED" }
        );
    });
}
