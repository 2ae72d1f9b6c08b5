//! Every built-in hoster extractor against the fixture site (each page form, and the failure
//! kinds), `aniworld resolve` over the real binary, and property tests of the parsers.

use aniworld_core::Error;
use aniworld_core::hosters;
use aniworld_core::model::{MediaKind, MediaSource};
use aniworld_core::registry::Registry;
use aniworld_testkit::hosters::{embed_url, embed_url_form};
use aniworld_testkit::{FixtureSite, media};

fn registry() -> Registry {
    let registry = Registry::new();
    hosters::register_builtin(&registry, aniworld_core::http::browser_client());
    registry
}

async fn extract(hoster: &str, url: &str) -> aniworld_core::Result<MediaSource> {
    registry()
        .hoster(hoster)
        .expect("built-in hoster registered")
        .extract(url)
        .await
}

async fn extract_ok(hoster: &str, url: &str) -> MediaSource {
    match extract(hoster, url).await {
        Ok(source) => source,
        Err(e) => panic!("{hoster} failed on {url}: {e}"),
    }
}

fn assert_hoster_headers(source: &MediaSource, site: &FixtureSite, server: &str) {
    let origin = site.url(server);
    assert_eq!(
        source.headers.get("User-Agent").map(String::as_str),
        Some(aniworld_core::http::USER_AGENT)
    );
    assert_eq!(source.headers.get("Referer"), Some(&format!("{origin}/")));
    assert_eq!(source.headers.get("Origin"), Some(&origin));
}

mod extraction {
    use super::*;

    #[tokio::test]
    async fn voe_json_payload_decodes_to_the_hls_playlist_with_hoster_headers() {
        let site = FixtureSite::start().await;
        let source = extract_ok("VOE", &embed_url(&site.state, "VOE", "v1")).await;
        assert_eq!(source.url, media::hls_url(&site.state, "v1"));
        assert_eq!(source.kind, MediaKind::Hls);
        assert_hoster_headers(&source, &site, "voe");
    }

    #[tokio::test]
    async fn voe_payload_not_wrapped_in_an_array_decodes_too() {
        let site = FixtureSite::start().await;
        let url = embed_url_form(&site.state, "VOE", "v2", "json-bare");
        let source = extract_ok("VOE", &url).await;
        assert_eq!(source.url, media::hls_url(&site.state, "v2"));
    }

    #[tokio::test]
    async fn voe_stub_page_is_followed_to_the_player_page() {
        let site = FixtureSite::start().await;
        let url = embed_url_form(&site.state, "VOE", "v3", "stub");
        let source = extract_ok("VOE", &url).await;
        assert_eq!(source.url, media::hls_url(&site.state, "v3"));
        let pages: Vec<String> = site
            .state
            .requests()
            .into_iter()
            .filter(|r| r.server == "voe")
            .map(|r| r.uri)
            .collect();
        assert_eq!(pages, vec!["/e/v3~stub".to_owned(), "/e/v3".to_owned()]);
    }

    #[tokio::test]
    async fn voe_old_hls_form_is_base64_decoded() {
        let site = FixtureSite::start().await;
        let url = embed_url_form(&site.state, "VOE", "v4", "hls");
        let source = extract_ok("VOE", &url).await;
        assert_eq!(source.url, media::hls_url(&site.state, "v4"));
        assert_eq!(source.kind, MediaKind::Hls);
    }

    #[tokio::test]
    async fn voe_old_mp4_form_gives_a_direct_mp4() {
        let site = FixtureSite::start().await;
        let url = embed_url_form(&site.state, "VOE", "v5", "mp4");
        let source = extract_ok("VOE", &url).await;
        assert_eq!(source.url, media::mp4_url(&site.state, "v5"));
        assert_eq!(source.kind, MediaKind::Mp4);
    }

    #[tokio::test]
    async fn voe_reversed_json_blob_form_decodes() {
        let site = FixtureSite::start().await;
        let url = embed_url_form(&site.state, "VOE", "v6", "blob");
        let source = extract_ok("VOE", &url).await;
        assert_eq!(source.url, media::hls_url(&site.state, "v6"));
    }

    #[tokio::test]
    async fn vidoza_sources_code_gives_the_mp4() {
        let site = FixtureSite::start().await;
        let source = extract_ok("Vidoza", &embed_url(&site.state, "Vidoza", "z1")).await;
        assert_eq!(source.url, media::mp4_url(&site.state, "z1"));
        assert_eq!(source.kind, MediaKind::Mp4);
        assert_hoster_headers(&source, &site, "vidoza");
    }

