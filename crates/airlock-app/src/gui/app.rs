//! The window: top bar (ceremony id, Journal, Abort), the step list on the
//! left, the current step on the right. It owns the per-step form state,
//! talks to the engine only through the [`Worker`], and is the one place
//! that decides which step is shown: a step unlocks only when the one
//! before it succeeded, and completed steps can be looked at again but not
//! redone.

use std::path::PathBuf;

use airlock_ceremony::{Event, StageKind};
use airlock_core::config::AirlockConfig;
use eframe::egui::{self, RichText};

use super::attestation::{AttestationHook, PdfAttestation};
use super::journal_view::JournalView;
use super::picker::FolderPicker;
use super::read_aloud;
use super::secret::SecretText;
use super::snapshot::{KeyRow, Snapshot};
use super::step::Step;
use super::steps;
use super::theme;
use super::widgets::{self, Verdict};
use super::worker::{Command, CommandKind, Reply, StepError, Worker};

/// Overrides chosen before preflight (journaled by the engine).
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    /// Run although a network interface is up (rehearsals only).
    pub allow_network: bool,
    /// Accept SHA-1 wrapping algorithms.
    pub allow_sha1: bool,
    /// Also wipe the request bundle at the end.
    pub wipe_request: bool,
    /// Run although memory could not be locked (rehearsals only).
    pub allow_unlocked_memory: bool,
}

/// Live progress of the generate step.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// The key being worked on: position, total, name.
    pub current: Option<(usize, usize, String)>,
    /// Keys finished, as reported live.
    pub done: Vec<KeyRow>,
    /// Number of keys in the request.
    pub total: usize,
}

/// The abort confirmation dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortDialog {
    /// Not shown.
    Hidden,
    /// Shown from the Abort button.
    Abort,
    /// Shown because the window is being closed mid-ceremony.
    Close,
}

/// The desktop app.
pub struct GuiApp {
    pub(crate) config: AirlockConfig,
    pub(crate) worker: Worker,
    pub(crate) picker: Box<dyn FolderPicker>,
    pub(crate) current: Step,
    pub(crate) viewing: Step,
    pub(crate) busy: Option<CommandKind>,
    pub(crate) error: Option<(Step, StepError)>,
    pub(crate) note: Option<String>,
    pub(crate) snap: Snapshot,
    pub(crate) overrides: Overrides,
    pub(crate) chosen_custodian: Option<String>,
    pub(crate) passphrase: SecretText,
    /// The security officer's PIN as typed on the Generate step
    /// (wrap-with-trusted policy only).
    pub(crate) so_pin: SecretText,
    /// Confirmation codes typed for existing material, by key name.
    pub(crate) existing_codes: std::collections::BTreeMap<String, String>,
    pub(crate) request_dir: Option<PathBuf>,
    pub(crate) media: Vec<PathBuf>,
    pub(crate) progress: Progress,
    pub(crate) out_parent: Option<PathBuf>,
    pub(crate) attestation: Box<dyn AttestationHook>,
    pub(crate) attestation_done: bool,
    pub(crate) abort_dialog: AbortDialog,
    pub(crate) close_after_abort: bool,
    pub(crate) close_allowed: bool,
    /// Engine commands sent and not yet answered (an abort asked during
    /// generation waits behind it): "working" until both replied.
    pub(crate) in_flight: usize,
    /// An abort was asked while keys were generated: the engine stops
    /// after the key in hand, then the abort runs.
    pub(crate) stopping: bool,
    /// What the engine said when the step an abort stopped ended (e.g.
    /// "stopped after key 3 of 900 as asked; …"), for the aborted screen.
    pub(crate) stopped_note: Option<String>,
    /// The abort dialog just opened: its safe button takes the keyboard
    /// focus on the next frame.
    focus_safe_button: bool,
    pub(crate) journal: JournalView,
    /// The full-screen read-aloud view, when open.
    pub(crate) read_aloud: Option<crate::gui::read_aloud::ReadAloud>,
    themed: bool,
}

impl GuiApp {
    /// A new app on `config`; the worker repaints `ctx` when it replies;
    /// folders come from `picker`. The theme is applied on the first frame.
    pub fn new(ctx: egui::Context, config: AirlockConfig, picker: Box<dyn FolderPicker>) -> Self {
        GuiApp {
            worker: Worker::spawn(ctx),
            config,
            picker,
            current: Step::Preflight,
            viewing: Step::Preflight,
            busy: None,
            error: None,
            note: None,
            snap: Snapshot::default(),
            overrides: Overrides::default(),
            chosen_custodian: None,
            passphrase: SecretText::default(),
            so_pin: SecretText::default(),
            existing_codes: Default::default(),
            request_dir: None,
            media: Vec::new(),
            progress: Progress::default(),
            out_parent: None,
            attestation: Box::new(PdfAttestation::default()),
            attestation_done: false,
            abort_dialog: AbortDialog::Hidden,
            close_after_abort: false,
            close_allowed: false,
            in_flight: 0,
            stopping: false,
            stopped_note: None,
            focus_safe_button: false,
            read_aloud: None,
            journal: JournalView::default(),
            themed: false,
        }
    }

