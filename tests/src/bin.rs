//! Finding and running the real `aniworld` binary from black-box tests.

use std::path::PathBuf;
use std::process::Command;

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
