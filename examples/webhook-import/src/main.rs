//! `webhook-import`: imports signed provider deliveries from a file into Otto's
//! database, exactly once. See README.md beside this crate.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use otto_core::tenancy::TenantId;
use otto_core::webhooks::AccountRef;
use webhook_import::{
    DeliveryLine, Imported, Importer, Secrets, is_input_error, read_line, signed_line,
};

#[derive(Debug, Parser)]
#[command(about = "Imports signed provider deliveries into Otto's database, exactly once")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// CallRail's webhook signing key.
    #[arg(
        long,
        env = "CALLRAIL_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    callrail_secret: Option<String>,
    /// Bland AI's webhook secret.
    #[arg(
        long,
        env = "BLAND_WEBHOOK_SECRET",
        hide_env_values = true,
        global = true
    )]
    bland_secret: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verifies and applies each line of FILE (`-`: standard input).
    Import {
        /// One delivery per line: {"event": "callrail/call-complete", "signature": "...", "body": "..."}.
        file: PathBuf,
        /// The database: postgres://... or sqlite://...
        #[arg(
            long,
            env = "DATABASE_URL",
            default_value = "sqlite://webhook-import.db?mode=rwc"
        )]
        database: String,
        /// Routes a provider account's deliveries to a tenant first:
        /// `callrail:155920786=org_acme` (repeatable).
        #[arg(long = "link", value_name = "PROVIDER:ACCOUNT=TENANT")]
        links: Vec<String>,
    },
    /// Prints an input line for a body, signed with the provider's secret.
    Sign {
        /// The route: callrail/call-complete, callrail/pre-call, bland, ...
        #[arg(long)]
        event: String,
        /// The file holding the raw body.
        body: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let secrets = Secrets {
        callrail: cli.callrail_secret,
        bland: cli.bland_secret,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start: {error}")),
    };
    match cli.command {
        Command::Import {
            file,
            database,
            links,
        } => runtime.block_on(import(&file, &database, &links, secrets)),
        Command::Sign { event, body } => sign(&event, &body, &secrets),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("webhook-import: {message}");
    ExitCode::from(2)
}

fn parse_link(text: &str) -> Result<(AccountRef, TenantId), String> {
    let (account, tenant) = text
        .split_once('=')
        .ok_or_else(|| format!("--link {text}: expected PROVIDER:ACCOUNT=TENANT"))?;
    let (provider, account_id) = account
        .split_once(':')
        .ok_or_else(|| format!("--link {text}: expected PROVIDER:ACCOUNT=TENANT"))?;
    let account = AccountRef::parse(provider, account_id).map_err(|e| format!("--link: {e}"))?;
    let tenant = TenantId::parse(tenant).map_err(|e| format!("--link: {e}"))?;
    Ok((account, tenant))
}

/// Counts of what the run did.
#[derive(Debug, Default)]
struct Tally {
    processed: usize,
    duplicates: usize,
    unroutable: usize,
    refused: usize,
}

async fn import(file: &PathBuf, database: &str, links: &[String], secrets: Secrets) -> ExitCode {
    let links: Vec<(AccountRef, TenantId)> = match links.iter().map(|l| parse_link(l)).collect() {
        Ok(links) => links,
        Err(message) => return fail(&message),
    };
    let mut input: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        match std::fs::File::open(file) {
            Ok(opened) => Box::new(std::io::BufReader::new(opened)),
            Err(error) => return fail(&format!("{}: {error}", file.display())),
        }
    };
    let importer = match Importer::open(database, secrets).await {
        Ok(importer) => importer,
        Err(error) => return fail(&error.to_string()),
    };
    for (account, tenant) in &links {
        if let Err(error) = importer.link(account, tenant).await {
            return fail(&format!("cannot link {account:?}: {error}"));
        }
    }
    let mut out = std::io::stdout().lock();
    let mut tally = Tally::default();
    let mut number = 0;
    loop {
        number += 1;
        let line = match read_line(&mut input) {
            Ok(None) => break,
            Ok(Some(line)) => line,
            Err(error) => return fail(&format!("line {number}: {error}")),
        };
        if line.as_ref().is_ok_and(|text| text.trim().is_empty()) {
            continue;
        }
        let imported = match line {
            Ok(text) => importer.import(&text).await,
            Err(refused) => Err(refused),
        };
        let report = match imported {
            Ok(Imported::Processed { key, tenant }) => {
                tally.processed += 1;
                let tenant = tenant.as_ref().map_or("-", TenantId::as_str);
                format!("processed  {key} (tenant {tenant})")
            }
            Ok(Imported::Duplicate { key, attempts }) => {
                tally.duplicates += 1;
                format!("duplicate  {key} (delivery {attempts} of this key)")
            }
            Ok(Imported::Unroutable) => {
                tally.unroutable += 1;
                "unroutable (kept: link its account, then `otto-server webhooks replay`)".to_owned()
            }
            Err(error) if is_input_error(&error) => {
                tally.refused += 1;
                format!("refused    {error}")
            }
            Err(error) => return fail(&format!("line {number}: {error}; stopped")),
        };
        // A closed stdout (`| head`) ends the report, not the import's guarantees:
        // every line already applied stays applied exactly once.
        if writeln!(out, "line {number}: {report}").is_err() {
            return ExitCode::FAILURE;
        }
    }
    let Tally {
        processed,
        duplicates,
        unroutable,
        refused,
    } = tally;
    let _ = writeln!(
        out,
        "processed {processed}, duplicates {duplicates}, unroutable {unroutable}, refused {refused}"
    );
    if refused > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn sign(event: &str, body: &PathBuf, secrets: &Secrets) -> ExitCode {
    let body = match std::fs::read_to_string(body) {
        Ok(body) => body,
        Err(error) => return fail(&format!("{}: {error}", body.display())),
    };
    let probe = DeliveryLine {
        event: event.to_owned(),
        signature: None,
        body,
    };
    let signed = probe.event().and_then(|route| {
        secrets
            .sign(route.provider(), probe.body.as_bytes())
            .map(|signature| signed_line(route, signature, probe.body.clone()))
    });
    match signed {
        Ok(line) => {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
            ExitCode::SUCCESS
        }
        Err(error) => fail(&error.to_string()),
    }
}
