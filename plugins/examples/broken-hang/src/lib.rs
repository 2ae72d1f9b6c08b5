//! A provider whose search never returns: the host's call timeout must fire and disable it.

use aniworld_plugin_sdk::{
    ABI_VERSION, Plugin, PluginKind, PluginMetadata, PluginResult, SearchResult, export_plugin,
};

struct HangingProvider;

impl Plugin for HangingProvider {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata {
            id: "broken-hang".into(),
            name: "Broken hang".into(),
            version: "0.0.1".into(),
            abi_version: ABI_VERSION,
            kinds: vec![PluginKind::Provider],
            hoster_name: None,
            hoster_domains: vec![],
            description: None,
        }
    }

    fn search(&self, _query: &str) -> PluginResult<Vec<SearchResult>> {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

export_plugin!(HangingProvider);
