//! The one error type every workflow returns. Each error carries a stable [`ErrorCode`] that
//! clients translate; the code decides the error's [`Kind`], which the HTTP edge maps to a status.

use serde::Serialize;

use crate::{
    db::DbError,
    domain::{password::HashError, values::Invalid},
    store::StoreError,
};

/// What kind of failure an error is; the HTTP edge turns it into a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invalid,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    /// Existed once, and no more (a used or expired one-time link): 410.
    Gone,
    TooLarge,
    UnsupportedType,
    MethodNotAllowed,
    TooManyRequests,
    Unavailable,
    /// The local disk (or the quota of its user) is full: 507.
    InsufficientStorage,
    Internal,
}

macro_rules! error_codes {
    ($($variant:ident = $code:literal => $kind:ident,)*) => {
        /// Stable, machine-readable error codes (`area.reason`); the web client translates them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
        pub enum ErrorCode {
            $(#[serde(rename = $code)] #[schema(rename = $code)] $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(Self::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $code,)* }
            }

            pub fn kind(self) -> Kind {
                match self { $(Self::$variant => Kind::$kind,)* }
            }
        }
    };
}

error_codes! {
    InvalidJson = "request.invalid_json" => Invalid,
    BodyRequired = "request.body_required" => Invalid,
    BodyTooLarge = "request.body_too_large" => TooLarge,
    UnsupportedContentType = "request.unsupported_content_type" => UnsupportedType,
    MissingField = "request.missing_field" => Invalid,
    InvalidField = "request.invalid_field" => Invalid,
    MissingToken = "auth.missing_token" => Unauthenticated,
    InvalidToken = "auth.invalid_token" => Unauthenticated,
    InvalidCredentials = "auth.invalid_credentials" => Unauthenticated,
    EmailTaken = "auth.email_taken" => Conflict,
    UnknownAccount = "auth.unknown_account" => Unauthenticated,
    RateLimited = "auth.rate_limited" => TooManyRequests,
    EventNotFound = "event.not_found" => NotFound,
    NotHost = "event.not_host" => Forbidden,
    CoverNotSet = "event.no_cover" => NotFound,
    EventEnded = "event.ended" => Forbidden,
    GuestNotFound = "guest.not_found" => NotFound,
    GuestOfOtherEvent = "guest.other_event" => Forbidden,
    GuestIdRequired = "guest.id_required" => Invalid,
    UnsupportedImageType = "upload.unsupported_type" => UnsupportedType,
    NotAnImage = "upload.not_an_image" => UnsupportedType,
    EmptyUpload = "upload.empty" => Invalid,
    UploadTooLarge = "upload.too_large" => TooLarge,
    UploadLimitReached = "upload.limit_reached" => Forbidden,
    UploadNotFound = "upload.not_found" => NotFound,
    UploadKeyInvalid = "upload.key_invalid" => Invalid,
    UploadKeyOfOtherEvent = "upload.key_other_event" => Forbidden,
    AlreadyFinalized = "upload.already_finalized" => Conflict,
    PhotoNotFound = "photo.not_found" => NotFound,
    DeleteForbidden = "photo.delete_forbidden" => Forbidden,
    GuestDeleteDisabled = "photo.guest_delete_disabled" => Forbidden,
    SignatureInvalid = "storage.signature_invalid" => Forbidden,
    DatabaseUnavailable = "service.database_unavailable" => Unavailable,
    StorageUnavailable = "service.storage_unavailable" => Unavailable,
    Busy = "service.busy" => Unavailable,
    ShuttingDown = "service.shutting_down" => Unavailable,
    Timeout = "service.timeout" => Unavailable,
    RouteNotFound = "route.not_found" => NotFound,
    MethodNotAllowed = "route.method_not_allowed" => MethodNotAllowed,
    UploadInterrupted = "upload.interrupted" => Invalid,
    ResetByMailDisabled = "auth.reset_by_mail_disabled" => Forbidden,
    ResetTokenInvalid = "auth.reset_token_invalid" => Invalid,
    StorageFull = "storage.full" => InsufficientStorage,
    QuotaExceeded = "upload.quota_exceeded" => TooLarge,
    ReactionsDisabled = "reaction.disabled" => Forbidden,
    UnknownReaction = "reaction.unknown" => Invalid,
    ReactionIdentityRequired = "reaction.identity_required" => Unauthenticated,
    ReactionRateLimited = "reaction.rate_limited" => TooManyRequests,
    CommentsDisabled = "comment.disabled" => Forbidden,
    CommentInvalidText = "comment.invalid_text" => Invalid,
    CommentRateLimited = "comment.rate_limited" => TooManyRequests,
    CommentNotFound = "comment.not_found" => NotFound,
    CommentNotAuthor = "comment.not_author" => Forbidden,
    GuestbookDisabled = "guestbook.disabled" => Forbidden,
    GuestbookInvalidText = "guestbook.invalid_text" => Invalid,
    GuestbookRateLimited = "guestbook.rate_limited" => TooManyRequests,
    GuestbookNotFound = "guestbook.not_found" => NotFound,
    GuestbookNotAuthor = "guestbook.not_author" => Forbidden,
    GuestbookPhotoNotOwn = "guestbook.photo_not_own" => Forbidden,
    UploadPartMissing = "upload.part_missing" => Invalid,
    UploadPartSizeMismatch = "upload.part_size_mismatch" => Invalid,
    UploadPartInvalid = "upload.part_invalid" => Invalid,
    VideosDisabled = "upload.videos_disabled" => UnsupportedType,
    VideoUnsupported = "upload.video_unsupported" => UnsupportedType,
    VideoUnreadable = "upload.video_unreadable" => UnsupportedType,
    VideoTooLong = "upload.video_too_long" => TooLarge,
    DownloadDisabled = "download.disabled" => Forbidden,
    DownloadIdentityRequired = "download.identity_required" => Unauthenticated,
    JoinPinRequired = "join.pin_required" => Unauthenticated,
    JoinPinWrong = "join.pin_wrong" => Forbidden,
    JoinPinLocked = "join.pin_locked" => TooManyRequests,
    OwnerOnly = "event.owner_only" => Forbidden,
    CohostInviteNotFound = "cohost_invite.not_found" => NotFound,
    CohostInviteUsed = "cohost_invite.used" => Gone,
    CohostInviteExpired = "cohost_invite.expired" => Gone,
    CohostInviteOwnEvent = "cohost_invite.own_event" => Conflict,
    AlreadyCohost = "cohost.already" => Conflict,
    CohostNotFound = "cohost.not_found" => NotFound,
    CohostInviteRateLimited = "cohost_invite.rate_limited" => TooManyRequests,
    Internal = "internal" => Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request cannot be served as asked; the message is for the person who sent it.
    #[error("{message}")]
    Rejected { code: ErrorCode, message: String },
    /// A dependency is down or saturated, or the asker is rate limited; the client should retry
    /// after a moment.
    #[error("{message}")]
    Unavailable {
        code: ErrorCode,
        message: String,
        retry_after_secs: u64,
    },
    /// A bug or an unexpected failure: logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Rejected {
            code,
            message: message.into(),
        }
    }

    pub fn unavailable(code: ErrorCode, message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::Unavailable {
            code,
            message: message.into(),
            retry_after_secs,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Rejected { code, .. } | Self::Unavailable { code, .. } => *code,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            // Errors with a Retry-After: 503 for the service codes, 429 for a rate limit.
            Self::Rejected { code, .. } | Self::Unavailable { code, .. } => code.kind(),
            Self::Internal(_) => Kind::Internal,
        }
    }

    pub fn event_not_found() -> Self {
        Self::new(ErrorCode::EventNotFound, "Session not found")
    }

    pub fn guest_not_found() -> Self {
        Self::new(ErrorCode::GuestNotFound, "Session user not found")
    }

    pub fn photo_not_found() -> Self {
        Self::new(ErrorCode::PhotoNotFound, "Picture not found")
    }

    pub fn storage_unavailable(retry_after_secs: u64) -> Self {
        Self::unavailable(
            ErrorCode::StorageUnavailable,
            "Photo storage unavailable, please retry",
            retry_after_secs,
        )
    }
}

