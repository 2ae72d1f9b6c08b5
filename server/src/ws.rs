//! WebSocket `/ws/connect?token=<jwt>`: live events by room.
//!
//! Server → client: `{"type": <kind>, "data": {...}, "timestamp": <RFC 3339>}`.
//! Client → server: `{"action": "join"|"leave", "room": <room>}` and `{"action": "ping"}`.
//! Rooms: `downloads`, `download_progress`, `scan_progress`, `system`. Each client reads its own
//! receiver of the bounded event broadcast; a client that falls behind (lagged) or stops reading
//! (a send takes longer than [`SEND_TIMEOUT`]) is dropped, so the queue never waits for it.

use std::collections::BTreeSet;
use std::time::Duration;

use aniworld_core::events::Event;
use futures::{SinkExt, StreamExt};
use poem::web::websocket::{Message, WebSocket, WebSocketConfig, WebSocketStream};
use poem::web::{Data, Query};
use poem::{FromRequest, IntoResponse, Request, handler};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::app::AppState;
use crate::error::ApiError;

/// The AsyncAPI document of this WebSocket (served at `/asyncapi.json`); the API tests check it
/// against every event type and against the messages a server sends.
pub const ASYNCAPI: &str = include_str!("../../openapi/asyncapi.json");

pub const ROOMS: [&str; 4] = ["downloads", "download_progress", "scan_progress", "system"];
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the close handshake may take before the socket is dropped anyway.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Largest client message we read; clients only send tiny commands.
const MAX_CLIENT_MESSAGE: usize = 4096;

#[derive(Debug, Deserialize)]
pub struct ConnectQuery {
    token: Option<String>,
    /// Rooms to join right away, comma separated.
    rooms: Option<String>,
    /// Heartbeat interval in seconds (1..=300, default 30).
    heartbeat: Option<u64>,
}

/// Which room an event goes to.
pub fn room_of(event: &Event) -> &'static str {
    match event {
        Event::DownloadProgress { .. } => "download_progress",
        Event::DownloadQueued { .. }
        | Event::DownloadStarted { .. }
        | Event::DownloadCompleted { .. }
        | Event::DownloadFailed { .. }
        | Event::QueueStatus { .. } => "downloads",
        Event::ScanStarted { .. }
        | Event::ScanProgress { .. }
        | Event::ScanCompleted { .. }
        | Event::ScanFailed { .. } => "scan_progress",
        Event::SeriesAdded { .. }
        | Event::SeriesUpdated { .. }
        | Event::SuggestionsReady { .. }
        | Event::HookFailed { .. }
        | Event::ConnectionFailed { .. }
        | Event::NewEpisodes { .. }
        | Event::FollowCheckCompleted { .. } => "system",
    }
}

fn envelope(kind: &str, data: serde_json::Value) -> String {
    serde_json::json!({
        "type": kind,
        "data": data,
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
    .to_string()
}

/// The wire form of an event.
pub fn event_message(event: &Event) -> String {
    let data = serde_json::to_value(event)
        .ok()
        .and_then(|mut v| v.get_mut("data").map(serde_json::Value::take))
        .unwrap_or(serde_json::Value::Null);
    envelope(event.kind(), data)
}

#[handler]
pub async fn connect(
    req: &Request,
    state: Data<&AppState>,
    Query(query): Query<ConnectQuery>,
) -> poem::Result<impl IntoResponse> {
    let Some(token) = query.token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(ApiError::unauthorized(
            "the WebSocket needs ?token=<token from /api/auth/login>",
        )
        .into());
    };
    state.auth().verify(token).await?;
    let mut rooms = BTreeSet::new();
    for room in query.rooms.as_deref().unwrap_or("").split(',') {
        let room = room.trim();
        if room.is_empty() {
            continue;
        }
        match ROOMS.iter().find(|r| **r == room) {
            Some(r) => {
                rooms.insert(*r);
            }
            None => {
                return Err(ApiError::bad_request(format!(
                    "unknown room {room:?}; rooms: {}",
                    ROOMS.join(", ")
                ))
                .into());
            }
        }
    }
    let heartbeat = query
        .heartbeat
        .map_or(DEFAULT_HEARTBEAT, |s| Duration::from_secs(s.clamp(1, 300)));
    // Clients only send tiny commands: a bigger frame is refused before it is buffered.
    let ws = WebSocket::from_request_without_body(req).await?.config(
        WebSocketConfig::default()
            .max_message_size(Some(MAX_CLIENT_MESSAGE))
            .max_frame_size(Some(MAX_CLIENT_MESSAGE)),
    );
    let events = state.events().subscribe();
    let metrics = state.metrics().clone();
    Ok(ws.on_upgrade(move |socket| async move {
        let _connected = metrics.websocket_connected();
        client_loop(socket, events, rooms, heartbeat).await;
    }))
}

#[derive(Debug, Deserialize)]
struct ClientMessage {
    #[serde(alias = "type")]
    action: String,
    room: Option<String>,
}

async fn send(
    sink: &mut futures::stream::SplitSink<WebSocketStream, Message>,
    text: String,
) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Text(text))).await,
        Ok(Ok(()))
    )
}

