//! How workflow errors look on the wire: the contract's
//! `{"statusCode":404,"message":"Session not found","error":"Not Found"}` plus a stable `code`
//! (`"event.not_found"`) that clients translate.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::app::{Error, ErrorCode, error::Kind};

/// Every handler's error type: the workflows' one error.
pub type ApiError = Error;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The HTTP status code, repeated.
    pub status_code: u16,
    /// What went wrong, in English, for people.
    pub message: String,
    /// The status reason phrase.
    pub error: String,
    /// What went wrong, for programs: stable across releases.
    pub code: ErrorCode,
}

pub fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::Invalid => StatusCode::BAD_REQUEST,
        Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Gone => StatusCode::GONE,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Kind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON error response; also used for framework rejections and middleware.
pub fn error_response(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = ErrorBody {
        status_code: status.as_u16(),
        message: message.to_owned(),
        error: status.canonical_reason().unwrap_or("Error").to_owned(),
        code,
    };
    (status, Json(body)).into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status_of(self.kind());
        let code = self.code();
        match self {
            Self::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                error_response(status, code, "Internal server error")
            }
            Self::Unavailable {
                message,
                retry_after_secs,
                ..
            } => {
                let mut response = error_response(status, code, &message);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                response
            }
            Self::Rejected { message, .. } => error_response(status, code, &message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_a_client_or_service_status() {
        for code in ErrorCode::ALL {
            let status = status_of(code.kind());
            assert!(
                status.is_client_error()
                    || status == StatusCode::SERVICE_UNAVAILABLE
                    || (*code == ErrorCode::StorageFull
                        && status == StatusCode::INSUFFICIENT_STORAGE)
                    || *code == ErrorCode::Internal,
                "{} → {status}",
                code.as_str()
            );
        }
    }
}
