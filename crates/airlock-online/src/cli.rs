//! The command line: one clap parser for every subcommand, with the options
//! every subcommand shares (credential chain, region, endpoints, --dry-run,
//! --json). The subcommands' own options live next to them.

use clap::{Args, Parser, Subcommand};

/// The online operator's tool of Airlock (AWS KMS bring-your-own-key).
#[derive(Debug, Parser)]
#[command(name = "airlock-online", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// Options every subcommand takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand.
#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// AWS region (default: the bundle's / plan's region, else the standard
    /// chain: AWS_REGION, profile).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (all services).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Endpoint for KMS and STS only (overrides --endpoint-url for them).
    #[arg(long, global = true, value_name = "URL")]
    pub kms_endpoint_url: Option<String>,
    /// Endpoint for S3, RDS, DynamoDB, Config, CloudTrail, IAM and Lambda only
    /// (overrides --endpoint-url for them).
    #[arg(long, global = true, value_name = "URL")]
    pub inventory_endpoint_url: Option<String>,
    /// Check and print what would be done; change nothing in AWS or on disk.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Print the result as JSON on stdout (messages stay on stderr).
    #[arg(long, global = true)]
    pub json: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Turn a plan (airlock-plan/1) into a signed request bundle.
    Prepare(crate::prepare::PrepareArgs),
    /// Verify an import bundle against the pinned ceremony key and digest.
    Verify(crate::verify::VerifyArgs),
    /// Verify, check every key, then import, rotate and switch aliases.
    Import(crate::import::ImportArgs),
    /// Point an environment's aliases back at the keys the receipt recorded.
    Rollback(crate::rollback::RollbackArgs),
    /// Which resources are on the rotated keys (judged against plan + receipts).
    Report(crate::report::ReportArgs),
    /// Write the preparer, importer and reporter IAM policies.
    Iam(crate::iam::IamArgs),
    /// Write (and optionally deploy) the AWS Config rule's Lambda.
    ConfigRule(crate::config_rule::ConfigRuleArgs),
}

/// A comma-separated list option.
pub fn split_list(s: &Option<String>) -> Option<Vec<String>> {
    s.as_ref().map(|s| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
}

/// The exit-code table printed after --help (docs/exit-codes.md has the details).
pub const EXIT_CODES: &str = "\
Exit codes:
   0  success (report: everything COMPLIANT or NOT_APPLICABLE)
   1  report: at least one resource NON_COMPLIANT or PENDING
   2  usage: unknown option or missing argument
   3  report: at least one resource ERROR (an AWS call about it failed)
   4  a file or folder could not be read or written, or the output already exists
   5  the operator declined a confirmation; nothing further was changed
  10  the plan is invalid (the message names the key and the field)
  11  an AWS call failed (the message names the call, the key and AWS's error)
  12  a KMS key or alias is not in the state this step needs
  20  the import bundle does not verify (layout, SHA256SUMS, signature, journal)
  21  the bundle's SHA256SUMS digest is not the one read from the attestation
  22  import.json does not match the request, the account, the region or a key
  23  the bundle says the workstation was not air-gapped
  24  a key's import parameters have expired
  25  dev -> int -> prod: an earlier environment is not imported and clean
  26  a receipt is missing, unreadable or does not match KMS
  27  a multi-Region key this version cannot import (a new one behind an alias switch); nothing imported
  28  import --valid-to is not between 24 hours and 365 days ahead; nothing imported
  29  an on-demand key has used all 25 of its on-demand rotations; nothing imported
  30  a key failed its test after import
  31  on-demand rotation failed, or a ciphertext made before it no longer decrypts";
