//! `/api/config`: read, change (validated, atomic, backed up), validate, backups, restore.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::config_types::{ConfigDoc, OverriddenKey, OverrideSource};
use super::{ApiTags, BearerAuth};
use crate::app::AppState;
use crate::config_file;
use crate::error::{ApiError, ApiResult, Errors, can};
use aniworld_core::config::{Config, ConnectionConfig, json_pointer};
use aniworld_core::connections::redacted_url;

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

/// Header names whose values are credentials (shown as `***`).
const SECRET_HEADERS: [&str; 3] = ["cookie", "authorization", "proxy-authorization"];

/// JSON pointers of every URL that may carry a password in `value`.
fn url_pointers(value: &serde_json::Value) -> Vec<String> {
    let mut pointers = vec![
        "/database/url".to_owned(),
        "/database/redis_url".to_owned(),
        "/network/proxy".to_owned(),
    ];
    if let Some(providers) = value.get("providers").and_then(|p| p.as_object()) {
        for id in providers.keys() {
            pointers.push(format!("/providers/{}/proxy", pointer_escape(id)));
        }
    }
    pointers
}

/// JSON pointers of every secret header value in `value`.
fn secret_header_pointers(value: &serde_json::Value) -> Vec<String> {
    let mut pointers = Vec::new();
    if let Some(providers) = value.get("providers").and_then(|p| p.as_object()) {
        for (id, section) in providers {
            if let Some(headers) = section.get("headers").and_then(|h| h.as_object()) {
                for name in headers.keys() {
                    if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                        pointers.push(format!(
                            "/providers/{}/headers/{}",
                            pointer_escape(id),
                            pointer_escape(name)
                        ));
                    }
                }
            }
        }
    }
    pointers
}

fn pointer_escape(part: &str) -> String {
    part.replace('~', "~0").replace('/', "~1")
}

