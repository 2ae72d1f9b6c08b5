//! The sites' AJAX search answers (JSON), shared by aniworld.to and s.to.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::SeriesKey;
use crate::providers::text::{clean_text, first_year, non_empty, sanitize_json};

/// A search hit before it is tied to a base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub key: String,
    pub name: String,
    pub year: Option<i32>,
    pub description: Option<String>,
    pub cover: Option<String>,
}

fn json_array(body: &str, what: &str) -> Result<Vec<Value>> {
    let trimmed = body.trim_start_matches('\u{feff}');
    let value: Value = serde_json::from_str(trimmed)
        .or_else(|_| serde_json::from_str(&sanitize_json(trimmed)))
        .map_err(|e| Error::parse(format!("{what} (JSON: {e})")))?;
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(Error::parse(format!("{what} (expected a JSON array)"))),
    }
}

fn str_field(item: &Value, name: &str) -> Option<String> {
    match item.get(name)? {
        Value::String(s) => non_empty(clean_text(s)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `GET /ajax/seriesSearch?keyword=` → `[{name, link, description, cover, productionYear}]`.
pub fn parse_series_search(body: &str, series_prefix: &str) -> Result<Vec<SearchHit>> {
    let items = json_array(body, "seriesSearch result")?;
    let mut hits = Vec::new();
    for item in &items {
        let Some(link) = str_field(item, "link") else {
            continue;
        };
        let key = key_of_series_path(&link, series_prefix).unwrap_or(link);
        if SeriesKey::parse(&key).is_err() {
            continue;
        }
        let Some(name) = str_field(item, "name").or_else(|| str_field(item, "title")) else {
            continue;
        };
        hits.push(SearchHit {
            key,
            name,
            year: str_field(item, "productionYear").and_then(|y| first_year(&y)),
            description: str_field(item, "description"),
            cover: str_field(item, "cover"),
        });
    }
    Ok(hits)
}

/// `POST /ajax/search` → `[{title, description, link}]`; only series links are kept.
pub fn parse_form_search(body: &str, series_prefix: &str) -> Result<Vec<SearchHit>> {
    let items = json_array(body, "search result")?;
    let mut hits = Vec::new();
    for item in &items {
        let Some(key) = str_field(item, "link").and_then(|l| key_of_series_path(&l, series_prefix))
        else {
            continue;
        };
        let Some(name) = str_field(item, "title").or_else(|| str_field(item, "name")) else {
            continue;
        };
        if hits.iter().any(|h: &SearchHit| h.key == key) {
            continue;
        }
        hits.push(SearchHit {
            key,
            name,
            year: None,
            description: str_field(item, "description"),
            cover: None,
        });
    }
    Ok(hits)
}

/// `GET /api/search/suggest?term=` (s.to since 2026) → `{"shows": [{"name", "url"}]}`; names may
/// carry `<em>` highlighting, `url` is `{series_prefix}{key}`. Other lists in the answer are ignored.
pub fn parse_suggest(body: &str, series_prefix: &str) -> Result<Vec<SearchHit>> {
    let trimmed = body.trim_start_matches('\u{feff}');
    let value: Value = serde_json::from_str(trimmed)
        .or_else(|_| serde_json::from_str(&sanitize_json(trimmed)))
        .map_err(|e| Error::parse(format!("search suggestions (JSON: {e})")))?;
    let shows = match value.get("shows") {
        Some(Value::Array(items)) => items,
        Some(Value::Null) => return Ok(Vec::new()),
        _ => {
            return Err(Error::parse(
                "search suggestions (no \"shows\" list in the answer)",
            ));
        }
    };
    let mut hits: Vec<SearchHit> = Vec::new();
    for item in shows {
        let Some(key) = str_field(item, "url").and_then(|l| key_of_series_path(&l, series_prefix))
        else {
            continue;
        };
        let Some(name) = str_field(item, "name").or_else(|| str_field(item, "title")) else {
            continue;
        };
        if hits.iter().any(|h| h.key == key) {
            continue;
        }
        hits.push(SearchHit {
            key,
            name,
            year: None,
            description: None,
            cover: str_field(item, "cover"),
        });
    }
    Ok(hits)
}

/// `{series_prefix}{key}` (exactly a series page, not a season or episode) → key.
fn key_of_series_path(link: &str, series_prefix: &str) -> Option<String> {
    let path = match url::Url::parse(link) {
        Ok(u) => u.path().to_owned(),
        Err(_) => link.split(['?', '#']).next()?.to_owned(),
    };
    let path = path.trim_end_matches('/');
    let rest = path.split(series_prefix).nth(1)?;
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    SeriesKey::parse(rest).ok()?;
    Some(rest.to_owned())
}
