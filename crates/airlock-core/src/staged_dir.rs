//! Writing a bundle so that a crash leaves either a complete, verified
//! bundle or none (`docs/runbook.md`, seal and export): files go into a hidden sibling
//! directory on the target file system, created with O_EXCL and fsynced;
//! the caller reads everything back and verifies it; only then is the
//! directory renamed into place and the parent fsynced. An output path that
//! already exists is never touched.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use crate::exit::{ExitClass, ExitCode};
use crate::wipe;

/// Why staging or publishing an output directory failed.
#[derive(Debug, thiserror::Error)]
pub enum StagedDirError {
    /// The output path exists already; outputs are never overwritten.
    #[error("{0} already exists; choose a new output folder (Airlock never overwrites an output)")]
    Exists(PathBuf),
    /// The output's parent folder does not exist.
    #[error("the folder {0} does not exist; mount the medium or create the folder first")]
    NoParent(PathBuf),
    /// The path has no usable final component.
    #[error("{0} is not a usable output folder name")]
    BadName(PathBuf),
    /// A relative file path escapes the bundle or is not plain.
    #[error("refusing to write {0:?}: not a plain relative path")]
    BadRelative(String),
    /// An I/O error, with the path it happened on.
    #[error("writing {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The OS error (ENOSPC shows as "No space left on device").
        source: std::io::Error,
    },
}

impl ExitClass for StagedDirError {
    fn exit_code(&self) -> ExitCode {
        match self {
            StagedDirError::Io { .. } => ExitCode::Io,
            _ => ExitCode::Ceremony,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StagedDirError + '_ {
    move |source| StagedDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The hidden sibling name used while `final_path` is being staged.
pub fn staging_path_for(final_path: &Path) -> Option<PathBuf> {
    let name = final_path.file_name()?.to_str()?;
    Some(final_path.with_file_name(format!(".{name}.airlock-partial")))
}

/// A directory being staged next to its final location.
#[derive(Debug)]
pub struct StagedDir {
    staging: PathBuf,
    final_path: PathBuf,
    published: bool,
}

impl StagedDir {
    /// Starts staging `final_path`. Refuses if it exists. A stale staging
    /// directory left by a crashed run is wiped first (it was never
    /// published, so it is not an output); `on_stale` is told about it.
    pub fn create(final_path: &Path, on_stale: impl FnOnce(&Path)) -> Result<Self, StagedDirError> {
        if final_path.symlink_metadata().is_ok() {
            return Err(StagedDirError::Exists(final_path.to_path_buf()));
        }
        let parent = match final_path.parent() {
            Some(p) if p.as_os_str().is_empty() => Path::new("."),
            Some(p) => p,
            None => return Err(StagedDirError::BadName(final_path.to_path_buf())),
        };
        if !parent.is_dir() {
            return Err(StagedDirError::NoParent(parent.to_path_buf()));
        }
        let staging = staging_path_for(final_path)
            .ok_or_else(|| StagedDirError::BadName(final_path.to_path_buf()))?;
        if staging.symlink_metadata().is_ok() {
            on_stale(&staging);
            wipe::wipe_tree(&staging).map_err(io(&staging))?;
        }
        fs::create_dir(&staging).map_err(io(&staging))?;
        Ok(StagedDir {
            staging,
            final_path: final_path.to_path_buf(),
            published: false,
        })
    }

    /// Where files are being written.
    pub fn staging_path(&self) -> &Path {
        &self.staging
    }

    /// Where the directory will be after [`StagedDir::publish`].
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Writes one file (never overwriting), fsyncs it and its directory.
    pub fn write_file(&self, rel: &str, bytes: &[u8]) -> Result<(), StagedDirError> {
        self.write(rel, bytes, true)
    }

    /// Writes one file (never overwriting) without flushing it: call
    /// [`StagedDir::sync`] once after a batch, before reading back and
    /// publishing. Nothing is published before that, so a crash in between
    /// leaves only the staging directory, which is wiped.
    pub fn write_file_deferred(&self, rel: &str, bytes: &[u8]) -> Result<(), StagedDirError> {
        self.write(rel, bytes, false)
    }

    /// Flushes everything written to the staging file system (syncfs), so
    /// that deferred files and their directory entries are durable, and
    /// reports any write-back error (e.g. a medium that filled up).
    pub fn sync(&self) -> Result<(), StagedDirError> {
        let dir = File::open(&self.staging).map_err(io(&self.staging))?;
        nix::unistd::syncfs(&dir).map_err(|e| StagedDirError::Io {
            path: self.staging.clone(),
            source: std::io::Error::from(e),
        })
    }

    fn write(&self, rel: &str, bytes: &[u8], durable: bool) -> Result<(), StagedDirError> {
        let rel_path = Path::new(rel);
        if rel.is_empty()
            || !rel_path
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(StagedDirError::BadRelative(rel.to_string()));
        }
        let path = self.staging.join(rel_path);
        let dir = path.parent().unwrap_or(&self.staging).to_path_buf();
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(io(&dir))?;
            // Make each new directory entry durable, bottom-up.
            let mut d = dir.as_path();
            while durable && d != self.staging {
                let parent = d.parent().unwrap_or(&self.staging);
                fsync_dir(parent)?;
                d = parent;
            }
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io(&path))?;
        f.write_all(bytes).map_err(io(&path))?;
        if durable {
            f.sync_all().map_err(io(&path))?;
            fsync_dir(&dir)?;
        }
        Ok(())
    }

    /// Reads a staged file back (for verification before publishing).
    pub fn read_file(&self, rel: &str) -> Result<Vec<u8>, StagedDirError> {
        let path = self.staging.join(rel);
        fs::read(&path).map_err(io(&path))
    }

    /// Renames the staging directory into place and fsyncs the parent.
    /// Call only after the staged content was read back and verified.
    pub fn publish(mut self) -> Result<PathBuf, StagedDirError> {
        fsync_dir(&self.staging)?;
        if self.final_path.symlink_metadata().is_ok() {
            return Err(StagedDirError::Exists(self.final_path.clone()));
        }
        fs::rename(&self.staging, &self.final_path).map_err(io(&self.final_path))?;
        let parent = self
            .final_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty());
        fsync_dir(parent.unwrap_or(Path::new(".")))?;
        self.published = true;
        Ok(self.final_path.clone())
    }