fn to_doc(config: &Config) -> ApiResult<ConfigDoc> {
    let mut value = serde_json::to_value(config)
        .map_err(|e| ApiError::internal(format!("config does not serialise: {e}")))?;
    for pointer in url_pointers(&value) {
        if let Some(v) = value.pointer_mut(&pointer)
            && let Some(s) = v.as_str()
        {
            *v = serde_json::Value::String(redact_url(s));
        }
    }
    for pointer in secret_header_pointers(&value) {
        if let Some(v) = value.pointer_mut(&pointer)
            && v.as_str().is_some_and(|s| !s.is_empty())
        {
            *v = serde_json::Value::String(REDACTED.to_owned());
        }
    }
    if let Some(list) = value
        .get_mut("connections")
        .and_then(serde_json::Value::as_array_mut)
    {
        for c in list {
            let kind = c["kind"].as_str().unwrap_or_default().to_owned();
            if let Some(url) = c.get_mut("url")
                && let Some(s) = url.as_str()
            {
                *url = serde_json::Value::String(redacted_url(&kind, s));
            }
            if let Some(token) = c.get_mut("token")
                && token.is_string()
            {
                *token = serde_json::Value::String(REDACTED.to_owned());
            }
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

/// The config in effect as the API shows it, with the keys the environment or the command line
/// set.
fn effective_doc(state: &AppState) -> ApiResult<ConfigDoc> {
    let mut doc = to_doc(&state.config())?;
    doc.overridden = Some(
        state
            .runtime()
            .overridden_keys()
            .into_iter()
            .map(|k| OverriddenKey {
                key: k.key,
                source: match k.source {
                    crate::runtime::OverrideSource::Env => OverrideSource::Env,
                    crate::runtime::OverrideSource::Cli => OverrideSource::Cli,
                },
                by: k.by,
            })
            .collect(),
    );
    Ok(doc)
}

/// The JSON pointer of a dotted key (`providers.sto` → `/providers/sto`).
fn pointer_of(dotted: &str) -> String {
    dotted
        .split('.')
        .map(|p| format!("/{}", pointer_escape(p)))
        .collect()
}

/// Takes the keys the environment or the command line set out of `patch`: sent back as `GET`
/// showed them they are dropped (so they never reach `config.json`); with another value the
/// request is refused with an error naming the key and what sets it.
fn drop_overridden(state: &AppState, patch: &mut serde_json::Value) -> ApiResult<()> {
    let overridden = state.runtime().overridden_keys();
    if overridden.is_empty() {
        return Ok(());
    }
    let effective = serde_json::to_value(to_doc(&state.config())?)
        .map_err(|e| ApiError::internal(format!("config does not serialise: {e}")))?;
    for k in overridden {
        let pointer = pointer_of(&k.key);
        let Some(sent) = patch.pointer(&pointer) else {
            continue;
        };
        if effective.pointer(&pointer) != Some(sent) {
            let what = match k.source {
                crate::runtime::OverrideSource::Env => "the environment variable",
                crate::runtime::OverrideSource::Cli => "the command-line flag",
            };
            return Err(ApiError::invalid(
                &k.key,
                format!(
                    "{} is set by {what} {} for this run, so it cannot be changed here: \
                     change or remove {} instead",
                    k.key, k.by, k.by
                ),
            ));
        }
        if let Some((parent, last)) = pointer.rsplit_once('/')
            && let Some(obj) = patch.pointer_mut(parent).and_then(|p| p.as_object_mut())
        {
            obj.remove(&last.replace("~1", "/").replace("~0", "~"));
        }
    }
    Ok(())
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

/// The file's document with `patch` merged in, parsed and validated. Keys the environment or the
/// command line set are taken out ([`drop_overridden`]), and file-only keys are left out of the
/// merge ([`check_file_only_keys`] has made sure they are unchanged), so overrides and redacted
/// passwords never reach the file. Redacted secrets sent back unchanged keep the stored value. A
/// `providers.<id>.headers` map that is sent replaces the stored one (so a header can be removed).
fn merged_config(state: &AppState, mut patch: ConfigDoc) -> ApiResult<Config> {
    patch.read_only = None;
    patch.overridden = None;
    let mut patch = serde_json::to_value(patch).expect("config document serialises");
    drop_overridden(state, &mut patch)?;
    for key in Config::file_only_keys() {
        if let Some((section, field)) = key.split_once('.')
            && let Some(obj) = patch.get_mut(section).and_then(|v| v.as_object_mut())
        {
            obj.remove(field);
        }
    }
    let mut base = config_file::read_document(state.data_dir())?;
    for pointer in url_pointers(&patch) {
        let stored = base
            .pointer(&pointer)
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        if let (Some(stored), Some(sent)) = (stored, patch.pointer_mut(&pointer))
            && sent.as_str() == Some(redact_url(&stored).as_str())
            && redact_url(&stored) != stored
        {
            *sent = serde_json::Value::String(stored);
        }
    }
    for pointer in secret_header_pointers(&patch) {
        let stored = base
            .pointer(&pointer)
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        if let (Some(stored), Some(sent)) = (stored, patch.pointer_mut(&pointer))
            && sent.as_str() == Some(REDACTED)
        {
            *sent = serde_json::Value::String(stored);
        }
    }
    if let Some(providers) = patch.get("providers").and_then(|p| p.as_object()) {
        for (id, section) in providers {
            if section.get("headers").is_some()
                && let Some(stored) = base
                    .pointer_mut(&format!("/providers/{}", pointer_escape(id)))
                    .and_then(|s| s.as_object_mut())
            {
                stored.remove("headers");
            }
        }
    }
    let mut stored: Vec<ConnectionConfig> = base
        .get("connections")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    stored.extend(state.config().connections.iter().cloned());
    if let Some(sent) = patch
        .get_mut("connections")
        .and_then(serde_json::Value::as_array_mut)
    {
        keep_connection_secrets(sent, &stored);
    }
    merge(&mut base, patch);
    Ok(config_file::from_value(base)?)
}

/// Puts the stored secret back where a connection sent the redacted form `GET` showed. The stored
/// entry is the one with the same name, else (a rename) the one at the same place whose name is
/// no longer used and whose kind and URL are unchanged, so a secret never moves to another receiver.
fn keep_connection_secrets(sent: &mut [serde_json::Value], stored: &[ConnectionConfig]) {
    let sent_names: Vec<String> = sent
        .iter()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    for (i, c) in sent.iter_mut().enumerate() {
        let name = c["name"].as_str().unwrap_or_default().to_owned();
        let kind = c["kind"].as_str().unwrap_or_default().to_owned();
        let url = c["url"].as_str().unwrap_or_default().to_owned();
        let renamed = |s: &&ConnectionConfig| {
            !sent_names.contains(&s.name)
                && s.kind == kind
                && (s.url == url || redacted_url(&s.kind, &s.url) == url)
        };
        let Some(old) = stored
            .iter()
            .find(|s| s.name == name)
            .or_else(|| stored.get(i).filter(renamed))
        else {
            continue;
        };
        if c["token"].as_str() == Some(REDACTED)
            && let Some(token) = &old.token
        {
            c["token"] = serde_json::Value::String(token.clone());
        }
        let shown = redacted_url(&old.kind, &old.url);
        if shown != old.url && c["url"].as_str() == Some(shown.as_str()) {
            c["url"] = serde_json::Value::String(old.url.clone());
        }
    }
}

fn validation_of(result: ApiResult<Config>) -> ConfigValidation {
    match result {
        Ok(_) => ConfigValidation {
            valid: true,
            field: None,
            message: None,
        },
        Err(e) => {
            let body = e.body();
            ConfigValidation {
                valid: false,
                field: body
                    .details
                    .as_ref()
                    .and_then(|d| d.get("field"))
                    .and_then(|f| f.as_str())
                    .map(str::to_owned),
                message: Some(body.message.clone()),
            }
        }
    }
}

pub struct ConfigApi;

#[OpenApi(prefix_path = "/api/config", tag = "ApiTags::Config")]
impl ConfigApi {
    /// The config in effect (environment and command-line overrides applied, passwords in URLs
    /// redacted); `overridden` lists the keys those set.
    #[oai(path = "/", method = "get", operation_id = "config_get")]
    async fn get(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<ConfigDoc>, Errors<{ can::INTERNAL }>> {
        Ok(Json(effective_doc(&state)?))
    }

    /// Changes the config: the body (full or partial) is merged into `config.json`, validated
    /// (422 naming the bad key), the old file backed up, the new one written atomically.
    /// Keys set by the environment or the command line (`overridden` in `GET`) are never
    /// written: sent back unchanged they are ignored, changed they are refused (422).
    /// Bind address, database and plugin folders take effect on the next start.
    #[oai(path = "/", method = "put", operation_id = "config_put")]
    async fn put(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
        body: Json<ConfigDoc>,
    ) -> ApiResult<Json<ConfigSaved>, Errors<{ can::UNPROCESSABLE | can::INTERNAL }>> {
        let _guard = state.config_write_lock().await;
        check_file_only_keys(&state, &patch_value(&body.0))?;
        let config = merged_config(&state, body.0)?;
        let backup = config_file::save(&config, state.data_dir())?;
        state.reload_config().await?;
        crate::shared_config::publish(&state).await?;
        Ok(Json(ConfigSaved {
            config: effective_doc(&state)?,
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
    ) -> ApiResult<Json<ConfigValidation>, Errors<{ can::INTERNAL }>> {
        let result = check_file_only_keys(&state, &patch_value(&body.0))
            .and_then(|()| merged_config(&state, body.0));
        Ok(Json(validation_of(result)))
    }

    /// Config backups, newest first.
    #[oai(path = "/backups", method = "get", operation_id = "config_backups")]
    async fn backups(
        &self,
        _auth: BearerAuth,
        state: Data<&AppState>,
    ) -> ApiResult<Json<Vec<ConfigBackup>>, Errors<{ can::INTERNAL }>> {
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
    ) -> ApiResult<Json<ConfigSaved>, Errors<{ can::NOT_FOUND | can::UNPROCESSABLE | can::INTERNAL }>>
    {
        let _guard = state.config_write_lock().await;
        let backup = config_file::read_backup(state.data_dir(), &name.0)?;
        let current = config_file::from_value(config_file::read_document(state.data_dir())?)?;
        if let Some(key) = current.file_only_change(&backup) {
            return Err(read_only_error(&key).into());
        }
        let before = config_file::list_backups(state.data_dir())?;
        config_file::restore_backup(state.data_dir(), &name.0)?;
        let after = config_file::list_backups(state.data_dir())?;
        state.reload_config().await?;
        crate::shared_config::publish(&state).await?;
        let backup = after.into_iter().find(|n| !before.contains(n));
        Ok(Json(ConfigSaved {
            config: effective_doc(&state)?,
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
    fn proxy_passwords_and_cookies_are_hidden() {
        let mut config = Config::default();
        config.network.proxy = "socks5://u:pw@127.0.0.1:1080".into();
        let sto = config.providers.get_mut("sto").unwrap();
        sto.proxy = "http://u:pw2@127.0.0.1:3128".into();
        sto.headers
            .insert("Cookie".into(), "cf_clearance=abc".into());
        sto.headers.insert("User-Agent".into(), "Browser/1".into());
        let doc = serde_json::to_value(to_doc(&config).unwrap()).unwrap();
        let text = doc.to_string();
        assert!(
            !text.contains("pw") && !text.contains("cf_clearance"),
            "{text}"
        );
        assert_eq!(doc["providers"]["sto"]["headers"]["Cookie"], "***");
        assert_eq!(
            doc["providers"]["sto"]["headers"]["User-Agent"],
            "Browser/1"
        );
    }

    #[test]
    fn redacted_connection_secrets_sent_back_keep_the_stored_ones() {
        let stored = vec![ConnectionConfig {
            name: "jf".into(),
            kind: "jellyfin".into(),
            url: "http://u:pw@h:8096".into(),
            token: Some("api-key".into()),
            events: None,
        }];
        let config = Config {
            connections: stored.clone(),
            ..Config::default()
        };
        let doc = serde_json::to_value(to_doc(&config).unwrap()).unwrap();
        let shown = doc["connections"].clone();
        assert_eq!(shown[0]["token"], "***");
        assert_eq!(shown[0]["url"], "http://u:***@h:8096/");
        // Renamed in the same place: still the same connection.
        let mut sent = shown.as_array().unwrap().clone();
        sent[0]["name"] = "jellyfin".into();
        keep_connection_secrets(&mut sent, &stored);
        assert_eq!(sent[0]["token"], "api-key");
        assert_eq!(sent[0]["url"], "http://u:pw@h:8096");
        // Another connection in its place never gets its secrets.
        let mut sent = shown.as_array().unwrap().clone();
        sent[0]["name"] = "other".into();
        sent[0]["kind"] = "emby".into();
        keep_connection_secrets(&mut sent, &stored);
        assert_eq!(sent[0]["token"], "***");
        // A new token replaces the stored one.
        let mut sent = shown.as_array().unwrap().clone();
        sent[0]["token"] = "new-key".into();
        keep_connection_secrets(&mut sent, &stored);
        assert_eq!(sent[0]["token"], "new-key");
    }

    #[test]
    fn api_schema_covers_every_config_key() {
        // A key the core adds but this schema lacks would silently vanish from GET.
        let core = serde_json::to_value(Config::default()).unwrap();
        let doc = patch_value(&to_doc(&Config::default()).unwrap());
        assert_eq!(core, doc);
    }
}
