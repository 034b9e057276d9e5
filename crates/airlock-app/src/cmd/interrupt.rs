//! Ctrl-C during `airlock ceremony run` and `discard`. SIGINT is blocked in
//! every thread and taken by `sigwait` on a thread of its own (no signal
//! handler), which sets a flag and asks the engine to stop after the key in
//! hand. Prompts read on a helper thread so that the main thread can notice
//! the flag while a custodian is being asked for something; an interrupted
//! no-echo prompt gets the terminal's echo back. The face then runs the
//! engine's abort path, which journals it, and exits with
//! [`ExitCode::Interrupted`] (130, `docs/exit-codes.md`).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock_ceremony::StopSignal;
use airlock_core::exit::ExitCode;
use nix::sys::signal::{SigSet, Signal};
use zeroize::Zeroizing;

use super::CliError;

/// The Ctrl-C state of one command.
#[derive(Clone)]
pub struct Interrupts {
    flag: Arc<AtomicBool>,
    stop: Arc<Mutex<Option<StopSignal>>>,
    /// Set once the bundle is published: Ctrl-C is then refused until the
    /// wipe ends.
    refuse: Arc<AtomicBool>,
}

/// What a prompt got.
pub enum Answer<T> {
    /// The custodian answered.
    Given(T),
    /// Ctrl-C came first.
    Interrupted,
}

impl Interrupts {
    /// Blocks SIGINT in this thread (and every thread started after it) and
    /// starts the thread that takes it. Call first, before other threads.
    pub fn install() -> Result<Interrupts, CliError> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.thread_block()
            .map_err(|e| CliError::new(ExitCode::Internal, format!("cannot block SIGINT: {e}")))?;
        let me = Interrupts {
            flag: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(Mutex::new(None)),
            refuse: Arc::new(AtomicBool::new(false)),
        };
        let seen = me.clone();
        std::thread::Builder::new()
            .name("airlock-sigint".into())
            .spawn(move || {
                while set.wait().is_ok() {
                    if seen.refuse.load(Ordering::SeqCst) {
                        eprintln!(
                            "\nairlock: Ctrl-C refused: the bundle is published; the wipe runs to its end"
                        );
                        continue;
                    }
                    if seen.trip() {
                        eprintln!(
                            "\nairlock: Ctrl-C: stopping after the step in hand, then the abort path runs (journaled)"
                        );
                    }
                }
            })
            .map_err(|e| {
                CliError::new(ExitCode::Internal, format!("cannot start the Ctrl-C thread: {e}"))
            })?;
        Ok(me)
    }

    /// Records a Ctrl-C and passes it to the engine's stop flag; true the
    /// first time.
    fn trip(&self) -> bool {
        let first = !self.flag.swap(true, Ordering::SeqCst);
        if let Some(stop) = self.stop.lock().ok().and_then(|s| s.clone()) {
            stop.request();
        }
        first
    }

    /// Passes Ctrl-C on to the engine's stop flag from now on.
    pub fn forward_to(&self, stop: StopSignal) {
        if self.flag.load(Ordering::SeqCst) {
            stop.request();
        }
        if let Ok(mut s) = self.stop.lock() {
            *s = Some(stop);
        }
    }

    /// From now on Ctrl-C is refused (the bundle is published).
    pub fn refuse_from_now(&self) {
        self.refuse.store(true, Ordering::SeqCst);
    }

    /// True once Ctrl-C was pressed (and not refused).
    pub fn interrupted(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// The error a Ctrl-C ends the command with.
    pub fn error(&self, during: &str) -> CliError {
        CliError::new(
            ExitCode::Interrupted,
            format!("interrupted (Ctrl-C) {during}"),
        )
    }

    /// Runs a blocking prompt on a helper thread and waits for it or for
    /// Ctrl-C. The helper may stay blocked on the terminal after an
    /// interrupt; the command ends soon after.
    fn wait_for<T: Send + 'static>(&self, ask: impl FnOnce() -> T + Send + 'static) -> Answer<T> {
        if self.interrupted() {
            return Answer::Interrupted;
        }
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("airlock-prompt".into())
            .spawn(move || {
                let _ = tx.send(ask());
            });
        if spawned.is_err() {
            return Answer::Interrupted;
        }
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(v) => return Answer::Given(v),
                Err(RecvTimeoutError::Timeout) if self.interrupted() => {
                    return Answer::Interrupted;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Answer::Interrupted,
            }
        }
    }

    /// True when a prompt's read error came from Ctrl-C. `rpassword` reads
    /// the passphrase in raw mode, so Ctrl-C reaches it as a character: it
    /// fails the read with `Interrupted` and raises SIGINT on its own
    /// (blocked) thread, where the signal thread never sees it; that read
    /// error is taken as the Ctrl-C itself.
    fn read_was_interrupted(&self, e: &std::io::Error) -> bool {
        if e.kind() == std::io::ErrorKind::Interrupted && !self.refuse.load(Ordering::SeqCst) {
            self.trip();
        }
        self.interrupted()
    }

    /// Asks for one line on the terminal (echoed).
    pub fn ask_line(&self, prompt: &str) -> Result<Answer<String>, CliError> {
        eprint!("{prompt}");
        match self.wait_for(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        }) {
            Answer::Given(Ok(line)) => Ok(Answer::Given(line.trim().to_string())),
            Answer::Given(Err(e)) if self.read_was_interrupted(&e) => Ok(Answer::Interrupted),
            Answer::Given(Err(e)) => Err(CliError::new(
                ExitCode::Io,
                format!("reading the answer from the terminal: {e}"),
            )),
            Answer::Interrupted => Ok(Answer::Interrupted),
        }
    }

    /// Asks for a secret without echo; the echo is put back if Ctrl-C
    /// interrupts the prompt.
    pub fn ask_secret(&self, prompt: &str) -> Result<Answer<Zeroizing<String>>, CliError> {
        let stdin = std::io::stdin();
        let saved = if stdin.is_terminal() {
            nix::sys::termios::tcgetattr(&stdin).ok()
        } else {
            None
        };
        let prompt = prompt.to_string();
        let answer =
            match self.wait_for(move || rpassword::prompt_password(prompt).map(Zeroizing::new)) {
                Answer::Given(Err(e)) if self.read_was_interrupted(&e) => Answer::Interrupted,
                other => other,
            };
        match answer {
            Answer::Given(Ok(s)) => Ok(Answer::Given(s)),
            Answer::Given(Err(e)) => Err(CliError::new(
                ExitCode::Usage,
                format!("cannot prompt for a passphrase ({e}); no terminal?"),
            )
            .with_hint("give it as NAME=@FILE in headless use")),
            Answer::Interrupted => {
                if let Some(t) = saved {
                    let _ = nix::sys::termios::tcsetattr(
                        &stdin,
                        nix::sys::termios::SetArg::TCSANOW,
                        &t,
                    );
                }
                eprintln!();
                Ok(Answer::Interrupted)
            }
        }
    }
}