    #[tokio::test]
    async fn vidoza_old_source_tag_gives_the_mp4() {
        let site = FixtureSite::start().await;
        let url = embed_url_form(&site.state, "Vidoza", "z2", "old");
        let source = extract_ok("Vidoza", &url).await;
        assert_eq!(source.url, media::mp4_url(&site.state, "z2"));
    }

    #[tokio::test]
    async fn doodstream_appends_random_token_and_expiry_to_the_pass_md5_prefix() {
        let site = FixtureSite::start().await;
        let before = chrono_now_ms();
        let source = extract_ok("Doodstream", &embed_url(&site.state, "Doodstream", "d1")).await;
        let prefix = format!("{}?r=", media::mp4_url(&site.state, "d1"));
        let rest = source
            .url
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{} does not start with {prefix}", source.url));
        let (random, query) = rest.split_at(10);
        assert!(
            random.chars().all(|c| c.is_ascii_alphanumeric()),
            "{random}"
        );
        let expiry: i64 = query
            .strip_prefix("?token=")
            .and_then(|q| q.split_once("&expiry="))
            .map(|(token, expiry)| {
                assert!(!token.is_empty());
                expiry.parse().expect("numeric expiry")
            })
            .unwrap_or_else(|| panic!("bad query {query}"));
        assert!(
            expiry >= before,
            "expiry {expiry} is a current unix time in ms"
        );
        assert_eq!(source.kind, MediaKind::Mp4);
        assert_hoster_headers(&source, &site, "doodstream");
    }

    #[tokio::test]
    async fn doodstream_asks_pass_md5_on_the_mirror_it_was_redirected_to() {
        let site = FixtureSite::start().await;
        let url = embed_url_form(&site.state, "Doodstream", "d2", "mirror");
        let source = extract_ok("Doodstream", &url).await;
        assert!(
            source
                .url
                .starts_with(&media::mp4_url(&site.state, "d2").to_string())
        );
        let pass_md5_servers: Vec<String> = site
            .state
            .requests()
            .into_iter()
            .filter(|r| r.uri.starts_with("/pass_md5/"))
            .map(|r| r.server)
            .collect();
        assert_eq!(pass_md5_servers, vec!["doodstream-mirror".to_owned()]);
        assert_hoster_headers(&source, &site, "doodstream-mirror");
    }

    #[tokio::test]
    async fn doodstream_download_page_is_followed_into_its_player_iframe() {
        let site = FixtureSite::start().await;
        let url = embed_url_form(&site.state, "Doodstream", "d3", "download");
        let source = extract_ok("Doodstream", &url).await;
        assert!(
            source
                .url
                .starts_with(&format!("{}?r=", media::mp4_url(&site.state, "d3"))),
            "{}",
            source.url
        );
        let pages: Vec<String> = site
            .state
            .requests()
            .into_iter()
            .filter(|r| !r.uri.starts_with("/pass_md5/"))
            .map(|r| r.uri)
            .collect();
        assert_eq!(pages, vec!["/e/d3~download", "/d/d3", "/e/d3"]);
    }

    #[tokio::test]
    async fn streamtape_assembled_get_video_link_redirects_to_the_mp4() {
        let site = FixtureSite::start().await;
        let source = extract_ok("Streamtape", &embed_url(&site.state, "Streamtape", "s1")).await;
        assert!(
            source
                .url
                .starts_with(&format!("{}/get_video?id=s1&", site.url("streamtape"))),
            "{}",
            source.url
        );
        assert!(!source.url.contains("decoy"), "{}", source.url);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let answer = client.get(&source.url).send().await.unwrap();
        assert_eq!(answer.status(), 302);
        assert_eq!(
            answer.headers()["location"].to_str().unwrap(),
            media::mp4_url(&site.state, "s1")
        );
        assert_hoster_headers(&source, &site, "streamtape");
    }

    #[tokio::test]
    async fn filemoon_api_playback_decrypts_to_the_highest_source() {
        let site = FixtureSite::start().await;
        let source = extract_ok("Filemoon", &embed_url(&site.state, "Filemoon", "f1")).await;
        assert_eq!(source.url, media::hls_url(&site.state, "f1"));
        assert_eq!(source.kind, MediaKind::Hls);
        assert_hoster_headers(&source, &site, "filemoon");
        assert!(
            site.state
                .requests()
                .iter()
                .any(|r| r.uri == "/api/videos/f1")
        );
    }

