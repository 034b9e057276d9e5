//! Safe reading of a bundle directory that crossed the air gap on removable
//! media, shared by the request-bundle and import-bundle verifiers.
//!
//! Nothing in a bundle is trusted before its layout is: the walk uses
//! `lstat` and refuses symlinks, device files, FIFOs, sockets, hard-linked
//! files, names that are not UTF-8 and deep trees; every size limit is
//! checked from metadata before a byte is read; files are opened with
//! `O_NOFOLLOW` and re-checked with `fstat` (same inode, same size, one
//! link) so a swap between the walk and the read is caught. Then
//! `SHA256SUMS` is parsed strictly and the set of files on disk must equal
//! the set it lists (minus the few files a bundle kind may carry unlisted).
//! Digests are checked on the in-memory bytes, so the bytes verified are the
//! bytes later parsed.

use std::collections::BTreeMap;
use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::exit::{ExitClass, ExitCode};
use crate::sums::{PathProblem, Sha256Sums, SumsError, check_bundle_path};

/// Name of the checksum listing at the bundle root.
pub const SUMS_FILE: &str = "SHA256SUMS";
/// Name of the detached signature over [`SUMS_FILE`].
pub const SIG_FILE: &str = "SHA256SUMS.sig";
/// Limit for the large root files (`request.json`, `import.json`,
/// `journal.jsonl`) and for `SHA256SUMS`.
pub const LARGE_FILE_LIMIT: u64 = 16 * 1024 * 1024;
/// Limit for any other single file.
pub const FILE_LIMIT: u64 = 1024 * 1024;
/// Limit for the whole bundle (all regular files together).
pub const BUNDLE_LIMIT: u64 = 64 * 1024 * 1024;
/// Most files a bundle may hold (10,000 keys x 2 files, plus headroom, so
/// that the key-count limit, not this one, speaks for oversized requests).
pub const MAX_FILES: usize = 30_000;
/// Deepest directory nesting accepted (`keys/<name>/file` is depth 3).
pub const MAX_DEPTH: usize = 8;

/// What a kind of bundle may contain beyond the listed files.
#[derive(Debug, Clone, Copy)]
pub struct BundleRules {
    /// Human name for messages ("request bundle").
    pub kind: &'static str,
    /// Root-level files (besides `SHA256SUMS` and `SHA256SUMS.sig`) that are
    /// allowed but must not be listed in `SHA256SUMS`.
    pub unlisted: &'static [&'static str],
    /// Root-level files allowed up to [`LARGE_FILE_LIMIT`].
    pub large_files: &'static [&'static str],
}

/// Rules for a request bundle (online -> offline).
pub const REQUEST_BUNDLE: BundleRules = BundleRules {
    kind: "request bundle",
    unlisted: &[],
    large_files: &["request.json"],
};

/// Rules for an import bundle (offline -> online).
pub const IMPORT_BUNDLE: BundleRules = BundleRules {
    kind: "import bundle",
    unlisted: &["attestation.pdf"],
    large_files: &["import.json", "journal.jsonl"],
};

