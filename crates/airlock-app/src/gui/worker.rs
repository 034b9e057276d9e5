//! The worker-thread bridge. The [`Ceremony`] lives on one worker thread;
//! the window sends it [`Command`]s and receives [`Reply`]s, so HSM work
//! (and Argon2id) never blocks a frame. Each command hands its input to the
//! one engine step that takes it, as `airlock ceremony run` does; after
//! each one the worker copies a fresh [`Snapshot`] of the engine's stage
//! for the window and asks for a repaint. The worker keeps no ceremony
//! state of its own beyond the attestation preview.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use airlock_ceremony::{Ceremony, CeremonyError, CeremonyOptions, Event, StageKind};
use airlock_core::config::AirlockConfig;
use airlock_core::exit::{ExitClass, ExitCode};
use airlock_core::quorum::AuthOutcome;
use eframe::egui;
use zeroize::Zeroizing;

use super::attest_worker::{self, AttestAction, AttestationView};
use super::snapshot::Snapshot;

/// What the window asks the engine to do.
pub enum Command {
    /// `Ceremony::preflight`.
    Preflight {
        /// The loaded configuration.
        config: Box<AirlockConfig>,
        /// Overrides chosen on the preflight step; folders come later.
        opts: CeremonyOptions,
    },
    /// `Ceremony::authenticate` for one custodian.
    Authenticate {
        /// Roster name.
        name: String,
        /// Dropped (wiped) right after the engine checked it.
        passphrase: Zeroizing<String>,
    },
    /// `Ceremony::verify_request`.
    VerifyRequest {
        /// The request bundle folder.
        dir: PathBuf,
    },
    /// (`Ceremony::mark_trusted_wrapping_keys` when the policy asks),
    /// `Ceremony::login` (once), `Ceremony::confirm_existing` for each code
    /// typed, then `Ceremony::generate_and_wrap` once nothing awaits
    /// confirmation.
    Generate {
        /// The security officer's PIN, when the policy is wrap-with-trusted.
        so_pin: Option<Zeroizing<String>>,
        /// Confirmation codes typed for existing material: (key name, code).
        existing_codes: Vec<(String, String)>,
    },
    /// `Ceremony::choose_output` (before the login).
    ChooseOutput {
        /// The import bundle folder to create.
        out: PathBuf,
    },
    /// `Ceremony::seal_and_export` into the chosen folder.
    SealAndExport,
    /// `Ceremony::set_attestation`, then build the attestation of the
    /// published bundle and preview, save or print it.
    Attestation {
        /// Serial numbers of the tamper-evident bags, as typed.
        seal_serials: Vec<String>,
        /// Paper size.
        paper: airlock_attest::Paper,
        /// With no serials: `Ceremony::confirm_no_seal_serials` first.
        confirm_no_bags: bool,
        /// What to do with it.
        action: AttestAction,
    },
    /// Print the final `attestation.pdf` in the bundle.
    PrintFinal {
        /// The CUPS printer.
        printer: String,
    },
    /// `Ceremony::confirm_plan`: one custodian confirms the plan (journaled
    /// by the engine as `plan_confirmed`; cannot be taken back).
    ConfirmPlan {
        /// Roster name.
        custodian: String,
    },
    /// `Ceremony::confirm_request_digest` after the digest was read aloud.
    ConfirmRequestDigest,
    /// `Ceremony::confirm_bundle_digest` (read aloud, matched) or
    /// `Ceremony::bundle_digest_not_confirmed` (they said it differs).
    SettleBundleDigest {
        /// True when the read-aloud digests matched.
        matched: bool,
    },
    /// `Ceremony::wipe`.
    Wipe,
    /// `Ceremony::abort`.
    Abort {
        /// Journaled reason.
        reason: String,
    },
}

impl Command {
    /// What it is, for "busy" messages and replies.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Preflight { .. } => CommandKind::Preflight,
            Command::Authenticate { .. } => CommandKind::Authenticate,
            Command::VerifyRequest { .. } => CommandKind::VerifyRequest,
            Command::Generate { .. } => CommandKind::Generate,
            Command::SealAndExport => CommandKind::SealAndExport,
            Command::ChooseOutput { .. } => CommandKind::ChooseOutput,
            Command::Attestation { action, .. } => match action {
                AttestAction::Preview => CommandKind::AttestPreview,
                AttestAction::Save(_) => CommandKind::AttestSave,
                AttestAction::Print(_) => CommandKind::AttestPrint,
            },
            Command::PrintFinal { .. } => CommandKind::AttestPrint,
            Command::ConfirmPlan { .. }
            | Command::ConfirmRequestDigest
            | Command::SettleBundleDigest { .. } => CommandKind::Confirm,
            Command::Wipe => CommandKind::Wipe,
            Command::Abort { .. } => CommandKind::Abort,
        }
    }
}

