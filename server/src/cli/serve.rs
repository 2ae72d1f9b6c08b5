//! `aniworld serve`.

use std::path::PathBuf;

use clap::Args;

use super::{CliError, CliResult, DataDirArg};
use crate::app::{App, AppOptions};

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// Library folder (overrides `library.path` for this run).
    #[arg(long)]
    pub library: Option<PathBuf>,
    /// Address to listen on (overrides `server.bind`, default 127.0.0.1:8000).
    #[arg(long)]
    pub bind: Option<String>,
}

/// Resolves on the first Ctrl-C (`interrupt`) or SIGTERM.
async fn shutdown_signal(interrupt: impl std::future::Future<Output = ()>) {
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
    eprintln!("aniworld: shutting down");
}

/// Serves until the first Ctrl-C (`interrupt`) or SIGTERM, then shuts down gracefully.
pub async fn run(
    args: ServeArgs,
    interrupt: impl std::future::Future<Output = ()> + Send + 'static,
) -> CliResult {
    let app = App::build(AppOptions {
        data_dir: args.data.data_dir,
        library: args.library,
        bind: args.bind,
    })
    .await?;
    let bind = app.state.config().server.bind.clone();
    app.serve(&bind, shutdown_signal(interrupt))
        .await
        .map_err(|e| CliError::new(format!("cannot serve on {bind}: {e}")))
}
