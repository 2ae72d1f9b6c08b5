//! aniworld.to provider against the fixture.

use std::collections::BTreeSet;

use aniworld_core::Error;
use aniworld_core::traits::Provider;
use aniworld_testkit::FixtureSite;
use aniworld_testkit::catalogue::{self, Site};

use super::common::{aniworld, key, lang};

fn opt(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

#[tokio::test]
async fn search_finds_series_with_entities_decoded() {
    let fixture = FixtureSite::start().await;
    let hits = aniworld(&fixture).search("kaguya").await.unwrap();
    let expected = catalogue::find(Site::Aniworld, "kaguya-sama-love-is-war").unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].key.as_str(), expected.key);
    assert_eq!(hits[0].name, expected.name);
    assert_eq!(hits[0].year, Some(expected.year));
    assert_eq!(hits[0].site, "aniworld");
    assert!(
        hits[0]
            .link
            .ends_with("/anime/stream/kaguya-sama-love-is-war")
    );
    let description = hits[0].description.as_deref().unwrap();
    assert!(
        !description.chars().any(char::is_control),
        "{description:?}"
    );
}

#[tokio::test]
async fn search_matches_alternative_titles() {
    let fixture = FixtureSite::start().await;
    let hits = aniworld(&fixture).search("Shingeki").await.unwrap();
    assert_eq!(
        hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(),
        ["attack-on-titan"]
    );
}

#[tokio::test]
async fn search_falls_back_to_form_search_when_series_search_is_down() {
    for mode in ["down", "garbage"] {
        let fixture = FixtureSite::start().await;
        fixture.state.set_knob("aniworld.series_search", mode);
        let hits = aniworld(&fixture).search("attack").await.unwrap();
        // The form search also returns season and episode links: only the series is kept.
        assert_eq!(
            hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(),
            ["attack-on-titan"],
            "{mode}"
        );
        assert_eq!(hits[0].name, "Attack on Titan", "<em> stripped ({mode})");
        assert!(
            fixture
                .state
                .requests()
                .iter()
                .any(|r| r.method == "POST" && r.uri == "/ajax/search"),
            "{mode}"
        );
    }
}

#[tokio::test]
async fn search_without_hits_is_empty_not_an_error() {
    let fixture = FixtureSite::start().await;
    assert!(aniworld(&fixture).search("zzzz").await.unwrap().is_empty());
}

#[tokio::test]
async fn series_has_every_season_and_episode_of_the_catalogue() {
    let fixture = FixtureSite::start().await;
    let provider = aniworld(&fixture);
    for expected in catalogue::series_of(Site::Aniworld) {
        let info = provider.series(&key(expected.key)).await.unwrap();
        assert_eq!(info.name, expected.name);
        assert_eq!(info.year, Some(expected.year));
        assert_eq!(info.end_year, expected.end_year);
        assert_eq!(info.description.as_deref(), Some(expected.description));
        assert_eq!(info.genres, expected.genres);
        let want: BTreeSet<(u32, u32)> = expected.released().into_iter().collect();
        assert_eq!(info.episode_numbers(), want, "{}", expected.key);
        for season in &expected.seasons {
            for e in &season.episodes {
                let got = info.episode(season.number, e.number).unwrap();
                assert_eq!(got.title_de, opt(e.title_de));
                assert_eq!(got.title_en, opt(e.title_en));
                let mut langs: Vec<_> = e.languages.iter().map(|l| lang(*l)).collect();
                langs.sort();
                assert_eq!(
                    got.languages, langs,
                    "{} s{}e{}",
                    expected.key, season.number, e.number
                );
            }
        }
    }
}

#[tokio::test]
async fn movies_page_is_season_0() {
    let fixture = FixtureSite::start().await;
    let info = aniworld(&fixture)
        .series(&key("attack-on-titan"))
        .await
        .unwrap();
    let movies = info.seasons.iter().find(|s| s.number == 0).unwrap();
    assert_eq!(movies.episodes.len(), 2);
    assert!(
        movies.episodes[0]
            .url
            .as_deref()
            .unwrap()
            .ends_with("/filme/film-1")
    );
    assert_eq!(
        movies.episodes[0].title_de, None,
        "movies have no German title"
    );
}

#[tokio::test]
async fn series_without_german_dub_lists_no_german_dub() {
    let fixture = FixtureSite::start().await;
    let info = aniworld(&fixture)
        .series(&key("frieren-beyond-journeys-end"))
        .await
        .unwrap();
    assert_eq!(info.end_year, None, "still running");
    assert!(
        info.seasons
            .iter()
            .flat_map(|s| &s.episodes)
            .all(|e| !e.languages.contains(&aniworld_core::Language::GermanDub))
    );
}

#[tokio::test]
async fn series_alternative_titles_and_cover_are_read() {
    let fixture = FixtureSite::start().await;
    let info = aniworld(&fixture)
        .series(&key("attack-on-titan"))
        .await
        .unwrap();
    assert_eq!(
        info.alternative_titles,
        ["Shingeki no Kyojin", "進撃の巨人"]
    );
    assert!(info.cover.unwrap().starts_with(&fixture.url("aniworld")));
}

