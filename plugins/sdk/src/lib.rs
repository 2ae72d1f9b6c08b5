//! What a native provider/hoster plugin for Aniworld Server depends on.
//!
//! A plugin is a `cdylib` that implements [`Plugin`] and calls [`export_plugin!`]. The macro
//! exports three C symbols:
//!
//! - `aniworld_plugin_abi_version() -> u32`: the handshake; the host refuses a library whose
//!   version differs from its own [`ABI_VERSION`] before calling anything else.
//! - `aniworld_plugin_call(request: *const c_char) -> *mut c_char`: one JSON [`Request`] in
//!   (NUL-terminated UTF-8), one JSON [`Response`] out.
//! - `aniworld_plugin_free(*mut c_char)`: frees a string returned by `aniworld_plugin_call`
//!   (memory is freed by whoever allocated it).
//!
//! Every exported body runs inside `catch_unwind`: a panic becomes an error reply, never an abort.
//! The plain-data types below mirror the JSON shapes of the server's own model, so the SDK does not
//! depend on the server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the C ABI and call protocol. Bumped on any incompatible change.
pub const ABI_VERSION: u32 = 1;

/// Names of the exported symbols (NUL-terminated, as the loader looks them up).
pub const SYMBOL_ABI_VERSION: &[u8] = b"aniworld_plugin_abi_version\0";
pub const SYMBOL_CALL: &[u8] = b"aniworld_plugin_call\0";
pub const SYMBOL_FREE: &[u8] = b"aniworld_plugin_free\0";

/// What a plugin supplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Provider,
    Hoster,
}

/// Who the plugin is. Returned by the `metadata` call, checked before anything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginMetadata {
    /// Stable id: the provider id (`site` of its series). `[a-z0-9-]+`.
    pub id: String,
    pub name: String,
    /// The plugin's own version (`1.2.0`).
    pub version: String,
    /// The host ABI version this plugin was built against ([`ABI_VERSION`]).
    pub abi_version: u32,
    pub kinds: Vec<PluginKind>,
    /// For hosters: the hoster name as episode pages give it (`VOE`); defaults to `name`.
    #[serde(default)]
    pub hoster_name: Option<String>,
    /// For hosters: domains the hoster uses (`voe.sx`).
    #[serde(default)]
    pub hoster_domains: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// One call from the host. Serialised as `{"method": "...", "params": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", rename_all = "snake_case")]
pub enum Request {
    Metadata,
    /// Sent once after the handshake: `providers.<id>` from the server config (e.g. `base_url`)
    /// as JSON, or `null`.
    Init {
        settings: serde_json::Value,
    },
    Search {
        query: String,
    },
    Series {
        key: String,
    },
    Episode {
        key: String,
        season: u32,
        episode: u32,
    },
    ResolveRedirect {
        link: String,
    },
    KeyFromLink {
        link: String,
    },
    Extract {
        embed_url: String,
    },
}

/// Error kinds a plugin can report; the host maps them onto its own error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    Blocked,
    Parse,
    Invalid,
    Http,
    Timeout,
    Unsupported,
    /// The plugin itself failed (a panic, a bug).
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginError {
    pub kind: ErrorKind,
    pub message: String,
}

impl PluginError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parse, message)
    }
    pub fn http(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Http, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for PluginError {}

/// The reply to one call: `{"ok": <value>}` or `{"error": {"kind", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Ok(serde_json::Value),
    Error(PluginError),
}

/// A search hit (same JSON as the server's `SearchResult`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    pub key: String,
    pub site: String,
    pub name: String,
    pub year: Option<i32>,
    pub description: Option<String>,
    pub cover: Option<String>,
    pub link: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Episode {
    pub number: u32,
    pub title_de: Option<String>,
    pub title_en: Option<String>,
    /// `German Dub`, `German Sub`, `English Sub`, `English Dub`.
    pub languages: Vec<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Season {
    /// 0 = movies/specials.
    pub number: u32,
    pub episodes: Vec<Episode>,
}

/// Series details (same JSON as the server's `SeriesInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesInfo {
    pub key: String,
    pub site: String,
    pub name: String,
    pub year: Option<i32>,
    pub end_year: Option<i32>,
    pub description: Option<String>,
    pub cover: Option<String>,
    pub genres: Vec<String>,
    pub alternative_titles: Vec<String>,
    pub seasons: Vec<Season>,
    pub url: String,
}

/// One hoster entry of an episode page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamLink {
    /// `German Dub`, `German Sub`, `English Sub`, `English Dub`.
    pub language: String,
    pub hoster: String,
    pub url: String,
}

