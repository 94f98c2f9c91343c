//! Host accounts: register and log in. Guests never have accounts.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    error::ErrorBody,
    extract::{AuthHost, JsonBody},
};
use crate::{
    app::{hosts, password_reset},
    domain::values::{Email, Invalid, Name, Password, required},
};

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Display name, 1-50 characters (`name` is accepted as an alias).
    #[serde(alias = "name")]
    pub username: Option<String>,
    pub email: Option<String>,
    /// At least 8 characters.
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    pub id: Uuid,
    pub email: String,
    pub username: String,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: Option<String>,
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenUser {
    pub sub: Uuid,
    pub email: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    pub user: TokenUser,
}

impl TryFrom<RegisterRequest> for hosts::Register {
    type Error = Invalid;

    fn try_from(body: RegisterRequest) -> Result<Self, Invalid> {
        Ok(Self {
            name: Name::parse(&required(body.username, "username")?, "username")?,
            email: Email::parse(&required(body.email, "email")?)?,
            password: Password::parse(required(body.password, "password")?)?,
        })
    }
}

impl TryFrom<LoginRequest> for hosts::Login {
    type Error = Invalid;

    fn try_from(body: LoginRequest) -> Result<Self, Invalid> {
        Ok(Self {
            email: required(body.email, "email")?,
            password: required(body.password, "password")?,
        })
    }
}

#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = RegisterResponse),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 409, description = "Email already registered", body = ErrorBody),
        (status = 503, description = "Password hashing saturated; retry after Retry-After", body = ErrorBody),
    ))]
pub async fn register(
    State(app): State<SharedState>,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    let host = hosts::register(&app, body.try_into()?).await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            id: host.id,
            email: host.email,
            username: host.username,
        }),
    ))
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Invalid input", body = ErrorBody),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 503, description = "Password hashing saturated; retry after Retry-After", body = ErrorBody),
    ))]
pub async fn login(
    State(app): State<SharedState>,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let session = hosts::login(&app, body.try_into()?).await?;
    Ok(Json(LoginResponse {
        access_token: session.token,
        token_type: "Bearer".into(),
        expires_in: session.lifetime.as_secs(),
        user: TokenUser {
            sub: session.host.id,
            email: session.host.email,
        },
    }))
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The logged-in host", body = MeResponse),
        (status = 401, description = "Missing or invalid token, or the account no longer exists", body = ErrorBody),
    ))]
pub async fn me(
    State(app): State<SharedState>,
    AuthHost(host): AuthHost,
) -> Result<Json<MeResponse>, ApiError> {
    let account = hosts::account(&app, &host).await?;
    Ok(Json(MeResponse {
        id: account.id,
        email: account.email,
        username: account.username,
        created_at: account.created_at,
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordResetAccepted {
    pub message: String,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordResetConfirmRequest {
    /// The `token` of the mailed link.
    pub token: Option<String>,
    /// The new password, at least 8 characters.
    pub password: Option<String>,
}

#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "Accepted: when the address has an account, a link valid for one hour is mailed to it (the answer is the same either way)", body = PasswordResetAccepted),
        (status = 400, description = "Missing or malformed email", body = ErrorBody),
        (status = 429, description = "`auth.rate_limited`: too many requests from this client (`RATE_LIMIT_AUTH_*`) or for this address (3 an hour)", body = ErrorBody),
        (status = 403, description = "`auth.reset_by_mail_disabled`: this server has no SMTP_URL", body = ErrorBody),
    ))]
pub async fn request_password_reset(
    State(app): State<SharedState>,
    JsonBody(body): JsonBody<PasswordResetRequest>,
) -> Result<(StatusCode, Json<PasswordResetAccepted>), ApiError> {
    let email = Email::parse(&required(body.email, "email")?)?;
    password_reset::request(&app, &email, crate::app::now()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PasswordResetAccepted {
            message: "If this address has an account, a reset link is on its way".into(),
        }),
    ))
}

#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", request_body = PasswordResetConfirmRequest,
    responses(
        (status = 204, description = "Password set; the link is used up"),
        (status = 400, description = "Invalid password, or `auth.reset_token_invalid`: unknown, used or expired token", body = ErrorBody),
        (status = 429, description = "Too many requests from this client (`RATE_LIMIT_AUTH_*`)", body = ErrorBody),
        (status = 503, description = "Password hashing saturated; retry after Retry-After", body = ErrorBody),
    ))]
pub async fn confirm_password_reset(
    State(app): State<SharedState>,
    JsonBody(body): JsonBody<PasswordResetConfirmRequest>,
) -> Result<StatusCode, ApiError> {
    let token = required(body.token, "token")?;
    let password = Password::parse(required(body.password, "password")?)?;
    password_reset::confirm(&app, &token, &password, crate::app::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
