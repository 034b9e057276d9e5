//! `airlock ceremony run` drives the whole ceremony headless through the
//! same engine the desktop app uses: it prints the plan and needs the
//! custodians' confirmation and the request digest before any login, asks a
//! wrong passphrase again on a terminal, and turns Ctrl-C into the journaled
//! abort path. `airlock ceremony status` lists unfinished ceremonies and
//! what they left behind; `airlock ceremony discard` gives one up.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use airlock_attest::Paper;
use airlock_ceremony::state::{CeremonyStatus, CeremonyStore};
use airlock_ceremony::words::pgp_words_for_hex;
use airlock_ceremony::{
    AttestationOptions, Ceremony, CeremonyError, CeremonyOptions, CeremonyPlan, DigestConfirmation,
    Event, Need, StageKind,
};
use airlock_core::exit::ExitCode;
use airlock_core::journal_event::CeremonyEvent;
use airlock_core::quorum::QuorumError;
use airlock_core::signature::group_hex;
use clap::Subcommand;

use super::interrupt::{Answer, Interrupts};
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
        /// The request's SHA256SUMS digest (64 hex digits; spaces and case
        /// ignored), as the online side printed it: compared exactly before
        /// any login. Needed when standard input is not a terminal; on a
        /// terminal the custodians read the digest aloud and type `yes`.
        #[arg(long, value_name = "HEX")]
        request_digest: Option<String>,
        /// Events as JSON lines on stdout instead of progress text.
        #[arg(long)]
        json: bool,
    },
    /// Discard an unfinished ceremony: with the quorum, destroy the HSM keys
    /// it created (only those bound to its request), wipe its working files
    /// and close its record. Journaled in that ceremony's journal.
    Discard {
        /// The ceremony ID (`airlock ceremony status` lists them).
        #[arg(value_name = "CEREMONY_ID")]
        ceremony_id: String,
        /// A custodian: NAME=@FILE or NAME (prompted). Repeat, M times.
        #[arg(long = "custodian", value_name = "NAME[=@FILE]", value_parser = parse_custodian, required = true)]
        custodians: Vec<CustodianArg>,
        /// Run although a network interface is up (journaled). For
        /// rehearsals only.
        #[arg(long)]
        allow_network: bool,
        /// Run although the process memory could not be locked. Journaled;
        /// for rehearsals only.
        #[arg(long)]
        allow_unlocked_memory: bool,
        /// Print the outcome as JSON.
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
            request_digest,
            json,
        } => run_ceremony(
            config,
            CeremonyOptions {
                allow_sha1,
                allow_network,
                wipe_request,
                allow_unlocked_memory,
            },
            AttestationOptions {
                seal_serials,
                paper: if letter { Paper::Letter } else { Paper::A4 },
            },
            Confirmations {
                request: &request,
                out: &out,
                custodians: &custodians,
                confirm_existing: &confirm_existing,
                so_pin_file: so_pin_file.as_deref(),
                request_digest: request_digest.as_deref(),
            },
            json,
        ),
        CeremonyCommand::Discard {
            ceremony_id,
            custodians,
            allow_network,
            allow_unlocked_memory,
            json,
        } => discard(
            config,
            &ceremony_id,
            &custodians,
            allow_network,
            allow_unlocked_memory,
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
                sums_sha256: _,
                signer,
                warnings,
            } => {
                // The digest follows with the plan (hex and PGP words).
                eprintln!("Request {request_id}: {keys} keys, signed by {signer}");
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
                    let line = format!("\r[{index}/{total}] {name} ...\x1b[K");
                    eprint!("{line}");
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
                // One write per key: stderr is unbuffered, and a formatted
                // eprintln! is one write(2) per piece (a dozen per key).
                let clear = if self.tty { "\r\x1b[K" } else { "" };
                let line = format!(
                    "{clear}[{index}/{total}] {name}: {origin}, wrapped via {wrap_path}{kcv}\n"
                );
                eprint!("{line}");
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

/// What the custodians give on the command line besides the options:
/// the inputs of the engine's steps.
struct Confirmations<'a> {
    request: &'a Path,
    out: &'a Path,
    custodians: &'a [CustodianArg],
    confirm_existing: &'a [String],
    so_pin_file: Option<&'a Path>,
    request_digest: Option<&'a str>,
}

