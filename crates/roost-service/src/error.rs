//! The one error type of the service layer. Each variant names the status an HTTP adapter gives
//! it; other adapters (the admin socket, agents) show the message. Details of internal failures
//! are logged by the adapter, never shown.

use roost_types::Rejection;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// 400: a request part that cannot be read at all (a header out of range).
    #[error("{0}")]
    Malformed(String),
    /// 401, OAuth `invalid_client`: unknown client or wrong secret.
    #[error("{0}")]
    InvalidClient(String),
    /// 400, OAuth `invalid_grant`: a wrong password, or a code or token that is not valid.
    #[error("{INVALID_GRANT}")]
    InvalidGrant,
    /// 403: the caller is known, but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: unknown, or invisible to the caller (the two are indistinguishable on purpose).
    #[error("Record not found")]
    NotFound,
    /// 413: an upload larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// 422: well-formed, but against a rule (too long, a dead invite, a deleted target…).
    #[error("{0}")]
    Invalid(String),
    /// 429: too many of these at once (password checks waiting for a turn).
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
    /// 500: a bug or a storage failure; the detail is for the log only.
    #[error("Internal server error")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// RFC 6749's description of `invalid_grant`, as Mastodon sends it.
pub const INVALID_GRANT: &str = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";

impl Error {
    /// The HTTP status an adapter answers with (as each variant's documentation says).
    pub fn status(&self) -> u16 {
        match self {
            Error::Malformed(_) | Error::InvalidGrant => 400,
            Error::InvalidClient(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound => 404,
            Error::TooLarge(_) => 413,
            Error::Invalid(_) => 422,
            Error::TooManyRequests | Error::SlowDown(_) => 429,
            Error::Internal(_) => 500,
            Error::UpgradePending(_) | Error::Unavailable => 503,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Error {
        Error::Invalid(msg.into())
    }

    /// The error for a refusal from the state machine.
    pub fn from_rejection(r: Rejection) -> Error {
        match r {
            Rejection::NotFound => Error::NotFound,
            Rejection::Forbidden => Error::Forbidden("This action is not allowed".into()),
            Rejection::UsernameTaken => Error::invalid("Validation failed: Username has already been taken"),
            Rejection::EmailTaken => Error::invalid("Validation failed: Email has already been taken"),
            Rejection::TargetDeleted => Error::invalid("The post this refers to has been deleted"),
            Rejection::SelfAction => Error::invalid("You cannot do this to your own account"),
            Rejection::Blocked => Error::Forbidden("This action is not allowed: one of you blocks the other".into()),
            Rejection::UnknownClient => {
                Error::InvalidClient("Client authentication failed due to unknown client".into())
            }
            Rejection::NotReblogable => Error::invalid("This post cannot be reblogged or quoted"),
            Rejection::InvalidGrant => Error::InvalidGrant,
            Rejection::LimitReached => Error::invalid(format!(
                "Limit reached: at most {} pinned posts, {} lists, {} accounts per list",
                roost_types::MAX_PINNED,
                roost_types::MAX_LISTS,
                roost_types::MAX_LIST_MEMBERS
            )),
            Rejection::NotFollowed => Error::invalid("You can only add accounts you follow to your lists"),
            Rejection::InvalidInvite => {
                Error::invalid("This invite link is not valid: it may have expired or been used up")
            }
            Rejection::PollExpired => Error::invalid("Validation failed: The poll has already ended"),
            Rejection::AlreadyVoted => Error::invalid("Validation failed: You have already voted on this poll"),
            Rejection::InvalidChoice => Error::invalid("Validation failed: Those choices do not fit this poll"),
            Rejection::NotPinnable => Error::invalid("Only your own public, unlisted or private posts can be pinned"),
            Rejection::NotActive => {
                tracing::warn!("refused a command the cluster has not activated: a member runs an older version");
                Error::UpgradePending(roost_types::PROTOCOL)
            }
            Rejection::OwnPoll => Error::invalid("Validation failed: You cannot vote in your own polls"),
            Rejection::OwnerExists => Error::invalid(
                "Validation failed: This instance has an owner already; create the account with another role",
            ),
            Rejection::TooMany => Error::invalid(
                "Limit reached: too many of these are waiting (scheduled posts, or apps nobody has signed in to)",
            ),
        }
    }
}

impl From<roost_raft::Error> for Error {
    fn from(e: roost_raft::Error) -> Error {
        match e {
            roost_raft::Error::Unavailable(_) | roost_raft::Error::NotProposed(_) | roost_raft::Error::Timeout(_) => {
                tracing::warn!("write refused: {e}");
                Error::Unavailable
            }
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<roost_core::Error> for Error {
    fn from(e: roost_core::Error) -> Error {
        Error::Internal(e.to_string())
    }
}
