//! The one error type of the HTTP layer. Every variant documents its status code; details of
//! internal failures are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_types::Rejection;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request could not be parsed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid access token.
    #[error("The access token is invalid")]
    Unauthorized,
    /// 401, OAuth `invalid_client`: unknown client or wrong secret.
    #[error("{0}")]
    InvalidClient(String),
    /// 400, OAuth `invalid_grant` (wrong password) or another OAuth error code of RFC 6749.
    #[error("{1}")]
    OAuth(&'static str, String),
    /// 403: signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: unknown, or invisible to the caller (the two are indistinguishable on purpose).
    #[error("Record not found")]
    NotFound,
    /// 408: the body did not arrive in time.
    #[error("The request body did not arrive in time")]
    RequestTimeout,
    /// 413: the body is larger than the limit.
    #[error("Request body too large")]
    TooLarge,
    /// 415: a body in a format the endpoint does not read.
    #[error("{0}")]
    UnsupportedMedia(String),
    /// 422: well-formed, but invalid.
    #[error("{0}")]
    Unprocessable(String),
    /// 429: too many requests.
    #[error("Too many requests")]
    TooManyRequests,
    /// 429 with `Retry-After`: too many failed tries from here; the next may come after this
    /// many seconds.
    #[error("Too many failed attempts: try again in {0} seconds")]
    SlowDown(u64),
    /// 503: this needs a protocol the cluster has not turned on yet: a member runs an older
    /// version (a rolling upgrade is under way, or an operator holds the cluster back).
    #[error("This needs every node of the cluster to run a newer version of Roost (protocol {0}); a member runs an older one. Try again once the upgrade is done.")]
    UpgradePending(u32),
    /// 503: the node cannot accept writes now (no leader, shutting down).
    #[error("Service temporarily unavailable")]
    Unavailable,
    /// 500: a bug or a storage failure; the detail goes to the log only.
    #[error("Internal server error")]
    Internal(String),
}

/// RFC 6749's description of `invalid_grant`, as Mastodon sends it.
pub const INVALID_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            ApiError::OAuth(..) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests | ApiError::SlowDown(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::UpgradePending(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn unprocessable(msg: impl Into<String>) -> ApiError {
        ApiError::Unprocessable(msg.into())
    }

    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError::BadRequest(msg.into())
    }

    /// The error for a refusal from the state machine.
    pub fn from_rejection(r: Rejection) -> ApiError {
        match r {
            Rejection::NotFound => ApiError::NotFound,
            Rejection::Forbidden => ApiError::Forbidden("This action is not allowed".into()),
            Rejection::UsernameTaken => ApiError::unprocessable("Validation failed: Username has already been taken"),
            Rejection::EmailTaken => ApiError::unprocessable("Validation failed: Email has already been taken"),
            Rejection::TargetDeleted => ApiError::unprocessable("The post this refers to has been deleted"),
            Rejection::SelfAction => ApiError::unprocessable("You cannot do this to your own account"),
            Rejection::Blocked => ApiError::Forbidden("This action is not allowed: one of you blocks the other".into()),
            Rejection::UnknownClient => {
                ApiError::InvalidClient("Client authentication failed due to unknown client".into())
            }
            Rejection::NotReblogable => ApiError::unprocessable("This post cannot be reblogged or quoted"),
            Rejection::InvalidGrant => ApiError::OAuth("invalid_grant", INVALID_GRANT.into()),
            Rejection::LimitReached => ApiError::unprocessable(format!(
                "Limit reached: at most {} pinned posts, {} lists, {} accounts per list",
                roost_types::MAX_PINNED,
                roost_types::MAX_LISTS,
                roost_types::MAX_LIST_MEMBERS
            )),
            Rejection::NotFollowed => ApiError::unprocessable("You can only add accounts you follow to your lists"),
            Rejection::InvalidInvite => {
                ApiError::unprocessable("This invite link is not valid: it may have expired or been used up")
            }
            Rejection::PollExpired => ApiError::unprocessable("Validation failed: The poll has already ended"),
            Rejection::AlreadyVoted => {
                ApiError::unprocessable("Validation failed: You have already voted on this poll")
            }
            Rejection::InvalidChoice => {
                ApiError::unprocessable("Validation failed: Those choices do not fit this poll")
            }
            Rejection::NotPinnable => {
                ApiError::unprocessable("Only your own public, unlisted or private posts can be pinned")
            }
            Rejection::NotActive => {
                tracing::warn!("refused a command the cluster has not activated: a member runs an older version");
                ApiError::UpgradePending(roost_types::PROTOCOL)
            }
            Rejection::OwnPoll => ApiError::unprocessable("Validation failed: You cannot vote in your own polls"),
            Rejection::OwnerExists => ApiError::unprocessable(
                "Validation failed: This instance has an owner already; create the account with another role",
            ),
            Rejection::TooMany => ApiError::unprocessable(
                "Limit reached: too many of these are waiting (scheduled posts, or apps nobody has signed in to)",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let body = match &self {
            ApiError::InvalidClient(d) => serde_json::json!({ "error": "invalid_client", "error_description": d }),
            ApiError::OAuth(code, d) => serde_json::json!({ "error": code, "error_description": d }),
            _ => serde_json::json!({ "error": self.to_string() }),
        };
        let mut resp = (status, Json(body)).into_response();
        if let ApiError::SlowDown(secs) = self {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

impl From<roost_raft::Error> for ApiError {
    fn from(e: roost_raft::Error) -> ApiError {
        match e {
            roost_raft::Error::Unavailable(_) | roost_raft::Error::NotProposed(_) | roost_raft::Error::Timeout(_) => {
                tracing::warn!("write refused: {e}");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<roost_core::Error> for ApiError {
    fn from(e: roost_core::Error) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
