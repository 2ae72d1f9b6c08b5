//! Per-call overhead of a native plugin call and of a rhai hook call, for trivial calls, against a
//! plain Rust function call measured in the same run.
//!
//! Run: `cargo build --release -p fixture-provider && cargo bench -p aniworld-plugins --bench call_overhead`
//! (the example plugin's library is looked up next to the bench's target dir, or at
//! `$ANIWORLD_BENCH_PLUGIN`). Targets: native < 50 µs, rhai hook < 200 µs per trivial call.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aniworld_core::events::EventContext;
use aniworld_core::registry::Registry;
use aniworld_plugin_sdk::Request;
use aniworld_plugins::{NativeLibrary, PluginHost, PluginHostConfig};
use aniworld_scripts::{ScriptHost, ScriptHostConfig, ScriptLimits};

fn plugin_library() -> PathBuf {
    if let Ok(p) = std::env::var("ANIWORLD_BENCH_PLUGIN") {
        return PathBuf::from(p);
    }
    let file = format!(
        "{}fixture_provider{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().expect("bench executable path");
    // target/<profile>/deps/<bench> → target/<profile>, then the other profile as a fallback.
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let candidates = [
        profile_dir.join(&file),
        profile_dir.with_file_name("release").join(&file),
        profile_dir.with_file_name("debug").join(&file),
    ];
    candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "{file} not found next to {}: run `cargo build --release -p fixture-provider` first",
                profile_dir.display()
            )
        })
}

/// Mean time per call of `f` over `n` calls, after a warm-up.
fn per_call(n: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..n / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed() / n
}

/// The plain Rust equivalent of the plugin's `key_from_link`.
#[inline(never)]
fn key_from_link(link: &str) -> Option<String> {
    let pos = link.find("/anime/stream/")?;
    let key = link[pos + "/anime/stream/".len()..]
        .split(['/', '?', '#'])
        .next()?;
    (!key.is_empty()).then(|| key.to_owned())
}

fn fmt(d: Duration) -> String {
    format!("{:>10.3} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let link = "http://127.0.0.1/anime/stream/attack-on-titan/staffel-1";
    let baseline = per_call(2_000_000, || {
        black_box(key_from_link(black_box(link)));
    });

    // Native: the raw C ABI round trip (JSON both ways), then the host path the server uses
    // (async call → plugin thread → reply), both on the example plugin's `key_from_link` /
    // `resolve_redirect` (no network).
    let lib_path = plugin_library();
    let lib = NativeLibrary::open(&lib_path).expect("example plugin loads");
    let request = Request::KeyFromLink {
        link: link.to_owned(),
    };
    let native_raw = per_call(100_000, || {
        black_box(lib.call(black_box(&request)).expect("call"));
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        &lib_path,
        dir.path().join(lib_path.file_name().expect("name")),
    )
    .expect("copy");
    let registry = Registry::new();
    let host = PluginHost::new(
        registry.clone(),
        PluginHostConfig {
            dir: dir.path().to_owned(),
            call_timeout: Duration::from_secs(5),
            provider_settings: Default::default(),
        },
    );
    rt.block_on(host.reload());
    let provider = registry.provider("fixture").expect("plugin registered");
    let embed = "http://127.0.0.1:9/e/abc";
    let native_host = rt.block_on(async {
        let n = 20_000u32;
        for _ in 0..n / 10 {
            black_box(provider.resolve_redirect(embed).await.expect("call"));
        }
        let start = Instant::now();
        for _ in 0..n {
            black_box(
                provider
                    .resolve_redirect(black_box(embed))
                    .await
                    .expect("call"),
            );
        }
        start.elapsed() / n
    });

    // rhai: a trivial hook, called the way the hook thread calls it (event map in, sandbox limits on).
    let scripts = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        scripts.path().join("trivial.rhai"),
        "fn on_download_completed(e) { e.key }\nfn before_download(e) { () }\n",
    )
    .expect("write script");
    let script_host = rt
        .block_on(async {
            ScriptHost::new(
                Registry::new(),
                ScriptHostConfig {
                    dir: scripts.path().to_owned(),
                    limits: ScriptLimits::default(),
                    settings: Default::default(),
                },
                ScriptHost::default_client(),
            )
        })
        .expect("script host");
    script_host.reload_blocking();
    let context =
        EventContext::new(aniworld_core::SeriesKey::parse("attack-on-titan").expect("key"));
    let event = aniworld_scripts::hooks::event_map("on_download_completed", Some(&context));
    let rhai_hook = per_call(50_000, || {
        black_box(script_host.run_hook_blocking("on_download_completed", black_box(&event)));
    });
    let rhai_before = per_call(50_000, || {
        black_box(script_host.before_download_blocking(&context, "x.mp4"));
    });

    let ratio = |d: Duration| d.as_secs_f64() / baseline.as_secs_f64().max(1e-12);
    println!("per-call overhead (mean of many calls), trivial calls:");
    println!(
        "  plain Rust fn call (baseline)            {}",
        fmt(baseline)
    );
    println!(
        "  native plugin, raw C ABI + JSON          {}  ({:>7.0}x baseline)",
        fmt(native_raw),
        ratio(native_raw)
    );
    println!(
        "  native plugin, host path (async, pool)   {}  ({:>7.0}x baseline)  target < 50 µs: {}",
        fmt(native_host),
        ratio(native_host),
        if native_host < Duration::from_micros(50) {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  rhai hook (on_download_completed)        {}  ({:>7.0}x baseline)  target < 200 µs: {}",
        fmt(rhai_hook),
        ratio(rhai_hook),
        if rhai_hook < Duration::from_micros(200) {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  rhai before_download decision            {}  ({:>7.0}x baseline)",
        fmt(rhai_before),
        ratio(rhai_before)
    );
}
