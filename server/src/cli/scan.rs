//! `aniworld scan`.

use clap::Args;

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct ScanArgs {}

pub async fn run(_args: ScanArgs) -> CliResult {
    Err(CliError::new("`aniworld scan` is not available yet"))
}
