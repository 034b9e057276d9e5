//! The ceremony's steps as the custodians see them, in order.

/// One step of the window's step list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// Air gap, clock, HSM probe, configuration.
    Preflight,
    /// M custodians authenticate.
    Custodians,
    /// Pick and verify the request bundle.
    Request,
    /// The plan; each custodian confirms.
    Review,
    /// Quorum login, self-tests, generate and wrap every key.
    Generate,
    /// Seal, read back, verify, publish.
    Export,
    /// The attestation (digest to read aloud; PDF/print hook).
    Attestation,
    /// Wipe the working files and HSM session objects, log out.
    Wipe,
    /// Summary.
    Done,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 9] = [
        Step::Preflight,
        Step::Custodians,
        Step::Request,
        Step::Review,
        Step::Generate,
        Step::Export,
        Step::Attestation,
        Step::Wipe,
        Step::Done,
    ];

    /// The title shown in the step list and as the heading.
    pub fn title(self) -> &'static str {
        match self {
            Step::Preflight => "Preflight",
            Step::Custodians => "Custodians",
            Step::Request => "Request",
            Step::Review => "Review",
            Step::Generate => "Generate & wrap",
            Step::Export => "Seal & export",
            Step::Attestation => "Attestation",
            Step::Wipe => "Wipe",
            Step::Done => "Done",
        }
    }

    /// 1-based position.
    pub fn number(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0) + 1
    }

    /// The step after this one (Done is last).
    pub fn next(self) -> Step {
        Step::ALL.get(self.number()).copied().unwrap_or(Step::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_in_order_and_end_at_done() {
        let mut s = Step::Preflight;
        let mut seen = vec![s];
        while s != Step::Done {
            s = s.next();
            seen.push(s);
        }
        assert_eq!(seen, Step::ALL.to_vec());
        assert_eq!(Step::Done.next(), Step::Done);
        assert_eq!(Step::Generate.number(), 5);
    }
}
