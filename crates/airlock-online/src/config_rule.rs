//! `config-rule`: the AWS Config rule's Lambda (Python) with its trust and
//! key policies and a deploy command. NOT in this version of the tool: the
//! subcommand refuses plainly rather than pretend. The Lambda in use is
//! `ceremony-scripts/config-rules/airlock_key_rotation_rule.py`
//! (docs/online-runbook.md, "AWS Config rule").

use clap::Args;

use crate::cli::Global;
use crate::error::{Error, Result};
use crate::exit::Exit;

/// Options of `config-rule`.
#[derive(Debug, Args)]
pub struct ConfigRuleArgs {}

/// Runs `config-rule`: refuses, naming what to use instead.
pub fn run(_a: &ConfigRuleArgs, _g: &Global) -> Result<Exit> {
    Err(Error::refused(
        Exit::Usage,
        "config-rule is not implemented in this version of airlock-online; deploy \
         ceremony-scripts/config-rules/airlock_key_rotation_rule.py as docs/online-runbook.md describes",
    ))
}
