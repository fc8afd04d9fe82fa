//! The platform's one error type. The HTTP edge maps each variant to a status
//! and an RFC 9457 problem document; the messages are written for a town clerk.

use time::OffsetDateTime;

/// Result with the platform [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a platform or module service can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing does not exist — or exists in a town the caller cannot see,
    /// which must look the same so that existence is not leaked.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. "town".
        what: &'static str,
    },
    /// The caller can see the thing but may not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// The caller is not signed in, or the credentials are wrong.
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many failed sign-ins: the account is locked until the given time.
    #[error("too many failed sign-ins; the account is locked until {}", crate::types::Timestamp::new(*until).human())]
    Locked {
        /// When the lock ends.
        until: OffsetDateTime,
    },
    /// Input was wrong; `field` names the field, column or row.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending field (JSON pointer-ish name, form field or "row 12, column amount").
        field: String,
        /// What is wrong, in words.
        message: String,
    },
    /// The change conflicts with existing data (a duplicate name, a stale state).
    #[error("{message}")]
    Conflict {
        /// The field involved, when one is.
        field: Option<String>,
        /// What conflicts.
        message: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// The blob store failed.
    #[error("object store error: {0}")]
    Blob(String),
    /// A bug or broken invariant; logged, never shown in detail.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// An input error naming its field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A conflict naming its field.
    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Conflict {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// Replaces a unique-constraint conflict with a message that names the field.
    pub fn on_conflict(self, field: &str, message: impl Into<String>) -> Self {
        match self {
            Error::Conflict { .. } => Error::conflict(field, message),
            other => other,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if let Some(db) = e.as_database_error() {
            if db.is_unique_violation() {
                return Error::Conflict {
                    field: None,
                    message: "that already exists".into(),
                };
            }
            // PostgreSQL: a NUL character or invalid byte sequence in text.
            if db.code().as_deref() == Some("22021") {
                return Error::invalid("text", "text may not contain NUL characters");
            }
            if db.is_foreign_key_violation() {
                return Error::Conflict {
                    field: None,
                    message: "that refers to something that does not exist".into(),
                };
            }
        }
        if matches!(e, sqlx::Error::RowNotFound) {
            return Error::NotFound { what: "record" };
        }
        Error::Database(e)
    }
}
