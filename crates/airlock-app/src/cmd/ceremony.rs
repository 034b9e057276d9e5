//! `airlock ceremony run` drives the whole ceremony headless through the
//! same engine the desktop app uses; `airlock ceremony status` lists
//! unfinished ceremonies and what they left behind.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use airlock_attest::Paper;
use airlock_ceremony::state::{CeremonyStatus, CeremonyStore};
use airlock_ceremony::words::pgp_words_for_hex;
use airlock_ceremony::{AttestationOptions, Ceremony, CeremonyOptions, Event};
use airlock_core::signature::group_hex;
use clap::Subcommand;

use super::secrets::{CustodianArg, custodian_passphrase, parse_custodian};
use super::{CliError, load_config};

/// `airlock ceremony ...`
#[derive(Debug, Subcommand)]
pub enum CeremonyCommand {
    /// Run a ceremony: preflight, verify the request, quorum login,
    /// generate and wrap in the HSM, seal and export, wipe.
    Run {
        /// The request bundle folder (from the online side).
        #[arg(long, value_name = "DIR")]
        request: PathBuf,
        /// The import bundle folder to create (must not exist).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A custodian: NAME=@FILE or NAME (prompted). Repeat, M times.
        #[arg(long = "custodian", value_name = "NAME[=@FILE]", value_parser = parse_custodian, required = true)]
        custodians: Vec<CustodianArg>,
        /// Accept SHA-1 wrapping algorithms (printed on the attestation).
        #[arg(long)]
        allow_sha1: bool,
        /// Run although a network interface is up (journaled, and printed
        /// as NOT AIR-GAPPED on the attestation). For rehearsals only.
        #[arg(long)]
        allow_network: bool,
        /// Also wipe the request bundle at the end.
        #[arg(long)]
        wipe_request: bool,
        /// Run although the process memory could not be locked (secrets may
        /// reach swap). Journaled; for rehearsals only.
        #[arg(long)]
        allow_unlocked_memory: bool,
        /// Serial number of a tamper-evident bag the media travel in,
        /// printed on the attestation. Repeat for each bag.
        #[arg(long = "seal-serial", value_name = "SERIAL")]
        seal_serials: Vec<String>,
        /// Print the attestation on US Letter instead of A4.
        #[arg(long)]
        letter: bool,
        /// The security officer's PIN file, when the custodians' policy is
        /// wrap-with-trusted (the SO marks the request's AWS wrapping keys
        /// trusted before the quorum login); prompted on a terminal.
        #[arg(long, value_name = "FILE")]
        so_pin_file: Option<PathBuf>,
        /// Confirm re-wrapping a key's existing HSM material: NAME=CODE,
        /// where CODE is the KCV (or public key hash prefix, or label) the
        /// ceremony shows for it after login. Needed once per existing key
        /// when standard input is not a terminal; on a terminal it is asked.
        #[arg(long = "confirm-existing", value_name = "NAME=CODE")]
        confirm_existing: Vec<String>,
        /// Events as JSON lines on stdout instead of progress text.
        #[arg(long)]
        json: bool,
    },
    /// List ceremonies that did not finish, and what to do about them.
    Status {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `airlock ceremony ...`.
pub fn run(cmd: CeremonyCommand, config: Option<&Path>) -> Result<(), CliError> {
    match cmd {
        CeremonyCommand::Run {
            request,
            out,
            custodians,
            allow_sha1,
            allow_network,
            wipe_request,
            allow_unlocked_memory,
            seal_serials,
            letter,
            confirm_existing,
            so_pin_file,
            json,
        } => run_ceremony(
            config,
            CeremonyOptions {
                request_dir: request,
                out_dir: out,
                allow_sha1,
                allow_network,
                wipe_request,
                allow_unlocked_memory,
            },
            AttestationOptions {
                seal_serials,
                paper: if letter { Paper::Letter } else { Paper::A4 },
            },
            &custodians,
            &confirm_existing,
            so_pin_file.as_deref(),
            json,
        ),
        CeremonyCommand::Status { json } => status(config, json),
    }
}

struct Reporter {
    json: bool,
    tty: bool,
}

impl Reporter {
    fn event(&self, e: &Event) {
        if self.json {
            if let Ok(s) = serde_json::to_string(e) {
                println!("{s}");
            }
            return;
        }
        match e {
            Event::Preflight {
                hostname,
                clock,
                air_gapped,
                interfaces_up,
                token,
            } => {
                eprintln!(
                    "Workstation {hostname}, clock {clock} (check it against a trusted clock)"
                );
                if *air_gapped {
                    eprintln!("Air gap: only loopback is up.");
                } else {
                    eprintln!(
                        "NOT AIR-GAPPED: {} up (--allow-network given)",
                        interfaces_up.join(", ")
                    );
                }
                eprintln!("HSM: {token}");
            }
            Event::RequestVerified {
                request_id,
                keys,
                sums_sha256,
                signer,
                warnings,
            } => {
                eprintln!("Request {request_id}: {keys} keys, signed by {signer}");
                eprintln!("Request SHA256SUMS digest: {}", group_hex(sums_sha256));
                for w in warnings {
                    eprintln!("warning: {w}");
                }
            }
            Event::Resumed { ceremony_id } => {
                eprintln!("Resuming unfinished ceremony {ceremony_id} for this request.")
            }
            Event::CustodianAuthenticated {
                custodian,
                have,
                need,
            } => {
                eprintln!("Custodian {custodian} authenticated ({have} of {need}).")
            }
            Event::LoggedIn {
                custodians,
                wrap_paths,
            } => {
                eprintln!("Quorum logged in to the HSM: {}", custodians.join(", "));
                for p in wrap_paths {
                    eprintln!("Self-tests passed; {p}");
                }
            }
            Event::KeyStarted { index, total, name } => {
                if self.tty {
                    eprint!("\r[{index}/{total}] {name} ...\x1b[K");
                }
            }
            Event::KeyDone {
                index,
                total,
                name,
                origin,
                kcv,
                wrap_path,
            } => {
                let kcv = kcv
                    .as_deref()
                    .map(|k| format!(", KCV {k}"))
                    .unwrap_or_default();
                if self.tty {
                    eprint!("\r\x1b[K");
                }
                eprintln!("[{index}/{total}] {name}: {origin}, wrapped via {wrap_path}{kcv}");
            }
            Event::Exported { path, sums_sha256 } => {
                eprintln!("Bundle sealed, read back, verified and published at {path}");
                eprintln!("Bundle SHA256SUMS digest: {}", group_hex(sums_sha256));
            }
            Event::Wiped {
                files,
                bytes,
                session_objects_destroyed,
                session_objects_remaining,
            } => eprintln!(
                "Wiped {files} working files ({bytes} bytes); {session_objects_destroyed} HSM session objects \
                 destroyed, {session_objects_remaining} remaining; logged out."
            ),
        }
    }
}

fn run_ceremony(
    config: Option<&Path>,
    opts: CeremonyOptions,
    attestation: AttestationOptions,
    custodians: &[CustodianArg],
    confirm_existing: &[String],
    so_pin_file: Option<&Path>,
    json: bool,
) -> Result<(), CliError> {
    for note in airlock_ceremony::hygiene::harden_process().notes {
        eprintln!("warning: {note}");
    }
    // Ceremony mode: --config on the command line or the system path only.
    let config = airlock_core::config::AirlockConfig::load_for_ceremony(config)?;
    eprintln!(
        "Configuration: {} ({})",
        config.source.display(),
        config.origin
    );
    let reporter = Reporter {
        json,
        tty: std::io::stderr().is_terminal(),
    };
    let mut c = Ceremony::preflight(config, opts)?;
    c.set_attestation(attestation);
    reporter.event(&c.preflight_event());
    if !json {
        let id = &c.preflight_report().identity;
        eprintln!(
            "PKCS#11 module: {} SHA-256 {} (pinned at enrolment)",
            id.module_path,
            group_hex(&id.module_sha256)
        );
    }
    let result = drive(&mut c, custodians, confirm_existing, so_pin_file, &reporter);
    if let Err(e) = result {
        // The abort path: wipe the working directory, close the session.
        if let Err(abort_err) = c.abort(&e.to_string()) {
            eprintln!("airlock: while aborting: {abort_err}");
        }
        return Err(e);
    }
    Ok(())
}

fn drive(
    c: &mut Ceremony,
    custodians: &[CustodianArg],
    confirm_existing: &[String],
    so_pin_file: Option<&Path>,
    reporter: &Reporter,
) -> Result<(), CliError> {
    c.verify_request()?;
    for e in c.request_events() {
        reporter.event(&e);
    }
    if c.needs_security_officer() {
        let so_pin = match so_pin_file {
            Some(f) => super::secrets::read_secret_file(f, "SO PIN")?,
            None => super::secrets::prompt_secret(
                "Security officer PIN, to mark the AWS wrapping keys trusted (not shown): ",
                false,
            )?,
        };
        c.mark_trusted_wrapping_keys(&so_pin)?;
        drop(so_pin);
        if !reporter.json {
            eprintln!("Security officer marked the request's AWS wrapping keys trusted.");
        }
    }
    for arg in custodians {
        let passphrase = custodian_passphrase(arg, false)?;
        let outcome = c.authenticate(&arg.name, &passphrase)?;
        drop(passphrase);
        let (custodian, have, need) = match &outcome {
            airlock_core::quorum::AuthOutcome::Accepted {
                custodian,
                have,
                need,
            }
            | airlock_core::quorum::AuthOutcome::AlreadyCounted {
                custodian,
                have,
                need,
            } => (custodian.to_string(), *have, *need),
        };
        reporter.event(&Event::CustodianAuthenticated {
            custodian,
            have,
            need,
        });
    }
    let paths = c.login()?;
    reporter.event(&c.login_event(&paths));
    confirm_existing_material(c, confirm_existing)?;
    c.generate_and_wrap(&mut |e| reporter.event(&e))?;
    let export = c.seal_and_export()?;
    let (path, sums) = (export.path.clone(), export.sums_sha256.clone());
    reporter.event(&Event::Exported {
        path: path.display().to_string(),
        sums_sha256: sums.clone(),
    });
    let wipe = c.wipe()?;
    reporter.event(&Event::Wiped {
        files: wipe.work_dir.files,
        bytes: wipe.work_dir.bytes,
        session_objects_destroyed: wipe.session_objects_destroyed,
        session_objects_remaining: wipe.session_objects_remaining,
    });
    if let Some(r) = wipe.request.as_ref().filter(|_| !reporter.json) {
        eprintln!(
            "Wiped the request bundle: {} files ({} bytes).",
            r.files, r.bytes
        );
    }
    if reporter.json {
        return Ok(());
    }
    println!();
    println!("Ceremony {} complete.", c.ceremony_id().unwrap_or("?"));
    println!("Import bundle: {}", path.display());
    if let Some(a) = c.attestation_path() {
        println!(
            "Attestation:   {} (print it: airlock print {})",
            a.display(),
            a.display()
        );
    }
    println!("Read aloud and compare with the printed attestation:");
    println!("  SHA256SUMS digest (hex):  {}", group_hex(&sums));
    println!(
        "  SHA256SUMS digest (PGP words): {}",
        pgp_words_for_hex(&sums).unwrap_or_default()
    );
    println!("Keys:");
    for k in c.keys() {
        println!(
            "  {:<24} {:<10} {:<8} {}",
            k.name,
            format!("{:?}", k.origin).to_lowercase(),
            k.kcv.as_deref().unwrap_or("-"),
            k.wrap_path.as_str()
        );
    }
    println!(
        "Wipe: overwriting files on flash media (USB sticks, SSDs) is best-effort; \
         destroy or keep the media under seal as the runbook says."
    );
    Ok(())
}

/// Shows each `existing` key as the HSM holds it and has the custodians
/// confirm it on its own (typed code on a terminal, or --confirm-existing).
fn confirm_existing_material(c: &mut Ceremony, given: &[String]) -> Result<(), CliError> {
    let existing = c.existing_material()?;
    for m in &existing {
        eprintln!();
        eprintln!("EXISTING HSM MATERIAL to be re-wrapped for key {}:", m.name);
        eprintln!("  HSM label:            {}", m.hsm_label);
        eprintln!(
            "  generated for:        {} ({})",
            m.original_arn, m.original_request
        );
        eprintln!("  to be wrapped for:    {}", m.key_arn);
        if let Some(k) = &m.kcv {
            eprintln!("  KCV:                  {k}");
        }
        if let Some(h) = &m.public_key_sha256 {
            eprintln!("  public key SHA-256:   {}", group_hex(h));
        }
        eprintln!(
            "  new wrapping key:     {}",
            group_hex(&m.wrapping_key_fingerprint)
        );
        let flag = given.iter().find_map(|g| {
            g.split_once('=')
                .filter(|(n, _)| *n == m.name)
                .map(|(_, code)| code.to_string())
        });
        let typed = match flag {
            Some(code) => code,
            None if std::io::stdin().is_terminal() => {
                eprint!(
                    "Type the code {} to confirm re-wrapping it: ",
                    m.confirmation_code
                );
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map_err(|e| {
                    CliError::new(
                        airlock_core::exit::ExitCode::Io,
                        format!("reading the confirmation: {e}"),
                    )
                })?;
                line
            }
            None => String::new(),
        };
        c.confirm_existing(&m.name, &typed)?;
        eprintln!("Confirmed: {} re-wraps {}.", m.name, m.hsm_label);
    }
    Ok(())
}

fn status(config: Option<&Path>, json: bool) -> Result<(), CliError> {
    let config = load_config(config)?;
    let store = CeremonyStore::new(&config.state_dir);
    let records = store.list().map_err(|e| {
        CliError::new(
            airlock_core::exit::ExitCode::Io,
            format!(
                "cannot list ceremonies in {}: {e}",
                config.state_dir.display()
            ),
        )
    })?;
    let mut unfinished = Vec::new();
    let mut broken = Vec::new();
    for r in records {
        match r {
            Ok(r) if r.status != CeremonyStatus::Completed => unfinished.push(r),
            Ok(_) => {}
            Err(e) => broken.push(e),
        }
    }
    if json {
        crate::output::print_json(
            &serde_json::json!({ "unfinished": unfinished, "unreadable": broken }),
        );
        return Ok(());
    }
    if unfinished.is_empty() && broken.is_empty() {
        println!("No unfinished ceremonies.");
        return Ok(());
    }
    for r in &unfinished {
        println!(
            "Ceremony {} for request {} ({:?} since {})",
            r.ceremony_id, r.request_id, r.status, r.started_at
        );
        println!("  request:  {}", r.request_dir.display());
        println!("  output:   {}", r.out_dir.display());
        println!(
            "  journal:  {}",
            store.journal_path(&r.ceremony_id).display()
        );
        if let Some(staging) =
            airlock_core::staged_dir::staging_path_for(&r.out_dir).filter(|p| p.exists())
        {
            println!(
                "  leftover staging folder (never published): {}",
                staging.display()
            );
        }
        if let Ok(summary) =
            airlock_core::journal::verify_journal_file(&store.journal_path(&r.ceremony_id))
        {
            let labels: Vec<String> = summary
                .events
                .iter()
                .filter(|e| {
                    e.event == "key_generated"
                        && e.data.get("origin").and_then(|v| v.as_str()) == Some("generated")
                })
                .filter_map(|e| {
                    e.data
                        .get("label")
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                })
                .collect();
            if !labels.is_empty() {
                println!(
                    "  HSM keys created for it ({}): {}",
                    labels.len(),
                    labels.join(", ")
                );
            }
        }
        println!(
            "  to finish: rerun `airlock ceremony run` with the same request; it resumes and reuses those keys."
        );
    }
    for e in &broken {
        println!("Unreadable ceremony record: {e}");
    }
    Ok(())
}
