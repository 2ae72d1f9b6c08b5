//! `aniworld search`.

use clap::Args;

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct SearchArgs {}

pub async fn run(_args: SearchArgs) -> CliResult {
    Err(CliError::new("`aniworld search` is not available yet"))
}