impl From<Invalid> for Error {
    fn from(err: Invalid) -> Self {
        let code = if err.missing {
            ErrorCode::MissingField
        } else {
            ErrorCode::InvalidField
        };
        Self::new(code, err.message)
    }
}

impl From<DbError> for Error {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                Self::unavailable(
                    ErrorCode::DatabaseUnavailable,
                    "Database unavailable, please retry",
                    2,
                )
            }
            DbError::Conflict(what) => Self::new(ErrorCode::EmailTaken, what),
            DbError::MissingReference(_) => {
                Self::new(ErrorCode::EventNotFound, "Referenced record not found")
            }
            DbError::Other(source) => Self::Internal(source),
        }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(source) => {
                tracing::warn!(error = %source, "object store unavailable");
                Self::storage_unavailable(2)
            }
            StoreError::Other(source) => Self::Internal(source),
        }
    }
}

impl From<HashError> for Error {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Saturated { retry_after } => Self::unavailable(
                ErrorCode::Busy,
                "Server busy, please retry in a moment",
                retry_after.as_secs_f64().ceil() as u64,
            ),
            HashError::Failed(source) => Self::Internal(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_unique_and_namespaced() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
            assert!(
                code.as_str() == "internal" || code.as_str().contains('.'),
                "{}",
                code.as_str()
            );
        }
    }

    #[test]
    fn serialized_codes_match_their_names() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_value(code).expect("serializes");
            assert_eq!(json, code.as_str());
        }
    }
}
