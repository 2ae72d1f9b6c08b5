//! Black-box tests of the REST + WebSocket API: the application built by `App::build` served on
//! 127.0.0.1:0 with a temp data dir (and the real binary where that matters).

#[path = "api/support.rs"]
mod support;

#[path = "api/anime.rs"]
mod anime;
#[path = "api/asyncapi.rs"]
mod asyncapi;
#[path = "api/auth.rs"]
mod auth;
#[path = "api/catalogue.rs"]
mod catalogue;
#[path = "api/client.rs"]
mod client;
#[path = "api/config.rs"]
mod config;
#[path = "api/connections.rs"]
mod connections;
#[path = "api/download.rs"]
mod download;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/follow.rs"]
mod follow;
#[path = "api/library.rs"]
mod library;
#[path = "api/network.rs"]
mod network;
#[path = "api/queue.rs"]
mod queue;
#[path = "api/scaleout.rs"]
mod scaleout;
#[path = "api/spec.rs"]
mod spec;
#[path = "api/system.rs"]
mod system;
#[path = "api/websocket.rs"]
mod websocket;