fn run_ceremony(
    config: Option<&Path>,
    opts: CeremonyOptions,
    attestation: AttestationOptions,
    given: Confirmations<'_>,
    json: bool,
) -> Result<(), CliError> {
    // Ctrl-C becomes a flag the ceremony checks, never a kill that leaves
    // the record "running".
    let (interrupts, config) = start_ceremony_mode(config)?;
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
    interrupts.forward_to(c.stop_signal());
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
    let result = drive(&mut c, &given, &reporter, &interrupts);
    if let Err(e) = result {
        let e = if interrupts.interrupted() && e.exit_code() != ExitCode::Interrupted {
            interrupts.error(&format!("({e})"))
        } else {
            e
        };
        // The abort path: journaled, wipes the working directory, closes the
        // session, and says what stays in the HSM. A ceremony that completed
        // (only the attestation after the wipe failed) is not aborted.
        match c.abort(&e.to_string()) {
            Ok(_) if c.stage().kind() == StageKind::Completed => eprintln!(
                "Ceremony {} completed and its bundle is published; only the last step failed.",
                c.ceremony_id().unwrap_or("?")
            ),
            Ok(w) => print_abort_summary(&c, &w),
            Err(abort_err) => eprintln!("airlock: while aborting: {abort_err}"),
        }
        return Err(e);
    }
    Ok(())
}

/// The last thing an aborted run prints: what was wiped and which HSM
/// objects the ceremony leaves behind, and what to do about them.
fn print_abort_summary(c: &Ceremony, w: &airlock_ceremony::WipeOutcome) {
    let Some(id) = c.ceremony_id() else {
        return;
    };
    eprintln!();
    match c.export() {
        Some(e) => eprintln!(
            "Ceremony {id} aborted after its bundle was published at {} (SHA256SUMS {}); \
             the journal records the abort: do not import it unless the custodians decide so.",
            e.path.display(),
            group_hex(&e.sums_sha256)
        ),
        None => eprintln!("Ceremony {id} aborted; nothing was exported."),
    }
    eprintln!(
        "Wiped {} working files ({} bytes).",
        w.work_dir.files, w.work_dir.bytes
    );
    if !w.hsm_labels_left.is_empty() {
        eprintln!(
            "{}",
            labels_line(
                "HSM keys this ceremony created and left in the token",
                &w.hsm_labels_left
            )
        );
    }
    if !w.hsm_labels_unchecked.is_empty() {
        eprintln!(
            "{}",
            labels_line(
                "HSM keys an earlier run of it planned, not checked (no HSM session)",
                &w.hsm_labels_unchecked
            )
        );
    }
    eprintln!(
        "To finish it, rerun `airlock ceremony run` with the same request (it resumes); \
         to give it up, `airlock ceremony discard {id} --custodian ...` destroys those keys."
    );
}

/// "WHAT (N): a, b, c", or "WHAT (0): none".
fn labels_line(what: &str, labels: &[String]) -> String {
    let list = if labels.is_empty() {
        "none".to_string()
    } else {
        labels.join(", ")
    };
    format!("{what} ({}): {list}", labels.len())
}

/// What every ceremony-mode command does first: Ctrl-C becomes a flag
/// (before any other thread starts), the process is hardened, and the
/// configuration is read from --config or the system path only.
fn start_ceremony_mode(
    config: Option<&Path>,
) -> Result<(Interrupts, airlock_core::config::AirlockConfig), CliError> {
    let interrupts = Interrupts::install()?;
    for note in airlock_ceremony::hygiene::harden_process().notes {
        eprintln!("warning: {note}");
    }
    let config = airlock_core::config::AirlockConfig::load_for_ceremony(config)?;
    Ok((interrupts, config))
}

/// Prints the plan the custodians confirm: every key, the totals and the
/// request digest in grouped hex and PGP words.
fn print_plan(plan: &CeremonyPlan, reporter: &Reporter) {
    if reporter.json {
        if let Ok(s) = serde_json::to_string(&serde_json::json!({ "plan": plan })) {
            println!("{s}");
        }
        return;
    }
    println!();
    println!(
        "PLAN for request {} (account {}, region {}): {} keys",
        plan.request_id,
        plan.account,
        plan.region,
        plan.keys.len()
    );
    for (i, k) in plan.keys.iter().enumerate() {
        println!("  {:>4}. {}  ({})", i + 1, k.name, k.alias);
        println!("        KMS key:   {}", k.key_arn);
        println!(
            "        account {}, key spec {}, wrapped with {}, material {}",
            k.account, k.key_spec, k.wrapping_algorithm, k.material
        );
        println!(
            "        HSM label {}, AWS wrapping key SHA-256 {}",
            k.hsm_label,
            group_hex(&k.wrapping_key_fingerprint)
        );
        for r in &k.replicas {
            println!(
                "        + replica in {}: {}, the same HSM key wrapped with {}",
                r.region, r.key_arn, r.wrapping_algorithm
            );
            println!(
                "          its AWS wrapping key SHA-256 {}",
                group_hex(&r.wrapping_key_fingerprint)
            );
        }
    }
    let totals: Vec<String> = plan
        .totals
        .iter()
        .map(|(what, n)| format!("{n} x {what}"))
        .collect();
    println!("  Totals: {}", totals.join(", "));
    println!("Request SHA256SUMS digest, to read aloud against the online side's copy:");
    println!("  hex:       {}", group_hex(&plan.request_digest));
    println!(
        "  PGP words: {}",
        pgp_words_for_hex(&plan.request_digest).unwrap_or_default()
    );
}

