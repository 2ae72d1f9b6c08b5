//! `/api/config`: read, change (validated, atomic, backed up), validate, backups, restore.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::config_types::ConfigDoc;
use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::config_file;
use crate::error::{ApiError, ApiResult};
use aniworld_core::config::{Config, json_pointer};

const REDACTED: &str = "***";

#[derive(Debug, Object)]
pub struct ConfigSaved {
    /// The config now in effect (secrets redacted).
    pub config: ConfigDoc,
    /// Name of the backup of the previous file, if there was one.
    pub backup: Option<String>,
}

#[derive(Debug, Object)]
pub struct ConfigValidation {
    pub valid: bool,
    /// The first bad key (`download.max_parallel`), when invalid.
    pub field: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Object)]
pub struct ConfigBackup {
    /// File name in `DATA_DIR/config_backups/`; pass it to the restore endpoint.
    pub name: String,
    pub size: u64,
    /// Unix seconds.
    pub modified: Option<i64>,
}

/// A URL with its password replaced by `***`.
fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some(REDACTED));
            u.to_string()
        }
        _ => raw.to_owned(),
    }
}

fn to_doc(config: &Config) -> ApiResult<ConfigDoc> {
    let mut value = serde_json::to_value(config)
        .map_err(|e| ApiError::internal(format!("config does not serialise: {e}")))?;
    for key in ["url", "redis_url"] {
        if let Some(v) = value.pointer_mut(&format!("/database/{key}"))
            && let Some(s) = v.as_str()
        {
            *v = serde_json::Value::String(redact_url(s));
        }
    }
    let mut doc: ConfigDoc = serde_json::from_value(value)
        .map_err(|e| ApiError::internal(format!("config does not fit its API schema: {e}")))?;
    doc.read_only = Some(Config::file_only_keys());
    Ok(doc)
}

/// The error for a change to a key that loads code or exposes the server.
fn read_only_error(key: &str) -> ApiError {
    ApiError::read_only(
        key,
        format!(
            "{key} cannot be changed through the API (it loads code or exposes the server); \
             set it in config.json or with the environment variable {}",
            aniworld_core::config::env_var_for(key)
        ),
    )
}

/// Refuses a patch that changes a file-only key. A value equal to the file's or to the one in
/// effect (environment or command-line override, shown by GET) is no change: a client may send
/// back the whole document it read.
fn check_file_only_keys(state: &AppState, patch: &serde_json::Value) -> ApiResult<()> {
    let file = config_file::read_document(state.data_dir())?;
    let effective = serde_json::to_value(to_doc(&state.config())?)
        .map_err(|e| ApiError::internal(format!("config document does not serialise: {e}")))?;
    for key in Config::file_only_keys() {
        let Some(sent) = json_pointer(patch, &key) else {
            continue;
        };
        let same_as = |doc: &serde_json::Value| {
            json_pointer(doc, &key).is_some_and(|v| {
                v == sent
                    || v.as_str()
                        .is_some_and(|s| sent.as_str() == Some(&redact_url(s)))
            })
        };
        if !(same_as(&file) || same_as(&effective)) {
            return Err(read_only_error(&key));
        }
    }
    Ok(())
}

/// A request document as JSON, without the answer-only `read_only` list.
fn patch_value(doc: &ConfigDoc) -> serde_json::Value {
    let mut value = serde_json::to_value(doc).expect("config document serialises");
    if let Some(obj) = value.as_object_mut() {
        obj.remove("read_only");
    }
    value
}

