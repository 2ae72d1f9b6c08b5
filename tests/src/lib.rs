//! The offline fixture site: a local reproduction of aniworld.to, s.to, the video hosters and
//! their media, on 127.0.0.1 ports chosen by the OS. Every test that would otherwise touch a real
//! site uses this kit.
//!
//! Each site and hoster runs on its own listener (its own origin), as on the real web, so
//! extractors that build `{origin}/api/...` URLs and send `Referer`/`Origin` headers behave as they
//! would against the real thing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, IntoEndpoint, Request};

pub mod airing;
pub mod app;
pub mod bin;
pub mod catalogue;
pub mod covers;
pub mod hosters;
pub mod media;
pub mod net;
pub mod redis;
pub mod sites;

/// One request the fixture saw.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// Which listener (`aniworld`, `sto`, `voe`, `media`, ...).
    pub server: String,
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: BTreeMap<String, String>,
}

/// Shared between every fixture listener: the request log and behaviour switches.
#[derive(Default)]
pub struct FixtureState {
    requests: Mutex<Vec<RequestRecord>>,
    knobs: Mutex<BTreeMap<String, String>>,
    /// Base URLs of every listener, by name, filled at start.
    urls: Mutex<BTreeMap<String, String>>,
    /// Episodes that aired while the fixture ran ([`airing`]).
    aired: Mutex<Vec<airing::AiredEpisode>>,
}

impl FixtureState {
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.requests.lock().expect("fixture lock").clone()
    }

    pub fn clear_requests(&self) {
        self.requests.lock().expect("fixture lock").clear();
    }

    /// Sets a behaviour switch (each module documents its own knobs).
    pub fn set_knob(&self, name: &str, value: impl Into<String>) {
        self.knobs
            .lock()
            .expect("fixture lock")
            .insert(name.to_owned(), value.into());
    }

    pub fn clear_knob(&self, name: &str) {
        self.knobs.lock().expect("fixture lock").remove(name);
    }

    pub fn knob(&self, name: &str) -> Option<String> {
        self.knobs.lock().expect("fixture lock").get(name).cloned()
    }

    /// Base URL (`http://127.0.0.1:PORT`) of a listener by name.
    pub fn url(&self, server: &str) -> String {
        self.urls
            .lock()
            .expect("fixture lock")
            .get(server)
            .cloned()
            .unwrap_or_else(|| panic!("fixture has no server named {server:?}"))
    }

    fn record(&self, server: &str, req: &Request) {
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        self.requests
            .lock()
            .expect("fixture lock")
            .push(RequestRecord {
                server: server.to_owned(),
                method: req.method().to_string(),
                uri: req.uri().to_string(),
                headers,
            });
    }
}

/// A running fixture site. Dropping it stops every listener.
pub struct FixtureSite {
    pub state: Arc<FixtureState>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FixtureSite {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FixtureSite {
    /// Starts every listener on 127.0.0.1 with OS-chosen ports.
    pub async fn start() -> FixtureSite {
        let state = Arc::new(FixtureState::default());
        let mut site = FixtureSite {
            state: state.clone(),
            tasks: Vec::new(),
        };
        // Bind every listener first so the routes can link to each other's URLs.
        let mut names: Vec<&'static str> = vec!["aniworld", "sto", "media"];
        names.extend(hosters::SERVER_NAMES.iter().copied());
        let mut acceptors = Vec::new();
        for name in names {
            let acceptor = TcpListener::bind("127.0.0.1:0")
                .into_acceptor()
                .await
                .expect("bind fixture listener");
            let addr: SocketAddr = *acceptor
                .local_addr()
                .first()
                .and_then(|a| a.as_socket_addr())
                .expect("fixture listener has a socket address");
            state
                .urls
                .lock()
                .expect("fixture lock")
                .insert(name.to_owned(), format!("http://{addr}"));
            acceptors.push((name, acceptor));
        }
        for (name, acceptor) in acceptors {
            let endpoint = match name {
                "aniworld" => sites::aniworld::routes(state.clone())
                    .map_to_response()
                    .boxed(),
                "sto" => sites::sto::routes(state.clone()).map_to_response().boxed(),
                "media" => media::routes(state.clone()).map_to_response().boxed(),
                hoster => hosters::routes(hoster, state.clone())
                    .map_to_response()
                    .boxed(),
            };
            site.spawn(name, acceptor, endpoint);
        }
        site
    }

    fn spawn(
        &mut self,
        name: &'static str,
        acceptor: impl Acceptor + 'static,
        endpoint: impl IntoEndpoint<Endpoint: 'static> + 'static,
    ) {
        let state = self.state.clone();
        let endpoint = endpoint.into_endpoint().before(move |req| {
            let state = state.clone();
            async move {
                state.record(name, &req);
                Ok(req)
            }
        });
        self.tasks.push(tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run(endpoint)
                .await;
        }));
    }

    /// Base URL of a listener (`aniworld`, `sto`, `media`, or a hoster's server name).
    pub fn url(&self, server: &str) -> String {
        self.state.url(server)
    }
}
