//! `aniworld download`.

use clap::Args;

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct DownloadArgs {}

pub async fn run(_args: DownloadArgs) -> CliResult {
    Err(CliError::new("`aniworld download` is not available yet"))
}
