//! What the benchmarks share: a generated library, the real `aniworld serve` process, a login,
//! and waiting for WebSocket events.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aniworld_core::metadata::SeriesMetadata;
use aniworld_core::model::SeriesKey;
use futures::{SinkExt, StreamExt};
use rayon::prelude::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub const PASSWORD: &str = "benchmark password";

/// `series` folders with `episodes` files each, in four layouts so every parser path is
/// exercised (flat `SxxEyy`, `Season NN/Episode N`, anime absolute numbering, `NxNN` in
/// `Staffel N`); four in five folders carry `.aniworld.json`.
pub fn generate_library(root: &Path, series: usize, episodes: usize) {
    std::fs::create_dir_all(root).expect("library dir");
    (0..series)
        .into_par_iter()
        .try_for_each(|i| generate_series(root, i, episodes))
        .expect("generate library");
}

fn generate_series(root: &Path, index: usize, episodes: usize) -> std::io::Result<()> {
    let name = format!("Series {index:05} (20{:02})", index % 25);
    let folder = root.join(&name);
    std::fs::create_dir_all(&folder)?;
    if !index.is_multiple_of(5) {
        let key = SeriesKey::parse(&format!("series-{index}")).expect("valid key");
        SeriesMetadata {
            key,
            site: "aniworld".into(),
            name: name.clone(),
            year: Some(2000 + (index % 25) as i32),
        }
        .write(&folder)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    std::fs::write(folder.join("cover.jpg"), b"")?;
    let half = episodes / 2;
    for e in 1..=episodes {
        let (season, number) = if e <= half { (1, e) } else { (2, e - half) };
        let path = match index % 4 {
            0 => folder.join(format!(
                "Series {index} - S{season:02}E{number:03} - (German Dub).mp4"
            )),
            1 => folder
                .join(format!("Season {season:02}"))
                .join(format!("Episode {number}.mkv")),
            2 => folder.join(format!("[Group] Series {index} - {e:03} [ABCD1234].mkv")),
            _ => folder
                .join(format!("Staffel {season}"))
                .join(format!("Series {index} {season}x{number:02}.avi")),
        };
        if let Some(parent) = path.parent()
            && parent != folder
        {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, b"")?;
    }
    Ok(())
}

/// A running `aniworld serve` (the release binary); killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the server on a free port with the built-in providers switched off (no site is
    /// reachable from a benchmark machine, and none is asked in the background).
    pub fn start(data_dir: &Path, library: &Path) -> Server {
        Self::spawn(
            data_dir,
            library,
            &[
                ("ANIWORLD_PROVIDERS__ANIWORLD__ENABLED", "false"),
                ("ANIWORLD_PROVIDERS__STO__ENABLED", "false"),
            ],
        )
    }

    /// Starts the server with the providers of its config (queueing needs a known site).
    pub fn start_with_providers(data_dir: &Path, library: &Path) -> Server {
        Self::spawn(data_dir, library, &[])
    }

    fn spawn(data_dir: &Path, library: &Path, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aniworld"))
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--library")
            .arg(library)
            .env("ANIWORLD_LOG", "error")
            .env("ANIWORLD_AUTH__BCRYPT_COST", "4")
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start aniworld serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut said = Vec::new();
        let url = loop {
            let Some(line) = lines.next() else {
                panic!("the server ended without its address: {}", said.join("\n"));
            };
            let line = line.expect("read stderr");
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_owned();
            }
            said.push(line);
        };
        std::thread::spawn(move || for _ in lines {});
        Server { child, url }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sets the master password (first start) and logs in.
    pub async fn token(&self, client: &reqwest::Client) -> String {
        let password = json!({ "password": PASSWORD });
        client
            .post(format!("{}/api/auth/setup", self.url))
            .json(&password)
            .send()
            .await
            .expect("setup");
        let login: Value = client
            .post(format!("{}/api/auth/login", self.url))
            .json(&password)
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("login JSON");
        login["token"].as_str().expect("token").to_owned()
    }
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket client in `rooms`, past the welcome message.
pub async fn connect(server: &Server, token: &str, rooms: &str) -> Socket {
    let url = format!(
        "{}/ws/connect?token={token}&rooms={rooms}",
        server.url.replacen("http", "ws", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("WebSocket connects");
    next_event(&mut ws).await;
    ws
}

/// The next JSON message.
pub async fn next_event(ws: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(600), ws.next())
            .await
            .expect("an event within 10 minutes")
            .expect("socket open")
            .expect("message");
        match msg {
            Message::Text(t) => return serde_json::from_str(&t).expect("JSON event"),
            Message::Ping(p) => {
                let _ = ws.send(Message::Pong(p)).await;
            }
            _ => {}
        }
    }
}

/// Waits for the `scan_complete` (or `scan_failed`, a panic) of `scan_id`; returns its data.
pub async fn scan_complete(ws: &mut Socket, scan_id: &str) -> Value {
    loop {
        let event = next_event(ws).await;
        let matches = event["data"]["scan_id"] == scan_id;
        match event["type"].as_str() {
            Some("scan_complete") if matches => return event["data"].clone(),
            Some("scan_failed") if matches => panic!("scan failed: {event}"),
            _ => {}
        }
    }
}

/// (VmRSS, VmHWM) of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
