//! `airlock hsm probe [--json]`: what the configured token is, which of the
//! mechanisms Airlock needs it offers, and which wrap path each wrapping
//! algorithm will try (the known-answer tests at ceremony start decide).

use std::path::Path;

use airlock_hsm::{Hsm, ProbeReport};
use clap::Subcommand;

use super::{CliError, load_config};
use crate::output::print_json;

/// `airlock hsm ...`
#[derive(Debug, Subcommand)]
pub enum HsmCommand {
    /// Show the token's identity, mechanisms and wrap paths (no login).
    Probe {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `airlock hsm ...`.
pub fn run(cmd: HsmCommand, config: Option<&Path>) -> Result<(), CliError> {
    match cmd {
        HsmCommand::Probe { json } => {
            let c = load_config(config)?;
            let hsm = Hsm::open_for_so(&c.module, &c.token)?;
            let report = hsm.probe()?;
            if json {
                print_json(&report);
            } else {
                print_text(&report);
            }
            Ok(())
        }
    }
}

fn print_text(r: &ProbeReport) {
    let i = &r.identity;
    println!("token:        {} (slot {})", i.label, i.slot_id);
    println!("manufacturer: {}", i.manufacturer);
    println!("model:        {}", i.model);
    println!("serial:       {}", i.serial);
    println!("firmware:     {}  hardware: {}", i.firmware, i.hardware);
    println!(
        "library:      {} {} ({})",
        i.library_description, i.library_version, i.library_manufacturer
    );
    let mem = |m: Option<u64>| m.map_or("not reported".to_string(), |v| format!("{v} bytes"));
    println!(
        "free memory:  private {}, public {}",
        mem(r.free_private_memory),
        mem(r.free_public_memory)
    );
    println!(
        "mechanisms:   {} listed; the ones Airlock uses:",
        r.mechanism_count
    );
    for m in &r.mechanisms {
        if m.offered {
            println!("  {:<28} {}  {}", m.name, m.id, m.flags.join(" "));
        } else {
            println!("  {:<28} {}  not offered", m.name, m.id);
        }
    }
    println!("wrap paths:");
    for p in &r.wrap_plans {
        let paths: Vec<String> = p.candidates.iter().map(|c| c.to_string()).collect();
        let first = if paths.is_empty() {
            "none".to_string()
        } else {
            paths.join(", then ")
        };
        println!("  {:<26} {}", p.algorithm.as_str(), first);
        println!("  {:<26} ({})", "", p.note);
    }
}