/// A command without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// Preflight.
    Preflight,
    /// Authenticate.
    Authenticate,
    /// Verify the request.
    VerifyRequest,
    /// Login and generate.
    Generate,
    /// Seal and export.
    SealAndExport,
    /// Choose the output folder.
    ChooseOutput,
    /// Build the attestation preview.
    AttestPreview,
    /// Save the attestation.
    AttestSave,
    /// Print the attestation.
    AttestPrint,
    /// Journal a custodian's confirmation.
    Confirm,
    /// Wipe.
    Wipe,
    /// Abort.
    Abort,
}

impl CommandKind {
    /// What the worker is doing, for the status line.
    pub fn doing(self) -> &'static str {
        match self {
            CommandKind::Preflight => "Checking the air gap, opening and probing the HSM",
            CommandKind::Authenticate => "Checking the passphrase (this takes a few seconds)",
            CommandKind::VerifyRequest => "Verifying the request bundle",
            CommandKind::Confirm => "Journaling the confirmation",
            CommandKind::Generate => "Working in the HSM",
            CommandKind::SealAndExport => "Sealing, reading back and verifying the bundle",
            CommandKind::ChooseOutput => "Checking the output folder",
            CommandKind::AttestPreview => "Building the attestation from the sealed bundle",
            CommandKind::AttestSave => "Saving the attestation PDF",
            CommandKind::AttestPrint => "Sending the attestation to the printer",
            CommandKind::Wipe => "Wiping",
            CommandKind::Abort => "Aborting: wiping and logging out",
        }
    }
}

/// An engine error as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    /// The engine's full message (it names what, where, and what to do).
    pub message: String,
    /// The documented exit code class.
    pub exit_code: ExitCode,
    /// The custodian this error locked out of the ceremony, if it did.
    pub locked_out: Option<String>,
}

impl StepError {
    /// An error of class `exit_code` that locks nobody out.
    pub fn new(message: impl Into<String>, exit_code: ExitCode) -> Self {
        StepError {
            message: message.into(),
            exit_code,
            locked_out: None,
        }
    }
}

impl From<&CeremonyError> for StepError {
    fn from(e: &CeremonyError) -> Self {
        let locked_out = match e {
            CeremonyError::Quorum(airlock_core::quorum::QuorumError::LockedOut {
                custodian,
                ..
            }) => Some(custodian.clone()),
            _ => None,
        };
        StepError {
            message: e.to_string(),
            exit_code: e.exit_code(),
            locked_out,
        }
    }
}

/// What the worker says back.
pub enum Reply {
    /// A command finished.
    Finished {
        /// Which.
        kind: CommandKind,
        /// A note for the step on success (e.g. "already counted").
        result: Result<Option<String>, StepError>,
        /// The engine's state afterwards.
        snapshot: Box<Snapshot>,
    },
    /// Progress during a command.
    Progress(Event),
}

/// The window's end of the bridge.
pub struct Worker {
    commands: Sender<Command>,
    replies: Receiver<Reply>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker thread; it repaints `ctx` whenever it replies.
    pub fn spawn(ctx: egui::Context) -> Worker {
        let (commands, command_rx) = mpsc::channel::<Command>();
        let (reply_tx, replies) = mpsc::channel::<Reply>();
        let thread = std::thread::Builder::new()
            .name("airlock-ceremony".into())
            .spawn(move || worker_loop(command_rx, reply_tx, ctx))
            .expect("starting the ceremony worker thread");
        Worker {
            commands,
            replies,
            thread: Some(thread),
        }
    }

    /// Queues a command. Returns false if the worker is gone.
    pub fn send(&self, cmd: Command) -> bool {
        self.commands.send(cmd).is_ok()
    }

    /// The next reply, if one is waiting.
    pub fn try_recv(&self) -> Option<Reply> {
        self.replies.try_recv().ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the loop once the current command is done.
        let (dead, _) = mpsc::channel();
        self.commands = dead;
        if let Some(t) = self.thread.take()
            && t.is_finished()
        {
            let _ = t.join();
        }
    }
}

struct WorkerState {
    ceremony: Option<Ceremony>,
    /// Aborted before preflight made a ceremony.
    aborted_early: bool,
    config_path: PathBuf,
    state_dir: PathBuf,
    attestation: Option<AttestationView>,
}

impl WorkerState {
    fn snapshot(&self) -> Snapshot {
        let mut s = match &self.ceremony {
            Some(c) => Snapshot::of(c),
            None => Snapshot::default(),
        };
        if let Some(p) = s.preflight.as_mut() {
            p.config = self.config_path.clone();
        }
        s.aborted |= self.aborted_early;
        s.attestation = self.attestation.clone();
        s
    }
}

fn worker_loop(commands: Receiver<Command>, replies: Sender<Reply>, ctx: egui::Context) {
    let mut st = WorkerState {
        ceremony: None,
        aborted_early: false,
        config_path: PathBuf::new(),
        state_dir: PathBuf::new(),
        attestation: None,
    };
    while let Ok(cmd) = commands.recv() {
        let kind = cmd.kind();
        let progress = replies.clone();
        let repaint = ctx.clone();
        let mut on_event = move |e: Event| {
            let _ = progress.send(Reply::Progress(e));
            repaint.request_repaint();
        };
        let result = run_command(&mut st, cmd, &mut on_event);
        let _ = replies.send(Reply::Finished {
            kind,
            result,
            snapshot: Box::new(st.snapshot()),
        });
        ctx.request_repaint();
    }
}

