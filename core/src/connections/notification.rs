//! What a connection is told: one [`Notification`] per event, serialised as the webhook body.

use serde::{Deserialize, Serialize};

use super::ConnectionEvent;
use crate::events::{Event, EventContext};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeNumber {
    pub season: u32,
    pub episode: u32,
}

/// The numbers of a finished library scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanSummary {
    pub series: u64,
    pub episodes: u64,
    pub unmatched: u64,
    pub missing: Option<u64>,
    pub duration_ms: u64,
}

/// The webhook body: `{"event", "timestamp", "key", "site", "folder", "name", "season",
/// "episode", "language", "path", "size"}`, each field only when the event has it, plus
/// `error` (download_failed), `episodes` (new_episodes), `scan` (scan_completed) and `message` (test).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub event: ConnectionEvent,
    /// RFC 3339, UTC, when the event happened.
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// The series' name (from the library when the event itself has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub season: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episode: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episodes: Option<Vec<EpisodeNumber>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A short human text of a notification (ntfy, Discord).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub title: &'static str,
    pub text: String,
    /// An ntfy tag (emoji short code).
    pub tag: &'static str,
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}

impl Notification {
    pub fn new(event: ConnectionEvent) -> Notification {
        Notification {
            event,
            timestamp: now_rfc3339(),
            key: None,
            site: None,
            folder: None,
            name: None,
            season: None,
            episode: None,
            language: None,
            path: None,
            size: None,
            error: None,
            episodes: None,
            scan: None,
            message: None,
        }
    }

    /// What `POST /api/connections/test` sends.
    pub fn test(connection: &str) -> Notification {
        let mut n = Notification::new(ConnectionEvent::Test);
        n.message = Some(format!(
            "Test notification from Aniworld Server (connection {connection:?})"
        ));
        n
    }

    fn with_context(event: ConnectionEvent, c: &EventContext) -> Notification {
        let mut n = Notification::new(event);
        n.key = Some(c.key.to_string());
        n.site = c.site.clone();
        n.folder = c.folder.clone();
        n.season = c.season;
        n.episode = c.episode;
        n.language = c.language.map(|l| l.as_str().to_owned());
        n.path = c.path.clone();
        n
    }

    /// The notification an event makes, or `None` for events connections are not told about.
    pub fn from_event(event: &Event) -> Option<Notification> {
        match event {
            Event::DownloadCompleted { context, size, .. } => {
                let mut n = Self::with_context(ConnectionEvent::DownloadCompleted, context);
                n.size = Some(*size);
                Some(n)
            }
            Event::DownloadFailed { context, error, .. } => {
                let mut n = Self::with_context(ConnectionEvent::DownloadFailed, context);
                n.error = Some(error.clone());
                Some(n)
            }
            Event::SeriesAdded { context, name } => {
                let mut n = Self::with_context(ConnectionEvent::SeriesAdded, context);
                n.name = Some(name.clone());
                Some(n)
            }
            Event::ScanCompleted {
                series,
                episodes,
                unmatched,
                missing,
                duration_ms,
                ..
            } => {
                let mut n = Notification::new(ConnectionEvent::ScanCompleted);
                n.scan = Some(ScanSummary {
                    series: *series,
                    episodes: *episodes,
                    unmatched: *unmatched,
                    missing: *missing,
                    duration_ms: *duration_ms,
                });
                Some(n)
            }
            // Events named like a connection event (`new_episodes`) are taken from their data.
            other => {
                let event = ConnectionEvent::parse(other.kind())?;
                let value = serde_json::to_value(other).ok()?;
                Some(Self::from_data(event, value.get("data")?))
            }
        }
    }

    /// A notification from an event's JSON data: `key`/`folder`/... at the top level or in
    /// `context`, `episodes: [{season, episode}]` when present.
    pub fn from_data(event: ConnectionEvent, data: &serde_json::Value) -> Notification {
        let mut n = Notification::new(event);
        let text = |name: &str| {
            data.get(name)
                .or_else(|| data.get("context").and_then(|c| c.get(name)))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let number = |name: &str| {
            data.get(name)
                .or_else(|| data.get("context").and_then(|c| c.get(name)))
                .and_then(|v| v.as_u64())
        };
        n.key = text("key");
        n.site = text("site");
        n.folder = text("folder");
        n.name = text("name");
        n.season = number("season").and_then(|v| u32::try_from(v).ok());
        n.episode = number("episode").and_then(|v| u32::try_from(v).ok());
        n.language = text("language");
        n.path = text("path");
        n.size = number("size");
        n.error = text("error");
        n.episodes = data
            .get("episodes")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        n
    }

    /// The webhook body.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a notification serialises")
    }

    /// What to call the series: its name, else its folder, else its key.
    pub fn series_label(&self) -> Option<&str> {
        self.name
            .as_deref()
            .or(self.folder.as_deref())
            .or(self.key.as_deref())
    }

