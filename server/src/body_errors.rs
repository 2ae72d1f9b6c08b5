//! Checks a JSON request body against its operation's schema in the published document, and names
//! the field when it does not fit.
//!
//! Before the handler runs, the body is walked along the operation's request schema: a value of
//! the wrong type (poem-openapi would turn `172207` or `false` into the string `"172207"` or
//! `"false"`), outside its `enum`, `minimum`/`maximum`, `minLength`/`maxLength`, `pattern` or
//! `minItems`/`maxItems`, or a missing required field is answered with 400 and `details.field`
//! (`episodes[0].season`, `download.max_parallel`). When poem-openapi rejects a body for another
//! reason, the first unknown key is named the same way.

use std::sync::Arc;

use poem::http::{Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use serde_json::Value;

use crate::error::{ErrorBody, ErrorCode};

/// The middleware; `spec` is the served OpenAPI document.
pub async fn name_the_field<E: Endpoint>(
    ep: Arc<E>,
    mut req: Request,
    spec: Arc<Value>,
) -> poem::Result<Response> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json || matches!(*req.method(), Method::GET | Method::HEAD) {
        return ep.call(req).await.map(IntoResponse::into_response);
    }
    let body = req.take_body().into_bytes().await?;
    req.set_body(body.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // A caller without a valid token learns nothing about the body: the operation answers 401.
    if let Ok(value) = serde_json::from_slice::<Value>(&body)
        && let Some((field, problem)) = misfit(&spec, &method, &path, &value)
        && (!secured(&spec, &method, &path) || authenticated(&req).await)
    {
        return Ok(field_error(&field, &problem));
    }
    match ep.call(req).await {
        Err(err) if err.is::<poem_openapi::error::ParseRequestPayloadError>() => {
            let located = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|value| locate(&spec, &method, &path, &value));
            match located {
                Some((field, problem)) => Ok(field_error(&field, &problem)),
                None => Err(err),
            }
        }
        other => other.map(IntoResponse::into_response),
    }
}

/// Whether the operation needs the bearer token.
fn secured(spec: &Value, method: &Method, path: &str) -> bool {
    path_item(spec, path)
        .and_then(|item| item.get(method.as_str().to_ascii_lowercase()))
        .and_then(|op| op.get("security"))
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty())
}

/// Whether the request carries a valid bearer token.
async fn authenticated(req: &Request) -> bool {
    let Some(state) = req.data::<crate::app::AppState>() else {
        return false;
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(t) => state.auth().verify(t.trim()).await.is_ok(),
        None => false,
    }
}

fn field_error(field: &str, problem: &str) -> Response {
    let body = ErrorBody {
        error: ErrorCode::BadRequest,
        message: format!("invalid request body: {field}: {problem}"),
        details: Some(serde_json::json!({ "field": field })),
    };
    let mut resp = poem::web::Json(body).into_response();
    resp.set_status(StatusCode::BAD_REQUEST);
    resp
}

/// The first value of the body that does not fit the request schema of `method path` (type,
/// range, length, pattern, required): `(field, why)`.
pub fn misfit(
    spec: &Value,
    method: &Method,
    path: &str,
    value: &Value,
) -> Option<(String, String)> {
    let schema = request_schema(spec, method, path)?;
    Walker { spec }.check(schema, value, "", Pass::Types)
}

/// The first problem of `value` against the request schema of `method path`: `(field, why)`.
pub fn locate(
    spec: &Value,
    method: &Method,
    path: &str,
    value: &Value,
) -> Option<(String, String)> {
    let schema = request_schema(spec, method, path)?;
    let walker = Walker { spec };
    walker
        .check(schema, value, "", Pass::Types)
        .or_else(|| walker.check(schema, value, "", Pass::UnknownKeys))
}

/// The document's path item that serves `path`.
pub(crate) fn path_item<'s>(spec: &'s Value, path: &str) -> Option<&'s Value> {
    let paths = spec.get("paths")?.as_object()?;
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    // A literal path (`/api/queue/status`) wins over a template (`/api/queue/{item_id}`).
    paths.get(path).or_else(|| {
        paths
            .iter()
            .find(|(template, _)| matches_template(template, path))
            .map(|(_, item)| item)
    })
}

fn request_schema<'s>(spec: &'s Value, method: &Method, path: &str) -> Option<&'s Value> {
    let item = path_item(spec, path)?;
    let content = item
        .get(method.as_str().to_ascii_lowercase())?
        .pointer("/requestBody/content")?
        .as_object()?;
    content
        .iter()
        .find(|(media_type, _)| media_type.starts_with("application/json"))?
        .1
        .get("schema")
}

fn matches_template(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Wrong types, out-of-range integers, missing required fields.
    Types,
    /// Keys the schema does not know (poem-openapi objects deny them).
    UnknownKeys,
}

