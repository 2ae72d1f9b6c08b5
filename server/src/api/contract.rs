//! The published OpenAPI document: what poem-openapi generates from the API types, completed in
//! this one place with what its derive macros cannot say, for every operation and every type:
//!
//! - a property that is not required is `nullable` (poem-openapi sends `Option::None` as `null`
//!   and takes `null` for it, but never says so), so generated clients type it `T | null`;
//! - every operation lists the error statuses the framework around its handler can answer with:
//!   400 for a bad body or parameter, 401 for the bearer token, 413 and 415 for a body, 503 when
//!   it takes longer than `server.request_timeout`. Its handler's own errors come from its
//!   [`crate::error::Errors`] type.
//!
//! The server serves this document (`/openapi.json`, `/docs`), checks request bodies against it
//! ([`crate::body_errors`]), and `openapi/openapi.json` is a copy of it.

use serde_json::{Map, Value, json};

/// The OpenAPI document the server publishes.
pub fn document() -> Value {
    let mut doc: Value = serde_json::from_str(&super::service().spec())
        .expect("poem-openapi writes its document as JSON");
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for schema in schemas.values_mut() {
            mark_optional_nullable(schema);
        }
    }
    plain_references(&mut doc);
    close_request_objects(&mut doc);
    bound_integers(&mut doc);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(operations) = item.as_object_mut() else {
                continue;
            };
            for operation in operations.values_mut() {
                add_framework_errors(operation);
            }
        }
    }
    doc
}

/// A described reference is `allOf: [{$ref}, {description}]` in poem-openapi's draft, which some
/// client generators cannot take (openapi-python-client drops the whole model): the description
/// moves next to `allOf`, which keeps the reference alone.
fn plain_references(schema: &mut Value) {
    match schema {
        Value::Object(obj) => {
            if let Some(Value::Array(list)) = obj.get_mut("allOf") {
                let mut moved = Vec::new();
                list.retain(|item| {
                    let annotation_only = item.as_object().is_some_and(|o| {
                        !o.is_empty()
                            && o.keys()
                                .all(|k| matches!(k.as_str(), "description" | "title"))
                    });
                    if annotation_only {
                        moved.push(item.clone());
                    }
                    !annotation_only
                });
                for item in moved {
                    for (k, v) in item.as_object().into_iter().flatten() {
                        obj.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            obj.values_mut().for_each(plain_references);
        }
        Value::Array(list) => list.iter_mut().for_each(plain_references),
        _ => {}
    }
}

/// Request bodies take the properties their schema names and no others: every object schema a
/// request body reaches gets `additionalProperties: false` (maps keep theirs), and
/// [`crate::body_errors`] refuses an unknown key with a 400 naming it.
fn close_request_objects(doc: &mut Value) {
    let mut names = std::collections::BTreeSet::new();
    let mut pending: Vec<Value> = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for item in paths.values().filter_map(Value::as_object) {
            for op in item.values() {
                if let Some(content) = op
                    .pointer("/requestBody/content")
                    .and_then(Value::as_object)
                {
                    pending.extend(content.values().filter_map(|c| c.get("schema")).cloned());
                }
            }
        }
    }
    let schemas = doc
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or(Value::Null);
    while let Some(schema) = pending.pop() {
        collect_references(&schema, &mut |name| {
            if names.insert(name.to_owned())
                && let Some(target) = schemas.get(name)
            {
                pending.push(target.clone());
            }
        });
    }
    if let Some(components) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for name in &names {
            if let Some(schema) = components.get_mut(name) {
                close_object(schema);
            }
        }
    }
}

fn collect_references(schema: &Value, found: &mut dyn FnMut(&str)) {
    match schema {
        Value::Object(obj) => {
            if let Some(name) = obj
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                found(name);
            }
            obj.values().for_each(|v| collect_references(v, found));
        }
        Value::Array(list) => list.iter().for_each(|v| collect_references(v, found)),
        _ => {}
    }
}

/// `additionalProperties: false` on an object schema with properties, and on the inline object
/// schemas inside it.
fn close_object(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if obj.contains_key("properties") && !obj.contains_key("additionalProperties") {
        obj.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    if let Some(properties) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        properties.values_mut().for_each(close_object);
    }
    if let Some(items) = obj.get_mut("items") {
        close_object(items);
    }
}

