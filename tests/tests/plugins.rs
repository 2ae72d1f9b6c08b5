//! Native plugins: the example provider and the deliberately broken ones, loaded from real library
//! files built by the workspace.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aniworld_testkit::bin::target_profile_dir;

/// `target/<profile>/lib<name>.so` (or the platform's equivalent).
fn library(crate_name: &str) -> PathBuf {
    let file = format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        crate_name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    );
    let path = target_profile_dir().join(file);
    assert!(
        path.exists(),
        "{} missing: build the workspace first",
        path.display()
    );
    path
}

/// A temp plugins dir holding copies of the given libraries.
fn plugins_dir(crates: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for c in crates {
        let src = library(c);
        let dst: &Path = dir.path();
        std::fs::copy(&src, dst.join(src.file_name().expect("file name"))).expect("copy plugin");
    }
    dir
}

mod loader {
    use super::*;
    use aniworld_core::registry::{Registry, Source};
    use aniworld_plugins::{PluginHost, PluginHostConfig, PluginState};

    fn host(dir: &Path, timeout_ms: u64) -> (PluginHost, Registry) {
        let registry = Registry::new();
        let host = PluginHost::new(
            registry.clone(),
            PluginHostConfig {
                dir: dir.to_owned(),
                call_timeout: Duration::from_millis(timeout_ms),
                provider_settings: Default::default(),
            },
        );
        (host, registry)
    }

    fn reason_of(host: &PluginHost, id: &str) -> Option<String> {
        host.statuses()
            .into_iter()
            .find(|s| s.id == id)
            .and_then(|s| match s.state {
                PluginState::Disabled { reason } => Some(reason),
                PluginState::Active => None,
            })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_abi_version_is_refused_before_any_call() {
        let dir = plugins_dir(&["broken-abi-plugin"]);
        let (host, registry) = host(dir.path(), 2_000);
        let statuses = host.reload().await;
        assert_eq!(statuses.len(), 1);
        // The library's call function aborts the process: reaching this line proves it was never called.
        let reason = reason_of(&host, "libbroken_abi_plugin").expect("disabled");
        assert!(reason.contains("wrong ABI version"), "{reason}");
        assert!(registry.components().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn example_provider_loads_and_registers_as_native() {
        let dir = plugins_dir(&["fixture-provider"]);
        let (host, registry) = host(dir.path(), 2_000);
        let statuses = host.reload().await;
        assert_eq!(statuses.len(), 1, "{statuses:?}");
        assert!(statuses[0].is_active(), "{statuses:?}");
        assert_eq!(statuses[0].id, "fixture");
        assert_eq!(statuses[0].kinds, vec!["provider".to_owned()]);
        let provider = registry.provider("fixture").expect("registered");
        assert_eq!(
            provider
                .key_from_link("/anime/stream/demo-key/staffel-1")
                .map(|k| k.to_string()),
            Some("demo-key".to_owned())
        );
        let rows = registry.components();
        assert_eq!(rows[0].origin.source, Source::Native);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn panicking_call_disables_the_plugin_and_the_host_lives_on() {
        let dir = plugins_dir(&["broken-panic-plugin"]);
        let (host, registry) = host(dir.path(), 2_000);
        host.reload().await;
        let provider = registry.provider("broken-panic").expect("active at first");
        let err = provider.search("x").await.expect_err("panic is an error");
        assert!(err.to_string().contains("deliberate panic"), "{err}");
        let reason = reason_of(&host, "broken-panic").expect("disabled");
        assert!(reason.contains("panicked"), "{reason}");
        assert!(
            registry.provider("broken-panic").is_err(),
            "still registered"
        );
        let again = provider.search("x").await.expect_err("stays disabled");
        assert!(again.to_string().contains("disabled"), "{again}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invalid_json_reply_disables_the_plugin() {
        let dir = plugins_dir(&["broken-json-plugin"]);
        let (host, registry) = host(dir.path(), 2_000);
        host.reload().await;
        let provider = registry.provider("broken-json").expect("active at first");
        provider.search("x").await.expect_err("garbage is an error");
        let reason = reason_of(&host, "broken-json").expect("disabled");
        assert!(reason.contains("invalid JSON"), "{reason}");
        assert!(registry.provider("broken-json").is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn call_that_never_returns_times_out_and_disables_the_plugin() {
        let dir = plugins_dir(&["broken-hang-plugin"]);
        let (host, registry) = host(dir.path(), 300);
        host.reload().await;
        let provider = registry.provider("broken-hang").expect("active at first");
        let started = std::time::Instant::now();
        let err = provider.search("x").await.expect_err("timeout");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(matches!(err, aniworld_core::Error::Timeout(_)), "{err}");
        let reason = reason_of(&host, "broken-hang").expect("disabled");
        assert!(
            reason.contains("timed out after 300 ms in search"),
            "{reason}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reload_picks_up_new_files_and_keeps_loaded_ones() {
        let dir = plugins_dir(&[]);
        let (host, registry) = host(dir.path(), 2_000);
        assert!(host.reload().await.is_empty());
        let src = library("fixture-provider");
        std::fs::copy(&src, dir.path().join(src.file_name().expect("name"))).expect("copy");
        let statuses = host.reload().await;
        assert_eq!(statuses.len(), 1);
        assert!(registry.provider("fixture").is_ok());
        let again = host.reload().await;
        assert_eq!(again, statuses);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_that_are_not_libraries_are_ignored_and_junk_libraries_reported() {
        let dir = plugins_dir(&[]);
        std::fs::write(dir.path().join("notes.txt"), "hi").expect("write");
        std::fs::write(dir.path().join("junk.so"), "not an ELF file").expect("write");
        let (host, _) = host(dir.path(), 2_000);
        let statuses = host.reload().await;
        assert_eq!(statuses.len(), 1, "{statuses:?}");
        let reason = reason_of(&host, "junk").expect("disabled");
        assert!(reason.contains("could not load"), "{reason}");
    }
}
