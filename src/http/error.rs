//! The one error type every handler returns, and its JSON shape:
//! `{"statusCode":404,"message":"Session not found","error":"Not Found"}`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::db::DbError;
use crate::domain::password::HashError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A dependency is down or saturated; the client should retry after a moment.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The HTTP status code, repeated.
    pub status_code: u16,
    /// What went wrong, for people.
    pub message: String,
    /// The status reason phrase.
    pub error: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Builds the JSON error response for any status; also used for framework rejections.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let body = ErrorBody {
        status_code: status.as_u16(),
        message: message.to_owned(),
        error: status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            Self::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                error_response(status, "Internal server error")
            }
            Self::Unavailable {
                message,
                retry_after_secs,
            } => {
                let mut response = error_response(status, &message);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                response
            }
            other => error_response(status, &other.to_string()),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                Self::Unavailable {
                    message: "Database unavailable, please retry".into(),
                    retry_after_secs: 2,
                }
            }
            DbError::Conflict(what) => Self::Conflict(what),
            DbError::MissingReference(_) => Self::NotFound("Referenced record not found".into()),
            DbError::Other(source) => Self::Internal(source),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(source) => {
                tracing::warn!(error = %source, "object store unavailable");
                Self::Unavailable {
                    message: "Photo storage unavailable, please retry".into(),
                    retry_after_secs: 2,
                }
            }
            StoreError::Other(source) => Self::Internal(source),
        }
    }
}

impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Saturated => Self::Unavailable {
                message: "Server busy, please retry in a moment".into(),
                retry_after_secs: 1,
            },
            HashError::Failed(source) => Self::Internal(source),
        }
    }
}
