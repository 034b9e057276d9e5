//! `SHA256SUMS` in the strict coreutils text format both sides of the air gap
//! use: one line per file, `<64 lowercase hex><two spaces><relative path>\n`,
//! sorted by path in byte order, no duplicates, ending in a newline. The
//! parser accepts exactly that and nothing else; the formatter writes exactly
//! that, so `sha256sum -c SHA256SUMS` passes inside a bundle.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::exit::{ExitClass, ExitCode};

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// Lowercase hex, as written in `SHA256SUMS`.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Why a path inside a bundle is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    /// The path is empty.
    #[error("the path is empty")]
    Empty,
    /// The path starts with `/`.
    #[error("absolute paths are not allowed")]
    Absolute,
    /// A `..` component.
    #[error("`..` components are not allowed")]
    ParentDir,
    /// A `.` or empty component (`a//b`, `./a`, trailing `/`).
    #[error("`.` and empty components are not allowed")]
    DotOrEmptyComponent,
    /// A control character, backslash, or a leading space or `*` (which
    /// coreutils would read as part of the separator).
    #[error("the path contains a control character or backslash, or starts with a space or `*`")]
    BadCharacter,
    /// Longer than the limit.
    #[error("the path is longer than {MAX_PATH_LEN} bytes")]
    TooLong,
}

impl PathProblem {
    /// True for the traversal class (absolute, `..`), which is a layout
    /// problem rather than a syntax problem.
    pub fn is_traversal(&self) -> bool {
        matches!(self, PathProblem::Absolute | PathProblem::ParentDir)
    }
}

/// Longest path accepted inside a bundle.
pub const MAX_PATH_LEN: usize = 1024;

/// Checks that `path` is a safe relative bundle path: `/`-separated, no
/// empty, `.` or `..` components, no control characters or backslashes.
pub fn check_bundle_path(path: &str) -> Result<(), PathProblem> {
    if path.is_empty() {
        return Err(PathProblem::Empty);
    }
    if path.len() > MAX_PATH_LEN {
        return Err(PathProblem::TooLong);
    }
    if path.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    if path.split('/').any(|c| c == "..") {
        return Err(PathProblem::ParentDir);
    }
    if path.split('/').any(|c| c.is_empty() || c == ".") {
        return Err(PathProblem::DotOrEmptyComponent);
    }
    if path.starts_with([' ', '*']) || path.chars().any(|c| c.is_control() || c == '\\') {
        return Err(PathProblem::BadCharacter);
    }
    Ok(())
}

/// What is wrong with a `SHA256SUMS` file. Lines are numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SumsError {
    /// The file is empty.
    #[error("SHA256SUMS is empty; it must list every file of the bundle")]
    Empty,
    /// The file does not end with a newline.
    #[error(
        "SHA256SUMS: the last line has no final newline (coreutils format ends every line with \\n)"
    )]
    NoFinalNewline,
    /// A line is not valid UTF-8.
    #[error("SHA256SUMS line {line}: not valid UTF-8")]
    NotUtf8 {
        /// Line number.
        line: usize,
    },
    /// A carriage return (CRLF line endings).
    #[error("SHA256SUMS line {line}: carriage return found; use Unix line endings (\\n)")]
    CarriageReturn {
        /// Line number.
        line: usize,
    },
    /// The digest field is not 64 hex characters.
    #[error(
        "SHA256SUMS line {line}: expected 64 lowercase hex characters, then two spaces, then the path"
    )]
    BadDigest {
        /// Line number.
        line: usize,
    },
    /// The digest uses uppercase hex.
    #[error("SHA256SUMS line {line}: the digest uses uppercase hex; sha256sum writes lowercase")]
    UppercaseHex {
        /// Line number.
        line: usize,
    },
    /// The digest and path are not separated by exactly two spaces.
    #[error(
        "SHA256SUMS line {line}: the digest must be followed by exactly two spaces (text mode), not {found:?}"
    )]
    Separator {
        /// Line number.
        line: usize,
        /// What was found after the digest.
        found: String,
    },
    /// The path is not acceptable.
    #[error("SHA256SUMS line {line}: path {path:?}: {problem}")]
    BadPath {
        /// Line number.
        line: usize,
        /// The path as written.
        path: String,
        /// What is wrong with it.
        problem: PathProblem,
    },
    /// A path appears twice.
    #[error("SHA256SUMS line {line}: {path:?} is listed twice")]
    Duplicate {
        /// Line number of the second occurrence.
        line: usize,
        /// The path.
        path: String,
    },
    /// Lines are not sorted by path in byte order.
    #[error(
        "SHA256SUMS line {line}: {path:?} comes after {previous:?}; lines must be sorted by path in byte order (LC_ALL=C sort)"
    )]
    Unsorted {
        /// Line number.
        line: usize,
        /// This line's path.
        path: String,
        /// The previous line's path.
        previous: String,
    },
    /// A file's content does not match its listed digest.
    #[error(
        "{path}: SHA-256 is {actual}, but SHA256SUMS lists {expected}; the file was changed or damaged in transit"
    )]
    Mismatch {
        /// The file.
        path: String,
        /// The listed digest.
        expected: Sha256Digest,
        /// The digest of the file as read.
        actual: Sha256Digest,
    },
}

