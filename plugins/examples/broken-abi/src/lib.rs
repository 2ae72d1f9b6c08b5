//! Claims an ABI version the host does not speak. Its call function must never be reached.

use std::ffi::c_char;

#[unsafe(no_mangle)]
pub extern "C" fn aniworld_plugin_abi_version() -> u32 {
    aniworld_plugin_sdk::ABI_VERSION + 100
}

/// Aborts the process if the host ever calls it: proves the handshake comes first.
///
/// # Safety
/// Never called by a correct host.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aniworld_plugin_call(_request: *const c_char) -> *mut c_char {
    std::process::abort()
}

/// # Safety
/// Never called by a correct host.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aniworld_plugin_free(_s: *mut c_char) {
    std::process::abort()
}
