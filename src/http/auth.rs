//! Host accounts: register and log in. Guests never have accounts.

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    ApiError, SharedState,
    extract::{AuthUser, JsonBody},
};
use crate::{
    db::HostRecord,
    domain::values::{Email, Name, Password, required},
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

fn invalid(err: crate::domain::values::Invalid) -> ApiError {
    ApiError::BadRequest(err.0)
}

#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Account created", body = RegisterResponse),
        (status = 400, description = "Invalid input", body = super::error::ErrorBody),
        (status = 409, description = "Email already registered", body = super::error::ErrorBody),
        (status = 503, description = "Password hashing saturated; retry after Retry-After", body = super::error::ErrorBody),
    ))]
pub async fn register(
    State(state): State<SharedState>,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    let username = Name::parse(
        &required(body.username, "username").map_err(invalid)?,
        "username",
    )
    .map_err(invalid)?;
    let email = Email::parse(&required(body.email, "email").map_err(invalid)?).map_err(invalid)?;
    let password =
        Password::parse(required(body.password, "password").map_err(invalid)?).map_err(invalid)?;

    // Cheap early answer for the common duplicate; the unique index still decides races.
    if state.db.host_by_email(email.normalized()).await?.is_some() {
        return Err(ApiError::Conflict("Email already registered".into()));
    }
    let password_hash = state.hasher.hash(password.expose()).await?;
    let user = HostRecord {
        id: Uuid::new_v4(),
        email: email.as_str().to_owned(),
        email_normalized: email.normalized().to_owned(),
        username: username.into_inner(),
        password_hash,
        created_at: super::now(),
    };
    state.db.insert_host(&user).await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            id: user.id,
            email: user.email,
            username: user.username,
        }),
    ))
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Invalid input", body = super::error::ErrorBody),
        (status = 401, description = "Wrong email or password", body = super::error::ErrorBody),
        (status = 503, description = "Password hashing saturated; retry after Retry-After", body = super::error::ErrorBody),
    ))]
pub async fn login(
    State(state): State<SharedState>,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let email = required(body.email, "email").map_err(invalid)?;
    let password = required(body.password, "password").map_err(invalid)?;
    let wrong = || ApiError::Unauthorized("Invalid email or password".into());
    if password.len() > Password::MAX_BYTES {
        return Err(wrong());
    }
    let user = match Email::parse(&email) {
        Ok(email) => state.db.host_by_email(email.normalized()).await?,
        Err(_) => None,
    };
    // Unknown emails cost a hash too, so timing does not reveal which emails exist.
    let verified = state
        .hasher
        .verify(&password, user.as_ref().map(|u| u.password_hash.as_str()))
        .await?;
    let user = user.filter(|_| verified).ok_or_else(wrong)?;
    let access_token = state.tokens.issue(user.id, &user.email)?;
    Ok(Json(LoginResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: state.tokens.lifetime().as_secs(),
        user: TokenUser {
            sub: user.id,
            email: user.email,
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
        (status = 401, description = "Missing or invalid token, or the account no longer exists", body = super::error::ErrorBody),
    ))]
pub async fn me(
    State(state): State<SharedState>,
    user: AuthUser,
) -> Result<Json<MeResponse>, ApiError> {
    let record = state
        .db
        .host(user.id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Unknown user".into()))?;
    Ok(Json(MeResponse {
        id: record.id,
        email: record.email,
        username: record.username,
        created_at: record.created_at,
    }))
}
