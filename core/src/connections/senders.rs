//! The requests each built-in kind sends.
//!
//! | kind | event with a file path | test | other events |
//! |---|---|---|---|
//! | webhook | `POST url` JSON body | same | same |
//! | ntfy | `POST url` text + `Title`/`Tags` | same | same |
//! | discord | `POST url` JSON embed | same | same |
//! | jellyfin/emby | `POST /Library/Media/Updated` | `GET /System/Info` | `POST /Library/Refresh` |
//! | plex | `GET /library/sections`, then `/library/sections/{id}/refresh?path=` | `GET /library/sections` | `/library/sections/all/refresh` |
//!
//! Media servers have nothing to do for `download_failed` and `new_episodes` (no new file yet).

use std::path::Path;
use std::time::Duration;

use reqwest::{Client, RequestBuilder};
use serde_json::json;

use super::{ConnectionEvent, ConnectionKind, Notification};
use crate::config::ConnectionConfig;

/// Largest answer body read from a receiver.
const MAX_ANSWER: usize = 64 * 1024;

/// A receiver took the notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// HTTP status of the (last) request, when there was one.
    pub status: Option<u16>,
    pub message: String,
}

/// A delivery attempt failed. The message never contains the connection's URL or token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    pub message: String,
    pub status: Option<u16>,
    /// Whether trying again may help (network trouble, 5xx, 429).
    pub retryable: bool,
}

/// One delivery attempt's shared inputs.
pub(super) struct Attempt<'a> {
    pub client: &'a Client,
    pub connection: &'a ConnectionConfig,
    pub kind: &'a ConnectionKind,
    pub timeout: Duration,
}

