//! The library's error type: the caller's mistakes kept apart from storage and corruption.

use std::fmt;

use crate::model::MemoryId;

/// Everything that can go wrong in the store.
///
/// Variants fall into three groups: the caller's mistakes (`InvalidArgument`, `NotFound`,
/// `Forbidden`, `Conflict`), conditions of the store (`Poisoned`, `IncompatibleFormat`,
/// `Corrupted`), and failures underneath it (`Storage`, `Io`, `Unavailable`). Each variant
/// says what to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An argument is malformed or out of range (bad timestamp, empty text, `valid_to`
    /// before `valid_from`, ...). Fix the input; nothing was written.
    InvalidArgument(String),
    /// No memory with this id exists (never did, or it was hard-deleted). Nothing was written.
    NotFound(MemoryId),
    /// The memory exists but belongs to another account. Do not retry with this account.
    Forbidden(MemoryId),
    /// The operation contradicts the memory's history: a self-reference, a cycle, or a
    /// supersession or expiry that differs from one already recorded. The history stays as it
    /// was; read it (timeline/audit) before deciding what to do.
    Conflict(String),
    /// An earlier commit failed, so this handle no longer knows what is on disk. Writes are
    /// refused until the store is reopened. Reads may still be served from redb's cache, but
    /// can fail with `Storage` errors: reopen the store to recover.
    Poisoned,
    /// The file was written by a format this build cannot read. Use a matching version.
    IncompatibleFormat {
        /// The format version found in the file or record.
        found: u32,
        /// The format version this build reads and writes.
        supported: u32,
    },
    /// Stored bytes do not decode or violate an invariant. Restore from a backup; this is
    /// never caused by the caller's input.
    Corrupted(String),
    /// The storage engine (redb) reported an error: disk full, lock held by another process, ...
    Storage(String),
    /// An operating-system I/O error.
    Io(std::io::Error),
    /// A service the operation needs (the embedding model) failed or could not be reached.
    /// Nothing was written; retry with backoff.
    Unavailable(String),
    /// The language model provider failed or refused the call (see the kind: a bad key, an
    /// unknown model, its rate limit, an outage, unusable output). Nothing was written.
    Llm(crate::llm::LlmError),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::NotFound(id) => write!(f, "memory {id} not found"),
            Error::Forbidden(id) => write!(f, "memory {id} belongs to another account"),
            Error::Conflict(msg) => write!(f, "conflict: {msg}"),
            Error::Poisoned => f.write_str(
                "an earlier commit failed; the store refuses writes until it is reopened",
            ),
            Error::IncompatibleFormat { found, supported } => write!(
                f,
                "incompatible storage format {found} (this build supports {supported})"
            ),
            Error::Corrupted(msg) => write!(f, "corrupted store: {msg}"),
            Error::Storage(msg) => write!(f, "storage error: {msg}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Unavailable(msg) => write!(f, "unavailable: {msg}"),
            Error::Llm(e) => write!(f, "language model: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

macro_rules! storage_error {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::Storage(e.to_string())
            }
        }
    )*};
}

storage_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);