    /// `S01E03`, when the event is about one episode.
    pub fn episode_code(&self) -> Option<String> {
        Some(format!("S{:02}E{:02}", self.season?, self.episode?))
    }

    pub fn summary(&self) -> Summary {
        let series = self.series_label().unwrap_or("a series").to_owned();
        let episode = self
            .episode_code()
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        let language = self
            .language
            .as_deref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        match self.event {
            ConnectionEvent::DownloadCompleted => Summary {
                title: "Download completed",
                text: format!("{series}{episode}{language} downloaded"),
                tag: "white_check_mark",
            },
            ConnectionEvent::DownloadFailed => Summary {
                title: "Download failed",
                text: format!(
                    "{series}{episode}{language} failed: {}",
                    short(self.error.as_deref().unwrap_or("unknown error"), 300)
                ),
                tag: "x",
            },
            ConnectionEvent::SeriesAdded => Summary {
                title: "Series added",
                text: format!("{series} was added to the library"),
                tag: "tv",
            },
            ConnectionEvent::NewEpisodes => {
                let list = self
                    .episodes
                    .iter()
                    .flatten()
                    .take(20)
                    .map(|e| format!("S{:02}E{:02}", e.season, e.episode))
                    .collect::<Vec<_>>()
                    .join(", ");
                Summary {
                    title: "New episodes",
                    text: if list.is_empty() {
                        format!("{series} has new episodes")
                    } else {
                        format!("{series}: {list}")
                    },
                    tag: "new",
                }
            }
            ConnectionEvent::ScanCompleted => {
                let text = match &self.scan {
                    Some(s) => {
                        let missing = s
                            .missing
                            .map(|m| format!(", {m} missing"))
                            .unwrap_or_default();
                        format!(
                            "{} series, {} episodes{missing}, {} unmatched folders",
                            s.series, s.episodes, s.unmatched
                        )
                    }
                    None => "The library scan finished".to_owned(),
                };
                Summary {
                    title: "Library scan completed",
                    text,
                    tag: "mag",
                }
            }
            ConnectionEvent::Test => Summary {
                title: "Test",
                text: self
                    .message
                    .clone()
                    .unwrap_or_else(|| "Test notification from Aniworld Server".to_owned()),
                tag: "test_tube",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Language, SeriesKey};

    fn context() -> EventContext {
        let mut c = EventContext::new(SeriesKey::parse("attack-on-titan").unwrap());
        c.site = Some("aniworld".into());
        c.folder = Some("Attack on Titan (2013)".into());
        c.season = Some(1);
        c.episode = Some(3);
        c.language = Some(Language::GermanDub);
        c.path = Some("/lib/a.mp4".into());
        c
    }

    #[test]
    fn completed_download_has_the_webhook_fields() {
        let n = Notification::from_event(&Event::DownloadCompleted {
            item_id: 1,
            context: context(),
            size: 42,
        })
        .unwrap();
        let v = n.to_json();
        assert_eq!(v["event"], "download_completed");
        assert_eq!(v["key"], "attack-on-titan");
        assert_eq!(v["site"], "aniworld");
        assert_eq!(v["folder"], "Attack on Titan (2013)");
        assert_eq!(v["season"], 1);
        assert_eq!(v["episode"], 3);
        assert_eq!(v["language"], "German Dub");
        assert_eq!(v["path"], "/lib/a.mp4");
        assert_eq!(v["size"], 42);
        assert!(
            chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap()).is_ok(),
            "{v}"
        );
        assert!(v.get("error").is_none());
        assert_eq!(
            n.summary().text,
            "Attack on Titan (2013) S01E03 (German Dub) downloaded"
        );
    }

    #[test]
    fn progress_and_queue_events_make_no_notification() {
        assert!(
            Notification::from_event(&Event::QueueStatus {
                running: true,
                paused: false,
                pending: 0,
                downloading: 0,
                completed: 0,
                failed: 0,
            })
            .is_none()
        );
    }

    #[test]
    fn generic_event_data_fills_key_and_episode_list() {
        let data = serde_json::json!({
            "key": "one-piece",
            "episodes": [{"season": 1, "episode": 1100}, {"season": 1, "episode": 1101}]
        });
        let n = Notification::from_data(ConnectionEvent::NewEpisodes, &data);
        assert_eq!(n.key.as_deref(), Some("one-piece"));
        assert_eq!(
            n.episodes,
            Some(vec![
                EpisodeNumber {
                    season: 1,
                    episode: 1100
                },
                EpisodeNumber {
                    season: 1,
                    episode: 1101
                }
            ])
        );
        assert_eq!(n.summary().text, "one-piece: S01E1100, S01E1101");
        assert_eq!(n.to_json()["event"], "new_episodes");
    }
}
