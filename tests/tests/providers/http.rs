//! The per-site HTTP client: headers, rate limit, retries, timeouts; and provider registration.

use std::time::{Duration, Instant};

use aniworld_core::Error;
use aniworld_core::config::Config;
use aniworld_core::providers::{AniworldProvider, register_builtin};
use aniworld_core::registry::Registry;
use aniworld_core::traits::Provider;
use aniworld_testkit::FixtureSite;

use super::common::{aniworld, client, key, site_config};

#[tokio::test]
async fn sends_browser_like_headers() {
    let fixture = FixtureSite::start().await;
    aniworld(&fixture).series(&key("dark-not-here")).await.ok();
    let requests = fixture.state.requests();
    let r = requests.iter().find(|r| r.server == "aniworld").unwrap();
    assert!(
        r.headers["user-agent"].starts_with("Mozilla/5.0"),
        "{:?}",
        r.headers
    );
    assert!(r.headers["accept"].contains("text/html"));
    assert!(r.headers.contains_key("accept-language"));
    assert!(r.headers["referer"].starts_with(&fixture.url("aniworld")));
}

#[tokio::test]
async fn rate_limit_spaces_requests_to_one_site() {
    let fixture = FixtureSite::start().await;
    let mut config = site_config(&fixture, "aniworld");
    config.rate_limit = 10.0;
    let provider = AniworldProvider::with_client(client("aniworld", &config));
    let start = Instant::now();
    // Series page + movies page + two season pages = 4 requests → at least 3 gaps of 100 ms.
    provider.series(&key("attack-on-titan")).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(fixture.state.requests().len(), 4);
}

#[tokio::test]
async fn retries_server_errors_then_succeeds() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("aniworld.fail_next", "2");
    let info = aniworld(&fixture)
        .series(&key("one-punch-man"))
        .await
        .unwrap();
    assert_eq!(info.name, "One Punch Man");
    assert_eq!(
        fixture.state.knob("aniworld.fail_next").as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn gives_up_after_the_configured_retries() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("aniworld.fail_next", "10");
    let err = aniworld(&fixture)
        .series(&key("one-punch-man"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Http(_)), "{err:?}");
    assert!(err.is_transient());
    // retries = 2 → three attempts in all.
    assert_eq!(fixture.state.requests().len(), 3);
}

#[tokio::test]
async fn slow_site_is_a_timeout() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("aniworld.delay_ms", "2500");
    let mut config = site_config(&fixture, "aniworld");
    config.timeout = 1;
    config.retries = 0;
    let provider = AniworldProvider::with_client(client("aniworld", &config));
    let err = provider.series(&key("one-punch-man")).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
}

#[tokio::test]
async fn register_builtin_uses_the_configured_base_urls() {
    let fixture = FixtureSite::start().await;
    let mut config = Config::default();
    config
        .providers
        .insert("aniworld".into(), site_config(&fixture, "aniworld"));
    config
        .providers
        .insert("sto".into(), site_config(&fixture, "sto"));
    let registry = Registry::new();
    register_builtin(&registry, &config).unwrap();
    let a = registry.provider("aniworld").unwrap();
    let s = registry.provider("sto").unwrap();
    assert_eq!(
        a.series(&key("one-punch-man")).await.unwrap().name,
        "One Punch Man"
    );
    assert_eq!(s.series(&key("dark")).await.unwrap().name, "Dark");
}

#[tokio::test]
async fn disabled_provider_is_not_registered() {
    let mut config = Config::default();
    config.providers.get_mut("sto").unwrap().enabled = false;
    let registry = Registry::new();
    register_builtin(&registry, &config).unwrap();
    assert!(registry.provider("aniworld").is_ok());
    assert!(matches!(registry.provider("sto"), Err(Error::NotFound(_))));
}

/// A provider whose site is `base_url`, without retries.
fn provider_at(base_url: &str, timeout: u64) -> AniworldProvider {
    let config = aniworld_core::config::ProviderConfig {
        rate_limit: 100.0,
        timeout,
        retries: 0,
        ..aniworld_core::config::ProviderConfig::new(base_url)
    };
    AniworldProvider::with_client(client("aniworld", &config))
}

#[tokio::test]
async fn a_refused_connection_says_so_and_names_the_host() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = provider_at(&format!("http://{addr}"), 5)
        .series(&key("attack-on-titan"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Http(_)), "{err:?}");
    assert!(
        text.contains("connection refused") && text.contains(&addr.to_string()),
        "{text}"
    );
    assert!(!text.contains("error sending request"), "{text}");
}

#[tokio::test]
async fn a_site_that_never_answers_is_a_timeout_naming_the_host() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and holds connections without answering.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let err = provider_at(&format!("http://{addr}"), 1)
        .series(&key("attack-on-titan"))
        .await
        .unwrap_err();
    holder.abort();
    let text = err.to_string();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(
        text.contains("no answer from") && text.contains(&addr.to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn a_tls_failure_says_it_was_the_tls_handshake() {
    let fixture = FixtureSite::start().await;
    // The fixture speaks plain HTTP: an https:// URL to it fails in the handshake.
    let https = fixture.url("aniworld").replacen("http://", "https://", 1);
    let err = provider_at(&https, 5)
        .series(&key("attack-on-titan"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("TLS handshake with 127.0.0.1"), "{text}");
}
