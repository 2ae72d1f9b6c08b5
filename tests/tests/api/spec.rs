//! The OpenAPI document: committed copy is current; every protected path rejects bad tokens.

use serde_json::{Value, json};

use crate::support::{assert_error, spawn_app};

fn committed_spec_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("openapi")
        .join("openapi.json")
}

/// Regenerate with: `cargo run -p aniworld-server -- openapi > openapi/openapi.json`
#[test]
fn committed_openapi_json_matches_the_code() {
    let generated = aniworld_server::api::spec_json();
    let committed = std::fs::read_to_string(committed_spec_path())
        .expect("openapi/openapi.json exists (cargo run -p aniworld-server -- openapi > openapi/openapi.json)");
    let generated_v: Value = serde_json::from_str(&generated).unwrap();
    let committed_v: Value = serde_json::from_str(&committed).unwrap();
    assert!(
        generated_v == committed_v,
        "openapi/openapi.json is stale; regenerate it with `cargo run -p aniworld-server -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn aniworld_openapi_prints_the_document() {
    let out = aniworld_testkit::bin::aniworld()
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let generated: Value = serde_json::from_str(&aniworld_server::api::spec_json()).unwrap();
    assert_eq!(printed, generated);
}

/// Public operations; everything else in the document must require the bearer token.
const PUBLIC: [(&str, &str); 4] = [
    ("get", "/health"),
    ("post", "/api/auth/setup"),
    ("post", "/api/auth/login"),
    ("get", "/api/auth/status"),
];

fn operations() -> Vec<(String, String, bool)> {
    let spec: Value = serde_json::from_str(&aniworld_server::api::spec_json()).unwrap();
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            out.push((method.clone(), path.clone(), secured));
        }
    }
    out
}

#[test]
fn only_the_public_operations_lack_the_bearer_scheme() {
    for (method, path, secured) in operations() {
        let public = PUBLIC.contains(&(method.as_str(), path.as_str()));
        assert_eq!(secured, !public, "{method} {path}");
    }
}

fn concrete(path: &str) -> String {
    // Path parameters get harmless valid-looking values.
    let mut out = String::new();
    let mut in_param = false;
    for ch in path.chars() {
        match ch {
            '{' => {
                in_param = true;
                out.push_str("x1");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn every_protected_operation_rejects_missing_bad_and_revoked_tokens() {
    let app = spawn_app().await;
    let revoked = app.token().await;
    assert_eq!(
        app.post("/api/auth/logout", &revoked, json!({}))
            .await
            .status(),
        204
    );
    let forged = {
        // Right shape, wrong signature.
        let mut parts: Vec<String> = app.login().await.split('.').map(str::to_owned).collect();
        parts[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned();
        parts.join(".")
    };
    let mut checked = 0;
    for (method, path, secured) in operations() {
        if !secured {
            continue;
        }
        let url = app.url(&concrete(&path));
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        for token in [
            None,
            Some("garbage"),
            Some(forged.as_str()),
            Some(revoked.as_str()),
        ] {
            let mut req = app.http.request(method.clone(), &url).json(&json!({}));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{method} {path} with {token:?}");
            assert_error(r, 401).await;
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} protected operations found");
}