impl ExitClass for SumsError {
    fn exit_code(&self) -> ExitCode {
        match self {
            SumsError::BadPath { problem, .. } if problem.is_traversal() => ExitCode::BundleLayout,
            _ => ExitCode::Checksums,
        }
    }
}

/// One line of `SHA256SUMS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumEntry {
    /// The safe relative path.
    pub path: String,
    /// The listed digest.
    pub digest: Sha256Digest,
}

/// A parsed, validated `SHA256SUMS`: entries sorted by path, unique.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sha256Sums {
    entries: Vec<SumEntry>,
}

impl Sha256Sums {
    /// Parses the exact bytes of a `SHA256SUMS` file.
    pub fn parse(bytes: &[u8]) -> Result<Self, SumsError> {
        if bytes.is_empty() {
            return Err(SumsError::Empty);
        }
        if !bytes.ends_with(b"\n") {
            return Err(SumsError::NoFinalNewline);
        }
        let body = &bytes[..bytes.len() - 1];
        let mut entries: Vec<SumEntry> = Vec::new();
        for (i, raw) in body.split(|b| *b == b'\n').enumerate() {
            let line = i + 1;
            let entry = parse_line(raw, line)?;
            if let Some(prev) = entries.last() {
                match prev.path.as_bytes().cmp(entry.path.as_bytes()) {
                    std::cmp::Ordering::Equal => {
                        return Err(SumsError::Duplicate {
                            line,
                            path: entry.path,
                        });
                    }
                    std::cmp::Ordering::Greater => {
                        // Report a duplicate as such even when unsorted.
                        if entries.iter().any(|e| e.path == entry.path) {
                            return Err(SumsError::Duplicate {
                                line,
                                path: entry.path,
                            });
                        }
                        return Err(SumsError::Unsorted {
                            line,
                            path: entry.path,
                            previous: prev.path.clone(),
                        });
                    }
                    std::cmp::Ordering::Less => {}
                }
            }
            entries.push(entry);
        }
        Ok(Sha256Sums { entries })
    }

    /// Builds a listing from `(path, digest)` pairs in any order; paths must
    /// be safe and unique.
    pub fn from_entries(
        entries: impl IntoIterator<Item = (String, Sha256Digest)>,
    ) -> Result<Self, SumsError> {
        let mut v: Vec<SumEntry> = entries
            .into_iter()
            .map(|(path, digest)| SumEntry { path, digest })
            .collect();
        v.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        for (i, e) in v.iter().enumerate() {
            check_bundle_path(&e.path).map_err(|problem| SumsError::BadPath {
                line: i + 1,
                path: e.path.clone(),
                problem,
            })?;
            if i > 0 && v[i - 1].path == e.path {
                return Err(SumsError::Duplicate {
                    line: i + 1,
                    path: e.path.clone(),
                });
            }
        }
        if v.is_empty() {
            return Err(SumsError::Empty);
        }
        Ok(Sha256Sums { entries: v })
    }

