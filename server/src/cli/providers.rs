//! What the commands that ask providers or hosters share: the data dir's [`Runtime`], with a
//! warning on stderr for every plugin or script that could not be used.

use aniworld_core::registry::ComponentStatus;

use super::CliError;
use crate::runtime::{Runtime, RuntimeOptions};

/// Opens the runtime; plugins and scripts that fail to load are warnings, not errors.
pub async fn open(options: RuntimeOptions) -> Result<Runtime, CliError> {
    let data_dir = options.data_dir.clone();
    let runtime = Runtime::open(options).await.map_err(|e| {
        CliError::new(format!(
            "cannot open the data dir {}: {e}",
            data_dir.display()
        ))
    })?;
    for c in runtime.registry.components() {
        if matches!(c.status, ComponentStatus::Disabled | ComponentStatus::Error) {
            let why = c.problem.map(|p| p.message).unwrap_or_default();
            let path = c.path.unwrap_or_default();
            eprintln!(
                "warning: {:?} {} ({path}) not loaded: {why}",
                c.source, c.id
            );
        }
    }
    Ok(runtime)
}
