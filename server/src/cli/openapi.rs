//! `aniworld openapi`.

use clap::Args;

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct OpenapiArgs {}

pub async fn run(_args: OpenapiArgs) -> CliResult {
    Err(CliError::new("`aniworld openapi` is not available yet"))
}