    /// Replaces the attestation step's engine (the PDF/print hook).
    pub fn with_attestation(mut self, hook: Box<dyn AttestationHook>) -> Self {
        self.attestation = hook;
        self
    }

    /// The furthest unlocked step (the one with actions).
    pub fn current_step(&self) -> Step {
        self.current
    }

    /// The step shown on the right.
    pub fn viewing_step(&self) -> Step {
        self.viewing
    }

    /// True while the worker runs an engine step.
    pub fn is_busy(&self) -> bool {
        self.busy.is_some()
    }

    /// What the engine reported last.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snap
    }

    /// The current step's error, if it failed.
    pub fn error(&self) -> Option<&StepError> {
        self.error.as_ref().map(|(_, e)| e)
    }

    /// True once the ceremony was aborted.
    pub fn aborted(&self) -> bool {
        self.snap.aborted
    }

    /// True when the window may close now (nothing started, finished,
    /// aborted, or the custodians confirmed and the abort ran).
    pub fn close_allowed(&self) -> bool {
        self.close_allowed
            || self.snap.preflight.is_none() && self.busy.is_none()
            || self.finished()
    }

    /// Live progress of the generate step.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    fn finished(&self) -> bool {
        self.snap.aborted || self.current == Step::Done
    }

    /// The window is asked to close: returns true if it may; otherwise
    /// shows the confirmation dialog whose "Abort and close" runs the
    /// abort path and then closes.
    pub fn request_close(&mut self) -> bool {
        if self.close_allowed() {
            return true;
        }
        if self.abort_dialog != AbortDialog::Close {
            self.focus_safe_button = true;
        }
        self.abort_dialog = AbortDialog::Close;
        false
    }

    /// Whether `step` has succeeded, so the next one may unlock.
    pub fn step_complete(&self, step: Step) -> bool {
        let s = &self.snap;
        match step {
            Step::Preflight => s.preflight.is_some(),
            Step::Custodians => s.threshold > 0 && s.authenticated.len() >= s.threshold,
            Step::Request => s.request.is_some(),
            Step::Review => {
                s.request.is_some()
                    && s.request_digest_confirmed
                    && s.authenticated
                        .iter()
                        .all(|(n, _)| s.plan_confirmed_by.contains(n))
            }
            Step::Generate => self.generated(),
            Step::Export => s.export.is_some(),
            Step::Attestation => self.attestation_done,
            Step::Wipe => s.wipe.is_some() && !s.aborted,
            Step::Done => false,
        }
    }

    /// True once the engine says every key is generated and wrapped.
    pub(crate) fn generated(&self) -> bool {
        matches!(
            self.snap.stage,
            Some(StageKind::Wrapped | StageKind::Published | StageKind::Completed)
        )
    }

    /// Sends an engine command; the step shows "working" until it replies.
    pub(crate) fn send(&mut self, cmd: Command) {
        self.error = None;
        self.note = None;
        let kind = cmd.kind();
        if self.worker.send(cmd) {
            self.busy = Some(kind);
            self.in_flight += 1;
        } else {
            self.error = Some((
                self.current,
                StepError::new(
                    "the ceremony worker thread has stopped; close the app and start again",
                    airlock_core::exit::ExitCode::Internal,
                ),
            ));
        }
    }

    /// Opens the abort confirmation.
    pub(crate) fn ask_abort(&mut self) {
        if self.abort_dialog != AbortDialog::Abort {
            self.focus_safe_button = true;
        }
        self.abort_dialog = AbortDialog::Abort;
    }

    /// True when the custodians asked to close the window mid-ceremony and
    /// the abort ran: the aborted screen shows its summary (HSM labels left
    /// behind) and a button that closes the window.
    pub fn closing_after_abort(&self) -> bool {
        self.close_after_abort && self.snap.aborted
    }

    /// True while the engine finishes the key in hand before an abort.
    pub fn stopping(&self) -> bool {
        self.stopping && self.busy.is_some()
    }

    fn run_abort(&mut self, reason: &str) {
        self.abort_dialog = AbortDialog::Hidden;
        if self.busy == Some(CommandKind::Generate)
            && let Some(stop) = &self.snap.stop
        {
            // The worker is in the key loop: it finishes the key in hand,
            // journals `generation_stopped`, then runs this abort.
            stop.request();
            self.stopping = true;
        }
        self.send(Command::Abort {
            reason: reason.to_string(),
        });
    }

    fn poll_worker(&mut self, ctx: &egui::Context) {
        while let Some(reply) = self.worker.try_recv() {
            match reply {
                Reply::Progress(e) => self.on_progress(e),
                Reply::Finished {
                    kind,
                    result,
                    snapshot,
                } => {
                    self.in_flight = self.in_flight.saturating_sub(1);
                    if self.in_flight == 0 {
                        self.busy = None;
                    }
                    self.snap = *snapshot;
                    if kind == CommandKind::Abort {
                        // The aborted screen reports the abort's own outcome,
                        // not the generation it stopped.
                        self.stopping = false;
                        self.error = None;
                        self.note = None;
                    } else if self.busy == Some(CommandKind::Abort) {
                        // A step that ended because an abort was asked:
                        // its reply is superseded by the abort's, and its
                        // error says where it stopped.
                        if let Err(e) = result {
                            self.stopped_note = Some(e.message);
                        }
                        continue;
                    }
                    match result {
                        Ok(note) => self.note = note,
                        Err(e) => {
                            if kind == CommandKind::Generate {
                                // A refused code is typed again, not resent.
                                self.existing_codes.clear();
                            }
                            self.error = Some((self.current, e));
                        }
                    }
                    if kind == CommandKind::Abort && self.close_after_abort {
                        // The window stays open on the aborted screen (what
                        // was wiped, the HSM labels left behind) until the
                        // custodians close it there.
                        self.close_allowed = true;
                        ctx.request_repaint();
                    }
                }
            }
        }
    }

    fn on_progress(&mut self, e: Event) {
        match e {
            Event::KeyStarted { index, total, name } => {
                self.progress.total = total;
                self.progress.current = Some((index, total, name));
            }
            Event::KeyDone {
                total,
                name,
                origin,
                kcv,
                wrap_path,
                ..
            } => {
                self.progress.total = total;
                self.progress.done.push(KeyRow {
                    name,
                    origin,
                    kcv,
                    wrap_path,
                });
            }
            Event::LoggedIn { wrap_paths, .. } => self.snap.self_tests = Some(wrap_paths),
            _ => {}
        }
    }

    fn advance(&mut self) {
        self.current = self.current.next();
        self.viewing = self.current;
        self.error = None;
        self.note = None;
        if self.current == Step::Request {
            self.media = steps::request::scan_media();
        }
    }

    /// Draws one frame.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        if !self.themed {
            theme::apply(ui.ctx());
            self.themed = true;
        }
        let ctx = ui.ctx().clone();
        self.poll_worker(&ctx);
        if ui.ctx().input(|i| i.viewport().close_requested()) && !self.request_close() {
            ui.ctx()
                .send_viewport_cmd(egui::ViewportCommand::CancelClose);
        }
        if self.busy.is_some() {
            // Keep the spinner and progress moving.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
        self.top_bar(ui);
        self.step_list(ui);
        // Docked beside the step (right of it, or under it on a narrow
        // window), before the action bar and the step: it never covers the
        // step's content or its buttons.
        let path = self.snap.journal_path.clone();
        self.journal.show(ui, path.as_deref());
        self.action_bar(ui);
        egui::CentralPanel::default_margins().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| self.main_area(ui));
        });
        self.read_aloud_modal(ui.ctx());
        self.abort_modal(ui.ctx());
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("airlock-top").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Airlock key ceremony");
                if let Some(id) = &self.snap.ceremony_id {
                    // The full id where it fits; on a narrow screen its
                    // first 8 digits (the journal and the paper carry it
                    // whole), so that it never runs under the buttons.
                    // (The clock and the two buttons on the right take
                    // about 560 px.)
                    let text = if ui.available_width() > 560.0 + 560.0 {
                        format!("ceremony {id}")
                    } else {
                        format!("{}…", id.get(..8).unwrap_or(id))
                    };
                    ui.label(RichText::new(text).monospace().color(theme::MUTED))
                        .on_hover_text(id.as_str());
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    // Once the bundle is published the only way on is
                    // the wipe: an abort would say "nothing exported".
                    let can_abort = !self.finished()
                        && self.snap.preflight.is_some()
                        && self.snap.export.is_none();
                    if ui
                        .add_enabled(can_abort, egui::Button::new("Abort ceremony…"))
                        .clicked()
                    {
                        self.ask_abort();
                    }
                    if ui
                        .add(egui::Button::new("Journal").selected(self.journal.is_open()))
                        .on_hover_text("Show or hide the journal beside the step")
                        .clicked()
                    {
                        self.journal.toggle();
                    }
                    // A live UTC clock, as the journal and paper write time.
                    ui.label(RichText::new(clock_now()).monospace().strong());
                    ui.ctx()
                        .request_repaint_after(std::time::Duration::from_millis(500));
                });
            });
        });
    }

    fn step_list(&mut self, ui: &mut egui::Ui) {
        egui::Panel::left("airlock-steps")
            .exact_size(300.0)
            .show(ui, |ui| {
                ui.add_space(8.0);
                ui.label(RichText::new("Steps").strong());
                for step in Step::ALL {
                    let status = if step < self.current
                        || self.step_complete(step) && step == self.current
                    {
                        "done"
                    } else if step == self.current {
                        "now"
                    } else {
                        "locked"
                    };
                    let text = format!("{}. {} ({status})", step.number(), step.title());
                    if step <= self.current {
                        if ui
                            .selectable_label(self.viewing == step, RichText::new(text).strong())
                            .clicked()
                        {
                            self.viewing = step;
                        }
                    } else {
                        // Locked steps are plain text: nothing to click.
                        ui.add_enabled(false, egui::Button::selectable(false, RichText::new(text)));
                    }
                }
            });
    }

    fn main_area(&mut self, ui: &mut egui::Ui) {
        if self.snap.aborted {
            steps::aborted::show(self, ui);
            return;
        }
        let step = self.viewing;
        ui.heading(format!(
            "Step {} of {}: {}",
            step.number(),
            Step::ALL.len(),
            step.title()
        ));
        if step != self.current {
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new("This step is finished; you are looking back at it.")
                        .color(theme::MUTED),
                );
                if ui
                    .button(format!("Back to step {}", self.current.number()))
                    .clicked()
                {
                    self.viewing = self.current;
                }
            });
        }
        ui.separator();
        let active = step == self.current && self.busy.is_none();
        match step {
            Step::Preflight => steps::preflight::show(self, ui, active),
            Step::Custodians => steps::custodians::show(self, ui, active),
            Step::Request => steps::request::show(self, ui, active),
            Step::Review => steps::review::show(self, ui, active),
            Step::Generate => steps::generate::show(self, ui, active),
            Step::Export => steps::export::show(self, ui, active),
            Step::Attestation => steps::attestation::show(self, ui, active),
            Step::Wipe => steps::wipe::show(self, ui, active),
            Step::Done => steps::done::show(self, ui),
        }
    }

    /// The bottom bar of the current step: what the engine is doing, its
    /// error with Retry / Abort, and the Continue button. Always visible,
    /// however long the step's content.
    fn action_bar(&mut self, ui: &mut egui::Ui) {
        if self.snap.aborted || self.viewing != self.current {
            return;
        }
        let step = self.current;
        let has_content = self.busy.is_some()
            || self.note.is_some()
            || self.error.is_some()
            || step != Step::Done && self.step_complete(step);
        if !has_content {
            return;
        }
        egui::Panel::bottom("airlock-actions").show(ui, |ui| {
            ui.add_space(8.0);
            if let Some(kind) = self.busy {
                ui.horizontal(|ui| {
                    ui.spinner();
                    widgets::badge(ui, Verdict::Busy, &format!("{}…", kind.doing()));
                });
                if self.stopping {
                    let at = match self.progress.current.as_ref() {
                        Some((i, n, _)) => format!("key {i} of {n}"),
                        None => "the key in hand".to_string(),
                    };
                    widgets::badge(
                        ui,
                        Verdict::Warn,
                        &format!("Stopping after {at}; then the abort runs"),
                    );
                }
            }
            if let Some(note) = &self.note {
                widgets::badge(ui, Verdict::Warn, note);
            }
            if let Some((_, err)) = self.error.clone() {
                egui::ScrollArea::vertical()
                    .id_salt("error-scroll")
                    .max_height(360.0)
                    .show(ui, |ui| {
                        let quorum = widgets::QuorumSize {
                            threshold: self.snap.threshold,
                            enrolled: self.snap.roster.len(),
                        };
                        // Where the engine says only an abort can follow
                        // (a login that failed after the shares were used,
                        // a half-done wipe), no retry is offered.
                        let retry = match self.snap.need {
                            Some(airlock_ceremony::Need::Abort) => None,
                            _ => steps::retry_label(step),
                        };
                        match widgets::error_box(ui, &err, retry, quorum) {
                            Some(widgets::ErrorChoice::Retry) => steps::retry(self, step),
                            Some(widgets::ErrorChoice::Abort) => self.ask_abort(),
                            None => {}
                        }
                    });
            }
            if step != Step::Done && self.busy.is_none() && self.step_complete(step) {
                let next = step.next();
                let button = egui::Button::new(
                    RichText::new(format!("Continue to {}", next.title()))
                        .strong()
                        .size(26.0),
                )
                .fill(theme::PASS.linear_multiply(0.15));
                if ui.add(button).clicked() {
                    self.advance();
                }
            }
            ui.add_space(8.0);
        });
    }

    /// Opens the full-screen read-aloud view of a digest.
    pub(crate) fn open_read_aloud(&mut self, kind: read_aloud::DigestKind, hex: &str) {
        self.read_aloud = Some(read_aloud::ReadAloud::new(kind, hex));
    }

    fn read_aloud_modal(&mut self, ctx: &egui::Context) {
        let Some(view) = self.read_aloud.as_mut() else {
            return;
        };
        let kind = view.kind;
        match view.show(ctx) {
            read_aloud::ReadAloudChoice::Reading => {}
            read_aloud::ReadAloudChoice::Back => self.read_aloud = None,
            read_aloud::ReadAloudChoice::Match => {
                self.read_aloud = None;
                // The same command the step's own button sends: the
                // engine journals the confirmation.
                self.send(match kind {
                    read_aloud::DigestKind::Request => Command::ConfirmRequestDigest,
                    read_aloud::DigestKind::Bundle => Command::SettleBundleDigest { matched: true },
                });
            }
        }
    }

    fn abort_modal(&mut self, ctx: &egui::Context) {
        if self.abort_dialog == AbortDialog::Hidden {
            return;
        }
        let closing = self.abort_dialog == AbortDialog::Close;
        let mut choice: Option<bool> = None;
        let response = egui::Modal::new(egui::Id::unique("airlock-abort")).show(ctx, |ui| {
            ui.set_max_width(700.0);
            ui.heading(if closing {
                "Close the app mid-ceremony?"
            } else {
                "Abort the ceremony?"
            });
            ui.label(
                "Aborting wipes the working files and any staging folder, destroys the HSM session \
                 objects, logs out, and journals the abort. Keys already generated stay in the HSM \
                 and are reused if the same request is run again.",
            );
            if self.busy == Some(CommandKind::Generate) {
                widgets::badge(
                    ui,
                    Verdict::Warn,
                    "The HSM is generating keys: it stops after the key in hand, then the abort runs.",
                );
            } else if self.busy.is_some() {
                widgets::badge(
                    ui,
                    Verdict::Warn,
                    "The HSM is working: the abort runs as soon as the current step ends.",
                );
            }
            if closing {
                ui.label(
                    "The window then shows what was wiped and the HSM keys left behind; close it                      from there.",
                );
            }
            ui.horizontal(|ui| {
                // The safe choice comes first and has the keyboard focus:
                // Enter (or Escape) keeps the ceremony going.
                let keep = ui.add(
                    egui::Button::new(RichText::new(KEEP_GOING).strong())
                        .fill(theme::PASS.linear_multiply(0.15)),
                );
                if std::mem::take(&mut self.focus_safe_button) {
                    keep.request_focus();
                }
                if keep.clicked() {
                    choice = Some(false);
                }
                let yes = if closing {
                    "Abort and close"
                } else {
                    "Abort: wipe and log out"
                };
                if ui
                    .button(RichText::new(yes).color(theme::FAIL).strong())
                    .clicked()
                {
                    choice = Some(true);
                }
            });
        });
        // Escape (or a click outside) means keep going, never abort.
        if choice.is_none() && response.should_close() {
            choice = Some(false);
        }
        match choice {
            Some(true) => {
                self.close_after_abort = closing;
                let reason = if closing {
                    "the window was closed mid-ceremony"
                } else {
                    "aborted by the custodians in the desktop app"
                };
                self.run_abort(reason);
            }
            Some(false) => self.abort_dialog = AbortDialog::Hidden,
            None => {}
        }
    }
}

/// The abort dialog's safe button, focused when the dialog opens.
pub const KEEP_GOING: &str = "Keep the ceremony going";

/// The top bar's clock: `UTC 20:21:05`.
pub fn clock_now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!("UTC {:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

impl eframe::App for GuiApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        GuiApp::ui(self, ui);
    }
}
