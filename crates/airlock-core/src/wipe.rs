//! Best-effort secure deletion: overwrite a file's bytes in place with
//! zeros, flush, then unlink. On flash media (USB sticks, SSDs) wear
//! levelling may keep old blocks, so this is best-effort and the runbook
//! says so; on the HSM side the real wipe is destroying session objects.
//!
//! The wipe never follows a link. Directories are walked through
//! descriptors opened with `O_DIRECTORY | O_NOFOLLOW`, and every name is
//! looked at (`fstatat(AT_SYMLINK_NOFOLLOW)`), opened (`openat` with
//! `O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC`) and unlinked
//! (`unlinkat`) relative to its parent's descriptor, so a directory swapped
//! for a symlink mid-wipe is never entered. A file is written only when
//! `fstat` of the opened descriptor shows a regular file with exactly one
//! link and the device and inode the look before opening saw. Anything
//! else (a symlink, a hard-linked file whose other name may be outside the
//! tree, a fifo, socket or device, a file swapped between the look and the
//! open) is only unlinked, never written, and listed in
//! [`WipeReport::unlinked_not_overwritten`].

use std::ffi::{CStr, CString};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};
use nix::unistd::{UnlinkatFlags, unlinkat};

/// What a wipe did, for the summary and the journal. Holds paths and
/// counts only, never file contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WipeReport {
    /// Entries other than directories removed: the files overwritten plus
    /// those in [`Self::unlinked_not_overwritten`].
    pub files: u64,
    /// Bytes overwritten.
    pub bytes: u64,
    /// Directories removed.
    pub dirs: u64,
    /// Entries that were unlinked without being written, and why (a
    /// symlink, a hard link, a fifo, a device, a file swapped mid-wipe).
    /// Expected to be empty: anything here was planted or changed.
    pub unlinked_not_overwritten: Vec<NotOverwritten>,
}

/// One entry the wipe removed without writing to it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NotOverwritten {
    /// Its path (lossy UTF-8).
    pub path: String,
    /// Why it was not written, e.g. `symbolic link`.
    pub reason: String,
}

const FILE_FLAGS: OFlag = OFlag::O_WRONLY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_NONBLOCK)
    .union(OFlag::O_NOCTTY)
    .union(OFlag::O_CLOEXEC);

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

fn file_kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

fn kind_name(kind: SFlag) -> &'static str {
    match kind {
        SFlag::S_IFLNK => "symbolic link",
        SFlag::S_IFIFO => "fifo",
        SFlag::S_IFSOCK => "socket",
        SFlag::S_IFCHR => "character device",
        SFlag::S_IFBLK => "block device",
        SFlag::S_IFDIR => "directory",
        _ => "not a regular file",
    }
}

/// Why `now` (an `fstatat` before opening, or an `fstat` of the opened
/// descriptor compared with the earlier look `seen`) must not be written;
/// `None` when it is a regular file with one link (and the same file).
fn refusal(now: &FileStat, seen: Option<&FileStat>) -> Option<String> {
    let kind = file_kind(now);
    if kind != SFlag::S_IFREG {
        return Some(kind_name(kind).to_string());
    }
    if now.st_nlink != 1 {
        return Some(format!(
            "hard-linked file ({} links; another name may be outside the tree)",
            now.st_nlink
        ));
    }
    if let Some(seen) = seen
        && (seen.st_dev != now.st_dev || seen.st_ino != now.st_ino)
    {
        return Some("replaced between the look and the open".to_string());
    }
    None
}

/// Opens `name` in `dir` for overwriting, or says why it may only be
/// unlinked.
fn open_for_overwrite(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Result<File, String>> {
    let seen = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
    if let Some(why) = refusal(&seen, None) {
        return Ok(Err(why));
    }
    let fd = match openat(dir, name, FILE_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ELOOP) => return Ok(Err("became a symbolic link before it was opened".into())),
        Err(Errno::ENXIO) => return Ok(Err("became a fifo or socket before it was opened".into())),
        Err(e) => return Err(e.into()),
    };
    let now = fstat(&fd)?;
    if let Some(why) = refusal(&now, Some(&seen)) {
        return Ok(Err(why));
    }
    Ok(Ok(File::from(fd)))
}

/// Writes zeros over the whole of an opened file; returns its length.
fn zero(f: &mut File) -> io::Result<u64> {
    let len = f.metadata()?.len();
    let zeros = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        f.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    Ok(len)
}

fn not_overwritten(report: &mut WipeReport, path: &Path, reason: String) {
    report.unlinked_not_overwritten.push(NotOverwritten {
        path: path.to_string_lossy().into_owned(),
        reason,
    });
}

