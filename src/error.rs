//! The library's error type. Each error carries its context (the path, the
//! syscall or the config field) from where it was made; `main` logs it once.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A syscall or file operation failed; `what` names the call and its object.
    #[error("{what}: {}", errstr(source))]
    Sys {
        what: String,
        #[source]
        source: io::Error,
    },
    /// The config or the command line asks for something invalid.
    #[error("{0}")]
    Invalid(String),
    /// No container with this id exists (callers match "does not exist").
    #[error("container {0} does not exist")]
    NotExist(String),
    /// The container's status forbids the operation (callers match
    /// "container not running").
    #[error("{0}")]
    Status(String),
    /// An error reported by the container process across the channel.
    #[error("{msg}")]
    Child { errno: i32, msg: String },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn sys(what: impl Into<String>, source: io::Error) -> Self {
        Error::Sys {
            what: what.into(),
            source,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    /// errno to send across the parent/child channel.
    pub fn errno(&self) -> i32 {
        match self {
            Error::Sys { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            Error::Child { errno, .. } => *errno,
            Error::NotExist(_) => libc::ENOENT,
            _ => libc::EINVAL,
        }
    }
}

/// `.ctx(|| "mkdir /x")` on io results.
pub trait Ctx<T> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T> Ctx<T> for io::Result<T> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::sys(what(), e))
    }
}

/// Go-style errno text ("no such file or directory"): the wording runc
/// prints and callers match.
pub fn errstr(e: &io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
