//! The one error type of `airlock-online`: every refusal says what was
//! wrong, where (file, key, resource, AWS call) and what to do, and maps to
//! one documented exit code (`exit.rs`).

use crate::exit::Exit;

/// Why a subcommand stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("{path}: {what}: {source}; check the path and the permissions")]
    Io {
        /// The file or folder.
        path: String,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A refusal or failure with its own exit code and a full message.
    #[error("{message}")]
    Refused {
        /// The exit code class.
        exit: Exit,
        /// What, where, what to do.
        message: String,
    },
    /// The Lambda zip could not be built.
    #[error("{what}: {source}; nothing was written")]
    Zip {
        /// What was being done.
        what: &'static str,
        /// The zip library's error.
        source: zip::result::ZipError,
    },
    /// An AWS call failed.
    #[error(
        "'{call}' for {what} failed: {detail}. Check the credentials/role for this step, the region and the endpoint; nothing after this call was done"
    )]
    Aws {
        /// The service operation, e.g. `kms:DescribeKey`.
        call: &'static str,
        /// The key or resource.
        what: String,
        /// AWS's own error (code and message).
        detail: String,
    },
}

impl Error {
    /// A refusal with exit code `exit`.
    pub fn refused(exit: Exit, message: impl Into<String>) -> Self {
        Error::Refused {
            exit,
            message: message.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(
        path: impl AsRef<std::path::Path>,
        what: &'static str,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            what,
            source,
        }
    }

    /// The exit code this error ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Io { .. } | Error::Zip { .. } => Exit::Io,
            Error::Refused { exit, .. } => *exit,
            Error::Aws { .. } => Exit::Aws,
        }
    }
}

/// The error code and message of an SDK error, without the noise.
pub fn sdk_detail<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match err {
        SdkError::ServiceError(s) => {
            let e = s.err();
            match (e.code(), e.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                _ => e.to_string(),
            }
        }
        other => format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(other)
        ),
    }
}

/// The AWS error code of an SDK error, if the service answered one.
pub fn sdk_code<E, R>(
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> Option<String>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match err {
        SdkError::ServiceError(s) => s.err().code().map(str::to_string),
        _ => None,
    }
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
