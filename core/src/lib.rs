//! Aniworld Server core: everything that is not HTTP serving, scripting or native plugin loading.
//!
//! The rest of the workspace reaches providers and hosters only through [`registry::Registry`],
//! and observes work only through [`events`].

pub mod catalogue;
pub mod config;
pub mod connections;
pub mod covers;
pub mod download;
pub mod error;
pub mod events;
pub mod follow;
pub mod hosters;
pub mod http;
pub mod library;
pub mod metadata;
pub mod model;
pub mod network;
pub mod providers;
pub mod queue;
pub mod registry;
pub mod scanner;
pub mod search;
pub mod selection;
pub mod storage;
pub mod traits;

pub use error::{Error, Result};
pub use model::{EpisodeRef, Language, SeriesKey};