    #[tokio::test]
    async fn filemoon_packed_player_is_unpacked_when_the_api_is_absent() {
        let site = FixtureSite::start().await;
        let url = embed_url_form(&site.state, "Filemoon", "f2", "packed");
        let source = extract_ok("Filemoon", &url).await;
        assert_eq!(source.url, media::hls_url(&site.state, "f2"));
        assert_eq!(source.kind, MediaKind::Hls);
    }

    #[tokio::test]
    async fn filemoon_packed_player_inside_an_iframe_is_found() {
        let site = FixtureSite::start().await;
        let url = embed_url_form(&site.state, "Filemoon", "f3", "iframe");
        let source = extract_ok("Filemoon", &url).await;
        assert_eq!(source.url, media::hls_url(&site.state, "f3"));
    }

    #[tokio::test]
    async fn vidmoly_sources_file_gives_the_hls_playlist() {
        let site = FixtureSite::start().await;
        let source = extract_ok("Vidmoly", &embed_url(&site.state, "Vidmoly", "m1")).await;
        assert_eq!(source.url, media::hls_url(&site.state, "m1"));
        assert_eq!(source.kind, MediaKind::Hls);
        assert_hoster_headers(&source, &site, "vidmoly");
    }

    #[tokio::test]
    async fn vidmoly_mp4_file_is_reported_as_mp4() {
        let site = FixtureSite::start().await;
        let url = embed_url_form(&site.state, "Vidmoly", "m2", "mp4");
        let source = extract_ok("Vidmoly", &url).await;
        assert_eq!(source.url, media::mp4_url(&site.state, "m2"));
        assert_eq!(source.kind, MediaKind::Mp4);
    }

    #[tokio::test]
    async fn loadx_follows_the_redirect_and_asks_get_video_as_xhr() {
        let site = FixtureSite::start().await;
        let source = extract_ok("LoadX", &embed_url(&site.state, "LoadX", "x1")).await;
        assert_eq!(source.url, media::hls_url(&site.state, "x1"));
        assert_eq!(source.kind, MediaKind::Hls);
        assert_hoster_headers(&source, &site, "loadx");
        let post = site
            .state
            .requests()
            .into_iter()
            .find(|r| r.method == "POST")
            .expect("getVideo POST");
        assert!(
            post.uri
                .starts_with("/player/index.php?data=7831&do=getVideo"),
            "{}",
            post.uri
        );
    }

    #[tokio::test]
    async fn luluvdo_dl_endpoint_gives_the_hls_playlist() {
        let site = FixtureSite::start().await;
        let source = extract_ok("Luluvdo", &embed_url(&site.state, "Luluvdo", "l1")).await;
        assert_eq!(source.url, media::hls_url(&site.state, "l1"));
        assert_eq!(source.kind, MediaKind::Hls);
        assert_hoster_headers(&source, &site, "luluvdo");
        let dl = site
            .state
            .requests()
            .into_iter()
            .find(|r| r.uri.starts_with("/dl?"))
            .expect("dl request");
        assert!(
            dl.uri.contains("op=embed&file_code=l1&embed=1"),
            "{}",
            dl.uri
        );
        assert!(dl.uri.ends_with("&adb=0"), "{}", dl.uri);
    }

    #[tokio::test]
    async fn speedfiles_encoded_variable_decodes_to_the_mp4_past_a_decoy() {
        let site = FixtureSite::start().await;
        let source = extract_ok("SpeedFiles", &embed_url(&site.state, "SpeedFiles", "p1")).await;
        assert_eq!(source.url, media::mp4_url(&site.state, "p1"));
        assert_eq!(source.kind, MediaKind::Mp4);
        assert_hoster_headers(&source, &site, "speedfiles");
    }

    fn chrono_now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

mod failures {
    use super::*;

    /// (hoster name, fixture server) of every built-in.
    const ALL: [(&str, &str); 9] = [
        ("VOE", "voe"),
        ("Vidoza", "vidoza"),
        ("Doodstream", "doodstream"),
        ("Streamtape", "streamtape"),
        ("Filemoon", "filemoon"),
        ("Vidmoly", "vidmoly"),
        ("LoadX", "loadx"),
        ("Luluvdo", "luluvdo"),
        ("SpeedFiles", "speedfiles"),
    ];

