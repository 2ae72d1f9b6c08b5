//! Finding and running the real `aniworld` binary from black-box tests.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `target/<profile>/aniworld`, built by `tests/run.sh` (`cargo build --workspace`) before the tests.
pub fn aniworld_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test-exe> → target/debug/aniworld
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable lives in target/<profile>/deps");
    let bin = dir.join(format!("aniworld{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} does not exist: build the workspace first (`cargo build --workspace`, as tests/run.sh does)",
        bin.display()
    );
    bin
}

/// A directory holding built artifacts (`target/<profile>`), e.g. to find the example plugin library.
pub fn target_profile_dir() -> PathBuf {
    aniworld_bin()
        .parent()
        .expect("binary has a parent dir")
        .to_path_buf()
}

/// `aniworld` with a clean environment for config overrides (no inherited `ANIWORLD_*`).
pub fn aniworld() -> Command {
    let mut cmd = Command::new(aniworld_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("ANIWORLD_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// A server process that is killed if the test fails before stopping it.
pub struct ServerProcess(pub std::process::Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for ServerProcess {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for ServerProcess {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// `aniworld serve` on a free port; returns the process and its base URL.
pub fn start_binary(
    data_dir: &std::path::Path,
    library: &std::path::Path,
) -> (ServerProcess, String) {
    start_binary_with(aniworld(), data_dir, library)
}

/// Like [`start_binary`], from a prepared command (extra environment).
pub fn start_binary_with(
    mut cmd: std::process::Command,
    data_dir: &std::path::Path,
    library: &std::path::Path,
) -> (ServerProcess, String) {
    let mut child = cmd
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .arg("--library")
        .arg(library)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let child = ServerProcess(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server prints its address");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_owned();
        }
    };
    (child, url)
}

/// Sets the master password (`crate::app::PASSWORD`) on a fresh server at `url` and logs in.
pub async fn setup_and_login(http: &reqwest::Client, url: &str) -> String {
    let password = serde_json::json!({ "password": crate::app::PASSWORD });
    let r = http
        .post(format!("{url}/api/auth/setup"))
        .json(&password)
        .send()
        .await
        .expect("setup request");
    assert_eq!(r.status(), 200, "setup");
    let login: serde_json::Value = http
        .post(format!("{url}/api/auth/login"))
        .json(&password)
        .send()
        .await
        .expect("login request")
        .json()
        .await
        .expect("login JSON");
    login["token"].as_str().expect("token").to_owned()
}
