//! A provider whose search panics: the SDK turns the panic into an error reply, the host disables it.

use aniworld_plugin_sdk::{
    ABI_VERSION, Plugin, PluginKind, PluginMetadata, PluginResult, SearchResult, export_plugin,
};

struct PanickingProvider;

impl Plugin for PanickingProvider {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata {
            id: "broken-panic".into(),
            name: "Broken panic".into(),
            version: "0.0.1".into(),
            abi_version: ABI_VERSION,
            kinds: vec![PluginKind::Provider],
            hoster_name: None,
            hoster_domains: vec![],
            description: None,
        }
    }

    fn search(&self, _query: &str) -> PluginResult<Vec<SearchResult>> {
        panic!("deliberate panic in search")
    }
}

export_plugin!(PanickingProvider);
