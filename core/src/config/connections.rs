//! The `connections` config section: its shape, the kinds and events it may name, and its
//! validation (errors name the entry). Delivery lives in [`crate::connections`].

use serde::{Deserialize, Serialize};

use super::redact::{self, redacted_url};
use crate::error::{Error, Result};

/// Kinds built into the server.
pub const BUILTIN_KINDS: [&str; 6] = ["webhook", "jellyfin", "emby", "plex", "ntfy", "discord"];
/// `script:<id>` selects the connection script whose `meta().id` is `<id>`.
pub const SCRIPT_KIND_PREFIX: &str = "script:";
/// The largest number of connections a config may hold.
pub const MAX_CONNECTIONS: usize = 50;

/// What a connection's `kind` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionKind {
    Webhook,
    Jellyfin,
    Emby,
    Plex,
    Ntfy,
    Discord,
    /// A connection script's id.
    Script(String),
}

impl ConnectionKind {
    pub fn parse(raw: &str) -> Option<ConnectionKind> {
        Some(match raw {
            "webhook" => ConnectionKind::Webhook,
            "jellyfin" => ConnectionKind::Jellyfin,
            "emby" => ConnectionKind::Emby,
            "plex" => ConnectionKind::Plex,
            "ntfy" => ConnectionKind::Ntfy,
            "discord" => ConnectionKind::Discord,
            other => {
                let id = other.strip_prefix(SCRIPT_KIND_PREFIX)?;
                if !valid_script_id(id) {
                    return None;
                }
                ConnectionKind::Script(id.to_owned())
            }
        })
    }

    /// Media servers refuse every call without their API key.
    pub fn needs_token(&self) -> bool {
        matches!(
            self,
            ConnectionKind::Jellyfin | ConnectionKind::Emby | ConnectionKind::Plex
        )
    }
}

/// Script ids: what `meta().id` of a script may be (letters, digits, `-`, `_`).
pub fn valid_script_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// What a connection can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionEvent {
    DownloadCompleted,
    DownloadFailed,
    SeriesAdded,
    NewEpisodes,
    ScanCompleted,
    /// Sent by `POST /api/connections/test`, whatever `events` lists.
    Test,
}

impl ConnectionEvent {
    pub const ALL: [ConnectionEvent; 6] = [
        ConnectionEvent::DownloadCompleted,
        ConnectionEvent::DownloadFailed,
        ConnectionEvent::SeriesAdded,
        ConnectionEvent::NewEpisodes,
        ConnectionEvent::ScanCompleted,
        ConnectionEvent::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionEvent::DownloadCompleted => "download_completed",
            ConnectionEvent::DownloadFailed => "download_failed",
            ConnectionEvent::SeriesAdded => "series_added",
            ConnectionEvent::NewEpisodes => "new_episodes",
            ConnectionEvent::ScanCompleted => "scan_completed",
            ConnectionEvent::Test => "test",
        }
    }

    pub fn parse(raw: &str) -> Option<ConnectionEvent> {
        Self::ALL.into_iter().find(|e| e.as_str() == raw)
    }
}

/// The events a connection wants (`events` absent = download_completed only).
pub fn events_of(connection: &ConnectionConfig) -> Vec<ConnectionEvent> {
    match &connection.events {
        None => vec![ConnectionEvent::DownloadCompleted],
        Some(names) => names
            .iter()
            .filter_map(|n| ConnectionEvent::parse(n))
            .collect(),
    }
}

