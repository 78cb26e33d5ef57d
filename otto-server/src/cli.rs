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
    /// Create and restrict API tokens (biscuit).
    Token {
        /// The token action.
        #[command(subcommand)]
        action: TokenAction,
    },
}

/// `token` actions.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Print a new root key pair (set the private key as OTTO_BISCUIT_PRIVATE_KEY).
    Keygen,
    /// Print an API token for a user of a tenant, signed with the configured key.
    Issue {
        /// The tenant (Clerk organization id).
        #[arg(long)]
        tenant: String,
        /// The user (Clerk user id).
        #[arg(long)]
        user: String,
        /// The role in the tenant.
        #[arg(long, default_value = "member")]
        role: String,
        /// Lifetime: 90s, 15m, 1h, 30d.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
    /// Restrict a token offline (no key needed): read-only and/or a shorter life.
    Attenuate {
        /// The token to restrict.
        token: String,
        /// Allow read operations only.
        #[arg(long)]
        read_only: bool,
        /// Expire after this long from now: 90s, 15m, 1h.
        #[arg(long)]
        expires_in: Option<String>,
    },
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
