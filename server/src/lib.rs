//! Aniworld Server: the poem + poem-openapi application, auth, WebSocket, web UI and the CLI.
//!
//! [`runtime::Runtime`] is the one composition root (`aniworld serve` and every CLI command);
//! [`app::App::build`] puts the HTTP application over it.

pub mod allow_header;
pub mod api;
pub mod app;
pub mod auth;
pub mod body_errors;
pub mod cli;
pub mod config_file;
pub mod error;
pub mod extensions;
pub mod http_server;
pub mod metrics;
pub mod redis_link;
pub mod runtime;
pub mod shared_config;
pub mod ui;
pub mod ws;

pub use app::{App, AppOptions, AppState, RunningServer};
pub use runtime::{Overrides, Runtime, RuntimeOptions, Storage};
