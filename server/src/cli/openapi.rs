//! `aniworld openapi`: prints the OpenAPI document (what `openapi/openapi.json` holds).

use clap::Args;

use super::CliResult;

#[derive(Debug, Args)]
pub struct OpenapiArgs {}

pub async fn run(_args: OpenapiArgs) -> CliResult {
    println!("{}", crate::api::spec_json());
    Ok(())
}