    /// Wipes the staging directory (on any failure before publishing).
    pub fn abort(mut self) -> std::io::Result<()> {
        self.published = true; // nothing left for Drop to do
        wipe::wipe_tree(&self.staging)
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.published {
            let _ = wipe::wipe_tree(&self.staging);
        }
    }
}

/// fsyncs a directory so that entries created in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<(), StagedDirError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_only_on_request_and_never_overwrites() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("bundle");
        let s = StagedDir::create(&out, |_| {}).unwrap();
        s.write_file("keys/a/x.bin", b"abc").unwrap();
        assert!(!out.exists());
        assert_eq!(s.read_file("keys/a/x.bin").unwrap(), b"abc");
        assert!(matches!(
            s.write_file("keys/a/x.bin", b"again"),
            Err(StagedDirError::Io { .. })
        ));
        assert!(matches!(
            s.write_file("../evil", b""),
            Err(StagedDirError::BadRelative(_))
        ));
        s.publish().unwrap();
        assert_eq!(fs::read(out.join("keys/a/x.bin")).unwrap(), b"abc");
        assert!(matches!(
            StagedDir::create(&out, |_| {}),
            Err(StagedDirError::Exists(_))
        ));
    }

    #[test]
    fn deferred_files_publish_after_one_sync() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("bundle");
        let s = StagedDir::create(&out, |_| {}).unwrap();
        for i in 0..20 {
            s.write_file_deferred(&format!("keys/k{i}/m.bin"), &[i as u8; 40])
                .unwrap();
        }
        assert!(matches!(
            s.write_file_deferred("keys/k1/m.bin", b"again"),
            Err(StagedDirError::Io { .. })
        ));
        s.sync().unwrap();
        s.publish().unwrap();
        assert_eq!(fs::read(out.join("keys/k7/m.bin")).unwrap(), vec![7u8; 40]);
    }

    #[test]
    fn drop_without_publish_leaves_nothing() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("bundle");
        {
            let s = StagedDir::create(&out, |_| {}).unwrap();
            s.write_file("a", b"secret-ish").unwrap();
        }
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 0);
    }

    #[test]
    fn stale_staging_is_wiped_and_reported() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("bundle");
        let stale = staging_path_for(&out).unwrap();
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join("leftover"), b"x").unwrap();
        let mut seen = None;
        let s = StagedDir::create(&out, |p| seen = Some(p.to_path_buf())).unwrap();
        assert_eq!(seen.as_deref(), Some(stale.as_path()));
        assert!(!s.staging_path().join("leftover").exists());
    }
}
