//! Writing the attestation file: a temporary file in the same directory,
//! fsynced, then renamed into place (and the directory fsynced), so a crash
//! leaves either the old state or the complete file, never half a PDF.
//! Refuses to replace an existing file unless asked to.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::AttestError;

/// Writes `bytes` to `path` atomically. With `overwrite == false` an
/// existing `path` is an error ([`AttestError::Exists`]).
pub fn write_pdf_atomically(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), AttestError> {
    let werr = |source| AttestError::Write {
        path: path.to_path_buf(),
        source,
    };
    if !overwrite && fs::symlink_metadata(path).is_ok() {
        return Err(AttestError::Exists {
            path: path.to_path_buf(),
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.airlock-partial-{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        if !overwrite && fs::symlink_metadata(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "appeared while writing",
            ));
        }
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        if e.kind() == std::io::ErrorKind::AlreadyExists && !overwrite {
            return Err(AttestError::Exists {
                path: path.to_path_buf(),
            });
        }
        return Err(werr(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_refuses_and_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("attestation.pdf");
        write_pdf_atomically(&p, b"one", false).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        let e = write_pdf_atomically(&p, b"two", false).unwrap_err();
        assert!(matches!(e, AttestError::Exists { .. }), "{e}");
        assert!(e.to_string().contains("--force"));
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_pdf_atomically(&p, b"two", true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        // No temporary files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let e = write_pdf_atomically(&dir.path().join("missing/x.pdf"), b"x", false).unwrap_err();
        assert!(matches!(e, AttestError::Write { .. }), "{e}");
    }
}
