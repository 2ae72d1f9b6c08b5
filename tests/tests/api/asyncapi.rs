//! The AsyncAPI document of the WebSocket (`openapi/asyncapi.json`, served at `/asyncapi.json`):
//! every event type is in it, in its room, and its payload schemas fit what a server sends.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aniworld_core::events::{DownloadProgress, EpisodeNumber, Event, EventContext, FollowFailure};
use aniworld_core::model::{Language, SeriesKey};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestApp, openapi_venv};

fn document() -> Value {
    serde_json::from_str(aniworld_server::ws::ASYNCAPI).expect("asyncapi.json is JSON")
}

/// One event of every kind. The match makes this list fail to compile when an event kind is
/// added without being added here (and so to the document).
fn every_event() -> Vec<Event> {
    let key = SeriesKey::parse("attack-on-titan").unwrap();
    let mut context = EventContext::new(key.clone());
    context.site = Some("aniworld".into());
    context.folder = Some("Attack on Titan".into());
    context.season = Some(1);
    context.episode = Some(2);
    context.language = Some(Language::GermanSub);
    context.path = Some("Attack on Titan/Season 01/x.mp4".into());
    let bare = EventContext::new(key.clone());
    let events = vec![
        Event::ScanStarted {
            scan_id: "s".into(),
            library: "/lib".into(),
        },
        Event::ScanProgress {
            scan_id: "s".into(),
            done: 1,
            total: 2,
            folder: None,
        },
        Event::ScanCompleted {
            scan_id: "s".into(),
            series: 1,
            episodes: 2,
            unmatched: 0,
            missing: None,
            duration_ms: 5,
        },
        Event::ScanFailed {
            scan_id: "s".into(),
            error: "gone".into(),
        },
        Event::SeriesAdded {
            context: context.clone(),
            name: "Attack on Titan".into(),
        },
        Event::SeriesUpdated {
            key: key.clone(),
            site: "aniworld".into(),
        },
        Event::SuggestionsReady {
            folder: "Frieren".into(),
        },
        Event::DownloadQueued {
            item_id: 1,
            context: bare.clone(),
        },
        Event::DownloadStarted {
            item_id: 1,
            context: context.clone(),
        },
        Event::DownloadProgress {
            context: context.clone(),
            progress: DownloadProgress {
                item_id: 1,
                bytes: 10,
                total: None,
                speed: 1.5,
                eta: None,
                percent: None,
            },
        },
        Event::DownloadCompleted {
            item_id: 1,
            context: context.clone(),
            size: 10,
        },
        Event::DownloadFailed {
            item_id: 1,
            context: bare,
            error: "no hoster".into(),
        },
        Event::QueueStatus {
            running: true,
            paused: false,
            pending: 1,
            downloading: 0,
            completed: 0,
            failed: 0,
        },
        Event::HookFailed {
            script: "a.rhai".into(),
            hook: "on_scan_completed".into(),
            error: "x".into(),
        },
        Event::ConnectionFailed {
            name: "hook".into(),
            kind: "webhook".into(),
            event: "download_completed".into(),
            error: "HTTP 500".into(),
            attempts: 3,
        },
        Event::NewEpisodes {
            key: key.clone(),
            site: "aniworld".into(),
            folder: None,
            name: "Attack on Titan".into(),
            episodes: vec![EpisodeNumber {
                season: 1,
                episode: 3,
            }],
            queued: vec![],
        },
        Event::FollowCheckCompleted {
            check_id: "c".into(),
            trigger: "manual".into(),
            ok: false,
            series: 2,
            read: 1,
            queued: 0,
            found: 1,
            release_lists: vec!["aniworld".into()],
            failures: vec![FollowFailure {
                key: "dark".into(),
                site: "sto".into(),
                code: "blocked".into(),
                message: "blocked by sto".into(),
            }],
            message: None,
            duration_ms: 3,
        },
    ];
    for e in &events {
        match e {
            Event::ScanStarted { .. }
            | Event::ScanProgress { .. }
            | Event::ScanCompleted { .. }
            | Event::ScanFailed { .. }
            | Event::SeriesAdded { .. }
            | Event::SeriesUpdated { .. }
            | Event::SuggestionsReady { .. }
            | Event::DownloadQueued { .. }
            | Event::DownloadStarted { .. }
            | Event::DownloadProgress { .. }
            | Event::DownloadCompleted { .. }
            | Event::DownloadFailed { .. }
            | Event::QueueStatus { .. }
            | Event::HookFailed { .. }
            | Event::ConnectionFailed { .. }
            | Event::NewEpisodes { .. }
            | Event::FollowCheckCompleted { .. } => {}
        }
    }
    events
}

