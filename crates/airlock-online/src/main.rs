//! `airlock-online`: the online operator's tool of Airlock, on the AWS SDK
//! for Rust. Parses the command line, runs one subcommand, prints its error
//! (what, where, what to do) and ends with the documented exit code.

mod aws;
mod cli;
mod config_rule;
mod decide;
mod error;
mod exit;
mod iam;
mod import;
mod kms;
mod lifecycle;
mod mrk;
mod order;
mod plan;
mod prepare;
mod receipt;
mod report;
mod rollback;
mod sign;
mod tag_resources;
mod verify;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::exit::Exit;

fn run(cli: Cli) -> Result<Exit> {
    let g = &cli.global;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|e| error::Error::io(".", "starting the async runtime", e))?;
    match &cli.command {
        Command::Verify(a) => verify::run(a, g.json),
        Command::Import(a) => rt.block_on(import::run(a, g)),
        Command::Prepare(a) => rt.block_on(prepare::run(a, g)),
        Command::Rollback(a) => rt.block_on(rollback::run(a, g)),
        Command::Report(a) => rt.block_on(report::run(a, g)),
        Command::Iam(a) => iam::run(a, g),
        Command::ConfigRule(a) => rt.block_on(config_rule::run(a, g)),
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => std::process::ExitCode::from(code.code()),
        Err(e) => {
            eprintln!("airlock-online: error: {e}");
            std::process::ExitCode::from(e.exit().code())
        }
    }
}
