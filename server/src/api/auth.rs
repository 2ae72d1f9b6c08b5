//! `/api/auth`: first-run setup, login, logout, status.

use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::error::{ApiResult, Errors, can};

#[derive(Debug, Object)]
pub struct PasswordRequest {
    /// The master password: at least 8 characters, at most 72 bytes (UTF-8).
    #[oai(validator(min_length = 8, max_length = 72))]
    pub password: String,
}

#[derive(Debug, Object)]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer <token>` and `/ws/connect?token=<token>`.
    pub token: String,
    pub token_type: TokenType,
    /// Unix seconds.
    pub expires_at: i64,
}

/// How to send the token: `Authorization: Bearer <token>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
pub enum TokenType {
    Bearer,
}

#[derive(Debug, Object)]
pub struct AuthStatus {
    /// Whether a master password is set.
    pub setup_done: bool,
    /// Whether the request carried a valid token.
    pub authenticated: bool,
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// The session is revoked; its token no longer works.
    #[oai(status = 204)]
    LoggedOut,
}

pub struct AuthApi;

fn client_ip(req: &Request) -> Option<std::net::IpAddr> {
    req.remote_addr().as_socket_addr().map(|a| a.ip())
}

#[OpenApi(prefix_path = "/api/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Sets the master password. Public, and only allowed while none is set (409 afterwards).
    #[oai(path = "/setup", method = "post", operation_id = "auth_setup")]
    async fn setup(
        &self,
        state: Data<&AppState>,
        body: Json<PasswordRequest>,
    ) -> ApiResult<Json<AuthStatus>, Errors<{ can::CONFLICT | can::UNPROCESSABLE | can::INTERNAL }>>
    {
        let cost = state.config().auth.bcrypt_cost;
        state.auth().setup(body.0.password, cost).await?;
        Ok(Json(AuthStatus {
            setup_done: true,
            authenticated: false,
        }))
    }

    /// Exchanges the master password for a token. Public; rate limited per client address
    /// (`auth.max_failed_logins_per_minute` failures → 429 with `Retry-After`).
    #[oai(path = "/login", method = "post", operation_id = "auth_login")]
    async fn login(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<PasswordRequest>,
    ) -> ApiResult<
        Json<LoginResponse>,
        Errors<{ can::UNAUTHORIZED | can::CONFLICT | can::TOO_MANY_REQUESTS | can::INTERNAL }>,
    > {
        let auth_config = state.config().auth.clone();
        let issued = state
            .auth()
            .login(
                body.0.password,
                client_ip(req),
                auth_config.token_ttl,
                auth_config.max_failed_logins_per_minute,
            )
            .await?;
        Ok(Json(LoginResponse {
            token: issued.token,
            token_type: TokenType::Bearer,
            expires_at: issued.expires_at,
        }))
    }

    /// Revokes the caller's session.
    #[oai(path = "/logout", method = "post", operation_id = "auth_logout")]
    async fn logout(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<LogoutResponse, Errors<{ can::INTERNAL }>> {
        state.auth().logout(&auth.0.sid).await?;
        Ok(LogoutResponse::LoggedOut)
    }

    /// Whether setup is done and whether the caller is authenticated. Public.
    #[oai(path = "/status", method = "get", operation_id = "auth_status")]
    async fn status(
        &self,
        state: Data<&AppState>,
        req: &Request,
    ) -> ApiResult<Json<AuthStatus>, Errors<{ can::INTERNAL }>> {
        let setup_done = state.auth().is_setup().await?;
        let token = req
            .headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let authenticated = match token {
            Some(t) => state.auth().verify(t.trim()).await.is_ok(),
            None => false,
        };
        Ok(Json(AuthStatus {
            setup_done,
            authenticated,
        }))
    }
}