/// An episode page (same JSON as the server's `EpisodeStreams`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeStreams {
    pub key: String,
    pub season: u32,
    pub episode: u32,
    pub title_de: Option<String>,
    pub title_en: Option<String>,
    pub languages: Vec<String>,
    pub links: Vec<StreamLink>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Mp4,
    Hls,
}

/// What a hoster extractor returns (same JSON as the server's `MediaSource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaSource {
    pub url: String,
    pub kind: MediaKind,
    pub headers: BTreeMap<String, String>,
}

pub type PluginResult<T> = Result<T, PluginError>;

/// A plugin's implementation. Methods a plugin does not support keep their default
/// (an `unsupported` error). Calls may arrive from several host threads at once.
pub trait Plugin: Send + Sync + 'static {
    fn metadata(&self) -> PluginMetadata;

    /// Called once after loading with `providers.<id>` from the server config (or `null`).
    fn init(&self, _settings: &serde_json::Value) -> PluginResult<()> {
        Ok(())
    }

    fn search(&self, _query: &str) -> PluginResult<Vec<SearchResult>> {
        Err(PluginError::unsupported("search"))
    }

    fn series(&self, _key: &str) -> PluginResult<SeriesInfo> {
        Err(PluginError::unsupported("series"))
    }

    fn episode(&self, _key: &str, _season: u32, _episode: u32) -> PluginResult<EpisodeStreams> {
        Err(PluginError::unsupported("episode"))
    }

    /// Default: the link is already an embed URL.
    fn resolve_redirect(&self, link: &str) -> PluginResult<String> {
        Ok(link.to_owned())
    }

    /// `None` when the link does not belong to this provider.
    fn key_from_link(&self, _link: &str) -> PluginResult<Option<String>> {
        Ok(None)
    }

    fn extract(&self, _embed_url: &str) -> PluginResult<MediaSource> {
        Err(PluginError::unsupported("extract"))
    }
}

fn to_value<T: Serialize>(result: PluginResult<T>) -> Response {
    match result {
        Ok(v) => match serde_json::to_value(v) {
            Ok(v) => Response::Ok(v),
            Err(e) => Response::Error(PluginError::new(ErrorKind::Internal, e.to_string())),
        },
        Err(e) => Response::Error(e),
    }
}

/// Runs one decoded request against a plugin. Public for tests and for hosts that link plugins
/// statically.
pub fn dispatch(plugin: &dyn Plugin, request: Request) -> Response {
    match request {
        Request::Metadata => to_value(Ok(plugin.metadata())),
        Request::Init { settings } => to_value(plugin.init(&settings)),
        Request::Search { query } => to_value(plugin.search(&query)),
        Request::Series { key } => to_value(plugin.series(&key)),
        Request::Episode {
            key,
            season,
            episode,
        } => to_value(plugin.episode(&key, season, episode)),
        Request::ResolveRedirect { link } => to_value(plugin.resolve_redirect(&link)),
        Request::KeyFromLink { link } => to_value(plugin.key_from_link(&link)),
        Request::Extract { embed_url } => to_value(plugin.extract(&embed_url)),
    }
}

/// Support code for [`export_plugin!`]; not a stable API.
#[doc(hidden)]
pub mod __private {
    use std::ffi::{CStr, CString, c_char};
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;

    fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
        if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic payload".to_owned()
        }
    }

    fn encode(response: &Response) -> *mut c_char {
        let json = serde_json::to_string(response).unwrap_or_else(|_| {
            r#"{"error":{"kind":"internal","message":"response not serialisable"}}"#.to_owned()
        });
        // serde_json escapes NUL inside strings, so the JSON text never contains one.
        CString::new(json).map_or(std::ptr::null_mut(), CString::into_raw)
    }

    /// # Safety
    /// `request` is null or a NUL-terminated string valid for the duration of the call.
    pub unsafe fn call(
        request: *const c_char,
        plugin: impl FnOnce() -> &'static dyn Plugin,
    ) -> *mut c_char {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if request.is_null() {
                return Response::Error(PluginError::new(ErrorKind::Invalid, "null request"));
            }
            // SAFETY: the caller passes a valid NUL-terminated string (see the fn's contract).
            let bytes = unsafe { CStr::from_ptr(request) }.to_bytes();
            match serde_json::from_slice::<Request>(bytes) {
                Ok(req) => dispatch(plugin(), req),
                Err(e) => Response::Error(PluginError::new(
                    ErrorKind::Invalid,
                    format!("bad request: {e}"),
                )),
            }
        }));
        let response = outcome.unwrap_or_else(|payload| {
            Response::Error(PluginError::new(
                ErrorKind::Internal,
                format!("plugin panicked: {}", panic_message(payload.as_ref())),
            ))
        });
        catch_unwind(AssertUnwindSafe(|| encode(&response))).unwrap_or(std::ptr::null_mut())
    }

    /// # Safety
    /// `s` is null or a pointer returned by [`call`] that was not freed yet.
    pub unsafe fn free(s: *mut c_char) {
        if s.is_null() {
            return;
        }
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: `s` came from `CString::into_raw` in `encode` (see the fn's contract).
            drop(unsafe { CString::from_raw(s) });
        }));
    }
}