/// Why a bundle directory was refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle directory could not be opened or a file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bundle path is not a directory.
    #[error("{}: not a directory; pass the bundle folder", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// A symlink inside the bundle (or the bundle path itself).
    #[error("{path}: is a symbolic link; bundles must contain only regular files and folders")]
    Symlink {
        /// Path relative to the bundle (or the bundle path).
        path: String,
    },
    /// A device file, FIFO or socket.
    #[error("{path}: is a {kind}; bundles must contain only regular files and folders")]
    SpecialFile {
        /// Path relative to the bundle.
        path: String,
        /// What it is.
        kind: &'static str,
    },
    /// A file with more than one hard link.
    #[error(
        "{path}: has {links} hard links; copy the bundle so that every file is a separate file"
    )]
    HardLink {
        /// Path relative to the bundle.
        path: String,
        /// The link count.
        links: u64,
    },
    /// A name that is not valid UTF-8.
    #[error(
        "{parent}: contains a file name that is not valid UTF-8 ({lossy:?}); bundle paths must be UTF-8"
    )]
    NonUtf8Name {
        /// The folder, relative to the bundle ("." for the root).
        parent: String,
        /// The name with invalid bytes replaced.
        lossy: String,
    },
    /// A name that is not a safe bundle path.
    #[error("{path:?}: {problem}")]
    UnsafeName {
        /// Path relative to the bundle.
        path: String,
        /// What is wrong.
        problem: PathProblem,
    },
    /// Folders nested too deep.
    #[error("{path}: folders nested deeper than {MAX_DEPTH} levels")]
    TooDeep {
        /// Path relative to the bundle.
        path: String,
    },
    /// Too many files.
    #[error("the bundle holds more than {MAX_FILES} files")]
    TooManyFiles,
    /// A single file over its limit.
    #[error("{path}: {size} bytes is over the {limit}-byte limit for this file")]
    FileTooLarge {
        /// Path relative to the bundle.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The bundle as a whole is over its limit.
    #[error("the bundle's files total {size} bytes, over the {BUNDLE_LIMIT}-byte limit")]
    BundleTooLarge {
        /// Total size.
        size: u64,
    },
    /// A required root file is absent.
    #[error("{file} is missing from the {kind}")]
    MissingRootFile {
        /// The file.
        file: &'static str,
        /// The bundle kind.
        kind: &'static str,
    },
    /// The file changed between the walk and the read.
    #[error("{path}: changed while it was being read; is something else writing to the medium?")]
    ChangedWhileReading {
        /// Path relative to the bundle.
        path: String,
    },
    /// `SHA256SUMS` is malformed or a digest does not match.
    #[error(transparent)]
    Sums(#[from] SumsError),
    /// A file is present but not listed in `SHA256SUMS`.
    #[error(
        "{path}: present in the bundle but not listed in SHA256SUMS; remove it or have the online side re-sign a listing that includes it"
    )]
    Unlisted {
        /// Path relative to the bundle.
        path: String,
    },
    /// A file listed in `SHA256SUMS` is absent.
    #[error("{path}: listed in SHA256SUMS but missing from the bundle (incomplete copy?)")]
    Missing {
        /// Path relative to the bundle.
        path: String,
    },
    /// A file that must not be listed in `SHA256SUMS` is listed.
    #[error("SHA256SUMS lists {path}, which must not be listed")]
    MustNotBeListed {
        /// The listed path.
        path: String,
    },
}

impl ExitClass for BundleError {
    fn exit_code(&self) -> ExitCode {
        match self {
            BundleError::Io { .. } => ExitCode::Io,
            BundleError::Sums(e) => e.exit_code(),
            _ => ExitCode::BundleLayout,
        }
    }
}

/// A bundle directory whose layout and `SHA256SUMS` syntax were checked,
/// with every regular file's bytes in memory.
#[derive(Debug)]
pub struct BundleFiles {
    root: PathBuf,
    files: BTreeMap<String, Vec<u8>>,
    sums: Sha256Sums,
}

