//! `Allow` on every 405 answer (RFC 9110): the methods the published document lists for the path,
//! with `HEAD` wherever `GET` is served; paths outside the document (the UI, `/openapi.json`,
//! `/docs`, `/ws/connect`) serve `GET` and `HEAD` only.

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use serde_json::Value;

use crate::body_errors::path_item;

const METHODS: [&str; 7] = ["get", "head", "post", "put", "patch", "delete", "options"];

/// The methods `path` answers, as an `Allow` value.
pub fn allowed(spec: &Value, path: &str) -> String {
    let Some(item) = path_item(spec, path).and_then(Value::as_object) else {
        return "GET, HEAD".to_owned();
    };
    let mut methods: Vec<&str> = METHODS
        .iter()
        .copied()
        .filter(|m| item.contains_key(*m) || (*m == "head" && item.contains_key("get")))
        .collect();
    methods.dedup();
    methods
        .iter()
        .map(|m| m.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The middleware (outside the one that writes JSON error bodies, so it sees the final answer).
pub async fn allow_header<E: Endpoint>(
    ep: Arc<E>,
    req: Request,
    spec: Arc<Value>,
) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    let mut resp = ep.call(req).await?.into_response();
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key(header::ALLOW)
        && let Ok(value) = HeaderValue::from_str(&allowed(&spec, &path))
    {
        resp.headers_mut().insert(header::ALLOW, value);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_says_which_methods_a_path_takes() {
        let spec = crate::api::contract::document();
        assert_eq!(allowed(&spec, "/api/config"), "GET, HEAD, PUT");
        assert_eq!(allowed(&spec, "/api/queue/add"), "POST");
        assert_eq!(allowed(&spec, "/api/queue/17"), "DELETE");
        assert_eq!(allowed(&spec, "/api/anime/dark"), "GET, HEAD");
        assert_eq!(allowed(&spec, "/openapi.json"), "GET, HEAD");
    }
}