/// The plan and request-digest confirmations, before any login: either the
/// digest given in full (`--request-digest`), or each custodian typing
/// `yes` on the terminal after the digest was read aloud.
fn confirm_plan_and_digest(
    c: &mut Ceremony,
    given: &Confirmations<'_>,
    interrupts: &Interrupts,
) -> Result<(), CliError> {
    if let Some(hex) = given.request_digest {
        c.confirm_request_digest(DigestConfirmation::Given(hex.to_string()))?;
        for arg in given.custodians {
            c.confirm_plan(&arg.name)?;
        }
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            ExitCode::Cancelled,
            "the plan and the request digest were not confirmed: standard input is not a terminal",
        )
        .with_hint(
            "give the request's SHA256SUMS digest as --request-digest HEX (from the online side's printout), or run on a terminal",
        ));
    }
    for arg in given.custodians {
        let prompt = format!(
            "Custodian {}: the plan above is complete and correct, and the digest read aloud matches? Type yes: ",
            arg.name
        );
        match interrupts.ask_line(&prompt)? {
            Answer::Given(a) if a.eq_ignore_ascii_case("yes") => c.confirm_plan(&arg.name)?,
            Answer::Given(_) => {
                return Err(CliError::new(
                    ExitCode::Cancelled,
                    format!("custodian {} did not confirm the plan", arg.name),
                )
                .with_hint(
                    "nothing was logged in; check the request with the online side and start again",
                ));
            }
            Answer::Interrupted => return Err(interrupts.error("at the plan confirmation")),
        }
    }
    c.confirm_request_digest(DigestConfirmation::ReadAloud)?;
    Ok(())
}

/// Authenticates every custodian. A passphrase typed at the terminal is
/// asked again after a wrong try, up to the lockout.
fn authenticate_custodians(
    c: &mut Ceremony,
    custodians: &[CustodianArg],
    reporter: &Reporter,
    interrupts: &Interrupts,
) -> Result<(), CliError> {
    let prompted = std::io::stdin().is_terminal();
    for arg in custodians {
        let outcome = loop {
            let passphrase = match &arg.file {
                Some(_) => custodian_passphrase(arg, false)?,
                None => match interrupts.ask_secret(&format!(
                    "Passphrase for custodian {} (not shown): ",
                    arg.name
                ))? {
                    Answer::Given(p) => p,
                    Answer::Interrupted => {
                        return Err(interrupts.error("at a passphrase prompt"));
                    }
                },
            };
            match c.authenticate(&arg.name, &passphrase) {
                Ok(o) => break o,
                Err(CeremonyError::Quorum(QuorumError::WrongPassphrase {
                    custodian,
                    tries_left,
                })) if arg.file.is_none() && prompted => {
                    eprintln!(
                        "Wrong passphrase for {custodian}; {tries_left} more wrong one(s) lock {custodian} out of this ceremony. Try again."
                    );
                }
                Err(e) => return Err(e.into()),
            }
        };
        reporter.event(&Event::from(&outcome));
    }
    Ok(())
}

/// After publication, before the wipe: the bundle digest read aloud (typed
/// `yes` on a terminal), or journaled as not confirmed in a headless run.
fn settle_bundle_digest(
    c: &mut Ceremony,
    sums: &str,
    reporter: &Reporter,
    interrupts: &Interrupts,
) -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() {
        c.bundle_digest_not_confirmed(
            "headless run (standard input is not a terminal): compare the printed attestation's digest with the online side's",
        )?;
        return Ok(());
    }
    if !reporter.json {
        eprintln!();
        eprintln!(
            "Read the bundle digest aloud; a witness compares it with the printed attestation:"
        );
        eprintln!("  hex:       {}", group_hex(sums));
        eprintln!(
            "  PGP words: {}",
            pgp_words_for_hex(sums).unwrap_or_default()
        );
    }
    loop {
        match interrupts
            .ask_line("Digests match? Type yes (or no to record that they did not): ")?
        {
            Answer::Given(a) if a.eq_ignore_ascii_case("yes") => {
                c.confirm_bundle_digest(DigestConfirmation::ReadAloud)?;
                return Ok(());
            }
            Answer::Given(a) if a.eq_ignore_ascii_case("no") => {
                c.bundle_digest_not_confirmed(
                    "the custodians said the read-aloud digest did not match: do not import this bundle",
                )?;
                eprintln!(
                    "Recorded: the digests did NOT match. Do not import this bundle; keep the media as evidence."
                );
                return Ok(());
            }
            // Ctrl-C is refused after publication: the wipe must run.
            Answer::Given(_) | Answer::Interrupted => {}
        }
    }
}

