//! `report` (being written).

use clap::Args;

use crate::cli::Global;
use crate::error::Result;
use crate::exit::Exit;

/// Options of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {}

/// Runs `report`.
pub async fn run(_a: &ReportArgs, _g: &Global) -> Result<Exit> {
    Ok(Exit::Ok)
}
