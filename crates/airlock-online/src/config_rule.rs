//! `config_rule` (being written).

use clap::Args;

use crate::cli::Global;
use crate::error::Result;
use crate::exit::Exit;

/// Options of `config_rule`.
#[derive(Debug, Args)]
pub struct ConfigRuleArgs {}

/// Runs `config_rule`.
pub fn run(_a: &ConfigRuleArgs, _g: &Global) -> Result<Exit> {
    Ok(Exit::Ok)
}