/// The ceremony as a loop over what the engine needs next: each answer
/// is an input from the command line or the terminal, handed to the one
/// engine step that needs it.
fn drive(
    c: &mut Ceremony,
    given: &Confirmations<'_>,
    reporter: &Reporter,
    interrupts: &Interrupts,
) -> Result<(), CliError> {
    let mut last: Option<Need> = None;
    loop {
        let need = c.need();
        // Every answer below moves the engine on, or fails; the same need
        // twice means the command line cannot give what it asks for.
        if last.as_ref() == Some(&need) {
            return Err(stuck(c, &need));
        }
        last = Some(need.clone());
        match need {
            Need::Request => {
                for e in c.verify_request(given.request)? {
                    reporter.event(&e);
                }
                if let Some(plan) = c.plan() {
                    print_plan(&plan, reporter);
                }
            }
            Need::PlanConfirmation { .. } | Need::RequestDigest => {
                confirm_plan_and_digest(c, given, interrupts)?;
            }
            Need::OutputFolder => c.choose_output(given.out)?,
            Need::SecurityOfficer => {
                let so_pin = match given.so_pin_file {
                    Some(f) => super::secrets::read_secret_file(f, "SO PIN")?,
                    None => match interrupts.ask_secret(
                        "Security officer PIN, to mark the AWS wrapping keys trusted (not shown): ",
                    )? {
                        Answer::Given(p) => p,
                        Answer::Interrupted => {
                            return Err(interrupts.error("at the SO PIN prompt"));
                        }
                    },
                };
                c.mark_trusted_wrapping_keys(&so_pin)?;
                drop(so_pin);
                if !reporter.json {
                    eprintln!("Security officer marked the request's AWS wrapping keys trusted.");
                }
            }
            Need::Custodians { .. } => {
                authenticate_custodians(c, given.custodians, reporter, interrupts)?;
            }
            Need::Login => {
                if interrupts.interrupted() {
                    return Err(interrupts.error("before the HSM login"));
                }
                reporter.event(&c.login()?);
            }
            Need::ExistingConfirmation(pending) => {
                confirm_existing_material(c, &pending, given.confirm_existing, interrupts)?;
            }
            Need::Generate => match c.generate_and_wrap(&mut |e| reporter.event(&e)) {
                Err(CeremonyError::Stopped { done, total }) => {
                    return Err(interrupts.error(&format!(
                        "during generation: stopped after key {done} of {total}"
                    )));
                }
                other => other?,
            },
            Need::Seal => {
                if interrupts.interrupted() {
                    return Err(interrupts.error("after generation, before sealing"));
                }
                // Sealing publishes the bundle with one rename; from here
                // Ctrl-C is refused so that the wipe always follows.
                interrupts.refuse_from_now();
                reporter.event(&c.seal_and_export()?.event());
            }
            Need::BundleDigest { sums_sha256 } => {
                settle_bundle_digest(c, &sums_sha256, reporter, interrupts)?;
            }
            Need::Wipe => {
                let wipe = c.wipe()?;
                reporter.event(&Event::from(&wipe));
                if let Some(r) = wipe.request.as_ref().filter(|_| !reporter.json) {
                    eprintln!(
                        "Wiped the request bundle: {} files ({} bytes).",
                        r.files, r.bytes
                    );
                }
            }
            Need::Abort => {
                return Err(CliError::new(
                    ExitCode::Ceremony,
                    "the ceremony cannot go on after the failed step above; it is aborted",
                ));
            }
            Need::Nothing => break,
        }
    }
    print_completion(c, reporter);
    Ok(())
}

/// Why the loop cannot go on: the engine's own refusal for the step the
/// need names (e.g. the quorum not met with the custodians given).
fn stuck(c: &mut Ceremony, need: &Need) -> CliError {
    let refusal = match need {
        Need::Custodians { .. } | Need::Login => c.login().err(),
        _ => None,
    };
    match refusal {
        Some(e) => e.into(),
        None => CliError::new(
            ExitCode::Ceremony,
            format!("the ceremony still needs {need:?} after the command line's answer"),
        ),
    }
}

