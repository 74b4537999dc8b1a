//! `dnsbl`: the command-line entry point. It parses arguments, sets up logging and the
//! Tokio runtime, and hands over to the subcommand in its own module.

mod admin;
mod check;
mod cli;
mod db_check;
mod export;
mod ingest;
mod limits;
mod malloc_env;
mod mirror;
mod progress;
mod serve;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log_format);
    if matches!(cli.command, Command::Serve(_))
        && let Err(error) = malloc_env::reexec_with_settings()
    {
        tracing::warn!(error = %describe(&error), "failed to apply the glibc malloc settings, running with glibc's defaults");
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Ingest(args) => ingest::run(args).await,
            Command::Token(command) => admin::run_token(command).await,
            Command::Lookup(args) => admin::run_lookup(args).await,
            Command::Export(args) => export::run(args).await,
            Command::Check(args) => check::run(args).await,
        }
    })
}

/// Joins an error and its causes into one line, leaving out a cause whose text the message
/// before it already contains (most library errors repeat their source in the message).
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Logs to stderr. `RUST_LOG` overrides the default filter, which keeps lifecycle events
/// at info and silences hickory-server's own log line for every response.
fn init_tracing(format: &cli::LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,hickory_server=warn,hickory_net=warn,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(progress::LogWriter);
    match format {
        cli::LogFormat::Text => builder.init(),
        cli::LogFormat::Json => builder.json().init(),
    }
}
