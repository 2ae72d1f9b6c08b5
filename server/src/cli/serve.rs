//! `aniworld serve`.

use clap::Args;

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct ServeArgs {}

pub async fn run(_args: ServeArgs) -> CliResult {
    Err(CliError::new("`aniworld serve` is not available yet"))
}
