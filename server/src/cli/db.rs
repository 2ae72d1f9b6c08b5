//! `aniworld db migrate --to postgres://... [--data-dir D]`: copies the data dir's SQLite
//! database into an empty PostgreSQL database (every table, ids kept, sequences set past them),
//! then says what to set so the server uses it.

use std::path::PathBuf;

use aniworld_core::storage::{Store, is_postgres_url, migrate};
use clap::{Args, Subcommand};

use super::{CliError, CliResult, DataDirArg};
use crate::runtime::{Overrides, load_config};

#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub command: DbCommand,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy the data dir's SQLite database into an empty PostgreSQL database.
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The PostgreSQL database to fill (`postgres://USER@HOST:PORT/DB`); it must be empty.
    #[arg(long)]
    pub to: String,
    #[command(flatten)]
    pub data: DataDirArg,
}

pub async fn run(args: DbArgs) -> CliResult {
    match args.command {
        DbCommand::Migrate(a) => migrate_to_postgres(a).await,
    }
}

async fn migrate_to_postgres(args: MigrateArgs) -> CliResult {
    let to = args.to.trim();
    if !is_postgres_url(to) {
        return Err(CliError::usage(format!(
            "--to must be a postgres:// URL, not {to:?}"
        )));
    }
    let data_dir = args.data.data_dir;
    let source = sqlite_file(&data_dir)?;
    let store = Store::open_sqlite(&source).await?;
    let report = migrate::sqlite_to_postgres(&store, to).await?;
    store.close().await;
    // The signing secret (a file next to a SQLite database) goes along, so logins stay valid.
    let secret_file = data_dir.join("jwt_secret");
    if secret_file.is_file() {
        let secret = crate::auth::load_or_create_secret(&data_dir)?;
        let secret = String::from_utf8(secret)
            .map_err(|_| CliError::new(format!("{} is not text", secret_file.display())))?;
        let target = Store::open_postgres(to).await?;
        target
            .settings()
            .set_if_absent(crate::auth::SECRET_SETTING, &secret)
            .await?;
        target.close().await;
    }
    println!(
        "copied {} rows in {} tables from {} into {}",
        report.rows(),
        report.tables.len(),
        source.display(),
        aniworld_core::storage::url_host(to)
    );
    for (table, rows) in &report.tables {
        println!("  {table}: {rows}");
    }
    println!();
    println!(
        "To use it, set in {}:",
        data_dir.join("config.json").display()
    );
    println!("  \"database\": {{ \"url\": \"{to}\" }}");
    println!("or in the environment: ANIWORLD_DATABASE__URL={to}");
    Ok(())
}

/// The SQLite file the data dir's config names (by default `DATA_DIR/aniworld.db`); it must exist.
fn sqlite_file(data_dir: &std::path::Path) -> Result<PathBuf, CliError> {
    if !data_dir.is_dir() {
        return Err(CliError::usage(format!(
            "no data dir at {}",
            data_dir.display()
        )));
    }
    let config = load_config(data_dir, &Overrides::default(), false)?;
    let url = config.database.url.trim();
    let path = if url.is_empty() {
        data_dir.join("aniworld.db")
    } else if let Some(path) = url.strip_prefix("sqlite:") {
        PathBuf::from(path.strip_prefix("//").unwrap_or(path))
    } else {
        return Err(CliError::usage(format!(
            "the data dir's database.url already names {}; there is no SQLite database to copy",
            aniworld_core::storage::url_host(url)
        )));
    };
    if !path.is_file() {
        return Err(CliError::usage(format!(
            "no SQLite database at {}",
            path.display()
        )));
    }
    Ok(path)
}