impl BundleFiles {
    /// Walks and reads `dir` under `rules`: layout and path safety, size
    /// limits, `SHA256SUMS` syntax, and that the files present are exactly
    /// the files listed. Digests are checked separately by
    /// [`BundleFiles::check_digests`].
    pub fn read(dir: &Path, rules: &BundleRules) -> Result<Self, BundleError> {
        let root_meta = std::fs::symlink_metadata(dir).map_err(|source| BundleError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if root_meta.file_type().is_symlink() {
            return Err(BundleError::Symlink {
                path: dir.display().to_string(),
            });
        }
        if !root_meta.is_dir() {
            return Err(BundleError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let found = walk(dir, rules)?;
        for required in [SUMS_FILE, SIG_FILE] {
            if !found.contains_key(required) {
                return Err(BundleError::MissingRootFile {
                    file: required,
                    kind: rules.kind,
                });
            }
        }
        let mut files = BTreeMap::new();
        for (rel, meta) in &found {
            let bytes = read_checked(&dir.join(rel), rel, meta)?;
            files.insert(rel.clone(), bytes);
        }
        let sums = Sha256Sums::parse(&files[SUMS_FILE])?;
        check_listing(&files, &sums, rules)?;
        Ok(BundleFiles {
            root: dir.to_path_buf(),
            files,
            sums,
        })
    }

    /// Checks every listed file's digest against `SHA256SUMS`.
    pub fn check_digests(&self) -> Result<(), BundleError> {
        for entry in self.sums.entries() {
            let content = &self.files[&entry.path];
            self.sums.check(&entry.path, content)?;
        }
        Ok(())
    }

    /// The bundle folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The exact bytes of `SHA256SUMS`.
    pub fn sums_bytes(&self) -> &[u8] {
        &self.files[SUMS_FILE]
    }

    /// The parsed `SHA256SUMS`.
    pub fn sums(&self) -> &Sha256Sums {
        &self.sums
    }

    /// The bytes of `SHA256SUMS.sig`.
    pub fn signature(&self) -> &[u8] {
        &self.files[SIG_FILE]
    }

    /// The bytes of the file at `path` (relative), if present.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// Every regular file's relative path, in byte order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Takes the bytes of `path` out of the bundle (to avoid a copy).
    pub fn take(&mut self, path: &str) -> Option<Vec<u8>> {
        self.files.get_mut(path).map(std::mem::take)
    }
}

fn limit_for(rel: &str, rules: &BundleRules) -> u64 {
    // SHA256SUMS of a 10,000-key bundle is about 2 MB (20,001 lines), so it
    // gets the large-file limit; formats.md's 1 MiB for "any other file"
    // would make its own 10,000-key limit unreachable (docs/formats.md).
    if rel == SUMS_FILE || rules.large_files.contains(&rel) {
        LARGE_FILE_LIMIT
    } else {
        FILE_LIMIT
    }
}

fn special_kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_block_device() {
        "block device"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// Walks the tree with `lstat`, checking every entry; returns regular
/// files by relative path with the metadata seen.
fn walk(dir: &Path, rules: &BundleRules) -> Result<BTreeMap<String, Metadata>, BundleError> {
    let mut found = BTreeMap::new();
    let mut total: u64 = 0;
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(dir.to_path_buf(), String::new(), 1)];
    while let Some((abs, prefix, depth)) = stack.pop() {
        let entries = std::fs::read_dir(&abs).map_err(|source| BundleError::Io {
            path: abs.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| BundleError::Io {
                path: abs.clone(),
                source,
            })?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(BundleError::NonUtf8Name {
                    parent: if prefix.is_empty() {
                        ".".to_string()
                    } else {
                        prefix.clone()
                    },
                    lossy: name.to_string_lossy().into_owned(),
                });
            };
            let rel = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            check_bundle_path(&rel).map_err(|problem| BundleError::UnsafeName {
                path: rel.clone(),
                problem,
            })?;
            let meta =
                std::fs::symlink_metadata(entry.path()).map_err(|source| BundleError::Io {
                    path: entry.path(),
                    source,
                })?;
            let ft = meta.file_type();
            if ft.is_symlink() {
                return Err(BundleError::Symlink { path: rel });
            } else if ft.is_dir() {
                if depth >= MAX_DEPTH {
                    return Err(BundleError::TooDeep { path: rel });
                }
                stack.push((entry.path(), rel, depth + 1));
            } else if ft.is_file() {
                if meta.nlink() > 1 {
                    return Err(BundleError::HardLink {
                        path: rel,
                        links: meta.nlink(),
                    });
                }
                let limit = limit_for(&rel, rules);
                if meta.len() > limit {
                    return Err(BundleError::FileTooLarge {
                        path: rel,
                        size: meta.len(),
                        limit,
                    });
                }
                total += meta.len();
                if total > BUNDLE_LIMIT {
                    return Err(BundleError::BundleTooLarge { size: total });
                }
                if found.len() >= MAX_FILES {
                    return Err(BundleError::TooManyFiles);
                }
                found.insert(rel, meta);
            } else {
                return Err(BundleError::SpecialFile {
                    path: rel,
                    kind: special_kind(&meta),
                });
            }
        }
    }
    Ok(found)
}

/// Opens without following symlinks, re-checks with `fstat`, and reads at
/// most the size seen during the walk.
fn read_checked(abs: &Path, rel: &str, seen: &Metadata) -> Result<Vec<u8>, BundleError> {
    let io = |source| BundleError::Io {
        path: abs.to_path_buf(),
        source,
    };
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(abs)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                BundleError::Symlink {
                    path: rel.to_string(),
                }
            } else {
                io(e)
            }
        })?;
    let now = file.metadata().map_err(io)?;
    if !now.is_file()
        || now.dev() != seen.dev()
        || now.ino() != seen.ino()
        || now.len() != seen.len()
        || now.nlink() != 1
    {
        return Err(BundleError::ChangedWhileReading {
            path: rel.to_string(),
        });
    }
    let mut bytes = Vec::with_capacity(seen.len() as usize);
    file.take(seen.len() + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 != seen.len() {
        return Err(BundleError::ChangedWhileReading {
            path: rel.to_string(),
        });
    }
    Ok(bytes)
}