#[tokio::test]
async fn episode_lists_every_hoster_entry_including_hidden_ones() {
    let fixture = FixtureSite::start().await;
    let provider = aniworld(&fixture);
    for (k, s, e) in [
        ("attack-on-titan", 1, 1),
        ("attack-on-titan", 2, 2),
        ("attack-on-titan", 0, 1),
        ("kaguya-sama-love-is-war", 1, 1),
        ("frieren-beyond-journeys-end", 1, 4),
    ] {
        let streams = provider.episode(&key(k), s, e).await.unwrap();
        let expected = catalogue::episode_links(Site::Aniworld, k, s, e);
        let got: Vec<(_, String, String)> = streams
            .links
            .iter()
            .map(|l| (l.language, l.hoster.clone(), l.url.clone()))
            .collect();
        let want: Vec<(_, String, String)> = expected
            .iter()
            .map(|l| {
                (
                    lang(l.language),
                    l.hoster.to_owned(),
                    format!("{}/redirect/{}", fixture.url("aniworld"), l.id),
                )
            })
            .collect();
        assert_eq!(got, want, "{k} s{s}e{e}");
        let ep = catalogue::find(Site::Aniworld, k)
            .unwrap()
            .episode(s, e)
            .unwrap();
        assert_eq!(
            streams.languages,
            ep.languages.iter().map(|l| lang(*l)).collect::<Vec<_>>()
        );
        assert_eq!(streams.title_en, opt(ep.title_en));
        assert_eq!(streams.title_de, opt(ep.title_de));
    }
}

#[tokio::test]
async fn language_key_4_is_english_dub() {
    let fixture = FixtureSite::start().await;
    let streams = aniworld(&fixture)
        .episode(&key("kaguya-sama-love-is-war"), 1, 2)
        .await
        .unwrap();
    assert_eq!(
        streams.languages,
        [
            aniworld_core::Language::GermanDub,
            aniworld_core::Language::EnglishDub
        ]
    );
    assert_eq!(
        streams.title_de.as_deref(),
        Some("Kaguya möchte es nicht <sagen>")
    );
}

#[tokio::test]
async fn redirect_resolves_to_the_hoster_embed_url() {
    let fixture = FixtureSite::start().await;
    let provider = aniworld(&fixture);
    let streams = provider
        .episode(&key("attack-on-titan"), 1, 2)
        .await
        .unwrap();
    let link = &streams.links[0];
    let embed = provider.resolve_redirect(&link.url).await.unwrap();
    let expected = catalogue::episode_links(Site::Aniworld, "attack-on-titan", 1, 2)[0];
    assert_eq!(
        embed,
        aniworld_testkit::hosters::embed_url(&fixture.state, expected.hoster, &expected.video())
    );
    // A relative link works too, and an embed URL is returned unchanged.
    let relative = format!("/redirect/{}", expected.id);
    assert_eq!(provider.resolve_redirect(&relative).await.unwrap(), embed);
    assert_eq!(provider.resolve_redirect(&embed).await.unwrap(), embed);
}

#[tokio::test]
async fn unknown_series_error_page_is_not_found() {
    let fixture = FixtureSite::start().await;
    let err = aniworld(&fixture)
        .series(&key("no-such-series"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn unknown_episode_404_is_not_found() {
    let fixture = FixtureSite::start().await;
    let provider = aniworld(&fixture);
    let err = provider
        .episode(&key("attack-on-titan"), 1, 99)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let err = provider.resolve_redirect("/redirect/1").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn every_challenge_kind_is_reported_as_blocked() {
    let fixture = FixtureSite::start().await;
    let provider = aniworld(&fixture);
    for kind in ["ddos-guard", "cloudflare", "captcha", "forbidden"] {
        fixture.state.set_knob("aniworld.challenge", kind);
        let err = provider.series(&key("attack-on-titan")).await.unwrap_err();
        assert!(matches!(err, Error::Blocked { .. }), "{kind}: {err:?}");
        let err = provider.search("attack").await.unwrap_err();
        assert!(matches!(err, Error::Blocked { .. }), "{kind}: {err:?}");
        let err = provider
            .resolve_redirect("/redirect/10001")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Blocked { .. }), "{kind}: {err:?}");
    }
}

#[tokio::test]
async fn changed_markup_is_a_parse_error_naming_the_element() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("aniworld.markup", "changed");
    let provider = aniworld(&fixture);
    let err = provider.series(&key("attack-on-titan")).await.unwrap_err();
    match err {
        Error::Parse { what } => assert!(what.contains("series-title"), "{what}"),
        other => panic!("expected a parse error, got {other:?}"),
    }
    let err = provider
        .episode(&key("attack-on-titan"), 1, 1)
        .await
        .unwrap_err();
    match err {
        Error::Parse { what } => assert!(what.contains("hosterSiteVideo"), "{what}"),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[tokio::test]
async fn key_from_link_accepts_paths_urls_and_bare_keys() {
    let fixture = FixtureSite::start().await;
    let provider = aniworld(&fixture);
    let url = format!(
        "{}/anime/stream/one-punch-man/staffel-2",
        fixture.url("aniworld")
    );
    for link in ["/anime/stream/one-punch-man", url.as_str(), "one-punch-man"] {
        assert_eq!(
            provider.key_from_link(link),
            Some(key("one-punch-man")),
            "{link}"
        );
    }
    assert_eq!(provider.key_from_link("/serie/dark"), None);
}