    async fn errors_with_knob(knob: &str, value: &str) -> Vec<(String, Error)> {
        let site = FixtureSite::start().await;
        let mut out = Vec::new();
        for (hoster, server) in ALL {
            site.state
                .set_knob(&format!("hoster.{server}.{knob}"), value);
            match extract(hoster, &embed_url(&site.state, hoster, "gone")).await {
                Ok(s) => panic!("{hoster} with {knob}={value} still resolved to {}", s.url),
                Err(e) => out.push((hoster.to_owned(), e)),
            }
        }
        out
    }

    #[tokio::test]
    async fn changed_markup_is_a_parse_error_naming_what_is_missing() {
        for (hoster, e) in errors_with_knob("broken", "1").await {
            match e {
                Error::Parse { what } => assert!(!what.is_empty(), "{hoster}"),
                other => panic!("{hoster}: expected Parse, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_404_is_not_found() {
        for (hoster, e) in errors_with_knob("status", "404").await {
            assert!(
                matches!(e, Error::NotFound(_)),
                "{hoster}: expected NotFound, got {e:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_403_challenge_page_is_blocked() {
        for (hoster, e) in errors_with_knob("challenge", "403").await {
            assert!(
                matches!(e, Error::Blocked { .. }),
                "{hoster}: expected Blocked, got {e:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_challenge_page_served_with_200_is_blocked_too() {
        for (hoster, e) in errors_with_knob("challenge", "200").await {
            assert!(
                matches!(e, Error::Blocked { .. }),
                "{hoster}: expected Blocked, got {e:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_server_error_is_a_transient_http_error() {
        for (hoster, e) in errors_with_knob("status", "502").await {
            assert!(
                matches!(e, Error::Http(_)) && e.is_transient(),
                "{hoster}: expected Http, got {e:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_non_http_embed_url_is_rejected_as_invalid_input() {
        let e = extract("VOE", "file:///etc/passwd").await.unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
        let e = extract("Filemoon", "not a url").await.unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e:?}");
    }
}

mod resolve_cli {
    use super::*;

    async fn run(args: Vec<String>) -> std::process::Output {
        tokio::task::spawn_blocking(move || {
            aniworld_testkit::bin::aniworld()
                .arg("resolve")
                .args(args)
                .output()
                .expect("run aniworld")
        })
        .await
        .expect("join")
    }

    #[tokio::test]
    async fn resolve_json_prints_url_kind_and_headers() {
        let site = FixtureSite::start().await;
        let url = embed_url(&site.state, "VOE", "c1");
        let out = run(vec![url, "--hoster".into(), "voe".into(), "--json".into()]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
        assert_eq!(json["hoster"], "VOE");
        assert_eq!(json["url"], media::hls_url(&site.state, "c1"));
        assert_eq!(json["kind"], "hls");
        assert_eq!(json["headers"]["Referer"], format!("{}/", site.url("voe")));
        assert_eq!(
            json["headers"]["User-Agent"],
            aniworld_core::http::USER_AGENT
        );
    }

    #[tokio::test]
    async fn resolve_text_output_names_url_kind_and_each_header() {
        let site = FixtureSite::start().await;
        let url = embed_url(&site.state, "SpeedFiles", "c2");
        let out = run(vec![url, "--hoster".into(), "SpeedFiles".into()]).await;
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("url:    {}", media::mp4_url(&site.state, "c2"))),
            "{text}"
        );
        assert!(text.contains("kind:   mp4"), "{text}");
        assert!(
            text.contains(&format!("  Origin: {}", site.url("speedfiles"))),
            "{text}"
        );
    }

    #[tokio::test]
    async fn resolve_without_hoster_on_an_unknown_domain_asks_for_one() {
        let site = FixtureSite::start().await;
        let url = embed_url(&site.state, "VOE", "c3");
        let out = run(vec![url]).await;
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--hoster"), "{err}");
        assert!(site.state.requests().is_empty(), "nothing was fetched");
    }

    #[tokio::test]
    async fn resolve_uses_a_script_that_overrides_the_builtin_of_the_same_name() {
        let site = FixtureSite::start().await;
        let data = tempfile::tempdir().unwrap();
        let scripts = data.path().join("scripts");
        std::fs::create_dir_all(&scripts).unwrap();
        std::fs::write(
            scripts.join("voe-fix.rhai"),
            r#"
fn meta() {
    #{ kind: "hoster", name: "VOE", version: "9.9.9", domains: ["voe.sx"], allowed_hosts: [] }
}
fn extract(embed_url) {
    #{ url: embed_url + "/fixed-by-script.mp4", kind: "mp4", headers: #{} }
}
"#,
        )
        .unwrap();
        let url = embed_url(&site.state, "VOE", "c5");
        let out = run(vec![
            url.clone(),
            "--hoster".into(),
            "VOE".into(),
            "--json".into(),
            "--data-dir".into(),
            data.path().display().to_string(),
        ])
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
        assert_eq!(json["url"], format!("{url}/fixed-by-script.mp4"));
        assert_eq!(json["kind"], "mp4");
        assert!(site.state.requests().is_empty(), "the built-in did not run");
        assert!(
            !data.path().join("config.json").exists(),
            "resolve creates nothing"
        );
    }

    #[tokio::test]
    async fn resolve_reports_a_blocked_hoster_and_fails() {
        let site = FixtureSite::start().await;
        site.state.set_knob("hoster.vidoza.challenge", "403");
        let url = embed_url(&site.state, "Vidoza", "c4");
        let out = run(vec![url, "--hoster".into(), "Vidoza".into()]).await;
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("blocked by Vidoza"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

mod parsers {
    use std::sync::OnceLock;

    use aniworld_core::hosters::{
        common, doodstream, filemoon, loadx, luluvdo, speedfiles, streamtape, unpack, vidmoly,
        vidoza, voe,
    };
    use aniworld_testkit::FixtureSite;
    use aniworld_testkit::hosters::{embed_url_form, encode};
    use proptest::prelude::*;
    use url::Url;

    /// Real fixture pages and API answers of every hoster and form, fetched once.
    fn corpus() -> &'static Vec<String> {
        static CORPUS: OnceLock<Vec<String>> = OnceLock::new();
        CORPUS.get_or_init(|| {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(async {
                let site = FixtureSite::start().await;
                let mut urls = Vec::new();
                for (hoster, forms) in [
                    (
                        "VOE",
                        &["json", "json-bare", "stub", "hls", "mp4", "blob"][..],
                    ),
                    ("Vidoza", &["sources", "old"][..]),
                    ("Doodstream", &["direct", "download"][..]),
                    ("Streamtape", &["script"][..]),
                    ("Filemoon", &["api", "packed", "iframe"][..]),
                    ("Vidmoly", &["hls", "mp4"][..]),
                    ("SpeedFiles", &["encoded"][..]),
                ] {
                    for form in forms {
                        urls.push(embed_url_form(&site.state, hoster, "pv", form));
                    }
                }
                urls.push(format!("{}/api/videos/pv", site.url("filemoon")));
                urls.push(format!(
                    "{}/dl?op=embed&file_code=pv&embed=1",
                    site.url("luluvdo")
                ));
                let client = reqwest::Client::new();
                let mut pages = Vec::new();
                for url in urls {
                    let body = client.get(&url).send().await.unwrap().text().await.unwrap();
                    pages.push(body);
                }
                let xhr = client
                    .post(format!(
                        "{}/player/index.php?data=7076&do=getVideo",
                        site.url("loadx")
                    ))
                    .header("X-Requested-With", "XMLHttpRequest")
                    .send()
                    .await
                    .unwrap();
                pages.push(xhr.text().await.unwrap());
                pages
            })
        })
    }

    /// Runs every pure parsing function of every hoster on `text`; they may fail, never panic.
    fn parse_everything(text: &str) {
        let page = Url::parse("https://host.example/e/abc").expect("static url");
        let _ = voe::parse_page(text, &page);
        let _ = voe::decode_payload(text);
        let _ = vidoza::parse_page(text, &page);
        let _ = doodstream::parse_page(text, &page);
        let _ = doodstream::media_url(text, "t", "0123456789", 1);
        let _ = streamtape::parse_page(text, &page);
        let _ = streamtape::eval_concat(text);
        let _ = filemoon::parse_api(text);
        let _ = filemoon::parse_page(text, &page);
        let _ = filemoon::decrypt(text.as_bytes(), text.as_bytes(), text.as_bytes());
        let _ = unpack::unpack_all(text);
        let _ = vidmoly::parse_page(text, &page);
        let _ = loadx::parse_api(text, &page);
        let _ = luluvdo::parse_page(text, &page);
        let _ = speedfiles::parse_page(text, &page);
        let _ = speedfiles::decode(text);
        let _ = common::is_challenge(text);
        let _ = common::unescape_js(text);
        if let Ok(url) = Url::parse(&format!("https://h.example/{text}")) {
            let _ = loadx::video_hash(&url);
            let _ = luluvdo::file_code(&url);
            let _ = filemoon::video_code(&url);
        }
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Delete(usize, usize),
        Insert(usize, String),
        Truncate(usize),
        Duplicate(usize, usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<usize>(), 0usize..64).prop_map(|(a, n)| Mutation::Delete(a, n)),
            (any::<usize>(), ".{0,12}").prop_map(|(a, s)| Mutation::Insert(a, s)),
            any::<usize>().prop_map(Mutation::Truncate),
            (any::<usize>(), 0usize..200).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
        ]
    }

    fn apply(text: &str, mutations: &[Mutation]) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for m in mutations {
            let len = chars.len().max(1);
            match m {
                Mutation::Delete(at, n) => {
                    let at = at % len;
                    let end = (at + n).min(chars.len());
                    if at < end {
                        chars.drain(at..end);
                    }
                }
                Mutation::Insert(at, s) => {
                    let at = (at % len).min(chars.len());
                    chars.splice(at..at, s.chars());
                }
                Mutation::Truncate(at) => chars.truncate(at % len),
                Mutation::Duplicate(at, n) => {
                    let at = at % len;
                    let end = (at + n).min(chars.len());
                    if at < end {
                        let copy: Vec<char> = chars[at..end].to_vec();
                        chars.splice(at..at, copy);
                    }
                }
            }
        }
        chars.into_iter().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn no_parser_panics_on_random_text(text in ".{0,400}") {
            parse_everything(&text);
        }

        #[test]
        fn no_parser_panics_on_mutated_real_pages(
            index in any::<prop::sample::Index>(),
            mutations in prop::collection::vec(mutation(), 1..6),
        ) {
            let pages = corpus();
            let page = index.get(pages);
            parse_everything(&apply(page, &mutations));
        }

        #[test]
        fn no_parser_panics_on_script_shaped_noise(
            parts in prop::collection::vec(prop_oneof![
                Just("eval(function(p,a,c,k,e,d){}('".to_owned()),
                Just("',62,".to_owned()),
                Just(",'a|b'.split('|'),0,{}))".to_owned()),
                Just("sources: [{file: \"".to_owned()),
                Just("sourcesCode: [{ src: \"".to_owned()),
                Just("<script type=\"application/json\">[\"".to_owned()),
                Just("getElementById('robotlink').innerHTML = '".to_owned()),
                Just("').substring(".to_owned()),
                Just("$.get('/pass_md5/".to_owned()),
                Just("var _0x = \"".to_owned()),
                Just("{\"playback\":{\"key_parts\":[\"".to_owned()),
                "[A-Za-z0-9+/=\"'(){}\\\\.]{0,24}",
            ], 0..24),
        ) {
            parse_everything(&parts.concat());
        }

        #[test]
        fn voe_payload_roundtrips_any_url(path in "[A-Za-z0-9/._~-]{0,80}") {
            let url = format!("https://cdn.example/{path}");
            let json = serde_json::json!({ "source": url }).to_string();
            let decoded = voe::decode_payload(&encode::voe_payload(&json));
            prop_assert_eq!(decoded.and_then(|v| v["source"].as_str().map(str::to_owned)), Some(url));
        }

        #[test]
        fn speedfiles_encoding_roundtrips_any_url(path in "[A-Za-z0-9/._~?&=-]{0,80}") {
            let url = format!("https://cdn.example/{path}");
            prop_assert_eq!(speedfiles::decode(&encode::speedfiles(&url)), Some(url));
        }

        #[test]
        fn packer_roundtrips_any_script(script in "[ -~\n]{0,300}") {
            prop_assert_eq!(unpack::unpack(&encode::pack(&script)).ok(), Some(script));
        }
    }

    #[test]
    fn every_fixture_page_form_is_in_the_corpus() {
        assert_eq!(corpus().len(), 20);
        assert!(corpus().iter().all(|p| !p.is_empty()));
    }
}