fn check_listing(
    files: &BTreeMap<String, Vec<u8>>,
    sums: &Sha256Sums,
    rules: &BundleRules,
) -> Result<(), BundleError> {
    let exempt = |p: &str| p == SUMS_FILE || p == SIG_FILE || rules.unlisted.contains(&p);
    for entry in sums.entries() {
        if exempt(&entry.path) {
            return Err(BundleError::MustNotBeListed {
                path: entry.path.clone(),
            });
        }
        if !files.contains_key(&entry.path) {
            return Err(BundleError::Missing {
                path: entry.path.clone(),
            });
        }
    }
    for path in files.keys() {
        if !exempt(path) && sums.get(path).is_none() {
            return Err(BundleError::Unlisted { path: path.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sums::Sha256Digest;
    use std::fs;

    fn make(dir: &Path, files: &[(&str, &[u8])]) {
        let mut entries = Vec::new();
        for (p, c) in files {
            let abs = dir.join(p);
            fs::create_dir_all(abs.parent().unwrap()).unwrap();
            fs::write(&abs, c).unwrap();
            entries.push((p.to_string(), Sha256Digest::of(c)));
        }
        let sums = Sha256Sums::from_entries(entries).unwrap();
        fs::write(dir.join(SUMS_FILE), sums.to_bytes()).unwrap();
        fs::write(dir.join(SIG_FILE), b"sig").unwrap();
    }

    fn read(dir: &Path) -> Result<BundleFiles, BundleError> {
        BundleFiles::read(dir, &REQUEST_BUNDLE).and_then(|b| b.check_digests().map(|()| b))
    }

    #[test]
    fn reads_a_good_bundle() {
        let t = tempfile::tempdir().unwrap();
        make(t.path(), &[("request.json", b"{}"), ("keys/a/x.bin", b"x")]);
        let b = read(t.path()).unwrap();
        assert_eq!(b.get("keys/a/x.bin"), Some(&b"x"[..]));
        assert_eq!(b.signature(), b"sig");
        assert_eq!(
            b.paths().collect::<Vec<_>>(),
            [
                "SHA256SUMS",
                "SHA256SUMS.sig",
                "keys/a/x.bin",
                "request.json"
            ]
        );
    }

    #[test]
    fn refuses_layout_problems() {
        type Mutate = fn(&Path);
        type Expect = fn(&BundleError) -> bool;
        let cases: &[(&str, Mutate, Expect)] = &[
            (
                "symlink",
                |d| std::os::unix::fs::symlink("/etc/passwd", d.join("link")).unwrap(),
                |e| matches!(e, BundleError::Symlink { path } if path == "link"),
            ),
            (
                "fifo",
                |d| {
                    // coreutils' mkfifo: no unsafe libc call needed here.
                    let ok = std::process::Command::new("mkfifo")
                        .arg(d.join("fifo"))
                        .status()
                        .unwrap();
                    assert!(ok.success());
                },
                |e| matches!(e, BundleError::SpecialFile { kind: "FIFO", .. }),
            ),
            (
                "hard link",
                |d| fs::hard_link(d.join("request.json"), d.join("copy.json")).unwrap(),
                |e| matches!(e, BundleError::HardLink { links: 2, .. }),
            ),
            (
                "extra file",
                |d| fs::write(d.join("extra"), b"").unwrap(),
                |e| matches!(e, BundleError::Unlisted { path } if path == "extra"),
            ),
            (
                "missing file",
                |d| fs::remove_file(d.join("keys/a/x.bin")).unwrap(),
                |e| matches!(e, BundleError::Missing { path } if path == "keys/a/x.bin"),
            ),
            (
                "missing signature",
                |d| fs::remove_file(d.join(SIG_FILE)).unwrap(),
                |e| matches!(e, BundleError::MissingRootFile { file: SIG_FILE, .. }),
            ),
            (
                "oversized",
                |d| fs::write(d.join("keys/a/x.bin"), vec![0u8; FILE_LIMIT as usize + 1]).unwrap(),
                |e| {
                    matches!(
                        e,
                        BundleError::FileTooLarge {
                            limit: FILE_LIMIT,
                            ..
                        }
                    )
                },
            ),
            (
                "flipped byte",
                |d| fs::write(d.join("keys/a/x.bin"), b"y").unwrap(),
                |e| matches!(e, BundleError::Sums(SumsError::Mismatch { .. })),
            ),
            (
                "non-UTF-8 name",
                |d| {
                    use std::os::unix::ffi::OsStrExt;
                    fs::write(d.join(std::ffi::OsStr::from_bytes(b"bad\xff")), b"").unwrap()
                },
                |e| matches!(e, BundleError::NonUtf8Name { .. }),
            ),
        ];
        for (what, mutate, ok) in cases {
            let t = tempfile::tempdir().unwrap();
            make(t.path(), &[("request.json", b"{}"), ("keys/a/x.bin", b"x")]);
            mutate(t.path());
            let err = read(t.path()).unwrap_err();
            assert!(ok(&err), "{what}: got {err:?}");
            let code = err.exit_code();
            if *what == "flipped byte" {
                assert_eq!(code, ExitCode::Checksums);
            } else {
                assert_eq!(code, ExitCode::BundleLayout, "{what}");
            }
        }
    }

    #[test]
    fn large_root_files_get_the_large_limit() {
        let t = tempfile::tempdir().unwrap();
        let big = vec![b' '; FILE_LIMIT as usize + 10];
        make(t.path(), &[("request.json", &big)]);
        assert!(read(t.path()).is_ok());
        assert!(BundleFiles::read(t.path(), &IMPORT_BUNDLE).is_err());
    }

    #[test]
    fn root_symlink_is_refused() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("real")).unwrap();
        make(&t.path().join("real"), &[("request.json", b"{}")]);
        std::os::unix::fs::symlink(t.path().join("real"), t.path().join("link")).unwrap();
        assert!(matches!(
            read(&t.path().join("link")),
            Err(BundleError::Symlink { .. })
        ));
    }
}
