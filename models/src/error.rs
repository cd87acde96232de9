//! The errors of the numeric core. The SQL layer turns them into DataFusion's
//! errors of the same kind: a bad argument or option is a planning error, bad
//! data met while training or predicting an execution error.

use std::fmt;

use arrow::error::ArrowError;

#[derive(Debug)]
pub enum Error {
    /// A bad argument, option or label: what the SQL must change.
    Plan(String),
    /// Bad data or a bad artifact met while running.
    Execution(String),
    /// A bug: something that cannot happen.
    Internal(String),
    /// An Arrow kernel's error (a cast, a concatenation).
    Arrow(ArrowError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plan(m) | Self::Execution(m) | Self::Internal(m) => f.write_str(m),
            Self::Arrow(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Arrow(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ArrowError> for Error {
    fn from(e: ArrowError) -> Self {
        Self::Arrow(e)
    }
}

/// `Err(Error::Plan(format!(…)))`.
#[macro_export]
macro_rules! plan_err {
    ($($arg:tt)*) => {
        Err($crate::Error::Plan(format!($($arg)*)))
    };
}

/// `Err(Error::Execution(format!(…)))`.
#[macro_export]
macro_rules! exec_err {
    ($($arg:tt)*) => {
        Err($crate::Error::Execution(format!($($arg)*)))
    };
}
