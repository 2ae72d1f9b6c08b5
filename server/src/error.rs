//! The one JSON error body of the API and the one place that maps errors to HTTP statuses.

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

/// Every error the server answers with: `{"error": "<code>", "message": "<human text>", "details": ...}`.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
#[oai(rename = "Error")]
pub struct ErrorBody {
    /// Stable machine-readable code (`not_found`, `invalid_input`, `unauthorized`, ...).
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
    /// Extra structured information (for `invalid_input`: `{"field": "<config key>"}`), or null.
    pub details: Option<serde_json::Value>,
}

/// An error response. Handlers return `Result<_, ApiError>`; build it with the helpers below.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// Malformed request (bad JSON, wrong types, missing fields).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing, invalid, expired or revoked token; wrong password.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// Already exists or already done (setup twice, series added twice).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// Request body larger than `server.body_limit`.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// Well-formed but invalid values; `details.field` names the key.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Too many failed logins from this address.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A provider, hoster or plugin failed or was blocked, or the configured proxy failed
    /// (`proxy_error`: `details.field` names the config key).
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
    /// A service the request needs is not running, or a provider site or hoster is down
    /// (`site_down`: `details` has `site` and `retry_in_secs`).
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
    /// A provider or hoster did not answer in time.
    #[oai(status = 504)]
    GatewayTimeout(Json<ErrorBody>),
}

fn body(
    code: &str,
    message: impl Into<String>,
    details: Option<serde_json::Value>,
) -> Json<ErrorBody> {
    Json(ErrorBody {
        error: code.to_owned(),
        message: message.into(),
        details,
    })
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(body("bad_request", message, None))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::Unauthorized(body("unauthorized", message, None))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(body("not_found", message, None))
    }

    /// A 404 with its own code and details.
    pub fn not_found_with(
        code: &str,
        message: impl Into<String>,
        details: serde_json::Value,
    ) -> Self {
        ApiError::NotFound(body(code, message, Some(details)))
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        ApiError::Conflict(body(code, message, None))
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable(body(
            "invalid_input",
            message,
            Some(serde_json::json!({ "field": field })),
        ))
    }

    /// A change to a key that is set in `config.json` or the environment only.
    pub fn read_only(field: &str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable(body(
            "read_only",
            message,
            Some(serde_json::json!({ "field": field })),
        ))
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        ApiError::TooManyRequests(
            body(
                "rate_limited",
                format!("too many failed attempts; try again in {retry_after_secs} s"),
                Some(serde_json::json!({ "retry_after": retry_after_secs })),
            ),
            retry_after_secs,
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::Internal(body("internal_error", message, None))
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::Unavailable(body("unavailable", message, None))
    }

    /// The error body, whatever the status.
    pub fn body(&self) -> &ErrorBody {
        match self {
            ApiError::BadRequest(b)
            | ApiError::Unauthorized(b)
            | ApiError::NotFound(b)
            | ApiError::Conflict(b)
            | ApiError::PayloadTooLarge(b)
            | ApiError::Unprocessable(b)
            | ApiError::TooManyRequests(b, _)
            | ApiError::Internal(b)
            | ApiError::BadGateway(b)
            | ApiError::Unavailable(b)
            | ApiError::GatewayTimeout(b) => &b.0,
        }
    }
}

/// The single mapping from core errors to HTTP. Internal details (paths, SQL) are logged, not returned.
impl From<aniworld_core::Error> for ApiError {
    fn from(e: aniworld_core::Error) -> Self {
        use aniworld_core::Error as E;
        let code = e.code();
        match &e {
            E::NotFound(_) => ApiError::NotFound(body(code, e.to_string(), None)),
            E::Invalid { field, message } => ApiError::Unprocessable(body(
                code,
                format!("invalid {field}: {message}"),
                Some(serde_json::json!({ "field": field })),
            )),
            E::Conflict(_) | E::Cancelled => ApiError::Conflict(body(code, e.to_string(), None)),
            E::Unsupported(_) => ApiError::BadRequest(body(code, e.to_string(), None)),
            E::Blocked { site, .. } => ApiError::BadGateway(body(
                code,
                e.to_string(),
                Some(serde_json::json!({ "site": site })),
            )),
            E::Parse { .. } | E::Http(_) | E::Plugin { .. } => {
                ApiError::BadGateway(body(code, e.to_string(), None))
            }
            E::Timeout(_) => ApiError::GatewayTimeout(body(code, e.to_string(), None)),
            E::SiteDown {
                site,
                retry_in_secs,
                ..
            } => ApiError::Unavailable(body(
                code,
                e.to_string(),
                Some(serde_json::json!({ "site": site, "retry_in_secs": retry_in_secs })),
            )),
            E::Proxy { key, .. } => ApiError::BadGateway(body(
                code,
                e.to_string(),
                Some(serde_json::json!({ "field": key })),
            )),
            E::Io { .. } => {
                tracing::error!(error = %e, "i/o error while answering a request");
                ApiError::Internal(body(
                    code,
                    "a file operation failed; see the server log",
                    None,
                ))
            }
            E::DatabaseUnreachable { .. } => {
                tracing::error!(error = %e, "database unreachable while answering a request");
                ApiError::Unavailable(body(code, "the database is unreachable", None))
            }
            E::Database(_) | E::Migration(_) => {
                tracing::error!(error = %e, "database error while answering a request");
                ApiError::Internal(body(
                    code,
                    "a database operation failed; see the server log",
                    None,
                ))
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        411 => "length_required",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "invalid_input",
        429 => "rate_limited",
        503 => "unavailable",
        504 => "timeout",
        s if s >= 500 => "internal_error",
        _ => "error",
    }
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(poem::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// A JSON error response for a status, e.g. for poem's own rejections.
pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: code_for_status(status).to_owned(),
        message: message.into(),
        details: None,
    };
    let mut resp = Json(body).into_response();
    resp.set_status(status);
    resp
}

/// Outermost middleware: whatever rejected the request (router 404/405, payload parsing, auth
/// extractors, body limit, timeouts), the client gets the JSON error body.
pub async fn json_errors<E: Endpoint>(
    ep: std::sync::Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    let resp = match ep.call(req).await {
        Ok(out) => out.into_response(),
        Err(err) => {
            let message = err.to_string();
            let resp = err.into_response();
            if is_json(&resp) {
                resp
            } else {
                let mut converted = error_response(resp.status(), message);
                for (name, value) in resp.headers() {
                    if name != poem::http::header::CONTENT_TYPE
                        && name != poem::http::header::CONTENT_LENGTH
                    {
                        converted.headers_mut().insert(name.clone(), value.clone());
                    }
                }
                converted
            }
        }
    };
    if (resp.status().is_client_error() || resp.status().is_server_error()) && !is_json(&resp) {
        let status = resp.status();
        let reason = status.canonical_reason().unwrap_or("error").to_owned();
        return Ok(error_response(status, reason.to_lowercase()));
    }
    Ok(resp)
}
