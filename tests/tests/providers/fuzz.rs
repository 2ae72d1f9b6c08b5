//! No parser panics: real fixture pages, mutated at random (bytes deleted, tags and entities and
//! control characters inserted, truncated, duplicated), and plain random text go through every
//! site parser, the search-JSON parsers, the challenge detector and the link parsers.

use aniworld_core::config::ProviderConfig;
use aniworld_core::http::detect_challenge;
use aniworld_core::providers::{AniworldProvider, StoProvider, aniworld, sto, text};
use aniworld_core::traits::Provider;
use aniworld_testkit::FixtureSite;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    Truncate { at: usize },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let junk = prop_oneof![
        "<[a-z/!]{0,6}( [a-z-]{1,8}(=\"[^\"]{0,8}\")?){0,2}>?",
        "&[#a-z0-9]{0,7};?",
        "[\\x00-\\x1f\"'<>&/=]{1,4}",
        "\\PC{0,12}",
    ];
    prop_oneof![
        (any::<usize>(), 0usize..400).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), junk).prop_map(|(at, text)| Mutation::Insert { at, text }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 0usize..400).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

/// The nearest char boundary at or below `at % (len + 1)`.
fn boundary(s: &str, at: usize) -> usize {
    let mut i = at % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(mut page: String, mutations: &[Mutation]) -> String {
    for m in mutations {
        match m {
            Mutation::Delete { at, len } => {
                let a = boundary(&page, *at);
                let b = boundary(&page, (a + len).min(page.len()));
                if b >= a {
                    page.replace_range(a..b, "");
                }
            }
            Mutation::Insert { at, text } => {
                let a = boundary(&page, *at);
                page.insert_str(a, text);
            }
            Mutation::Truncate { at } => {
                let a = boundary(&page, *at);
                page.truncate(a);
            }
            Mutation::Duplicate { at, len } => {
                let a = boundary(&page, *at);
                let b = boundary(&page, (a + len).min(page.len()));
                if b >= a {
                    let copy = page[a..b].to_owned();
                    page.insert_str(b, &copy);
                }
            }
        }
    }
    page
}

fn parse_everything(input: &str) {
    let _ = aniworld::parse::parse_series_page(input);
    let _ = aniworld::parse::parse_season_page(input, 1);
    let _ = aniworld::parse::parse_season_page(input, 0);
    let _ = aniworld::parse::parse_episode_page(input);
    let _ = aniworld::parse::parse_series_search(input);
    let _ = aniworld::parse::parse_form_search(input);
    let _ = sto::parse::parse_series_page(input);
    let _ = sto::parse::parse_season_page(input, 1);
    let _ = sto::parse::parse_episode_page(input);
    let _ = sto::parse::parse_series_search(input);
    let _ = sto::parse::parse_form_search(input);
    let _ = text::clean_text(input);
    let _ = detect_challenge(200, &Default::default(), input);
    let a = AniworldProvider::new(&ProviderConfig::new("https://aniworld.to")).unwrap();
    let s = StoProvider::new(&ProviderConfig::new("https://s.to")).unwrap();
    let line: String = input.chars().take(300).collect();
    let _ = a.key_from_link(&line);
    let _ = s.key_from_link(&line);
}

/// Real pages of both fixture sites: series, season, movies, episode pages and search answers.
async fn samples() -> Vec<String> {
    let fixture = FixtureSite::start().await;
    let client = reqwest::Client::new();
    let a = fixture.url("aniworld");
    let s = fixture.url("sto");
    let mut urls = vec![
        format!("{a}/anime/stream/attack-on-titan"),
        format!("{a}/anime/stream/attack-on-titan/staffel-1"),
        format!("{a}/anime/stream/attack-on-titan/filme"),
        format!("{a}/anime/stream/kaguya-sama-love-is-war/staffel-1/episode-1"),
        format!("{a}/ajax/seriesSearch?keyword=a"),
        format!("{s}/serie/breaking-bad"),
        format!("{s}/serie/severance/staffel-2"),
        format!("{s}/serie/dark/staffel-1/episode-1"),
        format!("{s}/ajax/seriesSearch?keyword=a"),
    ];
    urls.push(format!("{a}/anime/stream/no-such-series"));
    let mut out = Vec::new();
    for url in urls {
        let body = client.get(&url).send().await.unwrap().text().await.unwrap();
        assert!(!body.is_empty(), "{url}");
        out.push(body);
    }
    let form = client
        .post(format!("{a}/ajax/search"))
        .form(&[("keyword", "a")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    out.push(form);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_parser_panics_on_mutated_real_pages() {
    let pages = samples().await;
    tokio::task::spawn_blocking(move || {
        let mut runner = TestRunner::new(Config {
            cases: 96,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (0..pages.len(), proptest::collection::vec(mutation(), 1..12));
        runner
            .run(&strategy, |(index, mutations)| {
                parse_everything(&apply(pages[index].clone(), &mutations));
                Ok(())
            })
            .unwrap();
    })
    .await
    .unwrap();
}

proptest! {
    #![proptest_config(Config { cases: 256, failure_persistence: None, ..Config::default() })]

    #[test]
    fn no_parser_panics_on_random_text(input in "\\PC{0,400}") {
        parse_everything(&input);
    }

    #[test]
    fn no_parser_panics_on_random_tag_soup(
        input in "(<[a-zA-Z0-9 =\"'/.#-]{0,24}>|&[#a-z0-9]{0,6};|[^<&]{0,16}|[\\x00-\\x1f]){0,60}"
    ) {
        parse_everything(&input);
    }
}
