//! The `otto-server` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Otto: the call-intelligence backend. Without a subcommand, `serve`.
#[derive(Debug, Parser)]
#[command(name = "otto-server", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply, revert or list database migrations.
    Migrate {
        /// The migration action.
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the OpenAPI document.
    Openapi {
        /// Write it to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Validate the configuration and print it, every secret masked.
    CheckConfig,
}

/// `migrate` actions.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the most recent migrations.
    Down {
        /// How many migrations to revert.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// Process exit codes.
pub mod exit_code {
    /// The configuration is invalid (or holds placeholders in production).
    pub const CONFIG: i32 = 2;
    /// Startup or a command failed at run time.
    pub const FAILURE: i32 = 1;
}
