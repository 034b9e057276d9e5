//! `iam` (being written).

use clap::Args;

use crate::cli::Global;
use crate::error::Result;
use crate::exit::Exit;

/// Options of `iam`.
#[derive(Debug, Args)]
pub struct IamArgs {}

/// Runs `iam`.
pub fn run(_a: &IamArgs, _g: &Global) -> Result<Exit> {
    Ok(Exit::Ok)
}
