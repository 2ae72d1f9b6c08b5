//! A client generated from `openapi/openapi.json` by a standard generator (openapi-python-client,
//! installed into a venv by `tests/run.sh`) drives setup → login → search → add → queue → status.

use std::process::Command;

use crate::support::{app_with_fake_provider, openapi_venv};

#[tokio::test]
async fn generated_python_client_drives_setup_login_search_add_queue_status() {
    let venv = openapi_venv("openapi-python-client");
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    let out = tempfile::tempdir().unwrap();
    let package = out.path().join("aniworld_client");
    let generated = Command::new(venv.join("bin/openapi-python-client"))
        .arg("generate")
        .arg("--path")
        .arg(&spec)
        .arg("--output-path")
        .arg(&package)
        .args(["--meta", "none"])
        .output()
        .unwrap();
    assert!(
        package.join("client.py").exists(),
        "generation failed: {}\n{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    // Properties the server may send as null are typed so (they were `int | Unset` before).
    let summary = std::fs::read_to_string(package.join("models/anime_summary.py")).unwrap();
    assert!(
        summary.contains("missing_episodes: int | None | Unset"),
        "{summary}"
    );
    let app = app_with_fake_provider().await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/client_flow.py");
    let run = tokio::process::Command::new(venv.join("bin/python"))
        .arg(&script)
        .env("BASE_URL", app.server.url())
        .env("PYTHONPATH", out.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "client flow failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("generated client flow ok"), "{stdout}");
}
