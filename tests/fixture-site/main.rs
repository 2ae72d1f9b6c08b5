//! `aniworld-fixture-site`: runs the offline fixture site ([`aniworld_testkit::FixtureSite`]) as a
//! process, for tests written outside Rust (the browser tests in `tests/e2e`).
//!
//! On start it prints one JSON line to stdout: every listener's base URL by name
//! (`{"aniworld":"http://127.0.0.1:PORT","sto":...,"media":...,"voe":...}`).
//! Then it reads commands from stdin, one per line, and answers each with one line:
//! `knob NAME VALUE` sets a behaviour switch, `clear NAME` removes it, `requests` prints the
//! request log as JSON (server, method, uri, headers), `air KEY SEASON` makes the next episode of
//! an aniworld.to series' season air now (prints `{"key","season","episode"}` or an error). It exits when stdin closes, so it never outlives the process that started it.

use std::collections::BTreeMap;
use std::io::Write;

use aniworld_testkit::FixtureSite;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main]
async fn main() {
    let site = FixtureSite::start().await;
    let mut names: Vec<&str> = vec!["aniworld", "sto", "media"];
    names.extend(aniworld_testkit::hosters::SERVER_NAMES.iter().copied());
    let urls: BTreeMap<&str, String> = names.iter().map(|n| (*n, site.url(n))).collect();
    println_flush(&serde_json::to_string(&urls).unwrap_or_default());

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut parts = line.trim().splitn(3, ' ');
        let reply = match (parts.next(), parts.next(), parts.next()) {
            (Some("knob"), Some(name), value) => {
                site.state.set_knob(name, value.unwrap_or(""));
                "ok".to_owned()
            }
            (Some("clear"), Some(name), None) => {
                site.state.clear_knob(name);
                "ok".to_owned()
            }
            (Some("air"), Some(key), season) => {
                let season = season.and_then(|s| s.trim().parse().ok()).unwrap_or(1);
                match site
                    .state
                    .air(aniworld_testkit::catalogue::Site::Aniworld, key, season)
                {
                    Some((season, episode)) => {
                        serde_json::json!({"key": key, "season": season, "episode": episode})
                            .to_string()
                    }
                    None => format!("error: no series {key:?} with season {season}"),
                }
            }
            (Some("requests"), None, None) => {
                let log: Vec<serde_json::Value> = site
                    .state
                    .requests()
                    .into_iter()
                    .map(|r| {
                        serde_json::json!({
                            "server": r.server,
                            "method": r.method,
                            "uri": r.uri,
                            "headers": r.headers,
                        })
                    })
                    .collect();
                serde_json::Value::Array(log).to_string()
            }
            _ => format!("error: unknown command {:?}", line.trim()),
        };
        println_flush(&reply);
    }
}

fn println_flush(line: &str) {
    let mut out = std::io::stdout().lock();
    // The reader is the parent test process; if it is gone there is nobody to tell.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
