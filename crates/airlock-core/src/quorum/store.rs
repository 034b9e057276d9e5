//! Reading `roster.json` (size-checked before it is read) and writing it
//! atomically: a temporary file in the same directory, fsynced, then
//! linked (new roster: never overwrites) or renamed (replacement) into
//! place, and the directory fsynced. A crash leaves the old roster or the
//! new one, never half of either.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::QuorumError;
use super::pin::os_random;
use super::roster::{MAX_ROSTER_BYTES, Roster};

impl Roster {
    /// Loads and validates the roster at `path`.
    pub fn load(path: &Path) -> Result<Roster, QuorumError> {
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(QuorumError::RosterMissing {
                    path: path.to_path_buf(),
                });
            }
            Err(source) => {
                return Err(QuorumError::RosterRead {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        if meta.len() > MAX_ROSTER_BYTES {
            return Err(QuorumError::RosterTooLarge {
                path: path.to_path_buf(),
                size: meta.len(),
                limit: MAX_ROSTER_BYTES,
            });
        }
        let bytes = fs::read(path).map_err(|source| QuorumError::RosterRead {
            path: path.to_path_buf(),
            source,
        })?;
        Roster::from_json(&bytes, &path.display().to_string())
    }

    /// Writes a new roster to `path`; refuses if one already exists there.
    pub fn write_new(&self, path: &Path) -> Result<(), QuorumError> {
        let tmp = self.write_temp(path)?;
        let linked = fs::hard_link(&tmp, path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => sync_parent(path),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(QuorumError::RosterExists {
                path: path.to_path_buf(),
            }),
            Err(source) => Err(QuorumError::RosterWrite {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Atomically replaces the roster at `path` (re-enrolment).
    pub fn replace(&self, path: &Path) -> Result<(), QuorumError> {
        let tmp = self.write_temp(path)?;
        if let Err(source) = fs::rename(&tmp, path) {
            let _ = fs::remove_file(&tmp);
            return Err(QuorumError::RosterWrite {
                path: path.to_path_buf(),
                source,
            });
        }
        sync_parent(path)
    }

    /// Writes the roster to a fresh temporary file beside `path` and
    /// fsyncs it.
    fn write_temp(&self, path: &Path) -> Result<PathBuf, QuorumError> {
        let werr = |source| QuorumError::RosterWrite {
            path: path.to_path_buf(),
            source,
        };
        let mut suffix = [0u8; 8];
        os_random(&mut suffix)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| crate::state_layout::ROSTER_FILE.into());
        let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", hex::encode(suffix)));
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(werr)?;
        let written = f
            .write_all(self.to_json().as_bytes())
            .and_then(|()| f.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(werr(e));
        }
        Ok(tmp)
    }
}

fn sync_parent(path: &Path) -> Result<(), QuorumError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| QuorumError::RosterWrite {
            path: path.to_path_buf(),
            source,
        })
}
