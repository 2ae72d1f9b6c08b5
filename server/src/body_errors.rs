//! Names the field when a JSON request body does not fit its operation's schema.
//!
//! poem-openapi rejects such a body with a message about type names only ("failed to parse
//! uint32"). This middleware keeps a copy of the (already size-limited) body and, when parsing
//! failed, walks it along the operation's request schema in the OpenAPI document to find the
//! first value of the wrong type, the first missing required field, or else the first unknown
//! key; the 400 answer then carries `details.field` (`episodes[0].season`, `download.max_parallel`).

use std::sync::Arc;

use poem::http::{Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Request, Response};
use serde_json::Value;

use crate::error::ErrorBody;

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

fn field_error(field: &str, problem: &str) -> Response {
    let body = ErrorBody {
        error: "bad_request".to_owned(),
        message: format!("invalid request body: {field}: {problem}"),
        details: Some(serde_json::json!({ "field": field })),
    };
    let mut resp = poem::web::Json(body).into_response();
    resp.set_status(StatusCode::BAD_REQUEST);
    resp
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

fn request_schema<'s>(spec: &'s Value, method: &Method, path: &str) -> Option<&'s Value> {
    let paths = spec.get("paths")?.as_object()?;
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    // A literal path (`/api/queue/status`) wins over a template (`/api/queue/{item_id}`).
    let item = paths.get(path).or_else(|| {
        paths
            .iter()
            .find(|(template, _)| matches_template(template, path))
            .map(|(_, item)| item)
    })?;
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
                let item_schema = schema.get("items")?;
                items.iter().enumerate().find_map(|(i, item)| {
                    self.check(item_schema, item, &format!("{}[{i}]", field()), pass)
                })
            }
            Some("string") if !value.is_string() => wrong("a string"),
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
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        serde_json::from_str(&crate::api::service().spec()).unwrap()
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
    fn a_valid_body_has_no_problem_and_unknown_routes_are_ignored() {
        assert_eq!(
            at(
                Method::POST,
                "/api/auth/login",
                serde_json::json!({"password": "x"})
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