/// Recursive merge: objects key by key, anything else replaced.
fn merge(target: &mut serde_json::Value, patch: serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        t.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The file's document with `patch` merged in, parsed and validated. File-only keys are left
/// out of the merge: [`check_file_only_keys`] has made sure they are unchanged, and dropping them
/// keeps command-line and environment overrides (and redacted passwords) out of the file.
fn merged_config(state: &AppState, mut patch: ConfigDoc) -> Result<Config, aniworld_core::Error> {
    patch.read_only = None;
    let mut patch = serde_json::to_value(patch).expect("config document serialises");
    for key in Config::file_only_keys() {
        if let Some((section, field)) = key.split_once('.')
            && let Some(obj) = patch.get_mut(section).and_then(|v| v.as_object_mut())
        {
            obj.remove(field);
        }
    }
    let mut base = config_file::read_document(state.data_dir())?;
    merge(&mut base, patch);
    config_file::from_value(base)
}

fn validation_of(result: Result<Config, aniworld_core::Error>) -> ConfigValidation {
    match result {
        Ok(_) => ConfigValidation {
            valid: true,
            field: None,
            message: None,
        },
        Err(aniworld_core::Error::Invalid { field, message }) => ConfigValidation {
            valid: false,
            field: Some(field),
            message: Some(message),
        },
        Err(e) => ConfigValidation {
            valid: false,
            field: None,
            message: Some(e.to_string()),
        },
    }
}

pub struct ConfigApi;

#[OpenApi(prefix_path = "/api/config", tag = "ApiTags::Config")]
impl ConfigApi {
    /// The config in effect (environment overrides applied, passwords in URLs redacted).
    #[oai(path = "/", method = "get", operation_id = "config_get")]
    async fn get(&self, _auth: BearerAuth, state: Data<&AppState>) -> ApiResult<Json<ConfigDoc>> {
        Ok(Json(to_doc(&state.config())?))
    }

    /// Changes the config: the body (full or partial) is merged into `config.json`, validated
    /// (422 naming the bad key), the old file backed up, the new one written atomically.
    /// Bind address, database and plugin folders take effect on the next start.
    #[oai(path = "/", method = "put", operation_id = "config_put")]
    async fn put(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<ConfigDoc>,
    ) -> ApiResult<Json<ConfigSaved>> {
        let _guard = state.config_write_lock().await;
        check_file_only_keys(&state, &patch_value(&body.0))?;
        let config = merged_config(&state, body.0)?;
        let backup = config_file::save(&config, state.data_dir())?;
        state.reload_config().await?;
        Ok(Json(ConfigSaved {
            config: to_doc(&state.config())?,
            backup,
        }))
    }

    /// Checks a (full or partial) config document without applying it.
    #[oai(path = "/validate", method = "post", operation_id = "config_validate")]
    async fn validate(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<ConfigDoc>,
    ) -> ApiResult<Json<ConfigValidation>> {
        if let Err(e) = check_file_only_keys(&state, &patch_value(&body.0)) {
            let b = e.body();
            return Ok(Json(ConfigValidation {
                valid: false,
                field: b
                    .details
                    .as_ref()
                    .and_then(|d| d.get("field"))
                    .and_then(|f| f.as_str())
                    .map(str::to_owned),
                message: Some(b.message.clone()),
            }));
        }
        Ok(Json(validation_of(merged_config(&state, body.0))))
    }

    /// Config backups, newest first.
    #[oai(path = "/backups", method = "get", operation_id = "config_backups")]
    async fn backups(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<Vec<ConfigBackup>>> {
        let dir = config_file::backup_dir(state.data_dir());
        let names = config_file::list_backups(state.data_dir())?;
        Ok(Json(
            names
                .into_iter()
                .map(|name| {
                    let meta = std::fs::metadata(dir.join(&name)).ok();
                    ConfigBackup {
                        size: meta.as_ref().map_or(0, |m| m.len()),
                        modified: meta
                            .and_then(|m| m.modified().ok())
                            .map(|t| chrono::DateTime::<chrono::Utc>::from(t).timestamp()),
                        name,
                    }
                })
                .collect(),
        ))
    }

    /// Makes a backup the current config (the current file is backed up first).
    #[oai(
        path = "/backups/:name/restore",
        method = "post",
        operation_id = "config_restore"
    )]
    async fn restore(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        name: Path<String>,
    ) -> ApiResult<Json<ConfigSaved>> {
        let _guard = state.config_write_lock().await;
        let backup = config_file::read_backup(state.data_dir(), &name.0)?;
        let current = config_file::from_value(config_file::read_document(state.data_dir())?)?;
        if let Some(key) = current.file_only_change(&backup) {
            return Err(read_only_error(&key));
        }
        let before = config_file::list_backups(state.data_dir())?;
        config_file::restore_backup(state.data_dir(), &name.0)?;
        let after = config_file::list_backups(state.data_dir())?;
        state.reload_config().await?;
        let backup = after.into_iter().find(|n| !before.contains(n));
        Ok(Json(ConfigSaved {
            config: to_doc(&state.config())?,
            backup,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@db/x"),
            "postgres://u:***@db/x"
        );
        assert_eq!(redact_url(""), "");
    }

    #[test]
    fn api_schema_covers_every_config_key() {
        // A key the core adds but this schema lacks would silently vanish from GET.
        let core = serde_json::to_value(Config::default()).unwrap();
        let doc = patch_value(&to_doc(&Config::default()).unwrap());
        assert_eq!(core, doc);
    }
}
