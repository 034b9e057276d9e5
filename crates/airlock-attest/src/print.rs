//! Printing through CUPS with its command-line clients: `lpstat` lists the
//! printers, `lp` submits the file and reports the job id, `lpstat -W` tells
//! when the job has finished. No CUPS library is linked, so the binary runs
//! on a workstation without CUPS and says so clearly (naming the saved
//! file to print elsewhere). Output is parsed with `LC_ALL=C`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use airlock_core::exit::{ExitClass, ExitCode};

/// A CUPS print queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printer {
    /// Queue name (what `--printer` takes).
    pub name: String,
    /// True for the system default destination.
    pub is_default: bool,
    /// False when the queue is disabled (stopped).
    pub enabled: bool,
    /// `lpstat`'s one-line status, e.g. `printer x is idle.  enabled since ...`.
    pub status: String,
}

/// A submitted job, e.g. `airlock-test-3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobId(pub String);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why printing did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// `lp`/`lpstat` are not installed.
    #[error("CUPS is not installed ({tool} not found){}", saved_hint(path))]
    NoCups {
        /// The missing program.
        tool: &'static str,
        /// The file that was to be printed.
        path: Option<PathBuf>,
    },
    /// The CUPS scheduler is not running.
    #[error("the CUPS scheduler is not running (start cupsd){}", saved_hint(path))]
    NotRunning {
        /// The file that was to be printed.
        path: Option<PathBuf>,
    },
    /// CUPS has no printer queues.
    #[error(
        "CUPS has no printers; add one with lpadmin or the desktop's printer settings{}",
        saved_hint(path)
    )]
    NoPrinters {
        /// The file that was to be printed.
        path: Option<PathBuf>,
    },
    /// The named printer does not exist.
    #[error(
        "no printer named {name:?}; available: {available}{}",
        saved_hint(path)
    )]
    UnknownPrinter {
        /// The name asked for.
        name: String,
        /// The queues that exist.
        available: String,
        /// The file that was to be printed.
        path: Option<PathBuf>,
    },
    /// Several printers and no default: the caller must choose.
    #[error(
        "no default printer is set; choose one with --printer: {available}{}",
        saved_hint(path)
    )]
    NoDefault {
        /// The queues that exist.
        available: String,
        /// The file that was to be printed.
        path: Option<PathBuf>,
    },
    /// The file to print does not exist or is not a regular file.
    #[error("{path}: not a readable file: {problem}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A CUPS command failed.
    #[error("{command} failed: {message}{}", saved_hint(path))]
    Command {
        /// The command line.
        command: String,
        /// Its error output.
        message: String,
        /// The file that was to be printed.
        path: Option<PathBuf>,
    },
    /// The job did not finish in time.
    #[error("print job {job} has not completed after {seconds} s; check the printer (lpstat -o)")]
    Timeout {
        /// The job.
        job: String,
        /// How long we waited.
        seconds: u64,
    },
}

fn saved_hint(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| {
            format!(
                "; the attestation is saved at {}: print it from another machine",
                p.display()
            )
        })
        .unwrap_or_default()
}

impl ExitClass for PrintError {
    fn exit_code(&self) -> ExitCode {
        match self {
            PrintError::File { .. } => ExitCode::Io,
            _ => ExitCode::Attestation,
        }
    }
}

impl PrintError {
    fn with_path(mut self, file: &Path) -> Self {
        match &mut self {
            PrintError::NoCups { path, .. }
            | PrintError::NotRunning { path }
            | PrintError::NoPrinters { path }
            | PrintError::UnknownPrinter { path, .. }
            | PrintError::NoDefault { path, .. }
            | PrintError::Command { path, .. } => *path = Some(file.to_path_buf()),
            PrintError::File { .. } | PrintError::Timeout { .. } => {}
        }
        self
    }
}

fn run(tool: &'static str, args: &[&OsStr]) -> Result<Output, PrintError> {
    Command::new(tool)
        .args(args)
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PrintError::NoCups { tool, path: None },
            _ => PrintError::Command {
                command: tool.to_string(),
                message: e.to_string(),
                path: None,
            },
        })
}

fn failed(tool: &str, args: &[&OsStr], out: &Output) -> PrintError {
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if stderr.contains("not running") || stderr.contains("Unable to connect") {
        return PrintError::NotRunning { path: None };
    }
    let line = std::iter::once(tool.to_string())
        .chain(args.iter().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    PrintError::Command {
        command: line,
        message: if stderr.is_empty() {
            format!("exit status {}", out.status)
        } else {
            stderr
        },
        path: None,
    }
}

/// Parses `lpstat -p` and `lpstat -d` output.
pub fn parse_printers(lpstat_p: &str, lpstat_d: &str) -> Vec<Printer> {
    let default = lpstat_d
        .lines()
        .find_map(|l| l.strip_prefix("system default destination: "))
        .map(str::trim);
    lpstat_p
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("printer ")?;
            let name = rest.split_whitespace().next()?.to_string();
            Some(Printer {
                is_default: default == Some(name.as_str()),
                enabled: !rest.contains(" disabled"),
                status: l.trim().to_string(),
                name,
            })
        })
        .collect()
}

