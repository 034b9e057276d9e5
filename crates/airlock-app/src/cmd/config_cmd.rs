//! `airlock config check`: validate `airlock.toml` and say what is wrong
//! and where.

use std::path::Path;

use clap::Subcommand;

use super::{CliError, load_config};

/// `airlock config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print what it selects.
    Check,
}

/// Runs `airlock config ...`.
pub fn run(cmd: ConfigCommand, config: Option<&Path>) -> Result<(), CliError> {
    match cmd {
        ConfigCommand::Check => {
            let c = load_config(config)?;
            println!("config:    {}", c.source.display());
            println!("module:    {}", c.module.display());
            println!("token:     {}", c.token);
            println!("state dir: {}", c.state_dir.display());
            println!("OK");
            Ok(())
        }
    }
}
