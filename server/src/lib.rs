//! Aniworld Server: the poem + poem-openapi application, auth, WebSocket, web UI and the CLI.
//!
//! [`app::build`] assembles the whole application from a config; `aniworld serve` and every
//! black-box test call it.

pub mod api;
pub mod app;
pub mod cli;
