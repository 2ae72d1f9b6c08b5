//! Passes the handshake and metadata, then answers every other call with text that is not JSON.

use std::ffi::{CStr, CString, c_char};

use aniworld_plugin_sdk::{ABI_VERSION, PluginKind, PluginMetadata, Response};

#[unsafe(no_mangle)]
pub extern "C" fn aniworld_plugin_abi_version() -> u32 {
    ABI_VERSION
}

/// # Safety
/// `request` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aniworld_plugin_call(request: *const c_char) -> *mut c_char {
    let reply = std::panic::catch_unwind(|| {
        // SAFETY: the host passes a valid NUL-terminated string.
        let req = unsafe { CStr::from_ptr(request) }.to_string_lossy();
        if req.contains("\"metadata\"") {
            let meta = PluginMetadata {
                id: "broken-json".into(),
                name: "Broken JSON".into(),
                version: "0.0.1".into(),
                abi_version: ABI_VERSION,
                kinds: vec![PluginKind::Provider],
                hoster_name: None,
                hoster_domains: vec![],
                description: None,
            };
            let value = serde_json::to_value(meta).unwrap_or_default();
            serde_json::to_string(&Response::Ok(value)).unwrap_or_default()
        } else if req.contains("\"init\"") {
            r#"{"ok":null}"#.to_owned()
        } else {
            "{this is not json".to_owned()
        }
    })
    .unwrap_or_default();
    CString::new(reply).map_or(std::ptr::null_mut(), CString::into_raw)
}

/// # Safety
/// `s` came from `aniworld_plugin_call`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aniworld_plugin_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: allocated by CString::into_raw above.
        drop(unsafe { CString::from_raw(s) });
    }
}