/// The parent directory (opened without following a final symlink) and
/// the name of `path`.
fn split(path: &Path) -> io::Result<(Dir, CString)> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = Dir::open(parent, DIR_FLAGS, Mode::empty())?;
    let name = CString::new(name.as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    Ok((dir, name))
}

/// Overwrites (when it is safe, see the module doc) and removes one file.
/// A symlink, hard link, fifo or device is only unlinked, and listed in
/// the report.
pub fn wipe_file(path: &Path, report: &mut WipeReport) -> io::Result<()> {
    let (dir, name) = split(path)?;
    match open_for_overwrite(dir.as_fd(), &name)? {
        Ok(mut f) => {
            report.bytes += zero(&mut f)?;
            f.sync_all()?;
        }
        Err(why) => not_overwritten(report, path, why),
    }
    unlinkat(dir.as_fd(), name.as_c_str(), UnlinkatFlags::NoRemoveDir)?;
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

/// The names in `dir`, without `.` and `..`.
fn names(dir: &mut Dir) -> io::Result<Vec<CString>> {
    let mut out = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

fn child(path: &Path, name: &CStr) -> PathBuf {
    path.join(std::ffi::OsStr::from_bytes(name.to_bytes()))
}

/// Overwrites every regular file below `dir` with zeros. Files on the
/// root's file system are flushed later by one `syncfs`; a file on another
/// (a mount inside the tree) is flushed on its own.
fn overwrite_all(
    dir: &mut Dir,
    path: &Path,
    root_dev: u64,
    report: &mut WipeReport,
) -> io::Result<()> {
    for name in names(dir)? {
        let st = fstatat(dir.as_fd(), name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)?;
        if file_kind(&st) == SFlag::S_IFDIR {
            match Dir::openat(dir.as_fd(), name.as_c_str(), DIR_FLAGS, Mode::empty()) {
                Ok(mut sub) => overwrite_all(&mut sub, &child(path, &name), root_dev, report)?,
                // Swapped for something else since the look: not entered;
                // the removal pass unlinks whatever is there.
                Err(Errno::ELOOP | Errno::ENOTDIR) => {}
                Err(e) => return Err(e.into()),
            }
            continue;
        }
        match open_for_overwrite(dir.as_fd(), &name)? {
            Ok(mut f) => {
                report.bytes += zero(&mut f)?;
                if fstat(&f)?.st_dev != root_dev {
                    f.sync_all()?;
                }
            }
            Err(why) => not_overwritten(report, &child(path, &name), why),
        }
    }
    Ok(())
}

/// Removes every entry below `dir` (not `dir` itself).
fn remove_all(dir: &mut Dir, report: &mut WipeReport) -> io::Result<()> {
    for name in names(dir)? {
        let st = fstatat(dir.as_fd(), name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)?;
        if file_kind(&st) == SFlag::S_IFDIR {
            match Dir::openat(dir.as_fd(), name.as_c_str(), DIR_FLAGS, Mode::empty()) {
                Ok(mut sub) => {
                    remove_all(&mut sub, report)?;
                    drop(sub);
                    unlinkat(dir.as_fd(), name.as_c_str(), UnlinkatFlags::RemoveDir)?;
                    report.dirs += 1;
                    continue;
                }
                Err(Errno::ELOOP | Errno::ENOTDIR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        unlinkat(dir.as_fd(), name.as_c_str(), UnlinkatFlags::NoRemoveDir)?;
        report.files += 1;
    }
    Ok(())
}

/// A tree: overwrite every file, flush the file system once (syncfs), then
/// unlink — the same guarantee as a flush per file, at one flush's cost.
fn walk(root: &Path, report: &mut WipeReport) -> io::Result<()> {
    let mut dir = Dir::open(root, DIR_FLAGS, Mode::empty())?;
    let root_dev = fstat(dir.as_fd())?.st_dev;
    overwrite_all(&mut dir, root, root_dev, report)?;
    nix::unistd::syncfs(dir.as_fd()).map_err(io::Error::from)?;
    remove_all(&mut dir, report)?;
    drop(dir);
    fs::remove_dir(root)?;
    report.dirs += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

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
        assert_eq!(r.unlinked_not_overwritten.len(), 1);
        assert!(r.unlinked_not_overwritten[0].path.ends_with("w/link"));
        assert_eq!(wipe_tree_report(&root).unwrap(), WipeReport::default());
    }

    /// A tree with an outside file planted in it as `name` (by `plant`),
    /// plus one ordinary file; returns (tmp, root, outside).
    fn planted(
        plant: impl FnOnce(&Path, &Path),
    ) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside-secret");
        fs::write(&outside, b"must survive").unwrap();
        let root = t.path().join("w");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("sub/own"), b"wipe me").unwrap();
        plant(&outside, &root);
        (t, root, outside)
    }

    #[test]
    fn attack_hard_link_in_tree_does_not_zero_its_target() {
        let (_t, root, outside) = planted(|o, r| fs::hard_link(o, r.join("sub/link")).unwrap());
        let r = wipe_tree_report(&root).unwrap();
        assert!(!root.exists());
        assert_eq!(fs::read(&outside).unwrap(), b"must survive");
        assert_eq!(r.files, 2);
        assert_eq!(r.bytes, 7, "only sub/own is written");
        assert_eq!(r.unlinked_not_overwritten.len(), 1, "{r:?}");
        let n = &r.unlinked_not_overwritten[0];
        assert!(n.path.ends_with("w/sub/link"), "{n:?}");
        assert!(n.reason.contains("hard-linked file (2 links"), "{n:?}");
        // The outside name now has one link again, and nothing was written.
        assert_eq!(fs::metadata(&outside).unwrap().nlink(), 1);
    }

    #[test]
    fn attack_hard_link_as_wipe_file_target_does_not_zero_it() {
        let (_t, root, outside) = planted(|o, r| fs::hard_link(o, r.join("link")).unwrap());
        let mut report = WipeReport::default();
        wipe_file(&root.join("link"), &mut report).unwrap();
        assert!(!root.join("link").exists());
        assert_eq!(fs::read(&outside).unwrap(), b"must survive");
        assert_eq!((report.files, report.bytes), (1, 0));
        assert!(
            report.unlinked_not_overwritten[0]
                .reason
                .contains("hard-linked")
        );
    }

    #[test]
    fn attack_hard_link_as_root_does_not_zero_it() {
        let (_t, root, outside) = planted(|o, r| fs::hard_link(o, r.join("link")).unwrap());
        let r = wipe_tree_report(&root.join("link")).unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"must survive");
        assert_eq!(r.unlinked_not_overwritten.len(), 1, "{r:?}");
    }

    #[test]
    fn attack_symlink_in_tree_does_not_zero_its_target() {
        let (_t, root, outside) =
            planted(|o, r| std::os::unix::fs::symlink(o, r.join("sub/link")).unwrap());
        let r = wipe_tree_report(&root).unwrap();
        assert!(!root.exists());
        assert_eq!(fs::read(&outside).unwrap(), b"must survive");
        assert_eq!(r.unlinked_not_overwritten[0].reason, "symbolic link");
    }

    #[test]
    fn attack_fifo_in_tree_is_removed_without_blocking() {
        let (_t, root, _outside) = planted(|_, r| {
            nix::unistd::mkfifo(&r.join("sub/fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap()
        });
        let r = wipe_tree_report(&root).unwrap();
        assert!(!root.exists());
        assert_eq!(r.files, 2);
        assert_eq!(r.unlinked_not_overwritten[0].reason, "fifo");
    }

    #[test]
    fn attack_symlinked_directory_is_not_entered() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), b"must survive").unwrap();
        let root = t.path().join("w");
        fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("dir")).unwrap();
        let r = wipe_tree_report(&root).unwrap();
        assert!(!root.exists());
        assert_eq!(fs::read(outside.join("secret")).unwrap(), b"must survive");
        assert_eq!((r.files, r.dirs, r.bytes), (1, 1, 0));
    }

    #[test]
    fn device_node_is_only_unlinked() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("w");
        fs::create_dir(&root).unwrap();
        let dev = root.join("null");
        let made = nix::sys::stat::mknod(
            &dev,
            SFlag::S_IFCHR,
            Mode::S_IRUSR | Mode::S_IWUSR,
            nix::sys::stat::makedev(1, 3),
        );
        if made.is_err() {
            eprintln!("mknod refused (not root?): {made:?}; skipped");
            return;
        }
        let r = wipe_tree_report(&root).unwrap();
        assert!(!root.exists());
        assert_eq!(r.unlinked_not_overwritten[0].reason, "character device");
    }

    #[test]
    fn a_file_swapped_between_the_look_and_the_open_is_refused() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("a"), b"a").unwrap();
        fs::write(t.path().join("b"), b"b").unwrap();
        let a = nix::sys::stat::stat(&t.path().join("a")).unwrap();
        let b = nix::sys::stat::stat(&t.path().join("b")).unwrap();
        assert_eq!(refusal(&a, Some(&a)), None);
        assert_eq!(
            refusal(&b, Some(&a)).as_deref(),
            Some("replaced between the look and the open")
        );
    }

    #[test]
    fn the_report_serialises_without_contents() {
        let (_t, root, _o) = planted(|o, r| fs::hard_link(o, r.join("l")).unwrap());
        let r = wipe_tree_report(&root).unwrap();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["unlinked_not_overwritten"][0]["path"],
            r.unlinked_not_overwritten[0].path
        );
        assert!(!json.to_string().contains("must survive"));
        assert!(!json.to_string().contains("wipe me"));
    }
}
