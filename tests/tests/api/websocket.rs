//! WebSocket `/ws/connect`: token check, rooms, event envelope, heartbeat, slow clients.

use std::time::{Duration, Instant};

use aniworld_core::events::Event;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestApp, spawn_app};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(app: &TestApp, query: &str) -> Socket {
    let url = format!("ws://{}/ws/connect?{query}", app.server.addr);
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connects");
    socket
}

/// The next JSON text message, skipping heartbeats unless asked for.
pub async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .expect("no socket error");
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["type"] != "heartbeat" {
                return v;
            }
        }
    }
}

fn queue_status(pending: u64) -> Event {
    Event::QueueStatus {
        running: true,
        paused: false,
        pending,
        downloading: 0,
        completed: 0,
        failed: 0,
    }
}

#[tokio::test]
async fn connect_without_or_with_bad_token_is_unauthorized() {
    let app = spawn_app().await;
    for query in ["", "token=", "token=garbage"] {
        let url = format!("ws://{}/ws/connect?{query}", app.server.addr);
        let err = tokio_tungstenite::connect_async(url).await.unwrap_err();
        match err {
            tokio_tungstenite::tungstenite::Error::Http(resp) => {
                assert_eq!(resp.status(), 401, "{query}")
            }
            other => panic!("{query}: {other}"),
        }
    }
}

#[tokio::test]
async fn revoked_token_cannot_connect() {
    let app = spawn_app().await;
    let token = app.token().await;
    assert_eq!(
        app.post("/api/auth/logout", &token, json!({}))
            .await
            .status(),
        204
    );
    let url = format!("ws://{}/ws/connect?token={token}", app.server.addr);
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
}

#[tokio::test]
async fn joined_room_receives_events_in_the_envelope() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mut ws = connect(&app, &format!("token={token}")).await;
    assert_eq!(next_json(&mut ws).await["type"], "welcome");
    ws.send(Message::Text(
        json!({"action": "join", "room": "downloads"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let joined = next_json(&mut ws).await;
    assert_eq!(joined["type"], "joined");
    assert_eq!(joined["data"]["room"], "downloads");
    app.server.state.events().emit(queue_status(7));
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "queue_status");
    assert_eq!(msg["data"]["pending"], 7);
    assert!(
        chrono::DateTime::parse_from_rfc3339(msg["timestamp"].as_str().unwrap()).is_ok(),
        "{msg}"
    );
}

#[tokio::test]
async fn events_of_rooms_not_joined_are_not_sent() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mut ws = connect(&app, &format!("token={token}&rooms=scan_progress")).await;
    assert_eq!(
        next_json(&mut ws).await["data"]["joined"],
        json!(["scan_progress"])
    );
    app.server.state.events().emit(queue_status(1));
    app.server.state.events().emit(Event::ScanStarted {
        scan_id: "s1".into(),
        library: "/lib".into(),
    });
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "scan_started", "{msg}");
    // Leaving stops delivery.
    ws.send(Message::Text(
        json!({"action": "leave", "room": "scan_progress"})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "left");
    app.server.state.events().emit(Event::ScanFailed {
        scan_id: "s1".into(),
        error: "x".into(),
    });
    ws.send(Message::Text(json!({"action": "ping"}).to_string().into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "pong");
}

#[tokio::test]
async fn unknown_room_or_action_gets_an_error_message() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mut ws = connect(&app, &format!("token={token}")).await;
    next_json(&mut ws).await;
    for bad in [
        json!({"action": "join", "room": "../etc"}).to_string(),
        json!({"action": "dance"}).to_string(),
        "not json".to_owned(),
    ] {
        ws.send(Message::Text(bad.clone().into())).await.unwrap();
        let msg = next_json(&mut ws).await;
        assert_eq!(msg["type"], "error", "{bad}: {msg}");
    }
}

#[tokio::test]
async fn heartbeat_arrives_at_the_requested_interval() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mut ws = connect(&app, &format!("token={token}&heartbeat=1")).await;
    let started = Instant::now();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("heartbeat within 5 s")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg
            && serde_json::from_str::<Value>(&t).unwrap()["type"] == "heartbeat"
        {
            break;
        }
    }
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped_and_never_slows_the_emitter() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mut stalled = connect(&app, &format!("token={token}&rooms=downloads")).await;
    let started = Instant::now();
    for i in 0..50_000 {
        app.server.state.events().emit(queue_status(i));
    }
    let emit_time = started.elapsed();
    assert!(
        emit_time < Duration::from_secs(2),
        "emitting took {emit_time:?}"
    );
    // Reading now: the server has given up on this client before delivering everything.
    let mut received = 0u64;
    let mut lagged = false;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stalled.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "error" && v["data"]["error"] == "lagged" {
                    lagged = true;
                }
                received += 1;
            }
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(_))) => {}
            Err(_) => panic!("the stalled client was neither served nor dropped"),
        }
    }
    assert!(lagged, "no lagged notice");
    assert!(received < 50_000, "received {received}");
    // A new client still works.
    let mut fresh = connect(&app, &format!("token={token}&rooms=downloads")).await;
    assert_eq!(next_json(&mut fresh).await["type"], "welcome");
}

