//! Best-effort secure deletion: overwrite a file's bytes in place with
//! zeros, fsync, then unlink. On flash media (USB sticks, SSDs) wear
//! levelling may keep old blocks, so this is best-effort and the runbook
//! says so; on the HSM side the real wipe is destroying session objects.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// What a wipe did, for the summary and the journal.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WipeReport {
    /// Files overwritten and removed.
    pub files: u64,
    /// Bytes overwritten.
    pub bytes: u64,
    /// Directories removed.
    pub dirs: u64,
}

/// Overwrites a regular file in place with zeros; returns its length.
fn overwrite(path: &Path) -> io::Result<u64> {
    let len = fs::symlink_metadata(path)?.len();
    let mut f = OpenOptions::new().write(true).open(path)?;
    let zeros = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    Ok(len)
}

/// Overwrites and removes one regular file. Symlinks are unlinked, never
/// followed.
pub fn wipe_file(path: &Path, report: &mut WipeReport) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_file() {
        report.bytes += overwrite(path)?;
        OpenOptions::new().write(true).open(path)?.sync_all()?;
    }
    fs::remove_file(path)?;
    report.files += 1;
    Ok(())
}

/// Wipes every file below `root` and removes the directories. A missing
/// `root` is not an error.
pub fn wipe_tree(root: &Path) -> io::Result<()> {
    wipe_tree_report(root).map(|_| ())
}

/// As [`wipe_tree`], returning what was wiped.
pub fn wipe_tree_report(root: &Path) -> io::Result<WipeReport> {
    let mut report = WipeReport::default();
    match fs::symlink_metadata(root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => {
            wipe_file(root, &mut report)?;
            return Ok(report);
        }
        Ok(_) => {}
    }
    walk(root, &mut report)?;
    Ok(report)
}

/// Overwrites every regular file below `dir` with zeros (no flush yet).
fn overwrite_all(dir: &Path, report: &mut WipeReport) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            overwrite_all(&path, report)?;
        } else if kind.is_file() {
            report.bytes += overwrite(&path)?;
        }
    }
    Ok(())
}

/// Removes every entry below `dir`, then `dir`.
fn remove_all(dir: &Path, report: &mut WipeReport) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            remove_all(&path, report)?;
        } else {
            fs::remove_file(&path)?;
            report.files += 1;
        }
    }
    fs::remove_dir(dir)?;
    report.dirs += 1;
    Ok(())
}

/// A tree: overwrite every file, flush the file system once (syncfs), then
/// unlink — the same guarantee as a flush per file, at one flush's cost.
fn walk(dir: &Path, report: &mut WipeReport) -> io::Result<()> {
    overwrite_all(dir, report)?;
    nix::unistd::syncfs(fs::File::open(dir)?).map_err(io::Error::from)?;
    remove_all(dir, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipes_tree_and_counts() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("w");
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/f"), vec![7u8; 100_000]).unwrap();
        fs::write(root.join("g"), b"xy").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("link")).unwrap();
        let r = wipe_tree_report(&root).unwrap();
        assert_eq!(r.files, 3);
        assert_eq!(r.bytes, 100_002);
        assert_eq!(r.dirs, 3);
        assert!(!root.exists());
        assert!(Path::new("/etc/passwd").exists());
        assert_eq!(wipe_tree_report(&root).unwrap(), WipeReport::default());
    }
}
