//! The one error type of the HTTP layer. Every variant documents its status code; details of
//! internal failures are logged, never sent. The service layer's errors convert into it.

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

pub use roost_service::error::INVALID_GRANT;

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
        roost_service::Error::from_rejection(r).into()
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

impl From<roost_service::Error> for ApiError {
    fn from(e: roost_service::Error) -> ApiError {
        use roost_service::Error as E;
        match e {
            E::Malformed(m) => ApiError::BadRequest(m),
            E::InvalidClient(m) => ApiError::InvalidClient(m),
            E::InvalidGrant => ApiError::OAuth("invalid_grant", INVALID_GRANT.into()),
            E::Forbidden(m) => ApiError::Forbidden(m),
            E::NotFound => ApiError::NotFound,
            E::TooLarge(_) => ApiError::TooLarge,
            E::Invalid(m) => ApiError::Unprocessable(m),
            E::TooManyRequests => ApiError::TooManyRequests,
            E::SlowDown(secs) => ApiError::SlowDown(secs),
            E::UpgradePending(v) => ApiError::UpgradePending(v),
            E::Unavailable => ApiError::Unavailable,
            E::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

impl From<roost_raft::Error> for ApiError {
    fn from(e: roost_raft::Error) -> ApiError {
        roost_service::Error::from(e).into()
    }
}

impl From<roost_core::Error> for ApiError {
    fn from(e: roost_core::Error) -> ApiError {
        ApiError::Internal(e.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::ApiError;
    use roost_service::Error as E;

    #[test]
    fn every_service_error_gets_the_status_it_names() {
        let all = [
            E::Malformed("m".into()),
            E::InvalidClient("c".into()),
            E::InvalidGrant,
            E::Forbidden("f".into()),
            E::NotFound,
            E::TooLarge("t".into()),
            E::Invalid("i".into()),
            E::TooManyRequests,
            E::SlowDown(3),
            E::UpgradePending(3),
            E::Unavailable,
            E::Internal("x".into()),
        ];
        for e in all {
            let named = e.status();
            assert_eq!(ApiError::from(e.clone()).status().as_u16(), named, "{e:?}");
        }
    }
}