/// What a completed run prints last: where the bundle and attestation are,
/// the digest to read aloud, and each key.
fn print_completion(c: &Ceremony, reporter: &Reporter) {
    let Some(export) = c.export().filter(|_| !reporter.json) else {
        return;
    };
    let (path, sums) = (&export.path, &export.sums_sha256);
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
    println!("  SHA256SUMS digest (hex):  {}", group_hex(sums));
    println!(
        "  SHA256SUMS digest (PGP words): {}",
        pgp_words_for_hex(sums).unwrap_or_default()
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
}

/// Shows each `existing` key as the HSM holds it and has the custodians
/// confirm it on its own (typed code on a terminal, or --confirm-existing).
fn confirm_existing_material(
    c: &mut Ceremony,
    pending: &[airlock_ceremony::ExistingMaterial],
    given: &[String],
    interrupts: &Interrupts,
) -> Result<(), CliError> {
    for m in pending {
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
                match interrupts.ask_line(&format!(
                    "Type the code {} to confirm re-wrapping it: ",
                    m.confirmation_code
                ))? {
                    Answer::Given(line) => line,
                    Answer::Interrupted => {
                        return Err(interrupts.error("at the existing-material confirmation"));
                    }
                }
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
            ExitCode::Io,
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
            Ok(r)
                if !matches!(
                    r.status,
                    CeremonyStatus::Completed | CeremonyStatus::Discarded
                ) =>
            {
                unfinished.push(r)
            }
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
                .filter_map(|e| match e.ceremony_event() {
                    Ok(CeremonyEvent::KeyGenerated { label, origin, .. })
                        if origin == "generated" =>
                    {
                        Some(label)
                    }
                    _ => None,
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
        println!(
            "  to give it up: `airlock ceremony discard {} --custodian ...` (quorum) destroys those keys and closes the record.",
            r.ceremony_id
        );
    }
    for e in &broken {
        println!("Unreadable ceremony record: {e}");
    }
    Ok(())
}

/// `airlock ceremony discard ID`: the quorum gives up an unfinished
/// ceremony; the engine destroys what it created and journals it.
fn discard(
    config: Option<&Path>,
    ceremony_id: &str,
    custodians: &[CustodianArg],
    allow_network: bool,
    allow_unlocked_memory: bool,
    json: bool,
) -> Result<(), CliError> {
    let (interrupts, config) = start_ceremony_mode(config)?;
    // Progress as text on stderr; with --json only the outcome is on stdout.
    let reporter = Reporter {
        json: false,
        tty: std::io::stderr().is_terminal(),
    };
    let mut c = Ceremony::preflight(
        config,
        CeremonyOptions {
            allow_network,
            allow_unlocked_memory,
            ..CeremonyOptions::default()
        },
    )?;
    reporter.event(&c.preflight_event());
    authenticate_custodians(&mut c, custodians, &reporter, &interrupts)?;
    if interrupts.interrupted() {
        return Err(interrupts.error("before the discard; nothing was destroyed"));
    }
    // Once the HSM work starts it runs to its end: a half-done discard would
    // leave a record that says less than the token holds.
    interrupts.refuse_from_now();
    let outcome = c.discard(ceremony_id)?;
    if json {
        crate::output::print_json(&serde_json::json!({
            "ceremony_id": outcome.ceremony_id,
            "request_id": outcome.request_id,
            "destroyed": outcome.destroyed,
            "not_found": outcome.not_found,
            "left_alone": outcome
                .left_alone
                .iter()
                .map(|(label, why)| serde_json::json!({ "label": label, "why": why }))
                .collect::<Vec<_>>(),
            "files_wiped": outcome.files_wiped,
        }));
        return Ok(());
    }
    println!(
        "Ceremony {} (request {}) discarded.",
        outcome.ceremony_id, outcome.request_id
    );
    println!(
        "  {}",
        labels_line("HSM keys destroyed", &outcome.destroyed)
    );
    if !outcome.not_found.is_empty() {
        println!(
            "  {}",
            labels_line(
                "planned but not in the HSM (never generated)",
                &outcome.not_found
            )
        );
    }
    for (label, why) in &outcome.left_alone {
        println!("  LEFT ALONE {label}: {why}");
    }
    println!("  working files wiped: {}", outcome.files_wiped);
    println!("The record is closed; `airlock ceremony status` no longer lists it.");
    Ok(())
}
