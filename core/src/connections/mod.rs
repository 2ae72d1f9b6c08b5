//! Connections: notifications (webhook, ntfy, Discord) and media-server refreshes (Jellyfin,
//! Emby, Plex) when something happens, plus kinds of one's own as connection scripts
//! (`script:<id>`, implemented by the script layer through [`CustomConnections`]).
//!
//! Delivery is off the download path: the event callback only puts a [`Notification`] into a
//! bounded channel; a background task fans it out to one worker per connection, which sends it with
//! a timeout and a few retries. A slow or broken receiver therefore delays only its own later
//! notifications, never a download or another connection.

mod notification;
mod senders;
mod service;

pub use crate::config::connections::{
    BUILTIN_KINDS, ConnectionEvent, ConnectionKind, MAX_CONNECTIONS, SCRIPT_KIND_PREFIX, events_of,
    valid_script_id, validate,
};
pub use crate::config::redact::{redacted_url, scrub};
pub use notification::{EpisodeNumber, Notification, ScanSummary, Summary};
pub use senders::{Delivered, DeliveryError};
pub use service::{
    ConnectionService, ConnectionStatus, CustomConnections, DeliveryPolicy, TestOutcome,
};
