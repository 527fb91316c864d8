//! The library's error type: the caller's mistakes kept apart from storage and corruption.

use std::fmt;
use std::sync::Arc;

use crate::model::MemoryId;

/// Everything that can go wrong in the store.
///
/// Variants fall into three groups: the caller's mistakes (`InvalidArgument`, `NotFound`,
/// `Forbidden`, `Conflict`), conditions of the store (`Poisoned`, `IncompatibleFormat`,
/// `Corrupted`), and failures underneath it (`Storage`, `Contention`, `Io`, `Unavailable`,
/// `Llm`). Each variant says what to do.
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
    /// The file or database schema was written by a build that this one cannot read exactly
    /// (a newer format or schema version, or a feature this build does not know). Nothing was
    /// read or written; use a build at least as new as the one that wrote it.
    IncompatibleFormat {
        /// The format (or schema) version found in the store or record.
        found: u32,
        /// The newest format (or schema) version this build reads and writes.
        supported: u32,
        /// Features the store requires that this build does not know (empty when the
        /// version alone is too new).
        unknown_features: Vec<String>,
    },
    /// Stored bytes do not decode or violate an invariant. Restore from a backup; this is
    /// never caused by the caller's input.
    Corrupted(String),
    /// The storage engine (redb, PostgreSQL) reported an error: disk full, lock held by
    /// another process, connection lost, ... The source is kept ([`std::error::Error::source`]).
    /// Nothing was written unless the error says otherwise; retry once the cause is fixed.
    Storage(StorageError),
    /// Concurrent transactions kept conflicting with this one (a serialisation failure or a
    /// deadlock on PostgreSQL) and it was retried as often as allowed. Nothing was written;
    /// retry after a short pause.
    Contention(StorageError),
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
            Error::IncompatibleFormat {
                found,
                supported,
                unknown_features,
            } if unknown_features.is_empty() => write!(
                f,
                "incompatible storage format {found} (this build supports up to {supported})"
            ),
            Error::IncompatibleFormat {
                found,
                unknown_features,
                ..
            } => write!(
                f,
                "storage format {found} requires features this build does not know: {}",
                unknown_features.join(", ")
            ),
            Error::Corrupted(msg) => write!(f, "corrupted store: {msg}"),
            Error::Storage(e) => write!(f, "storage error: {e}"),
            Error::Contention(e) => write!(
                f,
                "the transaction kept conflicting with concurrent ones and was given up: {e}"
            ),
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
            // The engine's error itself (its message is already in this one's).
            Error::Storage(e) | Error::Contention(e) => std::error::Error::source(e),
            Error::Llm(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl Error {
    /// The error with the same meaning, for another member of a group that failed together
    /// (group commit). Storage errors share their source; an I/O error keeps its kind and
    /// message.
    pub(crate) fn replicate(&self) -> Error {
        match self {
            Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
            Error::NotFound(id) => Error::NotFound(*id),
            Error::Forbidden(id) => Error::Forbidden(*id),
            Error::Conflict(m) => Error::Conflict(m.clone()),
            Error::Poisoned => Error::Poisoned,
            Error::IncompatibleFormat {
                found,
                supported,
                unknown_features,
            } => Error::IncompatibleFormat {
                found: *found,
                supported: *supported,
                unknown_features: unknown_features.clone(),
            },
            Error::Corrupted(m) => Error::Corrupted(m.clone()),
            Error::Storage(e) => Error::Storage(e.clone()),
            Error::Contention(e) => Error::Contention(e.clone()),
            Error::Io(io) => Error::Io(std::io::Error::new(io.kind(), io.to_string())),
            Error::Unavailable(m) => Error::Unavailable(m.clone()),
            Error::Llm(e) => Error::Llm(e.clone()),
        }
    }

    /// Whether this is a failure of the storage underneath (the store's state after it is
    /// unknown to a redb handle).
    pub(crate) fn is_storage_failure(&self) -> bool {
        matches!(self, Error::Storage(_) | Error::Io(_))
    }
}

/// An error of the storage engine underneath the store, with its source kept.
///
/// Cheap to clone (the source is shared), so that every member of a group commit that failed
/// together gets the same error.
#[derive(Clone)]
pub struct StorageError(Arc<StorageSource>);

/// The engine-specific error inside a [`StorageError`].
#[derive(Debug)]
enum StorageSource {
    Redb(redb::Error),
    #[cfg(feature = "postgres")]
    Postgres(tokio_postgres::Error),
    /// The connection to the database closed.
    #[cfg(feature = "postgres")]
    Closed,
    /// Every connection of the pool stayed busy for as long as a caller waits.
    #[cfg(feature = "postgres")]
    Exhausted(usize),
}

impl StorageError {
    /// The redb error, when redb reported it.
    pub fn as_redb(&self) -> Option<&redb::Error> {
        match &*self.0 {
            StorageSource::Redb(e) => Some(e),
            #[cfg(feature = "postgres")]
            _ => None,
        }
    }

    /// The PostgreSQL client's error, when PostgreSQL (or the connection to it) reported it.
    #[cfg(feature = "postgres")]
    pub fn as_postgres(&self) -> Option<&tokio_postgres::Error> {
        match &*self.0 {
            StorageSource::Postgres(e) => Some(e),
            _ => None,
        }
    }

    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(e: tokio_postgres::Error) -> Self {
        StorageError(Arc::new(StorageSource::Postgres(e)))
    }

    #[cfg(feature = "postgres")]
    pub(crate) fn closed() -> Self {
        StorageError(Arc::new(StorageSource::Closed))
    }

    #[cfg(feature = "postgres")]
    pub(crate) fn exhausted(connections: usize) -> Self {
        StorageError(Arc::new(StorageSource::Exhausted(connections)))
    }
}

impl fmt::Debug for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            StorageSource::Redb(e) => write!(f, "redb: {e}"),
            #[cfg(feature = "postgres")]
            StorageSource::Postgres(e) => match e.as_db_error() {
                // The server's own message (the client's Display says only "db error").
                Some(db) => write!(f, "postgres: {} ({})", db.message(), db.code().code()),
                None => write!(f, "postgres: {e}"),
            },
            #[cfg(feature = "postgres")]
            StorageSource::Closed => f.write_str("postgres: the connection closed"),
            #[cfg(feature = "postgres")]
            StorageSource::Exhausted(n) => write!(
                f,
                "postgres: all {n} connections of the pool stayed busy; raise the pool size"
            ),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.0 {
            StorageSource::Redb(e) => Some(e),
            #[cfg(feature = "postgres")]
            StorageSource::Postgres(e) => Some(e),
            #[cfg(feature = "postgres")]
            StorageSource::Closed | StorageSource::Exhausted(_) => None,
        }
    }
}

impl From<redb::Error> for StorageError {
    fn from(e: redb::Error) -> Self {
        StorageError(Arc::new(StorageSource::Redb(e)))
    }
}

macro_rules! redb_error {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::Storage(StorageError::from(redb::Error::from(e)))
            }
        }
    )*};
}

redb_error!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError,
    redb::CompactionError
);