/// `base` with `path` appended to its path (query and fragment dropped).
fn endpoint(base: &url::Url, path: &str) -> url::Url {
    let mut u = base.clone();
    u.set_query(None);
    u.set_fragment(None);
    let joined = format!("{}{path}", u.path().trim_end_matches('/'));
    u.set_path(&joined);
    u
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// A transport failure in words that never contain the URL.
fn transport_error(e: reqwest::Error, timeout: Duration) -> DeliveryError {
    let message = if e.is_timeout() {
        format!("no answer within {} s", timeout.as_secs_f64())
    } else if e.is_connect() {
        format!("cannot connect: {}", root_cause(&e))
    } else {
        let e = e.without_url();
        format!("request failed: {}", root_cause(&e))
    };
    DeliveryError {
        message,
        status: None,
        retryable: true,
    }
}

impl Attempt<'_> {
    fn base(&self) -> Result<url::Url, DeliveryError> {
        url::Url::parse(&self.connection.url).map_err(|_| DeliveryError {
            message: "the URL does not parse".into(),
            status: None,
            retryable: false,
        })
    }

    fn token(&self) -> Option<&str> {
        self.connection.token.as_deref()
    }

    /// Sends, reads at most [`MAX_ANSWER`] bytes of the answer; a non-2xx status is an error
    /// (retryable for 5xx and 429) whose message quotes the start of the answer.
    async fn exchange(&self, request: RequestBuilder) -> Result<(u16, String), DeliveryError> {
        let mut response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| transport_error(e, self.timeout))?;
        let status = response.status();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk);
                    if body.len() >= MAX_ANSWER {
                        body.truncate(MAX_ANSWER);
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) if status.is_success() => {
                    return Err(transport_error(e, self.timeout));
                }
                Err(_) => break,
            }
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        if status.is_success() {
            return Ok((status.as_u16(), text));
        }
        let excerpt: String = text.trim().chars().take(200).collect();
        Err(DeliveryError {
            message: if excerpt.is_empty() {
                format!("answered HTTP {}", status.as_u16())
            } else {
                format!("answered HTTP {}: {excerpt}", status.as_u16())
            },
            status: Some(status.as_u16()),
            retryable: status.is_server_error() || status.as_u16() == 429,
        })
    }

    fn sent(status: u16, what: impl Into<String>) -> Option<Delivered> {
        Some(Delivered {
            status: Some(status),
            message: what.into(),
        })
    }

    /// Sends `n` the way this kind does; `Ok(None)` when the kind has nothing to do for it.
    pub async fn send(&self, n: &Notification) -> Result<Option<Delivered>, DeliveryError> {
        match self.kind {
            ConnectionKind::Webhook => self.webhook(n).await,
            ConnectionKind::Ntfy => self.ntfy(n).await,
            ConnectionKind::Discord => self.discord(n).await,
            ConnectionKind::Jellyfin | ConnectionKind::Emby => self.emby_family(n).await,
            ConnectionKind::Plex => self.plex(n).await,
            ConnectionKind::Script(_) => Err(DeliveryError {
                message: "script kinds are sent by the script layer".into(),
                status: None,
                retryable: false,
            }),
        }
    }

    fn with_bearer(&self, request: RequestBuilder) -> RequestBuilder {
        match self.token() {
            Some(t) => request.bearer_auth(t),
            None => request,
        }
    }

    async fn webhook(&self, n: &Notification) -> Result<Option<Delivered>, DeliveryError> {
        let request = self.client.post(self.base()?).json(&n.to_json());
        let (status, _) = self.exchange(self.with_bearer(request)).await?;
        Ok(Self::sent(status, format!("HTTP {status}")))
    }

    async fn ntfy(&self, n: &Notification) -> Result<Option<Delivered>, DeliveryError> {
        let summary = n.summary();
        let request = self
            .client
            .post(self.base()?)
            .header("Title", summary.title)
            .header("Tags", summary.tag)
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(summary.text);
        let (status, _) = self.exchange(self.with_bearer(request)).await?;
        Ok(Self::sent(status, format!("HTTP {status}")))
    }

    async fn discord(&self, n: &Notification) -> Result<Option<Delivered>, DeliveryError> {
        let summary = n.summary();
        let mut fields = Vec::new();
        if let Some(series) = n.series_label() {
            fields.push(json!({"name": "Series", "value": series, "inline": true}));
        }
        if let Some(code) = n.episode_code() {
            fields.push(json!({"name": "Episode", "value": code, "inline": true}));
        }
        if let Some(language) = &n.language {
            fields.push(json!({"name": "Language", "value": language, "inline": true}));
        }
        let color = match n.event {
            ConnectionEvent::DownloadFailed => 0xE74C3C,
            ConnectionEvent::Test => 0x95A5A6,
            _ => 0x2ECC71,
        };
        let body = json!({
            "username": "Aniworld Server",
            "embeds": [{
                "title": summary.title,
                "description": summary.text,
                "color": color,
                "timestamp": n.timestamp,
                "fields": fields,
            }],
        });
        let (status, _) = self
            .exchange(self.client.post(self.base()?).json(&body))
            .await?;
        Ok(Self::sent(status, format!("HTTP {status}")))
    }

    /// Jellyfin and Emby share the API; Jellyfin wants the key in `Authorization: MediaBrowser`
    /// (its legacy `X-Emby-Token` may be switched off), Emby in `X-Emby-Token`.
    fn emby_auth(&self, request: RequestBuilder) -> RequestBuilder {
        let token = self.token().unwrap_or_default();
        let request = request.header("X-Emby-Token", token);
        if *self.kind == ConnectionKind::Jellyfin {
            request.header(
                reqwest::header::AUTHORIZATION,
                format!("MediaBrowser Token=\"{token}\""),
            )
        } else {
            request
        }
    }

    async fn emby_family(&self, n: &Notification) -> Result<Option<Delivered>, DeliveryError> {
        let base = self.base()?;
        match (n.event, n.path.as_deref()) {
            (ConnectionEvent::Test, _) => {
                let request = self.client.get(endpoint(&base, "/System/Info"));
                let (status, body) = self.exchange(self.emby_auth(request)).await?;
                let info: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let message = match (info["ServerName"].as_str(), info["Version"].as_str()) {
                    (Some(name), Some(version)) => format!("reached {name} (version {version})"),
                    _ => format!("HTTP {status}"),
                };
                Ok(Self::sent(status, message))
            }
            (ConnectionEvent::DownloadFailed | ConnectionEvent::NewEpisodes, _) => Ok(None),
            (_, Some(path)) => {
                let body = json!({"Updates": [{"Path": path, "UpdateType": "Created"}]});
                let request = self
                    .client
                    .post(endpoint(&base, "/Library/Media/Updated"))
                    .json(&body);
                let (status, _) = self.exchange(self.emby_auth(request)).await?;
                Ok(Self::sent(
                    status,
                    format!("reported the new file (HTTP {status})"),
                ))
            }
            (_, None) => {
                let request = self.client.post(endpoint(&base, "/Library/Refresh"));
                let (status, _) = self.exchange(self.emby_auth(request)).await?;
                Ok(Self::sent(
                    status,
                    format!("library refresh started (HTTP {status})"),
                ))
            }
        }
    }

    fn plex_request(&self, url: url::Url) -> RequestBuilder {
        self.client
            .get(url)
            .header("X-Plex-Token", self.token().unwrap_or_default())
            .header(reqwest::header::ACCEPT, "application/json")
    }

    /// `(section key, title, location paths)` of every library section.
    async fn plex_sections(
        &self,
        base: &url::Url,
    ) -> Result<(u16, Vec<(String, String, Vec<String>)>), DeliveryError> {
        let (status, body) = self
            .exchange(self.plex_request(endpoint(base, "/library/sections")))
            .await?;
        let value: serde_json::Value = serde_json::from_str(&body).map_err(|_| DeliveryError {
            message: "the section list is not JSON (is this a Plex server?)".into(),
            status: Some(status),
            retryable: false,
        })?;
        let sections = value["MediaContainer"]["Directory"]
            .as_array()
            .map(|dirs| {
                dirs.iter()
                    .filter_map(|d| {
                        let key = match &d["key"] {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Number(n) => n.to_string(),
                            _ => return None,
                        };
                        let title = d["title"].as_str().unwrap_or_default().to_owned();
                        let locations = d["Location"]
                            .as_array()
                            .map(|l| {
                                l.iter()
                                    .filter_map(|x| x["path"].as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        Some((key, title, locations))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok((status, sections))
    }

    async fn plex(&self, n: &Notification) -> Result<Option<Delivered>, DeliveryError> {
        let base = self.base()?;
        match (n.event, n.path.as_deref()) {
            (ConnectionEvent::Test, _) => {
                let (status, sections) = self.plex_sections(&base).await?;
                Ok(Self::sent(
                    status,
                    format!("reached Plex: {} library sections", sections.len()),
                ))
            }
            (ConnectionEvent::DownloadFailed | ConnectionEvent::NewEpisodes, _) => Ok(None),
            (_, Some(path)) => {
                let (_, sections) = self.plex_sections(&base).await?;
                let file = Path::new(path);
                // The section whose folder holds the file; the deepest wins when folders nest.
                let best = sections
                    .iter()
                    .flat_map(|(key, title, locations)| {
                        locations
                            .iter()
                            .filter(|l| file.starts_with(Path::new(l.as_str())))
                            .map(move |l| (l.len(), key, title))
                    })
                    .max_by_key(|(len, _, _)| *len);
                match best {
                    Some((_, key, title)) => {
                        let mut url = endpoint(&base, &format!("/library/sections/{key}/refresh"));
                        let folder = file.parent().unwrap_or(file);
                        url.query_pairs_mut()
                            .append_pair("path", &folder.to_string_lossy());
                        let (status, _) = self.exchange(self.plex_request(url)).await?;
                        Ok(Self::sent(
                            status,
                            format!(
                                "section {title:?} refreshing the new file's folder (HTTP {status})"
                            ),
                        ))
                    }
                    None => {
                        let url = endpoint(&base, "/library/sections/all/refresh");
                        let (status, _) = self.exchange(self.plex_request(url)).await?;
                        Ok(Self::sent(
                            status,
                            format!(
                                "no section holds the file: refreshing all sections (HTTP {status})"
                            ),
                        ))
                    }
                }
            }
            (_, None) => {
                let url = endpoint(&base, "/library/sections/all/refresh");
                let (status, _) = self.exchange(self.plex_request(url)).await?;
                Ok(Self::sent(
                    status,
                    format!("refreshing all sections (HTTP {status})"),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_a_base_path_and_drop_its_query() {
        let base = url::Url::parse("http://h:8096/emby/?x=1").unwrap();
        assert_eq!(
            endpoint(&base, "/Library/Refresh").as_str(),
            "http://h:8096/emby/Library/Refresh"
        );
        let base = url::Url::parse("http://h:32400").unwrap();
        assert_eq!(
            endpoint(&base, "/library/sections").as_str(),
            "http://h:32400/library/sections"
        );
    }
}
