//! `aniworld` command line. One module per command; `--json` output is stable (see README).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod download;
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
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
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
        match cli.command {
            Command::Serve(a) => serve::run(a).await,
            Command::Scan(a) => scan::run(a).await,
            Command::Search(a) => search::run(a).await,
            Command::Info(a) => info::run(a).await,
            Command::Resolve(a) => resolve::run(a).await,
            Command::Download(a) => download::run(a).await,
            Command::Openapi(a) => openapi::run(a).await,
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
