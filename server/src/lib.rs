//! Aniworld Server: the poem + poem-openapi application, auth, WebSocket, web UI and the CLI.
//!
//! [`app::App::build`] assembles the whole application from a data dir; `aniworld serve` and every
//! black-box test call it.

pub mod api;
pub mod app;
pub mod auth;
pub mod body_errors;
pub mod cli;
pub mod config_file;
pub mod error;
pub mod extensions;
pub mod http_server;
pub mod library;
pub mod ui;
pub mod ws;

pub use app::{App, AppOptions, AppState, RunningServer};
