//! `aniworld` command line. One module per command; `--json` output is stable (see README).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod db;
mod download;
mod follow;
mod info;
mod openapi;
mod providers;
mod resolve;
mod scan;
mod search;
mod serve;

#[derive(Debug, Parser)]
#[command(
    name = "aniworld",
    version,
    about = "Keeps an anime/series library complete: scan, find what is missing, download it.",
    propagate_version = true
)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `aniworld_core=debug`.
    #[arg(long, global = true, env = "ANIWORLD_LOG", default_value = "warn")]
    pub log: String,

    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by commands that read the config.
#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// Data directory (config.json, aniworld.db, plugins, scripts).
    #[arg(long, env = "ANIWORLD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Scan a library folder and report series, episodes and what is missing.
    Scan(scan::ScanArgs),
    /// Search the providers.
    Search(search::SearchArgs),
    /// Show a series with its seasons and episodes.
    Info(info::InfoArgs),
    /// Run one hoster extractor on an embed URL.
    Resolve(resolve::ResolveArgs),
    /// Download episodes with progress bars.
    Download(download::DownloadArgs),
    /// Print the OpenAPI document.
    Openapi(openapi::OpenapiArgs),
    /// Database tools (`db migrate --to postgres://...`).
    Db(db::DbArgs),
    /// Follow a series (its new episodes are queued by checks), or list the followed ones.
    Follow(follow::FollowArgs),
    /// Check every followed series for new episodes now and queue what is due.
    Check(follow::CheckArgs),
}

/// A CLI failure: message for the user, and the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub message: String,
    pub code: u8,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 1,
        }
    }

    /// Ended by Ctrl-C (the shell's code for SIGINT).
    pub fn interrupted() -> Self {
        CliError {
            message: "interrupted".to_owned(),
            code: 130,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: 2,
        }
    }
}

impl From<aniworld_core::Error> for CliError {
    fn from(e: aniworld_core::Error) -> Self {
        CliError::new(e.to_string())
    }
}

pub type CliResult = Result<(), CliError>;

pub fn init_tracing(filter: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person watching; log files and pipes get plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Ctrl-C for every command: the first one asks the command to stop (the returned receiver turns
/// `true`), a second one ends the process at once with code 130.
fn watch_interrupts() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        // One signal stream for both presses, so a quick second Ctrl-C is not missed.
        #[cfg(unix)]
        let Ok(mut interrupts) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        else {
            return;
        };
        #[cfg(unix)]
        let first = interrupts.recv().await.is_some();
        #[cfg(not(unix))]
        let first = tokio::signal::ctrl_c().await.is_ok();
        if !first {
            return;
        }
        let _ = tx.send(true);
        eprintln!("\ninterrupted: stopping (press Ctrl-C again to quit at once)");
        #[cfg(unix)]
        let second = interrupts.recv().await.is_some();
        #[cfg(not(unix))]
        let second = tokio::signal::ctrl_c().await.is_ok();
        if second {
            eprintln!("aborted");
            std::process::exit(130);
        }
    });
    rx
}

/// Resolves once the first Ctrl-C arrived.
pub async fn interrupted(mut rx: tokio::sync::watch::Receiver<bool>) {
    if rx.wait_for(|v| *v).await.is_err() {
        // Nobody watches Ctrl-C (no signal handler could be set up): never.
        std::future::pending::<()>().await;
    }
}

async fn run_quick(command: Command) -> CliResult {
    match command {
        Command::Scan(a) => scan::run(a).await,
        Command::Search(a) => search::run(a).await,
        Command::Info(a) => info::run(a).await,
        Command::Resolve(a) => resolve::run(a).await,
        Command::Openapi(a) => openapi::run(a).await,
        Command::Db(a) => db::run(a).await,
        Command::Follow(a) => follow::run_follow(a).await,
        Command::Check(a) => follow::run_check(a).await,
        Command::Serve(_) | Command::Download(_) => {
            unreachable!("serve and download handle Ctrl-C themselves")
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        let stop = interrupted(watch_interrupts());
        match cli.command {
            // These two stop cleanly on the first Ctrl-C themselves.
            Command::Serve(a) => serve::run(a, stop).await,
            Command::Download(a) => download::run(a, stop).await,
            // The others only wait for sites and files: they end at once.
            other => tokio::select! {
                r = run_quick(other) => r,
                () = stop => Err(CliError::interrupted()),
            },
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