/// Lists the CUPS printers.
pub fn list_printers() -> Result<Vec<Printer>, PrintError> {
    let args: [&OsStr; 1] = ["-p".as_ref()];
    let p = run("lpstat", &args)?;
    let p_out = String::from_utf8_lossy(&p.stdout).into_owned();
    if !p.status.success() {
        let stderr = String::from_utf8_lossy(&p.stderr);
        // CUPS says "No destinations added." (exit 1) when there are none.
        if stderr.contains("No destinations") {
            return Ok(Vec::new());
        }
        return Err(failed("lpstat", &args, &p));
    }
    let d_args: [&OsStr; 1] = ["-d".as_ref()];
    let d = run("lpstat", &d_args)?;
    Ok(parse_printers(&p_out, &String::from_utf8_lossy(&d.stdout)))
}

/// Parses `lp`'s "request id is NAME-N (1 file(s))".
pub fn parse_job_id(lp_stdout: &str) -> Option<JobId> {
    let rest = lp_stdout.split("request id is ").nth(1)?;
    let id = rest.split_whitespace().next()?;
    Some(JobId(id.to_string()))
}

/// Sends `path` to `printer` (else the default printer, else the only
/// printer) with `lp`, and returns the job id. Without CUPS or printers the
/// error names the saved file.
pub fn print_file(path: &Path, printer: Option<&str>) -> Result<JobId, PrintError> {
    let meta = std::fs::metadata(path).map_err(|e| PrintError::File {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    if !meta.is_file() {
        return Err(PrintError::File {
            path: path.to_path_buf(),
            problem: "not a regular file".into(),
        });
    }
    let printers = list_printers().map_err(|e| e.with_path(path))?;
    if printers.is_empty() {
        return Err(PrintError::NoPrinters {
            path: Some(path.to_path_buf()),
        });
    }
    let names = || {
        printers
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let dest = match printer {
        Some(name) => {
            if !printers.iter().any(|p| p.name == name) {
                return Err(PrintError::UnknownPrinter {
                    name: name.to_string(),
                    available: names(),
                    path: Some(path.to_path_buf()),
                });
            }
            name.to_string()
        }
        None => match printers.iter().find(|p| p.is_default) {
            Some(p) => p.name.clone(),
            None if printers.len() == 1 => printers[0].name.clone(),
            None => {
                return Err(PrintError::NoDefault {
                    available: names(),
                    path: Some(path.to_path_buf()),
                });
            }
        },
    };
    let title = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attestation".into());
    let args: Vec<&OsStr> = vec![
        "-d".as_ref(),
        dest.as_ref(),
        "-t".as_ref(),
        title.as_ref(),
        "--".as_ref(),
        path.as_os_str(),
    ];
    let out = run("lp", &args).map_err(|e| e.with_path(path))?;
    if !out.status.success() {
        return Err(failed("lp", &args, &out).with_path(path));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    parse_job_id(&stdout).ok_or_else(|| {
        PrintError::Command {
            command: "lp".into(),
            message: format!("no job id in its output {:?}", stdout.trim()),
            path: None,
        }
        .with_path(path)
    })
}

/// True once CUPS lists `job` among the completed jobs.
pub fn job_completed(job: &JobId) -> Result<bool, PrintError> {
    let args: [&OsStr; 3] = ["-W".as_ref(), "completed".as_ref(), "-o".as_ref()];
    let out = run("lpstat", &args)?;
    if !out.status.success() {
        return Err(failed("lpstat", &args, &out));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .any(|l| l.split_whitespace().next() == Some(job.0.as_str())))
}

/// Polls until `job` has completed, or `timeout` passes.
pub fn wait_for_job(job: &JobId, timeout: Duration) -> Result<(), PrintError> {
    let start = Instant::now();
    loop {
        if job_completed(job)? {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(PrintError::Timeout {
                job: job.0.clone(),
                seconds: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lpstat_and_lp() {
        let p = "printer airlock-test is idle.  enabled since Sat 28 Nov 2026\n\
                 printer office disabled since Sat 28 Nov 2026 -\n\treason unknown\n";
        let d = "system default destination: office\n";
        let printers = parse_printers(p, d);
        assert_eq!(printers.len(), 2);
        assert_eq!(printers[0].name, "airlock-test");
        assert!(printers[0].enabled && !printers[0].is_default);
        assert!(!printers[1].enabled && printers[1].is_default);
        assert!(parse_printers("", "no system default destination\n").is_empty());
        assert_eq!(
            parse_job_id("request id is airlock-test-12 (1 file(s))\n"),
            Some(JobId("airlock-test-12".into()))
        );
        assert_eq!(parse_job_id("garbage"), None);
    }

    #[test]
    fn errors_name_the_saved_file() {
        let e = PrintError::NoPrinters { path: None }
            .with_path(Path::new("/media/usb/attestation.pdf"));
        let t = e.to_string();
        assert!(
            t.contains("no printers") && t.contains("/media/usb/attestation.pdf"),
            "{t}"
        );
        assert_eq!(e.exit_code(), ExitCode::Attestation);
    }

    #[test]
    fn a_missing_file_is_refused_before_cups_is_asked() {
        let e = print_file(Path::new("/nonexistent/attestation.pdf"), None).unwrap_err();
        assert!(matches!(e, PrintError::File { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/attestation.pdf"));
    }
}