/// Exports a [`Plugin`] over the C ABI. The expression is evaluated once, on first use.
///
/// ```text
/// struct MyPlugin;
/// impl aniworld_plugin_sdk::Plugin for MyPlugin { /* ... */ }
/// aniworld_plugin_sdk::export_plugin!(MyPlugin);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($constructor:expr) => {
        static __ANIWORLD_PLUGIN_INSTANCE: ::std::sync::OnceLock<
            ::std::boxed::Box<dyn $crate::Plugin>,
        > = ::std::sync::OnceLock::new();

        fn __aniworld_plugin_instance() -> &'static dyn $crate::Plugin {
            __ANIWORLD_PLUGIN_INSTANCE
                .get_or_init(|| ::std::boxed::Box::new($constructor))
                .as_ref()
        }

        /// ABI handshake: the host compares this with its own version before anything else.
        #[unsafe(no_mangle)]
        pub extern "C" fn aniworld_plugin_abi_version() -> u32 {
            $crate::ABI_VERSION
        }

        /// One JSON request in, one JSON response out (free it with `aniworld_plugin_free`).
        ///
        /// # Safety
        /// `request` is null or a NUL-terminated string valid during the call.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn aniworld_plugin_call(
            request: *const ::std::ffi::c_char,
        ) -> *mut ::std::ffi::c_char {
            // SAFETY: forwarded contract.
            unsafe { $crate::__private::call(request, __aniworld_plugin_instance) }
        }

        /// Frees a string returned by `aniworld_plugin_call`.
        ///
        /// # Safety
        /// `s` is null or a string returned by `aniworld_plugin_call`, freed once.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn aniworld_plugin_free(s: *mut ::std::ffi::c_char) {
            // SAFETY: forwarded contract.
            unsafe { $crate::__private::free(s) }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl Plugin for Echo {
        fn metadata(&self) -> PluginMetadata {
            PluginMetadata {
                id: "echo".into(),
                name: "Echo".into(),
                version: "1.0.0".into(),
                abi_version: ABI_VERSION,
                kinds: vec![PluginKind::Provider],
                hoster_name: None,
                hoster_domains: vec![],
                description: None,
            }
        }
        fn search(&self, query: &str) -> PluginResult<Vec<SearchResult>> {
            if query == "boom" {
                panic!("boom");
            }
            Ok(vec![])
        }
    }

    static ECHO: Echo = Echo;

    fn raw_call(req: &str) -> String {
        let c = std::ffi::CString::new(req).unwrap();
        unsafe {
            let out = __private::call(c.as_ptr(), || &ECHO);
            let s = std::ffi::CStr::from_ptr(out).to_str().unwrap().to_owned();
            __private::free(out);
            s
        }
    }

    #[test]
    fn request_wire_format_is_method_and_params() {
        let json = serde_json::to_string(&Request::Search { query: "x".into() }).unwrap();
        assert_eq!(json, r#"{"method":"search","params":{"query":"x"}}"#);
        assert_eq!(
            serde_json::to_string(&Request::Metadata).unwrap(),
            r#"{"method":"metadata"}"#
        );
    }

    #[test]
    fn a_panic_becomes_an_error_reply() {
        let out = raw_call(r#"{"method":"search","params":{"query":"boom"}}"#);
        let resp: Response = serde_json::from_str(&out).unwrap();
        match resp {
            Response::Error(e) => {
                assert_eq!(e.kind, ErrorKind::Internal);
                assert!(e.message.contains("boom"), "{}", e.message);
            }
            other => panic!("expected error, got {other:?}"),
        }
    }

    #[test]
    fn garbage_request_is_an_invalid_error() {
        let out = raw_call("not json");
        let resp: Response = serde_json::from_str(&out).unwrap();
        assert!(matches!(
            resp,
            Response::Error(PluginError {
                kind: ErrorKind::Invalid,
                ..
            })
        ));
    }

    #[test]
    fn unsupported_methods_say_so() {
        let out = raw_call(r#"{"method":"extract","params":{"embed_url":"http://x"}}"#);
        let resp: Response = serde_json::from_str(&out).unwrap();
        assert!(matches!(
            resp,
            Response::Error(PluginError {
                kind: ErrorKind::Unsupported,
                ..
            })
        ));
    }
}