async fn client_loop(
    socket: WebSocketStream,
    mut events: tokio::sync::broadcast::Receiver<Event>,
    mut rooms: BTreeSet<&'static str>,
    heartbeat: Duration,
) {
    let (mut sink, mut stream) = socket.split();
    let welcome = envelope(
        "welcome",
        serde_json::json!({ "rooms": ROOMS, "joined": rooms }),
    );
    if !send(&mut sink, welcome).await {
        return;
    }
    let mut ticker = tokio::time::interval(heartbeat);
    ticker.tick().await;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    if rooms.contains(room_of(&event)) && !send(&mut sink, event_message(&event)).await {
                        tracing::info!("dropping a WebSocket client that stopped reading");
                        break;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::info!(missed, "dropping a WebSocket client that fell behind");
                    let _ = send(&mut sink, envelope("error", serde_json::json!({
                        "error": "lagged",
                        "message": format!("the connection fell {missed} events behind and is closed; reconnect"),
                    }))).await;
                    break;
                }
                Err(RecvError::Closed) => break,
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let reply = handle_client_message(&text, &mut rooms);
                    if !send(&mut sink, reply).await {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = ticker.tick() => {
                if !send(&mut sink, envelope("heartbeat", serde_json::json!({}))).await {
                    break;
                }
            }
        }
    }
    // A client that stopped reading never takes the close frame: give up on it quickly, and
    // dropping both halves closes the socket.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
    drop(stream);
    drop(sink);
}

fn handle_client_message(text: &str, rooms: &mut BTreeSet<&'static str>) -> String {
    let error = |message: String| {
        envelope(
            "error",
            serde_json::json!({ "error": "bad_message", "message": message }),
        )
    };
    if text.len() > MAX_CLIENT_MESSAGE {
        return error("message too large".to_owned());
    }
    let msg: ClientMessage = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            return error(format!(
                "expected {{\"action\": \"join\"|\"leave\"|\"ping\", \"room\": ...}}: {e}"
            ));
        }
    };
    let room = msg
        .room
        .as_deref()
        .and_then(|r| ROOMS.iter().copied().find(|known| *known == r));
    match (msg.action.as_str(), room) {
        ("ping", _) => envelope("pong", serde_json::json!({})),
        ("join", Some(room)) => {
            rooms.insert(room);
            envelope("joined", serde_json::json!({ "room": room }))
        }
        ("leave", Some(room)) => {
            rooms.remove(room);
            envelope("left", serde_json::json!({ "room": room }))
        }
        ("join" | "leave", None) => error(format!(
            "unknown room {:?}; rooms: {}",
            msg.room.unwrap_or_default(),
            ROOMS.join(", ")
        )),
        (other, _) => error(format!("unknown action {other:?}")),
    }
}
