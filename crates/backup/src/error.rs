//! Errors of the engine: each says what failed and on which object or path.

use std::path::PathBuf;

/// The engine's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in words a town's IT director can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No key file of the repository opens with this passphrase or recovery key.
    #[error("wrong passphrase: no key of the repository opens with it")]
    WrongPassphrase,
    /// An object failed its authentication tag, hash or format check.
    #[error("{object} is damaged: {reason}")]
    Damaged {
        /// The object's name, e.g. `data/3fa9…`.
        object: String,
        /// What did not check.
        reason: String,
    },
    /// A repository object that should exist is missing.
    #[error("{0} is missing from the repository")]
    Missing(String),
    /// The repository was written by a newer format version.
    #[error(
        "repository format version {found} is not supported (this client reads version {supported})"
    )]
    Version {
        /// The version found.
        found: u32,
        /// The version this client writes.
        supported: u32,
    },
    /// The backend refused or failed (the server's message, a full disk, …).
    #[error("{0}")]
    Backend(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Bad input from the user (an unknown snapshot, a bad pattern, …).
    #[error("{0}")]
    Invalid(String),
    /// Metadata that does not verify (server side).
    #[error("snapshot metadata refused: {0}")]
    Meta(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A damaged object.
    pub fn damaged(object: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Damaged {
            object: object.into(),
            reason: reason.into(),
        }
    }
}
