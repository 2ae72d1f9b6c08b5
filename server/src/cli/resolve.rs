//! `aniworld resolve`.

use clap::Args;

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct ResolveArgs {}

pub async fn run(_args: ResolveArgs) -> CliResult {
    Err(CliError::new("`aniworld resolve` is not available yet"))
}
