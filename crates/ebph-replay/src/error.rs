//! What can go wrong reading traces.

use std::path::PathBuf;

/// A malformed line of a trace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The line, counting from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            line,
            message: message.into(),
        }
    }
}

/// Why a replay could not read its input.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A path could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file is not a valid trace of the chosen format.
    #[error("{}:{}: {}", path.display(), error.line, error.message)]
    Parse {
        /// The file.
        path: PathBuf,
        /// The line and what is wrong with it.
        error: ParseError,
    },
    /// A directory given as input holds no regular file.
    #[error("{}: the directory holds no trace file", path.display())]
    EmptyDirectory {
        /// The directory.
        path: PathBuf,
    },
}
