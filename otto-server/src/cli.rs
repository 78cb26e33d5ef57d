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
    /// Serve the HTTP API (the default). On the embedded database it also runs jobs
    /// (OTTO_SERVE_WORKER).
    Serve,
    /// Run background jobs and the daily schedule, with /health and /metrics on
    /// OTTO_WORKER_PORT.
    Worker,
    /// Read from CallRail's API.
    Callrail {
        /// The CallRail action.
        #[command(subcommand)]
        action: CallRailAction,
    },
    /// List, retry and cancel background jobs.
    Jobs {
        /// The jobs action.
        #[command(subcommand)]
        action: JobsAction,
    },
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
    /// Link provider accounts (CallRail companies, Twilio numbers or accounts) to
    /// tenants, so that their webhook deliveries are routed.
    Tenant {
        /// The tenant action.
        #[command(subcommand)]
        action: TenantAction,
    },
    /// Operate on stored webhook deliveries.
    Webhooks {
        /// The webhooks action.
        #[command(subcommand)]
        action: WebhooksAction,
    },
    /// Delete webhook idempotency keys last seen more than IDEMPOTENCY_TTL_DAYS ago,
    /// and logged deliveries older than WEBHOOK_LOG_RETENTION_DAYS, in bounded
    /// batches.
    Purge {
        /// Keys deleted per statement.
        #[arg(long, default_value_t = 1000)]
        batch: u32,
    },
}

/// `tenant` actions.
#[derive(Debug, Subcommand)]
pub enum TenantAction {
    /// Route a provider account's deliveries to a tenant (re-linking moves it).
    Link {
        /// callrail, twilio or bland.
        #[arg(long)]
        provider: String,
        /// CallRail `company_id` or `company_resource_id`; a Twilio number (E.164)
        /// or `AccountSid`.
        #[arg(long)]
        account: String,
        /// The tenant (Clerk organization id).
        #[arg(long)]
        tenant: String,
        /// Read the account's own signing key from standard input (CallRail signs
        /// each company's deliveries with that company's key); kept out of the
        /// command line so that it never shows in the process list or shell history.
        #[arg(long)]
        signing_key_stdin: bool,
    },
    /// Stop routing a provider account's deliveries.
    Unlink {
        /// callrail, twilio or bland.
        #[arg(long)]
        provider: String,
        /// The account id as linked.
        #[arg(long)]
        account: String,
    },
    /// List every link.
    List,
}

/// `webhooks` actions.
#[derive(Debug, Subcommand)]
pub enum WebhooksAction {
    /// The newest logged deliveries, one line each.
    List {
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// Only this provider's: callrail, twilio, clerk or bland.
        #[arg(long)]
        provider: Option<String>,
        /// Only this event's (call-complete, user.created).
        #[arg(long)]
        event: Option<String>,
        /// Only those with this outcome: processed, duplicate_ignored, failed or
        /// unroutable.
        #[arg(long)]
        outcome: Option<String>,
        /// Deliveries to show at most (1-100).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One logged delivery with its body, as JSON.
    Show {
        /// The delivery id.
        id: String,
    },
    /// With an id: run that delivery again (a processed one only with --force, which
    /// re-applies its changes without texting or calling again). Without: process
    /// the unroutable deliveries whose account is now linked.
    Replay {
        /// The delivery id.
        id: Option<String>,
        /// Re-apply a delivery that was processed already.
        #[arg(long)]
        force: bool,
        /// Without an id: deliveries to replay at most.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
}

/// `callrail` actions.
#[derive(Debug, Subcommand)]
pub enum CallRailAction {
    /// Copy a tenant's CallRail calls into Otto (calls Otto has are left as they are).
    Sync {
        /// The tenant to copy into.
        #[arg(long)]
        tenant: String,
        /// The CallRail company (`COM...` or its number); by default every CallRail
        /// company linked to the tenant.
        #[arg(long)]
        company: Option<String>,
        /// Pages of 100 calls to read at most, per company.
        #[arg(long, default_value_t = 10)]
        pages: u32,
    },
}

/// `jobs` actions.
#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// The newest jobs, one line each.
    List {
        /// Only jobs in this status: queued, running, succeeded, skipped, dead,
        /// cancelled.
        #[arg(long)]
        status: Option<String>,
        /// Jobs to show at most.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Queue a dead, skipped or cancelled job again, with fresh attempts.
    Retry {
        /// The job id.
        id: String,
    },
    /// Cancel a queued job.
    Cancel {
        /// The job id.
        id: String,
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
        /// Grant platform-wide operations (the /api/v1/admin routes): for operators
        /// only.
        #[arg(long)]
        platform_admin: bool,
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