    /// The exact bytes `sha256sum` would write for these entries.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 100);
        for e in &self.entries {
            out.extend_from_slice(e.digest.to_hex().as_bytes());
            out.extend_from_slice(b"  ");
            out.extend_from_slice(e.path.as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// The entries, sorted by path.
    pub fn entries(&self) -> &[SumEntry] {
        &self.entries
    }

    /// The listed digest of `path`, if listed.
    pub fn get(&self, path: &str) -> Option<&Sha256Digest> {
        self.entries
            .binary_search_by(|e| e.path.as_bytes().cmp(path.as_bytes()))
            .ok()
            .map(|i| &self.entries[i].digest)
    }

    /// Checks `content` against the digest listed for `path`.
    pub fn check(&self, path: &str, content: &[u8]) -> Result<(), SumsError> {
        let actual = Sha256Digest::of(content);
        match self.get(path) {
            Some(expected) if *expected == actual => Ok(()),
            Some(expected) => Err(SumsError::Mismatch {
                path: path.to_string(),
                expected: *expected,
                actual,
            }),
            None => Err(SumsError::Mismatch {
                path: path.to_string(),
                expected: Sha256Digest([0; 32]),
                actual,
            }),
        }
    }
}

fn parse_line(raw: &[u8], line: usize) -> Result<SumEntry, SumsError> {
    if raw.contains(&b'\r') {
        return Err(SumsError::CarriageReturn { line });
    }
    if raw.len() < 64 {
        return Err(SumsError::BadDigest { line });
    }
    let (hex_part, rest) = raw.split_at(64);
    if hex_part
        .iter()
        .any(|b| b.is_ascii_uppercase() && b.is_ascii_hexdigit())
    {
        return Err(SumsError::UppercaseHex { line });
    }
    if !hex_part
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return Err(SumsError::BadDigest { line });
    }
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut digest).map_err(|_| SumsError::BadDigest { line })?;
    let Some(path) = rest.strip_prefix(b"  ") else {
        let found: String = String::from_utf8_lossy(&rest[..rest.len().min(2)]).into_owned();
        return Err(SumsError::Separator { line, found });
    };
    let path = std::str::from_utf8(path).map_err(|_| SumsError::NotUtf8 { line })?;
    if path.starts_with(' ') || path.starts_with('*') {
        return Err(SumsError::Separator {
            line,
            found: format!("  {}", &path[..1]),
        });
    }
    check_bundle_path(path).map_err(|problem| SumsError::BadPath {
        line,
        path: path.to_string(),
        problem,
    })?;
    Ok(SumEntry {
        path: path.to_string(),
        digest: Sha256Digest(digest),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn line(path: &str) -> String {
        format!("{D}  {path}\n")
    }

    #[test]
    fn accepts_sha256sum_output() {
        let text = format!("{}{}", line("keys/a/ImportToken.bin"), line("request.json"));
        let s = Sha256Sums::parse(text.as_bytes()).unwrap();
        assert_eq!(s.entries().len(), 2);
        assert_eq!(s.get("request.json").unwrap().to_hex(), D);
        assert_eq!(s.to_bytes(), text.as_bytes());
        assert!(s.check("request.json", b"").is_ok());
        assert!(matches!(
            s.check("request.json", b"x"),
            Err(SumsError::Mismatch { .. })
        ));
    }

    #[test]
    fn refuses_each_deviation() {
        let up = D.to_uppercase();
        type Expect = fn(&SumsError) -> bool;
        let cases: Vec<(String, Expect)> = vec![
            (String::new(), |e| matches!(e, SumsError::Empty)),
            (line("a").trim_end().to_string(), |e| {
                matches!(e, SumsError::NoFinalNewline)
            }),
            (format!("{up}  a\n"), |e| {
                matches!(e, SumsError::UppercaseHex { line: 1 })
            }),
            (format!("{D} a\n"), |e| {
                matches!(e, SumsError::Separator { line: 1, .. })
            }),
            (format!("{D} *a\n"), |e| {
                matches!(e, SumsError::Separator { line: 1, .. })
            }),
            (format!("{D}   a\n"), |e| {
                matches!(e, SumsError::Separator { line: 1, .. })
            }),
            (format!("{}  a\n", &D[..63]), |e| {
                matches!(e, SumsError::BadDigest { line: 1 })
            }),
            (format!("{D}  a\r\n"), |e| {
                matches!(e, SumsError::CarriageReturn { line: 1 })
            }),
            (format!("{}{}", line("b"), line("a")), |e| {
                matches!(e, SumsError::Unsorted { line: 2, .. })
            }),
            (format!("{}{}", line("a"), line("a")), |e| {
                matches!(e, SumsError::Duplicate { line: 2, .. })
            }),
            (line("../a"), |e| {
                matches!(
                    e,
                    SumsError::BadPath {
                        problem: PathProblem::ParentDir,
                        ..
                    }
                )
            }),
            (line("/etc/passwd"), |e| {
                matches!(
                    e,
                    SumsError::BadPath {
                        problem: PathProblem::Absolute,
                        ..
                    }
                )
            }),
            (line("a//b"), |e| {
                matches!(
                    e,
                    SumsError::BadPath {
                        problem: PathProblem::DotOrEmptyComponent,
                        ..
                    }
                )
            }),
            (format!("{}\n", line("a")), |e| {
                matches!(e, SumsError::BadDigest { line: 2 })
            }),
        ];
        for (text, ok) in cases {
            let err = Sha256Sums::parse(text.as_bytes()).unwrap_err();
            assert!(ok(&err), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn traversal_is_a_layout_error() {
        let e = Sha256Sums::parse(line("../x").as_bytes()).unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::BundleLayout);
        let e = Sha256Sums::parse(format!("{D} x\n").as_bytes()).unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::Checksums);
    }

    fn path_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec("[A-Za-z0-9._ -]{1,12}", 1..4)
            .prop_map(|parts| parts.join("/"))
            .prop_filter("no . or .. components", |p| check_bundle_path(p).is_ok())
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(
            entries in proptest::collection::btree_map(path_strategy(), any::<[u8; 32]>(), 1..20)
        ) {
            let sums = Sha256Sums::from_entries(
                entries.iter().map(|(p, d)| (p.clone(), Sha256Digest(*d))),
            ).unwrap();
            let bytes = sums.to_bytes();
            let back = Sha256Sums::parse(&bytes).unwrap();
            prop_assert_eq!(&back, &sums);
            prop_assert_eq!(back.to_bytes(), bytes);
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Sha256Sums::parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_near_valid(prefix in "[0-9a-fA-F]{60,66}", sep in "[ *\t]{0,3}", path in "[a-z./]{0,10}") {
            let text = format!("{prefix}{sep}{path}\n");
            if let Ok(s) = Sha256Sums::parse(text.as_bytes()) {
                prop_assert_eq!(s.to_bytes(), text.into_bytes());
            }
        }
    }
}
