//! One loaded shared library: the ABI handshake and the raw JSON call.

use std::ffi::{CStr, CString, c_char};
use std::path::Path;

use aniworld_plugin_sdk::{
    ABI_VERSION, PluginMetadata, Request, Response, SYMBOL_ABI_VERSION, SYMBOL_CALL, SYMBOL_FREE,
};

use crate::PluginFailure;

type AbiVersionFn = unsafe extern "C" fn() -> u32;
type CallFn = unsafe extern "C" fn(*const c_char) -> *mut c_char;
type FreeFn = unsafe extern "C" fn(*mut c_char);

/// A plugin library that passed the handshake. The library is leaked on purpose: unloading a
/// library that registered thread-locals crashes the process, so it stays mapped until exit.
#[derive(Clone, Copy)]
pub struct NativeLibrary {
    call: CallFn,
    free: FreeFn,
}

impl NativeLibrary {
    /// Loads the file and checks the ABI version before calling anything else.
    pub fn open(path: &Path) -> Result<NativeLibrary, PluginFailure> {
        // SAFETY: loading runs the library's initialisers; plugins.dir is trusted by configuration,
        // and this is the documented risk of native plugins.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| PluginFailure::Load(e.to_string()))?;
        let lib: &'static libloading::Library = Box::leak(Box::new(lib));
        // SAFETY: the symbol types are those of the SDK's exported functions.
        let abi: AbiVersionFn = unsafe { lib.get::<AbiVersionFn>(SYMBOL_ABI_VERSION) }
            .map(|s| *s)
            .map_err(|_| {
                PluginFailure::Load("missing symbol aniworld_plugin_abi_version".into())
            })?;
        // SAFETY: the handshake function takes nothing and returns a u32.
        let version = unsafe { abi() };
        if version != ABI_VERSION {
            return Err(PluginFailure::AbiMismatch {
                plugin: version,
                host: ABI_VERSION,
            });
        }
        // SAFETY: as above, types fixed by the SDK for this ABI version.
        let call: CallFn = unsafe { lib.get::<CallFn>(SYMBOL_CALL) }
            .map(|s| *s)
            .map_err(|_| PluginFailure::Load("missing symbol aniworld_plugin_call".into()))?;
        // SAFETY: as above.
        let free: FreeFn = unsafe { lib.get::<FreeFn>(SYMBOL_FREE) }
            .map(|s| *s)
            .map_err(|_| PluginFailure::Load("missing symbol aniworld_plugin_free".into()))?;
        Ok(NativeLibrary { call, free })
    }

    /// One blocking call: request JSON in, decoded response out.
    pub fn call(&self, request: &Request) -> Result<Response, PluginFailure> {
        let json = serde_json::to_string(request)
            .map_err(|e| PluginFailure::InvalidJson(format!("request: {e}")))?;
        let raw = self.call_raw(&json)?;
        serde_json::from_str::<Response>(&raw).map_err(|e| {
            let shown: String = raw.chars().take(120).collect();
            PluginFailure::InvalidJson(format!("{e} (reply started with {shown:?})"))
        })
    }

    /// The reply text, exactly as the plugin gave it.
    pub fn call_raw(&self, json: &str) -> Result<String, PluginFailure> {
        let request = CString::new(json)
            .map_err(|_| PluginFailure::InvalidJson("request contains NUL".into()))?;
        // SAFETY: `request` is a valid NUL-terminated string that outlives the call.
        let out = unsafe { (self.call)(request.as_ptr()) };
        if out.is_null() {
            return Err(PluginFailure::InvalidJson(
                "plugin returned a null reply".into(),
            ));
        }
        // SAFETY: a non-null reply is a NUL-terminated string owned by the plugin until freed.
        let text = unsafe { CStr::from_ptr(out) }
            .to_str()
            .map(str::to_owned)
            .map_err(|_| PluginFailure::InvalidJson("reply is not UTF-8".into()));
        // SAFETY: the reply came from this plugin's call function and is freed exactly once.
        unsafe { (self.free)(out) };
        text
    }

    /// The `metadata` call, validated.
    pub fn metadata(&self) -> Result<PluginMetadata, PluginFailure> {
        match self.call(&Request::Metadata)? {
            Response::Ok(v) => {
                let meta: PluginMetadata = serde_json::from_value(v)
                    .map_err(|e| PluginFailure::InvalidJson(format!("metadata: {e}")))?;
                validate_metadata(&meta)?;
                Ok(meta)
            }
            Response::Error(e) => Err(PluginFailure::Metadata(e.message)),
        }
    }
}

fn validate_metadata(meta: &PluginMetadata) -> Result<(), PluginFailure> {
    let id_ok = !meta.id.is_empty()
        && meta.id.len() <= 64
        && meta
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return Err(PluginFailure::Metadata(format!(
            "id {:?} is not [a-z0-9-]{{1,64}}",
            meta.id.chars().take(70).collect::<String>()
        )));
    }
    if meta.abi_version != ABI_VERSION {
        return Err(PluginFailure::AbiMismatch {
            plugin: meta.abi_version,
            host: ABI_VERSION,
        });
    }
    if meta.kinds.is_empty() {
        return Err(PluginFailure::Metadata(
            "kinds is empty (provider and/or hoster)".into(),
        ));
    }
    if meta.name.trim().is_empty() || meta.version.trim().is_empty() {
        return Err(PluginFailure::Metadata(
            "name and version are required".into(),
        ));
    }
    Ok(())
}