struct Walker<'s> {
    spec: &'s Value,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl<'s> Walker<'s> {
    fn resolve(&self, schema: &'s Value) -> &'s Value {
        let mut current = schema;
        for _ in 0..16 {
            match current
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|pointer| self.spec.pointer(pointer))
            {
                Some(target) => current = target,
                None => break,
            }
        }
        current
    }

    fn check(
        &self,
        schema: &'s Value,
        value: &Value,
        path: &str,
        pass: Pass,
    ) -> Option<(String, String)> {
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            return all.iter().find_map(|s| self.check(s, value, path, pass));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(options) = schema.get(key).and_then(Value::as_array) {
                let problems: Vec<_> = options
                    .iter()
                    .map(|s| self.check(s, value, path, pass))
                    .collect();
                return if problems.iter().any(Option::is_none) {
                    None
                } else {
                    problems.into_iter().flatten().next()
                };
            }
        }
        let field = || {
            if path.is_empty() {
                "body".to_owned()
            } else {
                path.to_owned()
            }
        };
        let wrong = |expected: &str| {
            (pass == Pass::Types).then(|| {
                (
                    field(),
                    format!("must be {expected}, not {}", kind_of(value)),
                )
            })
        };
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && pass == Pass::Types
            && !value.is_null()
            && !allowed.contains(value)
        {
            let names: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
            return Some((field(), format!("must be one of {}", names.join(", "))));
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("object") => {
                let Value::Object(given) = value else {
                    return wrong("an object");
                };
                let properties = schema.get("properties").and_then(Value::as_object);
                if pass == Pass::Types
                    && let Some(required) = schema.get("required").and_then(Value::as_array)
                {
                    for name in required.iter().filter_map(Value::as_str) {
                        if given.get(name).is_none_or(Value::is_null) {
                            return Some((join(path, name), "is required".to_owned()));
                        }
                    }
                }
                let extra = schema.get("additionalProperties");
                for (key, child) in given {
                    let child_path = join(path, key);
                    match (properties.and_then(|p| p.get(key)), extra) {
                        (Some(_), _) if child.is_null() => {}
                        (Some(s), _) => {
                            if let Some(problem) = self.check(s, child, &child_path, pass) {
                                return Some(problem);
                            }
                        }
                        (None, Some(s)) if s.is_object() => {
                            if let Some(problem) = self.check(s, child, &child_path, pass) {
                                return Some(problem);
                            }
                        }
                        (None, Some(Value::Bool(true))) => {}
                        (None, Some(Value::Bool(false))) => {
                            return Some((child_path, "unknown key".to_owned()));
                        }
                        (None, _) if pass == Pass::UnknownKeys => {
                            return Some((child_path, "unknown key".to_owned()));
                        }
                        (None, _) => {}
                    }
                }
                None
            }
            Some("array") => {
                let Value::Array(items) = value else {
                    return wrong("a list");
                };
                if pass == Pass::Types
                    && let Some(problem) = count_problem(schema, items.len(), "items")
                {
                    return Some((field(), problem));
                }
                let item_schema = schema.get("items")?;
                items.iter().enumerate().find_map(|(i, item)| {
                    self.check(item_schema, item, &format!("{}[{i}]", field()), pass)
                })
            }
            Some("string") => match value.as_str() {
                None => wrong("a string"),
                Some(text) if pass == Pass::Types => {
                    string_problem(schema, text).map(|problem| (field(), problem))
                }
                Some(_) => None,
            },
            Some("boolean") if !value.is_boolean() => wrong("true or false"),
            Some("number") if !value.is_number() => wrong("a number"),
            Some("integer") => {
                let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
                let (min, max): (i128, i128) = match format {
                    "uint32" => (0, u32::MAX.into()),
                    "int32" => (i32::MIN.into(), i32::MAX.into()),
                    "uint64" => (0, u64::MAX.into()),
                    "uint8" => (0, u8::MAX.into()),
                    "uint16" => (0, u16::MAX.into()),
                    _ => (i64::MIN.into(), i64::MAX.into()),
                };
                let n = value
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| value.as_u64().map(i128::from));
                match n {
                    None if pass == Pass::Types => Some((
                        field(),
                        if value.is_number() {
                            "must be a whole number".to_owned()
                        } else {
                            format!("must be a whole number, not {}", kind_of(value))
                        },
                    )),
                    Some(n) if pass == Pass::Types && (n < min || n > max) => {
                        Some((field(), format!("{n} is out of range ({min} to {max})")))
                    }
                    Some(n) if pass == Pass::Types => {
                        let bound = |key| schema.get(key).and_then(Value::as_f64);
                        match (bound("minimum"), bound("maximum")) {
                            (Some(low), _) if (n as f64) < low => {
                                Some((field(), format!("must be at least {low}")))
                            }
                            (_, Some(high)) if (n as f64) > high => {
                                Some((field(), format!("must be at most {high}")))
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// `minItems`/`maxItems` (`minLength`/`maxLength` for `what` = "characters").
fn count_problem(schema: &Value, count: usize, what: &str) -> Option<String> {
    let (min_key, max_key) = match what {
        "items" => ("minItems", "maxItems"),
        _ => ("minLength", "maxLength"),
    };
    let limit = |key| schema.get(key).and_then(Value::as_u64);
    match (limit(min_key), limit(max_key)) {
        (Some(min), _) if (count as u64) < min => Some(format!("needs at least {min} {what}")),
        (_, Some(max)) if (count as u64) > max => Some(format!("may have at most {max} {what}")),
        _ => None,
    }
}

fn string_problem(schema: &Value, text: &str) -> Option<String> {
    if let Some(problem) = count_problem(schema, text.chars().count(), "characters") {
        return Some(problem);
    }
    let pattern = schema.get("pattern").and_then(Value::as_str)?;
    match regex::Regex::new(pattern) {
        Ok(re) if !re.is_match(text) => Some(format!("must match {pattern}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        crate::api::contract::document()
    }

    fn at(method: Method, path: &str, body: Value) -> Option<(String, String)> {
        locate(&spec(), &method, path, &body)
    }

    #[test]
    fn wrong_types_in_nested_lists_are_named() {
        let (field, why) = at(
            Method::POST,
            "/api/queue/add",
            serde_json::json!({"episodes": [{"key": "a", "season": 1, "episode": 1}, {"key": "b", "season": "one", "episode": 1}]}),
        )
        .unwrap();
        assert_eq!(field, "episodes[1].season");
        assert!(why.contains("whole number"), "{why}");
        let (field, _) = at(
            Method::POST,
            "/api/queue/add",
            serde_json::json!({"episodes": [{"key": "a", "season": 4294967296u64, "episode": 1}]}),
        )
        .unwrap();
        assert_eq!(field, "episodes[0].season");
        let (field, why) = at(
            Method::POST,
            "/api/queue/add",
            serde_json::json!({"episodes": [{"key": "a", "season": 1}]}),
        )
        .unwrap();
        assert_eq!(
            (field.as_str(), why.as_str()),
            ("episodes[0].episode", "is required")
        );
    }

    #[test]
    fn config_keys_are_named_for_wrong_types_and_unknown_keys() {
        let put = |body| at(Method::PUT, "/api/config", body).unwrap();
        let (field, _) = put(serde_json::json!({"download": {"max_parallel": "two"}}));
        assert_eq!(field, "download.max_parallel");
        let (field, why) = put(serde_json::json!({"download": {"max_paralel": 2}}));
        assert_eq!(
            (field.as_str(), why.as_str()),
            ("download.max_paralel", "unknown key")
        );
        let (field, _) = put(serde_json::json!({"providers": {"x": {"timeout": "soon"}}}));
        assert_eq!(field, "providers.x.timeout");
    }

    #[test]
    fn values_are_not_coerced_and_constraints_apply() {
        let misfit = |method, path, body| misfit(&spec(), &method, path, &body);
        let (field, why) = misfit(
            Method::POST,
            "/api/anime/add",
            serde_json::json!({"link": 172207}),
        )
        .unwrap();
        assert_eq!(field, "link");
        assert!(why.contains("string"), "{why}");
        let (field, _) = misfit(
            Method::POST,
            "/api/anime/search",
            serde_json::json!({"query": false}),
        )
        .unwrap();
        assert_eq!(field, "query");
        let (field, why) = misfit(
            Method::POST,
            "/api/anime/search",
            serde_json::json!({"query": ""}),
        )
        .unwrap();
        assert_eq!(field, "query");
        assert!(why.contains("at least 1"), "{why}");
        let (field, why) = misfit(
            Method::POST,
            "/api/queue/add",
            serde_json::json!({"episodes": [{"key": "-bad", "season": 1, "episode": 1}]}),
        )
        .unwrap();
        assert_eq!(field, "episodes[0].key");
        assert!(why.contains("must match"), "{why}");
        let (field, _) = misfit(
            Method::POST,
            "/api/queue/add",
            serde_json::json!({"episodes": [{"key": "a", "season": 1, "episode": 0}]}),
        )
        .unwrap();
        assert_eq!(field, "episodes[0].episode");
        let (field, _) = misfit(
            Method::POST,
            "/api/queue/add",
            serde_json::json!({"episodes": []}),
        )
        .unwrap();
        assert_eq!(field, "episodes");
        assert_eq!(
            misfit(
                Method::POST,
                "/api/queue/add",
                serde_json::json!({"episodes": [{"key": "a", "season": 0, "episode": 1, "language": null}]}),
            ),
            None
        );
    }

    #[test]
    fn a_valid_body_has_no_problem_and_unknown_routes_are_ignored() {
        assert_eq!(
            at(
                Method::POST,
                "/api/auth/login",
                serde_json::json!({"password": "long enough"})
            ),
            None
        );
        assert_eq!(
            at(Method::POST, "/api/nope", serde_json::json!({"a": 1})),
            None
        );
        let (field, _) = at(
            Method::POST,
            "/api/auth/login",
            serde_json::json!({"password": 5}),
        )
        .unwrap();
        assert_eq!(field, "password");
    }
}