#[test]
fn every_event_type_is_in_the_document_with_its_room() {
    let doc = document();
    assert_eq!(doc["asyncapi"], "2.6.0");
    let messages = &doc["components"]["messages"];
    let subscribed: BTreeSet<String> =
        doc["channels"]["/ws/connect"]["subscribe"]["message"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["$ref"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect();
    let events = every_event();
    let kinds: BTreeSet<&str> = events.iter().map(Event::kind).collect();
    assert_eq!(kinds.len(), events.len(), "one sample per kind");
    for event in &events {
        let kind = event.kind();
        assert!(
            subscribed.contains(kind),
            "{kind} is not a message of the channel"
        );
        assert_eq!(
            messages[kind]["x-room"],
            aniworld_server::ws::room_of(event),
            "{kind}: room"
        );
    }
    for room in aniworld_server::ws::ROOMS {
        let rooms = &doc["components"]["schemas"]["Room"]["enum"];
        assert!(
            rooms.as_array().unwrap().iter().any(|r| r == room),
            "{room}"
        );
    }
}

async fn next_text(socket: &mut crate::websocket::Socket, until: Instant) -> Option<String> {
    let left = until.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, socket.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => Some(text.to_string()),
        Ok(Some(Ok(_))) => Some(String::new()),
        _ => None,
    }
}

/// Messages a real server sends (scan, series added, queue and a whole download, the answers to
/// commands, heartbeats, a bad message) and one event of every kind as the server writes it, all
/// checked against the document's payload schemas with jsonschema.
#[tokio::test]
async fn real_messages_fit_the_documents_payload_schemas() {
    let venv = openapi_venv("python");
    let app = TestApp::with_fixture(json!({})).await;
    app.fixture().state.set_knob("media.rate", "2000000");
    let token = app.token().await;
    let mut ws = crate::websocket::connect(
        &app,
        &format!(
            "token={token}&rooms=downloads,download_progress,scan_progress,system&heartbeat=1"
        ),
    )
    .await;
    let r = app
        .post(
            "/api/anime/add",
            &token,
            json!({"link": "/anime/stream/attack-on-titan"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    app.post("/api/anime/rescan", &token, json!({})).await;
    let queued: Value = app
        .post(
            "/api/queue/add",
            &token,
            json!({"episodes": [{"key": "attack-on-titan", "season": 1, "episode": 1}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        queued["added"].as_array().map(Vec::len),
        Some(1),
        "{queued}"
    );
    assert_eq!(
        app.post("/api/queue/start", &token, json!({}))
            .await
            .status(),
        200
    );
    for command in [
        json!({"action": "ping"}),
        json!({"action": "leave", "room": "system"}),
        json!({"action": "join", "room": "system"}),
        json!({"action": "dance"}),
    ] {
        ws.send(Message::Text(command.to_string().into()))
            .await
            .unwrap();
    }
    let mut captured = Vec::new();
    let mut kinds = BTreeSet::new();
    let until = Instant::now() + Duration::from_secs(60);
    while let Some(text) = next_text(&mut ws, until).await {
        if text.is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        kinds.insert(v["type"].as_str().unwrap_or_default().to_owned());
        captured.push(text);
        let done = [
            "download_complete",
            "scan_complete",
            "heartbeat",
            "pong",
            "error",
            "joined",
            "left",
        ]
        .iter()
        .all(|k| kinds.contains(*k));
        if done {
            break;
        }
    }
    for k in [
        "welcome",
        "series_added",
        "scan_complete",
        "download_queued",
        "download_complete",
        "queue_status",
        "pong",
        "joined",
        "left",
        "error",
        "heartbeat",
    ] {
        assert!(kinds.contains(k), "no {k} message seen; saw {kinds:?}");
    }
    for event in every_event() {
        captured.push(aniworld_server::ws::event_message(&event));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("messages.jsonl");
    std::fs::write(&file, captured.join("\n")).unwrap();
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/asyncapi.json");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/asyncapi_check.py");
    let out = std::process::Command::new(venv.join("bin/python"))
        .arg(script)
        .arg(spec)
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
}

#[tokio::test]
async fn the_server_serves_the_asyncapi_document() {
    let app = crate::support::spawn_app().await;
    let r = app
        .http
        .get(app.url("/asyncapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let served: Value = r.json().await.unwrap();
    assert_eq!(served, document());
}