fn not_started() -> StepError {
    StepError::new(
        "the ceremony has not started: run preflight first",
        ExitCode::Usage,
    )
}

fn run_command(
    st: &mut WorkerState,
    cmd: Command,
    on_event: &mut dyn FnMut(Event),
) -> Result<Option<String>, StepError> {
    if let Command::Preflight { config, opts } = cmd {
        if st.ceremony.is_some() {
            return Ok(None);
        }
        st.config_path = config.source.clone();
        st.state_dir = config.state_dir.clone();
        let c = Ceremony::preflight(*config, opts).map_err(|e| StepError::from(&e))?;
        on_event(c.preflight_event());
        st.ceremony = Some(c);
        return Ok(None);
    }
    if let Command::Abort { reason } = cmd {
        let Some(c) = st.ceremony.as_mut() else {
            st.aborted_early = true;
            return Ok(Some("nothing to wipe: the ceremony had not started".into()));
        };
        c.abort(&reason).map_err(|e| StepError::from(&e))?;
        return Ok(None);
    }
    let c = st.ceremony.as_mut().ok_or_else(not_started)?;
    let err = |e: CeremonyError| StepError::from(&e);
    match cmd {
        Command::Preflight { .. } | Command::Abort { .. } => unreachable!("handled above"),
        Command::Authenticate { name, passphrase } => {
            let outcome = c.authenticate(&name, &passphrase).map_err(err);
            drop(passphrase);
            Ok(match outcome? {
                AuthOutcome::Accepted { .. } => None,
                AuthOutcome::AlreadyCounted { custodian, .. } => Some(format!(
                    "{custodian} was already counted; another custodian must authenticate"
                )),
            })
        }
        Command::VerifyRequest { dir } => {
            for e in c.verify_request(&dir).map_err(err)? {
                on_event(e);
            }
            Ok(None)
        }
        Command::ChooseOutput { out } => {
            c.choose_output(&out).map_err(err)?;
            Ok(None)
        }
        Command::Generate {
            so_pin,
            existing_codes,
        } => {
            if c.needs_security_officer() && !c.trusted_marked() {
                let Some(pin) = so_pin else {
                    return Err(err(airlock_ceremony::CeremonyError::OutOfOrder {
                        step: "log in",
                        needs: "the security officer types the SO PIN to mark the wrapping keys trusted",
                    }));
                };
                c.mark_trusted_wrapping_keys(&pin).map_err(err)?;
            }
            if c.stage().kind() == StageKind::Verified {
                on_event(c.login().map_err(err)?);
            }
            for (name, code) in existing_codes {
                if c.existing_pending().iter().any(|m| m.name == name) {
                    c.confirm_existing(&name, &code).map_err(err)?;
                }
            }
            if !c.existing_pending().is_empty() {
                return Ok(Some(
                    "Compare the existing HSM material below with the online operator's records, type each code, then confirm."
                        .into(),
                ));
            }
            c.generate_and_wrap(on_event).map_err(err)?;
            Ok(None)
        }
        Command::SealAndExport => {
            on_event(c.seal_and_export().map_err(err)?.event());
            Ok(None)
        }
        Command::Attestation {
            seal_serials,
            paper,
            confirm_no_bags,
            action,
        } => {
            let view = attest_worker::run(
                c,
                &st.state_dir,
                seal_serials,
                paper,
                confirm_no_bags,
                action,
            )?;
            st.attestation = Some(view);
            Ok(None)
        }
        Command::PrintFinal { printer } => {
            let done = attest_worker::print_final(c, &printer);
            if let Some(v) = st.attestation.as_mut() {
                v.printers = attest_worker::list_printers();
                v.last_result = done.as_ref().ok().cloned();
            }
            done.map(|_| None)
        }
        Command::ConfirmPlan { custodian } => {
            c.confirm_plan(&custodian).map_err(err)?;
            Ok(None)
        }
        Command::ConfirmRequestDigest => {
            c.confirm_request_digest(airlock_ceremony::DigestConfirmation::ReadAloud)
                .map_err(err)?;
            Ok(None)
        }
        Command::SettleBundleDigest { matched } => {
            if matched {
                c.confirm_bundle_digest(airlock_ceremony::DigestConfirmation::ReadAloud)
                    .map_err(err)?;
            } else {
                c.bundle_digest_not_confirmed(
                    "the custodians said the read-aloud digest did not match: do not import this bundle",
                )
                .map_err(err)?;
            }
            Ok(None)
        }
        Command::Wipe => {
            on_event(c.wipe().map_err(err)?.event());
            Ok(None)
        }
    }
}
