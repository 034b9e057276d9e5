//! A request to stop, shared between the face that asks (Ctrl-C in the CLI,
//! closing the window) and the engine, which honours it between keys:
//! the key in hand is finished (never half-wrapped), then generation
//! returns [`crate::CeremonyError::Stopped`] and the face runs the abort
//! path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cloneable stop flag.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the engine to stop at the next key boundary.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once a stop was asked for.
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