/// Checks `connections`; the error names the entry (`connections[1].kind`) and says which
/// connection it is. Messages show URLs redacted.
pub fn validate(connections: &[ConnectionConfig]) -> Result<()> {
    if connections.len() > MAX_CONNECTIONS {
        return Err(Error::invalid(
            "connections",
            format!("at most {MAX_CONNECTIONS} connections"),
        ));
    }
    for (i, c) in connections.iter().enumerate() {
        let field = |key: &str| format!("connections[{i}].{key}");
        let who = if c.name.trim().is_empty() {
            format!("connection {}", i + 1)
        } else {
            format!("connection {:?}", c.name)
        };
        if c.name.trim().is_empty() {
            return Err(Error::invalid(field("name"), "must not be empty"));
        }
        if c.name.trim() != c.name
            || c.name.chars().count() > 64
            || c.name.chars().any(char::is_control)
        {
            return Err(Error::invalid(
                field("name"),
                format!(
                    "{who}: at most 64 characters, no control characters, no leading or trailing spaces"
                ),
            ));
        }
        if let Some(j) = connections[..i]
            .iter()
            .position(|o| o.name.to_lowercase() == c.name.to_lowercase())
        {
            return Err(Error::invalid(
                field("name"),
                format!("{who}: the name is already used by connections[{j}]"),
            ));
        }
        let Some(kind) = ConnectionKind::parse(&c.kind) else {
            return Err(Error::invalid(
                field("kind"),
                format!(
                    "{who}: {:?} is not a connection kind ({}, or script:<id> for a connection script)",
                    c.kind.chars().take(80).collect::<String>(),
                    BUILTIN_KINDS.join(", ")
                ),
            ));
        };
        match url::Url::parse(&c.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => {
                return Err(Error::invalid(
                    field("url"),
                    format!(
                        "{who}: {:?} is not an http(s) URL",
                        redacted_url(&c.kind, &c.url)
                            .chars()
                            .take(200)
                            .collect::<String>()
                    ),
                ));
            }
        }
        match c.token.as_deref() {
            Some("") => {
                return Err(Error::invalid(
                    field("token"),
                    format!("{who}: must not be empty (leave it out for none)"),
                ));
            }
            Some(redact::PLACEHOLDER) => {
                return Err(Error::invalid(
                    field("token"),
                    format!(
                        "{who}: *** is how the API shows a stored token; enter the token itself"
                    ),
                ));
            }
            Some(t) if t.chars().any(char::is_control) => {
                return Err(Error::invalid(
                    field("token"),
                    format!("{who}: must not contain control characters"),
                ));
            }
            None if kind.needs_token() => {
                return Err(Error::invalid(
                    field("token"),
                    format!("{who}: {} needs the server's API key as token", c.kind),
                ));
            }
            _ => {}
        }
        if let Some(events) = &c.events {
            if events.is_empty() {
                return Err(Error::invalid(
                    field("events"),
                    format!(
                        "{who}: list at least one event (or leave events out for download_completed)"
                    ),
                ));
            }
            for (j, e) in events.iter().enumerate() {
                if ConnectionEvent::parse(e).is_none() {
                    return Err(Error::invalid(
                        format!("connections[{i}].events[{j}]"),
                        format!(
                            "{who}: {:?} is not an event ({})",
                            e.chars().take(80).collect::<String>(),
                            ConnectionEvent::ALL.map(ConnectionEvent::as_str).join(", ")
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// One entry of `connections`: where to send which events. `kind` is a built-in kind or
/// `script:<id>` (a connection script in `scripts.dir`); checked by [`Config::validate`].
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionConfig {
    pub name: String,
    pub kind: String,
    pub url: String,
    /// API key / access token; never logged, shown as `***` by the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Event names; absent = `["download_completed"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
}

// By hand so a `{:?}` of the config never prints a token or a URL's secret parts.
impl std::fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &super::redact::redacted_url(&self.kind, &self.url))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("events", &self.events)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(name: &str, kind: &str, url: &str) -> ConnectionConfig {
        ConnectionConfig {
            name: name.into(),
            kind: kind.into(),
            url: url.into(),
            token: None,
            events: None,
        }
    }

    fn field_of(r: Result<()>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn every_builtin_kind_and_script_kinds_parse() {
        for k in BUILTIN_KINDS {
            assert!(ConnectionKind::parse(k).is_some(), "{k}");
        }
        assert_eq!(
            ConnectionKind::parse("script:gotify"),
            Some(ConnectionKind::Script("gotify".into()))
        );
        for bad in ["Webhook", "script:", "script:../x", "slack", ""] {
            assert_eq!(ConnectionKind::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn validation_names_the_entry() {
        let ok = conn("hook", "webhook", "http://127.0.0.1:1/x");
        validate(std::slice::from_ref(&ok)).unwrap();

        let mut bad_kind = conn("media", "jellyfn", "http://127.0.0.1:1");
        bad_kind.token = Some("k".into());
        assert_eq!(
            field_of(validate(&[ok.clone(), bad_kind])),
            "connections[1].kind"
        );
        assert_eq!(
            field_of(validate(&[conn("x", "webhook", "ftp://host/x")])),
            "connections[0].url"
        );
        assert_eq!(
            field_of(validate(&[ok.clone(), conn("HOOK", "ntfy", "http://a/b")])),
            "connections[1].name"
        );
        let mut bad_event = ok.clone();
        bad_event.events = Some(vec!["download_completed".into(), "exploded".into()]);
        assert_eq!(field_of(validate(&[bad_event])), "connections[0].events[1]");
        assert_eq!(
            field_of(validate(&[conn("jf", "jellyfin", "http://a")])),
            "connections[0].token"
        );
        let mut placeholder = ok.clone();
        placeholder.token = Some("***".into());
        assert_eq!(field_of(validate(&[placeholder])), "connections[0].token");
        let mut new_episodes = ok;
        new_episodes.events = Some(vec!["new_episodes".into(), "test".into()]);
        validate(&[new_episodes]).unwrap();
    }

    #[test]
    fn url_errors_do_not_repeat_the_password() {
        let err = validate(&[conn("x", "webhook", "ftp://user:hunter2@host/x")]).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn absent_events_mean_download_completed() {
        let c = conn("a", "webhook", "http://a");
        assert_eq!(events_of(&c), vec![ConnectionEvent::DownloadCompleted]);
    }
}
