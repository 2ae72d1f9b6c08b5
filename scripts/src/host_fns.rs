//! The only functions scripts get besides rhai's standard library: HTTP to declared hosts, HTML
//! selection, regex, JSON, base64, URL helpers, logging and read-only settings. Nothing here
//! touches the filesystem or spawns processes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map};

use crate::sandbox::{self, ScriptLimits};

type FnResult<T> = Result<T, Box<EvalAltResult>>;

fn err<T>(message: impl Into<String>) -> FnResult<T> {
    Err(message.into().into())
}

/// What the HTTP functions share.
pub struct HttpAccess {
    pub client: reqwest::Client,
    pub runtime: tokio::runtime::Handle,
    pub limits: ScriptLimits,
}

/// `host` is `allowed` or a subdomain of it.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allowed.iter().any(|a| {
        let a = a.trim().trim_end_matches('.').to_ascii_lowercase();
        !a.is_empty() && (host == a || host.ends_with(&format!(".{a}")))
    })
}

fn checked_url(raw: &str) -> FnResult<url::Url> {
    let url = url::Url::parse(raw).or_else(|e| err(format!("bad URL {raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return err(format!("only http and https URLs: {raw}"));
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    let ctx =
        sandbox::current().ok_or_else(|| -> Box<EvalAltResult> { "no script context".into() })?;
    if !host_allowed(&host, &ctx.allowed_hosts) {
        return err(format!(
            "host {host:?} is not declared by script {:?} (meta().allowed_hosts: {:?})",
            ctx.script, ctx.allowed_hosts
        ));
    }
    Ok(url)
}

fn headers_of(opts: &Map) -> Vec<(String, String)> {
    opts.get("headers")
        .and_then(|h| h.read_lock::<Map>().map(|m| m.clone()))
        .map(|m| {
            m.into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

impl HttpAccess {
    fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Dynamic>,
        opts: Map,
    ) -> FnResult<Map> {
        let ctx = sandbox::current()
            .ok_or_else(|| -> Box<EvalAltResult> { "no script context".into() })?;
        if !ctx.may_block {
            return err("HTTP is not available in this function (meta/key_from_link run inline)");
        }
        let follow = opts
            .get("follow_redirects")
            .and_then(|v| v.as_bool().ok())
            .unwrap_or(true);
        let headers = headers_of(&opts);
        let (body_bytes, json_body) = match body {
            None => (None, false),
            Some(b) if b.is_string() => (Some(b.to_string().into_bytes()), false),
            Some(b) => {
                let value: serde_json::Value =
                    rhai::serde::from_dynamic(&b).or_else(|e| err(format!("body: {e}")))?;
                (Some(value.to_string().into_bytes()), true)
            }
        };
        let mut url = checked_url(url)?;
        let started = Instant::now();
        let mut method = method;
        let mut body_bytes = body_bytes;
        let result = (|| {
            for _hop in 0..10 {
                let mut req = self
                    .client
                    .request(method.clone(), url.clone())
                    .timeout(self.limits.http_timeout);
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                if json_body
                    && !headers
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    req = req.header("content-type", "application/json");
                }
                if let Some(b) = &body_bytes {
                    req = req.body(b.clone());
                }
                let max = self.limits.max_http_body;
                let fut = async move {
                    let resp = req.send().await?;
                    let status = resp.status().as_u16();
                    let final_url = resp.url().to_string();
                    let headers: BTreeMap<String, String> = resp
                        .headers()
                        .iter()
                        .map(|(k, v)| {
                            (
                                k.as_str().to_owned(),
                                String::from_utf8_lossy(v.as_bytes()).into_owned(),
                            )
                        })
                        .collect();
                    let mut resp = resp;
                    let mut body = Vec::new();
                    while let Some(chunk) = resp.chunk().await? {
                        body.extend_from_slice(&chunk);
                        if body.len() > max {
                            body.truncate(max);
                            break;
                        }
                    }
                    Ok::<_, reqwest::Error>((status, final_url, headers, body))
                };
                let (status, final_url, resp_headers, body) = self
                    .runtime
                    .block_on(fut)
                    .or_else(|e| err(format!("http {}: {e}", url)))?;
                let location = resp_headers.get("location").cloned();
                if follow
                    && (300..400).contains(&status)
                    && let Some(loc) = location
                {
                    let next = url
                        .join(&loc)
                        .or_else(|e| err(format!("bad redirect {loc:?}: {e}")))?;
                    // Every hop is checked against the declared hosts.
                    url = checked_url(next.as_str())?;
                    if status == 303
                        || ((status == 301 || status == 302) && method == reqwest::Method::POST)
                    {
                        method = reqwest::Method::GET;
                        body_bytes = None;
                    }
                    continue;
                }
                let mut out = Map::new();
                out.insert("status".into(), Dynamic::from(status as i64));
                out.insert("url".into(), Dynamic::from(final_url));
                out.insert(
                    "body".into(),
                    Dynamic::from(String::from_utf8_lossy(&body).into_owned()),
                );
                let mut h = Map::new();
                for (k, v) in resp_headers {
                    h.insert(k.into(), Dynamic::from(v));
                }
                out.insert("headers".into(), Dynamic::from_map(h));
                return Ok(out);
            }
            err("too many redirects")
        })();
        sandbox::extend_deadline(started.elapsed());
        result
    }
}

/// Runs `f` over every element matching `css` (scraper's document is not `Send`, so it never leaves here).
fn with_selection<T>(
    html: &str,
    css: &str,
    f: impl Fn(scraper::ElementRef<'_>) -> T,
) -> FnResult<Vec<T>> {
    let selector =
        scraper::Selector::parse(css).or_else(|e| err(format!("bad CSS selector {css:?}: {e}")))?;
    let doc = scraper::Html::parse_document(html);
    Ok(doc.select(&selector).map(f).collect())
}

fn element_text(e: scraper::ElementRef<'_>) -> String {
    e.text().collect::<String>().trim().to_owned()
}

fn element_map(e: scraper::ElementRef<'_>) -> Dynamic {
    let mut m = Map::new();
    m.insert("text".into(), Dynamic::from(element_text(e)));
    m.insert("html".into(), Dynamic::from(e.inner_html()));
    m.insert("tag".into(), Dynamic::from(e.value().name().to_owned()));
    let mut attrs = Map::new();
    for (k, v) in e.value().attrs() {
        attrs.insert(k.into(), Dynamic::from(v.to_owned()));
    }
    m.insert("attrs".into(), Dynamic::from_map(attrs));
    Dynamic::from_map(m)
}

fn regex(pattern: &str) -> FnResult<regex::Regex> {
    regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .or_else(|e| err(format!("bad regex: {e}")))
}

fn captures_array(c: &regex::Captures<'_>) -> Array {
    c.iter()
        .map(|m| m.map_or(Dynamic::UNIT, |m| Dynamic::from(m.as_str().to_owned())))
        .collect()
}

fn json_to_dynamic(text: &str) -> FnResult<Dynamic> {
    let value: serde_json::Value =
        serde_json::from_str(text).or_else(|e| err(format!("bad JSON: {e}")))?;
    rhai::serde::to_dynamic(value)
}

fn b64_decode(text: &str) -> FnResult<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let t = text.trim();
    STANDARD
        .decode(t)
        .or_else(|_| STANDARD_NO_PAD.decode(t))
        .or_else(|_| URL_SAFE.decode(t))
        .or_else(|_| URL_SAFE_NO_PAD.decode(t))
        .or_else(|e| err(format!("bad base64: {e}")))
}

fn log_script() -> String {
    sandbox::current()
        .map(|c| c.script.to_string())
        .unwrap_or_default()
}

/// Registers every host function.
pub fn register(
    engine: &mut Engine,
    http: Arc<HttpAccess>,
    settings: Arc<BTreeMap<String, String>>,
) {
    // HTTP
    let h = http.clone();
    engine.register_fn("http_get", move |url: &str| {
        h.request(reqwest::Method::GET, url, None, Map::new())
    });
    let h = http.clone();
    engine.register_fn("http_get", move |url: &str, opts: Map| {
        h.request(reqwest::Method::GET, url, None, opts)
    });
    let h = http.clone();
    engine.register_fn("http_post", move |url: &str, body: Dynamic| {
        h.request(reqwest::Method::POST, url, Some(body), Map::new())
    });
    let h = http;
    engine.register_fn("http_post", move |url: &str, body: Dynamic, opts: Map| {
        h.request(reqwest::Method::POST, url, Some(body), opts)
    });

    // HTML
    engine.register_fn("html_select", |html: &str, css: &str| -> FnResult<Array> {
        with_selection(html, css, element_map)
    });
    engine.register_fn(
        "html_select_text",
        |html: &str, css: &str| -> FnResult<Array> {
            with_selection(html, css, |e| Dynamic::from(element_text(e)))
        },
    );
    engine.register_fn(
        "html_select_attr",
        |html: &str, css: &str, attr: &str| -> FnResult<Array> {
            Ok(
                with_selection(html, css, |e| e.value().attr(attr).map(str::to_owned))?
                    .into_iter()
                    .flatten()
                    .map(Dynamic::from)
                    .collect(),
            )
        },
    );
    engine.register_fn(
        "html_first_text",
        |html: &str, css: &str| -> FnResult<Dynamic> {
            Ok(with_selection(html, css, element_text)?
                .into_iter()
                .next()
                .map_or(Dynamic::UNIT, Dynamic::from))
        },
    );
    engine.register_fn(
        "html_first_attr",
        |html: &str, css: &str, attr: &str| -> FnResult<Dynamic> {
            Ok(
                with_selection(html, css, |e| e.value().attr(attr).map(str::to_owned))?
                    .into_iter()
                    .flatten()
                    .next()
                    .map_or(Dynamic::UNIT, Dynamic::from),
            )
        },
    );

    engine.register_fn("html_text", |fragment: &str| -> String {
        let doc = scraper::Html::parse_fragment(fragment);
        doc.root_element()
            .text()
            .collect::<String>()
            .trim()
            .to_owned()
    });

    // Regex
    engine.register_fn(
        "regex_is_match",
        |pattern: &str, text: &str| -> FnResult<bool> { Ok(regex(pattern)?.is_match(text)) },
    );
    engine.register_fn(
        "regex_captures",
        |pattern: &str, text: &str| -> FnResult<Array> {
            Ok(regex(pattern)?
                .captures(text)
                .map(|c| captures_array(&c))
                .unwrap_or_default())
        },
    );
    engine.register_fn(
        "regex_captures_all",
        |pattern: &str, text: &str| -> FnResult<Array> {
            Ok(regex(pattern)?
                .captures_iter(text)
                .map(|c| Dynamic::from_array(captures_array(&c)))
                .collect())
        },
    );
    engine.register_fn(
        "regex_replace",
        |pattern: &str, text: &str, with: &str| -> FnResult<String> {
            Ok(regex(pattern)?.replace_all(text, with).into_owned())
        },
    );

    // JSON
    engine.register_fn("json_parse", |text: &str| json_to_dynamic(text));
    engine.register_fn("json_stringify", |value: Dynamic| -> FnResult<String> {
        let v: serde_json::Value = rhai::serde::from_dynamic(&value)?;
        Ok(v.to_string())
    });

    // base64
    engine.register_fn("base64_encode", |text: &str| {
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
    });
    engine.register_fn("base64_decode", |text: &str| -> FnResult<String> {
        Ok(String::from_utf8_lossy(&b64_decode(text)?).into_owned())
    });

    // URLs
    engine.register_fn("url_host", |raw: &str| -> Dynamic {
        url::Url::parse(raw)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .map_or(Dynamic::UNIT, Dynamic::from)
    });
    engine.register_fn(
        "url_join",
        |base: &str, relative: &str| -> FnResult<String> {
            let b = url::Url::parse(base).or_else(|e| err(format!("bad URL {base:?}: {e}")))?;
            Ok(b.join(relative)
                .or_else(|e| err(format!("bad URL {relative:?}: {e}")))?
                .to_string())
        },
    );
    engine.register_fn("url_encode", |text: &str| -> String {
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
    });

    // Logging
    engine.register_fn(
        "log_info",
        |m: ImmutableString| tracing::info!(script = %log_script(), "{m}"),
    );
    engine.register_fn(
        "log_warn",
        |m: ImmutableString| tracing::warn!(script = %log_script(), "{m}"),
    );
    engine.register_fn(
        "log_error",
        |m: ImmutableString| tracing::error!(script = %log_script(), "{m}"),
    );
    engine.register_fn(
        "log_debug",
        |m: ImmutableString| tracing::debug!(script = %log_script(), "{m}"),
    );

    // Settings (`scripts.settings`), read-only.
    engine.register_fn("config", move |name: &str| -> Dynamic {
        settings
            .get(name)
            .cloned()
            .map_or(Dynamic::UNIT, Dynamic::from)
    });

    // Time, for scripts that need a timestamp (`expiry=` parameters and the like).
    engine.register_fn("unix_time_ms", || -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_exactly_or_as_subdomain() {
        let allowed = vec!["example.com".to_owned(), "127.0.0.1".to_owned()];
        assert!(host_allowed("example.com", &allowed));
        assert!(host_allowed("cdn.example.com", &allowed));
        assert!(host_allowed("127.0.0.1", &allowed));
        assert!(!host_allowed("badexample.com", &allowed));
        assert!(!host_allowed("example.com.evil.net", &allowed));
        assert!(!host_allowed("anything", &[]));
    }
}