/// The range of every integer type (`uint32`, `int64`, ...) as `minimum`/`maximum`, which the
/// server enforces but poem-openapi leaves to the `format` that most tools ignore.
fn bound_integers(schema: &mut Value) {
    match schema {
        Value::Object(obj) => {
            if obj.get("type").and_then(Value::as_str) == Some("integer") {
                let range: Option<(Value, Value)> = match obj.get("format").and_then(Value::as_str)
                {
                    Some("uint8") => Some((0.into(), u8::MAX.into())),
                    Some("uint16") => Some((0.into(), u16::MAX.into())),
                    Some("uint32") => Some((0.into(), u32::MAX.into())),
                    Some("uint64") => Some((0.into(), u64::MAX.into())),
                    Some("int8") => Some((i8::MIN.into(), i8::MAX.into())),
                    Some("int16") => Some((i16::MIN.into(), i16::MAX.into())),
                    Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                    Some("int64") => Some((i64::MIN.into(), i64::MAX.into())),
                    _ => None,
                };
                if let Some((min, max)) = range {
                    obj.entry("minimum").or_insert(min);
                    obj.entry("maximum").or_insert(max);
                }
            }
            obj.values_mut().for_each(bound_integers);
        }
        Value::Array(list) => list.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// Marks every property that is not required as nullable, in `schema` and the schemas inside it.
fn mark_optional_nullable(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let required: Vec<String> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(properties) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, property) in properties.iter_mut() {
            mark_optional_nullable(property);
            // A defaulted property is filled in, never null.
            let defaulted = property.get("default").is_some();
            if !required.contains(name) && !defaulted {
                make_nullable(property);
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = obj.get_mut(key) {
            mark_optional_nullable(inner);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(list) = obj.get_mut(key).and_then(Value::as_array_mut) {
            list.iter_mut().for_each(mark_optional_nullable);
        }
    }
}

/// `nullable: true` on a schema; a bare reference is wrapped (OpenAPI 3.0 ignores the siblings of
/// `$ref`).
fn make_nullable(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if let Some(reference) = obj.remove("$ref") {
        obj.insert("allOf".to_owned(), json!([{ "$ref": reference }]));
    }
    obj.insert("nullable".to_owned(), Value::Bool(true));
}

const JSON: &str = "application/json; charset=utf-8";
const TIMEOUT: &str = "The request took longer than `server.request_timeout`.";

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { JSON: { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn add_framework_errors(operation: &mut Value) {
    let Some(op) = operation.as_object_mut() else {
        return;
    };
    let has_body = op.contains_key("requestBody");
    let has_parameters = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| p.iter().any(parameter_can_fail));
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    };
    if has_body || has_parameters {
        add(
            "400",
            "Malformed request: a body or parameter that does not fit the schema \
             (`details.field` names the value).",
        );
    }
    if secured {
        add(
            "401",
            "Missing, invalid, expired or revoked token (or signature).",
        );
    }
    if has_body {
        add("413", "Request body larger than `server.body_limit`.");
        add(
            "415",
            "The body is not sent as `Content-Type: application/json`.",
        );
    }
    add_timeout(responses);
    sort_statuses(responses);
}

/// Whether a parameter can be refused (400): any but a plain string in the path.
fn parameter_can_fail(parameter: &Value) -> bool {
    let schema = &parameter["schema"];
    let plain_string = schema["type"] == "string"
        && ["enum", "pattern", "minLength", "maxLength", "format"]
            .iter()
            .all(|k| schema.get(k).is_none());
    let always_given = parameter["in"] == "path" || parameter["required"] != true;
    !(plain_string && always_given)
}

/// Every operation may take longer than the request timeout (503), also one whose handler answers
/// 503 for a reason of its own.
fn add_timeout(responses: &mut Map<String, Value>) {
    match responses.get_mut("503") {
        None => {
            responses.insert("503".to_owned(), error_response(TIMEOUT));
        }
        Some(existing) => {
            let is_error = existing
                .pointer("/content")
                .and_then(|c| c.get(JSON))
                .and_then(|c| c.pointer("/schema/$ref"))
                .and_then(Value::as_str)
                == Some("#/components/schemas/Error");
            if let (true, Some(description)) = (
                is_error,
                existing.get("description").and_then(Value::as_str),
            ) {
                let description = format!("{description} {TIMEOUT}");
                existing["description"] = Value::String(description.trim().to_owned());
            }
        }
    }
}

fn sort_statuses(responses: &mut Map<String, Value>) {
    let mut all: Vec<(String, Value)> = std::mem::take(responses).into_iter().collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    responses.extend(all);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_properties_are_nullable_and_references_are_wrapped() {
        let mut schema = json!({
            "type": "object",
            "required": ["a"],
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "string"},
                "c": {"$ref": "#/components/schemas/X"},
                "d": {"type": "integer", "default": 3},
                "e": {"type": "array", "items": {"type": "object", "properties": {"f": {"type": "string"}}}}
            }
        });
        mark_optional_nullable(&mut schema);
        let p = &schema["properties"];
        assert_eq!(p["a"].get("nullable"), None);
        assert_eq!(p["b"]["nullable"], true);
        assert_eq!(
            p["c"],
            json!({"allOf": [{"$ref": "#/components/schemas/X"}], "nullable": true})
        );
        assert_eq!(p["d"].get("nullable"), None);
        assert_eq!(p["e"]["items"]["properties"]["f"]["nullable"], true);
    }

    #[test]
    fn integers_get_the_range_of_their_type() {
        let mut schema = json!({"properties": {
            "a": {"type": "integer", "format": "uint32"},
            "b": {"type": "integer", "format": "uint32", "maximum": 1000.0},
            "c": {"type": "integer", "format": "int64"}
        }});
        bound_integers(&mut schema);
        let p = &schema["properties"];
        assert_eq!(
            (&p["a"]["minimum"], &p["a"]["maximum"]),
            (&json!(0), &json!(u32::MAX))
        );
        assert_eq!(p["b"]["maximum"], 1000.0);
        assert_eq!(p["c"]["minimum"], json!(i64::MIN));
    }

    #[test]
    fn request_objects_are_closed_and_response_only_ones_are_not() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["EpisodeToQueue"]["additionalProperties"], false);
        assert_eq!(schemas["Config"]["additionalProperties"], false);
        assert_eq!(schemas["DownloadConfig"]["additionalProperties"], false);
        assert_eq!(schemas["AnimeSummary"].get("additionalProperties"), None);
    }

    #[test]
    fn operations_get_the_errors_of_their_shape() {
        let mut op = json!({
            "requestBody": {},
            "security": [{"BearerAuth": []}],
            "responses": {"200": {"description": ""}}
        });
        add_framework_errors(&mut op);
        let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["200", "400", "401", "413", "415", "503"]);
        let mut op = json!({"responses": {"200": {"description": ""}}});
        add_framework_errors(&mut op);
        let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["200", "503"]);
    }
}
