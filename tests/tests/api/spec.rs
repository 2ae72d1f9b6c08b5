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

fn spec() -> Value {
    serde_json::from_str(&aniworld_server::api::spec_json()).unwrap()
}

/// Every schema of the document with its name (components and the inline ones inside them).
fn object_schemas(spec: &Value) -> Vec<(String, Value)> {
    fn walk(name: &str, schema: &Value, out: &mut Vec<(String, Value)>) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        if obj.contains_key("properties") {
            out.push((name.to_owned(), schema.clone()));
        }
        for (key, inner) in obj {
            match key.as_str() {
                "properties" => {
                    for (p, s) in inner.as_object().into_iter().flatten() {
                        walk(&format!("{name}.{p}"), s, out);
                    }
                }
                "items" | "additionalProperties" => walk(name, inner, out),
                "allOf" | "anyOf" | "oneOf" => {
                    for s in inner.as_array().into_iter().flatten() {
                        walk(name, s, out);
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        walk(name, schema, &mut out);
    }
    out
}

/// poem-openapi sends an `Option::None` as `null`: every property that may be absent must say
/// that it may be null, or generated clients type it `T | undefined` and break on `null`.
#[test]
fn every_optional_property_is_nullable() {
    let spec = spec();
    let mut checked = 0;
    for (name, schema) in object_schemas(&spec) {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (property, s) in schema["properties"].as_object().unwrap() {
            if required.contains(&property.as_str()) || s.get("default").is_some() {
                assert!(
                    s.get("nullable").is_none(),
                    "{name}.{property} is required but nullable"
                );
                continue;
            }
            checked += 1;
            assert_eq!(
                s.get("nullable"),
                Some(&Value::Bool(true)),
                "{name}.{property} may be absent or null but is not nullable: {s}"
            );
            assert!(
                s.get("$ref").is_none(),
                "{name}.{property}: nullable next to $ref is ignored by OpenAPI 3.0"
            );
        }
    }
    assert!(checked > 80, "only {checked} optional properties found");
    // The ones the issue named.
    let summary = &spec["components"]["schemas"]["AnimeSummary"]["properties"];
    assert_eq!(summary["missing_episodes"]["nullable"], true);
    assert_eq!(summary["checked_at"]["nullable"], true);
}

/// Closed sets are enums in the document (the strings on the wire are unchanged).
#[test]
fn closed_sets_are_enums() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    let enum_of = |schema: &Value| -> Vec<String> {
        let target = schema
            .get("$ref")
            .or_else(|| schema.pointer("/allOf/0/$ref"))
            .and_then(Value::as_str)
            .map(|r| &schemas[r.trim_start_matches("#/components/schemas/")])
            .unwrap_or(schema);
        target["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("not an enum: {schema}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let prop = |schema: &str, p: &str| schemas[schema]["properties"][p].clone();
    assert_eq!(
        enum_of(&prop("QueueItemView", "status")),
        [
            "pending",
            "downloading",
            "paused",
            "completed",
            "failed",
            "cancelled"
        ]
    );
    assert_eq!(
        enum_of(&prop("SkippedView", "reason")),
        ["already_queued", "on_disk", "invalid"]
    );
    assert_eq!(enum_of(&prop("Health", "status")), ["ok", "degraded"]);
    assert_eq!(
        enum_of(&prop("EpisodeToQueue", "language")),
        ["German Dub", "German Sub", "English Sub", "English Dub"]
    );
    assert_eq!(
        enum_of(&prop("QueueItemView", "language")),
        enum_of(&prop("EpisodeToQueue", "language"))
    );
    assert_eq!(
        enum_of(&prop("AnimeDetail", "provider_state")),
        ["fresh", "stale", "pending", "failed"]
    );
    let codes = enum_of(&prop("Error", "error"));
    for code in [
        "not_found",
        "invalid_input",
        "unauthorized",
        "site_down",
        "unmatched_folder",
        "unsupported_media_type",
        "method_not_allowed",
    ] {
        assert!(codes.contains(&code.to_owned()), "{code} not in {codes:?}");
    }
}

/// `AnimeDetail` names the series `name`, as `AnimeSummary` does; `title` stays, deprecated.
#[test]
fn anime_detail_has_name_and_a_deprecated_title() {
    let spec = spec();
    let detail = &spec["components"]["schemas"]["AnimeDetail"];
    assert_eq!(detail["properties"]["title"]["deprecated"], true);
    let required: Vec<&str> = detail["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(required.contains(&"name") && required.contains(&"title"));
}

fn statuses(op: &Value) -> Vec<String> {
    op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// Each operation lists the errors it can get: 400/413/415 with a body, 400 with parameters,
/// 401 with the bearer token, 503 for the request timeout, and its handler's own (not the same
/// eleven everywhere).
#[test]
fn every_operation_lists_the_errors_it_can_answer() {
    let spec = spec();
    let mut lists = std::collections::BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let got = statuses(op);
            let has = |s: &str| got.iter().any(|g| g == s);
            let body = op.get("requestBody").is_some();
            let params = op["parameters"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["schema"]["type"] != "string"));
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            assert_eq!(has("415"), body, "{method} {path}: 415 iff a body: {got:?}");
            assert_eq!(has("413"), body, "{method} {path}: 413 iff a body: {got:?}");
            assert_eq!(
                has("401"),
                secured || path == "/api/auth/login",
                "{method} {path}: 401 iff the bearer token (or the password) is checked: {got:?}"
            );
            if body || params {
                assert!(has("400"), "{method} {path}: {got:?}");
            }
            assert!(has("503"), "{method} {path}: the request timeout");
            // A handler returning the plain `ApiError` documents every error status there is.
            let every = ["404", "409", "422", "429", "500", "502", "504"];
            assert!(
                !every.iter().all(|s| has(s)),
                "{method} {path} lists every error status: return `ApiResult<T, Errors<{{...}}>>` \
                 with the statuses its handler can answer"
            );
            assert_eq!(
                has("429"),
                path == "/api/auth/login",
                "{method} {path}: 429"
            );
            lists.insert(got);
        }
    }
    assert!(lists.len() >= 8, "too few distinct error lists: {lists:?}");
    let spec = &spec["paths"];
    assert_eq!(
        statuses(&spec["/api/library/status"]["get"]),
        ["200", "401", "503"]
    );
    assert_eq!(
        statuses(&spec["/api/auth/login"]["post"]),
        [
            "200", "400", "401", "409", "413", "415", "429", "500", "503"
        ]
    );
}

/// The committed document is valid OpenAPI (openapi-spec-validator, pinned in `tests/run.sh`).
#[test]
fn committed_spec_passes_openapi_spec_validator() {
    let venv = crate::support::openapi_venv("openapi-spec-validator");
    let out = std::process::Command::new(venv.join("bin/openapi-spec-validator"))
        .arg(committed_spec_path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("OK"), "{text}");
}

/// Strings are never made of numbers or booleans: such a body is a 400 naming the field.
#[tokio::test]
async fn wrong_types_are_rejected_not_coerced() {
    let app = spawn_app().await;
    let token = app.token().await;
    for (path, body, field) in [
        ("/api/anime/add", json!({"link": 172207}), "link"),
        ("/api/anime/search", json!({"query": false}), "query"),
        (
            "/api/library/match",
            json!({"folder": "x", "link": 1.5}),
            "link",
        ),
        (
            "/api/queue/add",
            json!({"episodes": [{"key": 7, "season": 1, "episode": 1}]}),
            "episodes[0].key",
        ),
    ] {
        let r = app.post(path, &token, body).await;
        let err = assert_error(r, 400).await;
        assert_eq!(err["error"], "bad_request", "{path}");
        assert_eq!(err["details"]["field"], field, "{path}: {err}");
    }
}

/// A body the document's constraints exclude is refused before the handler, naming the field.
#[tokio::test]
async fn values_outside_the_documented_constraints_are_named() {
    let app = spawn_app().await;
    let token = app.token().await;
    for (path, body, field) in [
        ("/api/anime/search", json!({"query": ""}), "query"),
        (
            "/api/queue/add",
            json!({"episodes": [{"key": "a", "season": 1, "episode": 0}]}),
            "episodes[0].episode",
        ),
        (
            "/api/queue/add",
            json!({"episodes": [{"key": "a", "season": 1, "episode": 1, "language": "Klingon"}]}),
            "episodes[0].language",
        ),
        ("/api/queue/add", json!({"episodes": []}), "episodes"),
    ] {
        let err = assert_error(app.post(path, &token, body).await, 400).await;
        assert_eq!(err["details"]["field"], field, "{path}: {err}");
    }
    let r = app.get("/api/queue/status?per_page=0", &token).await;
    assert_error(r, 400).await;
}

/// Every operation with a body answers 415 (as documented) to a body that is not sent as JSON.
#[tokio::test]
async fn a_body_without_a_json_content_type_is_415() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mut checked = 0;
    for (path, item) in spec()["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("requestBody").is_none() {
                continue;
            }
            let url = app.url(&concrete(path));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for content_type in [None, Some("text/plain")] {
                let mut req = app
                    .http
                    .request(method.clone(), &url)
                    .bearer_auth(&token)
                    .body("{}");
                if let Some(ct) = content_type {
                    req = req.header("content-type", ct);
                }
                let r = req.send().await.unwrap();
                let err = assert_error(r, 415).await;
                assert_eq!(err["error"], "unsupported_media_type", "{method} {path}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} operations with a body");
}

/// A method a path does not take is a 405 with `Allow` listing the ones it does.
#[tokio::test]
async fn method_not_allowed_lists_the_allowed_methods() {
    let app = spawn_app().await;
    let token = app.token().await;
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/api/config", "GET, HEAD, PUT"),
        (reqwest::Method::GET, "/api/queue/add", "POST"),
        (reqwest::Method::PATCH, "/api/queue/status", "GET, HEAD"),
        (reqwest::Method::POST, "/openapi.json", "GET, HEAD"),
        (reqwest::Method::POST, "/health", "GET, HEAD"),
    ] {
        let r = app
            .http
            .request(method.clone(), app.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let got = r
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(got.as_deref(), Some(allow), "{method} {path}");
        let err = assert_error(r, 405).await;
        assert_eq!(err["error"], "method_not_allowed");
    }
}

/// The document served at `/openapi.json` and in Swagger UI is the committed one.
#[tokio::test]
async fn the_served_document_is_the_published_one() {
    let app = spawn_app().await;
    let served: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served, spec());
    let docs = app
        .http
        .get(app.url("/docs/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        docs.contains("\"nullable\": true"),
        "Swagger UI shows the draft"
    );
}

/// Schemathesis (pinned in `tests/run.sh`) against the real `aniworld serve` with the fixture site
/// behind its providers, a library with series in it, and a bearer token: every check, a fixed
/// seed and a bounded number of cases per operation. Left out: the operations that would take the
/// rest of the run's ground away (`auth_logout` revokes the token; `config_put` and
/// `config_restore` would point the providers, the library or the token lifetime elsewhere); they
/// have tests of their own.
#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing_against_the_real_server() {
    use aniworld_testkit::app::{fixture_config, merge};
    let venv = crate::support::openapi_venv("st");
    let fixture = aniworld_testkit::FixtureSite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let library = dir.path().join("library");
    std::fs::create_dir_all(&data).unwrap();
    for (folder, site, key, files) in [
        (
            "Attack on Titan",
            "aniworld",
            "attack-on-titan",
            vec!["Season 01/Attack on Titan - S01E001 - (German Dub).mp4"],
        ),
        ("Dark", "sto", "dark", vec![]),
    ] {
        let series = library.join(folder);
        std::fs::create_dir_all(&series).unwrap();
        std::fs::write(
            series.join(".aniworld.json"),
            json!({"key": key, "site": site, "name": folder}).to_string(),
        )
        .unwrap();
        for f in files {
            let path = series.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
    }
    std::fs::create_dir_all(library.join("Frieren (2023)")).unwrap();
    let mut config = fixture_config(&fixture);
    merge(
        &mut config,
        json!({"auth": {"max_failed_logins_per_minute": 100}}),
    );
    std::fs::write(data.join("config.json"), config.to_string()).unwrap();
    // The server's log goes to a file, shown when schemathesis finds something.
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _server = aniworld_testkit::bin::ServerProcess(
        aniworld_testkit::bin::aniworld()
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .arg("--library")
            .arg(&library)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let started = std::time::Instant::now();
    let url = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(rest) = text.split("listening on ").nth(1) {
            break rest.lines().next().unwrap().trim().to_owned();
        }
        assert!(
            started.elapsed().as_secs() < 30,
            "the server did not start:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let http = reqwest::Client::new();
    let token = aniworld_testkit::bin::setup_and_login(&http, &url).await;
    let report = dir.path().join("report");
    // Half the ids point at what the library has, so the fuzzing reaches past 404s.
    let st_config = dir.path().join("schemathesis.toml");
    std::fs::write(
        &st_config,
        r#"
[dictionaries]
series = { values = ["attack-on-titan", "dark", "Attack on Titan", "Frieren (2023)"] }
folders = { values = ["Frieren (2023)"] }

[[operations]]
include-operation-id = "anime_get"
parameters = { "path.id" = { dictionary = "series", probability = 0.5 } }

[[operations]]
include-operation-id = "anime_cover"
parameters = { "path.id" = { dictionary = "series", probability = 0.5 } }

[[operations]]
include-operation-id = "library_match"
parameters = { "body.folder" = { dictionary = "folders", probability = 0.5 } }
"#,
    )
    .unwrap();
    let run = tokio::process::Command::new(venv.join("bin/st"))
        // Its cache (`.schemathesis/`) goes to the temp dir, not into the repository.
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(&st_config)
        .args(["run", &format!("{url}/openapi.json"), "--url", &url])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "all",
            "--seed",
            "20261130",
            "--max-examples",
            "60",
        ])
        .args(["--workers", "2", "--request-timeout", "20", "--no-shrink"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--exclude-operation-id", "auth_logout"])
        .args(["--exclude-operation-id", "config_put"])
        .args(["--exclude-operation-id", "config_restore"])
        .args(["--suppress-health-check", "all"])
        .arg("--report-dir")
        .arg(&report)
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    if !run.status.success() {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "schemathesis found problems:\n{stdout}\n{stderr}\nserver log (end):\n{}",
            tail.join("\n")
        );
    }
    assert!(stdout.contains("passed"), "{stdout}");
    // The summary (cases per phase, warnings) is worth seeing with --nocapture.
    eprintln!("{stdout}");
}