#[tokio::test]
async fn an_oversized_client_message_closes_the_connection() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mut ws = connect(&app, &format!("token={token}")).await;
    next_json(&mut ws).await;
    let _ = ws.send(Message::Text("x".repeat(1 << 20).into())).await;
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("connection closed within 10 s");
    assert!(closed);
    // The server is fine.
    assert_eq!(
        app.http
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// The kernel's state of the server side of `client` (a `/proc/net/tcp` row whose local address
/// is the server and whose remote address is the client), `None` once the socket is gone.
#[cfg(target_os = "linux")]
fn server_side_tcp_state(server: std::net::SocketAddr, client: std::net::SocketAddr) -> Option<u8> {
    let hex = |a: std::net::SocketAddr| match a {
        std::net::SocketAddr::V4(v4) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(v4.ip().octets()),
            v4.port()
        ),
        std::net::SocketAddr::V6(_) => unreachable!("the test server listens on IPv4"),
    };
    let (local, remote) = (hex(server), hex(client));
    let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.get(1) == Some(&local.as_str()) && cols.get(2) == Some(&remote.as_str()))
            .then(|| u8::from_str_radix(cols[3], 16).expect("state column"))
    })
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_dropped_client_that_never_reads_again_has_its_socket_closed() {
    const ESTABLISHED: u8 = 1;
    let app = spawn_app().await;
    let token = app.token().await;
    let mut ws = connect(&app, &format!("token={token}&rooms=downloads")).await;
    assert_eq!(next_json(&mut ws).await["type"], "welcome");
    let client = match ws.get_ref() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.local_addr().unwrap(),
        _ => unreachable!("plain ws://"),
    };
    assert_eq!(
        server_side_tcp_state(app.server.addr, client),
        Some(ESTABLISHED)
    );
    // From here on the client reads nothing: big events fill both socket buffers, the server's
    // send times out and it drops the client.
    let big = "x".repeat(64 * 1024);
    let started = Instant::now();
    let mut state = Some(ESTABLISHED);
    let mut sent = 0u64;
    while started.elapsed() < Duration::from_secs(30) {
        if sent < 1_000 {
            app.server.state.events().emit(Event::DownloadFailed {
                item_id: sent as i64,
                context: aniworld_core::events::EventContext::new(
                    aniworld_core::model::SeriesKey::parse("big").unwrap(),
                ),
                error: big.clone(),
            });
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        state = server_side_tcp_state(app.server.addr, client);
        if state != Some(ESTABLISHED) {
            break;
        }
    }
    assert_ne!(
        state,
        Some(ESTABLISHED),
        "the server still holds the connection {:?} after the client stopped reading",
        started.elapsed()
    );
    drop(ws);
}
