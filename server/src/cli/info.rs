//! `aniworld info`.

use clap::Args;

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct InfoArgs {}

pub async fn run(_args: InfoArgs) -> CliResult {
    Err(CliError::new("`aniworld info` is not available yet"))
}
