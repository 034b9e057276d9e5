//! Custodian passphrases and the SO PIN at the command line: either
//! `NAME=@FILE` (headless: the file holds the secret; one trailing newline
//! is dropped) or a no-echo prompt on the terminal. Secrets are held in
//! `Zeroizing` and never printed.

use std::path::{Path, PathBuf};

use airlock_core::exit::ExitCode;
use zeroize::Zeroizing;

use super::CliError;

/// One `--custodian` argument.
#[derive(Debug, Clone)]
pub struct CustodianArg {
    /// The custodian's name as typed.
    pub name: String,
    /// Where the passphrase is, or `None` to prompt.
    pub file: Option<PathBuf>,
}

/// Parses `NAME=@FILE` or `NAME` (clap value parser).
pub fn parse_custodian(s: &str) -> Result<CustodianArg, String> {
    match s.split_once('=') {
        Some((name, rest)) => {
            let file = rest.strip_prefix('@').ok_or_else(|| {
                format!(
                    "--custodian {name}=...: give the passphrase as @FILE (a file holding it), never on the command line"
                )
            })?;
            if name.trim().is_empty() || file.is_empty() {
                return Err("--custodian needs NAME=@FILE or NAME".into());
            }
            Ok(CustodianArg {
                name: name.to_string(),
                file: Some(PathBuf::from(file)),
            })
        }
        None if !s.trim().is_empty() => Ok(CustodianArg {
            name: s.to_string(),
            file: None,
        }),
        None => Err("--custodian needs NAME=@FILE or NAME".into()),
    }
}

/// Reads a secret from a file, dropping one trailing newline.
pub fn read_secret_file(path: &Path, what: &str) -> Result<Zeroizing<String>, CliError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| {
        CliError::new(
            ExitCode::Io,
            format!("cannot read the {what} file {}: {e}", path.display()),
        )
    })?);
    let mut text = Zeroizing::new(String::from_utf8(bytes.to_vec()).map_err(|_| {
        CliError::new(
            ExitCode::Usage,
            format!("the {what} file {} is not UTF-8 text", path.display()),
        )
    })?);
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// Prompts without echo; with `confirm`, asks twice and compares.
pub fn prompt_secret(prompt: &str, confirm: bool) -> Result<Zeroizing<String>, CliError> {
    let read = |p: &str| {
        rpassword::prompt_password(p)
            .map(Zeroizing::new)
            .map_err(|e| {
                CliError::new(
                    ExitCode::Usage,
                    format!("cannot prompt for a secret ({e}); no terminal?"),
                )
                .with_hint("give it as NAME=@FILE / --so-pin-file FILE in headless use")
            })
    };
    let first = read(prompt)?;
    if confirm {
        let second = read("Again, to confirm: ")?;
        if *first != *second {
            return Err(CliError::new(
                ExitCode::Usage,
                "the two entries differ; nothing was changed",
            ));
        }
    }
    Ok(first)
}

/// The passphrase for one custodian argument (file or prompt).
pub fn custodian_passphrase(
    arg: &CustodianArg,
    confirm: bool,
) -> Result<Zeroizing<String>, CliError> {
    match &arg.file {
        Some(f) => read_secret_file(f, &format!("passphrase (custodian {})", arg.name)),
        None => prompt_secret(
            &format!("Passphrase for custodian {} (not shown): ", arg.name),
            confirm,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_custodian_forms() {
        let a = parse_custodian("alice=@/tmp/a").unwrap();
        assert_eq!(a.name, "alice");
        assert_eq!(a.file.as_deref(), Some(Path::new("/tmp/a")));
        assert!(parse_custodian("bob").unwrap().file.is_none());
        let e = parse_custodian("alice=hunter2hunter2").unwrap_err();
        assert!(e.contains("@FILE") && !e.contains("hunter2"), "{e}");
        assert!(parse_custodian("=@x").is_err());
        assert!(parse_custodian("").is_err());
    }

    #[test]
    fn drops_one_trailing_newline() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s");
        std::fs::write(&p, "correct horse battery\n\n").unwrap();
        assert_eq!(
            &*read_secret_file(&p, "x").unwrap(),
            "correct horse battery\n"
        );
    }
}
