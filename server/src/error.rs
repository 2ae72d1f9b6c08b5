//! The one JSON error body of the API and the one place that maps errors to HTTP statuses.

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object};

/// Every error the server answers with: `{"error": "<code>", "message": "<human text>", "details": ...}`.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
#[oai(rename = "Error")]
pub struct ErrorBody {
    pub error: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// Extra structured information (for `invalid_input`: `{"field": "<config key>"}`), or null.
    pub details: Option<serde_json::Value>,
}

/// Stable machine-readable error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed request: bad JSON, a wrong type (`details.field` names it), a bad parameter.
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    /// `GET /api/anime/{id}` named a folder without `.aniworld.json` (`details` says where to
    /// match it).
    UnmatchedFolder,
    MethodNotAllowed,
    Timeout,
    LengthRequired,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// A value is not allowed (`details.field` names it).
    InvalidInput,
    /// A config key that can only be set in `config.json` or the environment.
    ReadOnly,
    RateLimited,
    InternalError,
    /// A service the request needs is not running.
    Unavailable,
    Conflict,
    /// No master password yet: `POST /api/auth/setup` first.
    SetupRequired,
    /// The master password is already set.
    AlreadySetup,
    /// A site shows a bot check.
    Blocked,
    /// A site's page could not be read.
    ParseError,
    /// A provider or hoster request failed.
    UpstreamError,
    /// A site is down (`details`: `site`, `retry_in_secs`).
    SiteDown,
    /// The configured proxy failed (`details.field` names the key).
    ProxyError,
    IoError,
    DatabaseError,
    /// The database cannot be reached (PostgreSQL down).
    DatabaseUnavailable,
    PluginError,
    Unsupported,
    Cancelled,
    /// Any other HTTP error.
    Error,
}

impl ErrorCode {
    /// The code of a core error.
    pub fn of(e: &aniworld_core::Error) -> Self {
        use aniworld_core::Error as E;
        match e {
            E::NotFound(_) => ErrorCode::NotFound,
            E::Blocked { .. } => ErrorCode::Blocked,
            E::Parse { .. } => ErrorCode::ParseError,
            E::Invalid { .. } => ErrorCode::InvalidInput,
            E::Conflict(_) => ErrorCode::Conflict,
            E::Http(_) => ErrorCode::UpstreamError,
            E::SiteDown { .. } => ErrorCode::SiteDown,
            E::Proxy { .. } => ErrorCode::ProxyError,
            E::Timeout(_) => ErrorCode::Timeout,
            E::Io { .. } => ErrorCode::IoError,
            E::Database(_) | E::Migration(_) => ErrorCode::DatabaseError,
            E::DatabaseUnreachable { .. } => ErrorCode::DatabaseUnavailable,
            E::Plugin { .. } => ErrorCode::PluginError,
            E::Unsupported(_) => ErrorCode::Unsupported,
            E::Cancelled => ErrorCode::Cancelled,
        }
    }
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
    code: ErrorCode,
    message: impl Into<String>,
    details: Option<serde_json::Value>,
) -> Json<ErrorBody> {
    Json(ErrorBody {
        error: code,
        message: message.into(),
        details,
    })
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(body(ErrorCode::BadRequest, message, None))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::Unauthorized(body(ErrorCode::Unauthorized, message, None))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(body(ErrorCode::NotFound, message, None))
    }

    /// A 404 with its own code and details.
    pub fn not_found_with(
        code: ErrorCode,
        message: impl Into<String>,
        details: serde_json::Value,
    ) -> Self {
        ApiError::NotFound(body(code, message, Some(details)))
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Conflict(body(code, message, None))
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable(body(
            ErrorCode::InvalidInput,
            message,
            Some(serde_json::json!({ "field": field })),
        ))
    }

    /// A change to a key that is set in `config.json` or the environment only.
    pub fn read_only(field: &str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable(body(
            ErrorCode::ReadOnly,
            message,
            Some(serde_json::json!({ "field": field })),
        ))
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        ApiError::TooManyRequests(
            body(
                ErrorCode::RateLimited,
                format!("too many failed attempts; try again in {retry_after_secs} s"),
                Some(serde_json::json!({ "retry_after": retry_after_secs })),
            ),
            retry_after_secs,
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::Internal(body(ErrorCode::InternalError, message, None))
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::Unavailable(body(ErrorCode::Unavailable, message, None))
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
        let code = ErrorCode::of(&e);
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

/// A handler's result. `E` is [`ApiError`] (every error status documented) or, better, an
/// [`Errors`] set naming the statuses the handler can answer with.
pub type ApiResult<T, E = ApiError> = Result<T, E>;

/// The error statuses a handler can answer with, as bits for [`Errors`]. The statuses every
/// operation of a shape can get from the framework (400 and 415 for a body or parameters, 401 with
/// the bearer token, 413 for a body, 503 for `server.request_timeout`) are added to the document
/// by [`crate::api::contract`]; a handler lists only its own.
pub mod can {
    pub const BAD_REQUEST: u32 = 1 << 0;
    pub const UNAUTHORIZED: u32 = 1 << 1;
    pub const NOT_FOUND: u32 = 1 << 2;
    pub const CONFLICT: u32 = 1 << 3;
    pub const PAYLOAD_TOO_LARGE: u32 = 1 << 4;
    pub const UNPROCESSABLE: u32 = 1 << 5;
    pub const TOO_MANY_REQUESTS: u32 = 1 << 6;
    pub const INTERNAL: u32 = 1 << 7;
    pub const BAD_GATEWAY: u32 = 1 << 8;
    pub const UNAVAILABLE: u32 = 1 << 9;
    pub const GATEWAY_TIMEOUT: u32 = 1 << 10;
    /// A provider, hoster or the proxy failed, a site is down, or did not answer in time.
    pub const UPSTREAM: u32 = BAD_GATEWAY | UNAVAILABLE | GATEWAY_TIMEOUT;
    /// No error of its own.
    pub const NOTHING: u32 = 0;

    /// The bit of an HTTP status, 0 for a status [`super::ApiError`] does not have.
    pub const fn bit(status: u16) -> u32 {
        match status {
            400 => BAD_REQUEST,
            401 => UNAUTHORIZED,
            404 => NOT_FOUND,
            409 => CONFLICT,
            413 => PAYLOAD_TOO_LARGE,
            422 => UNPROCESSABLE,
            429 => TOO_MANY_REQUESTS,
            500 => INTERNAL,
            502 => BAD_GATEWAY,
            503 => UNAVAILABLE,
            504 => GATEWAY_TIMEOUT,
            _ => 0,
        }
    }
}

/// An [`ApiError`] of a handler that documents only the statuses in `S` (bits of [`can`]), so each
/// operation of the document lists the errors it really has:
/// `ApiResult<Json<T>, Errors<{ can::NOT_FOUND | can::INTERNAL }>>`.
#[derive(Debug)]
pub struct Errors<const S: u32>(pub ApiError);

impl<const S: u32> Errors<S> {
    fn status(&self) -> u16 {
        match &self.0 {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::Unprocessable(_) => 422,
            ApiError::TooManyRequests(..) => 429,
            ApiError::Internal(_) => 500,
            ApiError::BadGateway(_) => 502,
            ApiError::Unavailable(_) => 503,
            ApiError::GatewayTimeout(_) => 504,
        }
    }
}

impl<const S: u32> poem_openapi::ApiResponse for Errors<S> {
    fn meta() -> poem_openapi::registry::MetaResponses {
        let mut meta = ApiError::meta();
        meta.responses
            .retain(|r| r.status.is_some_and(|s| can::bit(s) & S != 0));
        meta
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        ApiError::register(registry);
    }
}

impl<const S: u32> IntoResponse for Errors<S> {
    fn into_response(self) -> Response {
        let status = self.status();
        if can::bit(status) & S == 0 {
            // The document does not list this answer: a handler's `Errors` set is incomplete.
            tracing::warn!(
                status,
                error = ?self.0.body().error,
                "an operation answered with an error status its document does not list"
            );
        }
        self.0.into_response()
    }
}

impl<const S: u32> From<Errors<S>> for poem::Error {
    fn from(e: Errors<S>) -> poem::Error {
        poem::Error::from_response(e.into_response())
    }
}

impl<const S: u32> From<ApiError> for Errors<S> {
    fn from(e: ApiError) -> Self {
        Errors(e)
    }
}

impl<const S: u32> From<aniworld_core::Error> for Errors<S> {
    fn from(e: aniworld_core::Error) -> Self {
        Errors(e.into())
    }
}

fn code_for_status(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        400 => ErrorCode::BadRequest,
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        408 => ErrorCode::Timeout,
        411 => ErrorCode::LengthRequired,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        422 => ErrorCode::InvalidInput,
        429 => ErrorCode::RateLimited,
        503 => ErrorCode::Unavailable,
        504 => ErrorCode::Timeout,
        s if s >= 500 => ErrorCode::InternalError,
        _ => ErrorCode::Error,
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
        error: code_for_status(status),
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
            // A query or path parameter that does not fit its schema: name it, as bodies do.
            let parameter = err
                .downcast_ref::<poem_openapi::error::ParseParamError>()
                .map(|e| e.name)
                .or_else(|| {
                    err.downcast_ref::<poem_openapi::error::ParsePathError>()
                        .map(|e| e.name)
                });
            if let Some(name) = parameter {
                let mut resp = Json(ErrorBody {
                    error: ErrorCode::BadRequest,
                    message,
                    details: Some(serde_json::json!({ "field": name })),
                })
                .into_response();
                resp.set_status(StatusCode::BAD_REQUEST);
                return Ok(resp);
            }
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
