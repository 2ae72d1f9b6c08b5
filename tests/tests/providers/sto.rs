//! s.to provider (2026 layout) against the fixture.

use std::collections::BTreeSet;

use aniworld_core::traits::Provider;
use aniworld_core::{Error, Language};
use aniworld_testkit::FixtureSite;
use aniworld_testkit::catalogue::{self, Site};

use super::common::{key, lang, sto};

#[tokio::test]
async fn search_finds_series_with_entities_decoded() {
    let fixture = FixtureSite::start().await;
    let hits = sto(&fixture).search("jerry").await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].key.as_str(), "tom-und-jerry");
    assert_eq!(hits[0].name, "Tom & Jerry's \"Große\" Show");
    assert_eq!(hits[0].site, "sto");
}

#[tokio::test]
async fn search_uses_the_suggest_endpoint() {
    let fixture = FixtureSite::start().await;
    let hits = sto(&fixture).search("breaking").await.unwrap();
    assert_eq!(
        hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(),
        ["breaking-bad"]
    );
    assert_eq!(hits[0].name, "Breaking Bad");
    assert!(
        hits[0].link.ends_with("/serie/breaking-bad"),
        "{}",
        hits[0].link
    );
    let uris: Vec<String> = fixture
        .state
        .requests()
        .iter()
        .map(|r| r.uri.clone())
        .collect();
    assert_eq!(uris, ["/api/search/suggest?term=breaking"]);
}

#[tokio::test]
async fn search_falls_back_to_the_old_endpoints() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("sto.suggest", "garbage");
    let hits = sto(&fixture).search("jerry").await.unwrap();
    assert_eq!(hits[0].key.as_str(), "tom-und-jerry");
    assert_eq!(hits[0].year, Some(1975), "{hits:?}");
}

#[tokio::test]
async fn brotli_pages_are_decoded_even_when_not_asked_for() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("sto.brotli", "on");
    // The knob really encodes: a client that does not decode sees `br` and no JSON.
    let raw = reqwest::Client::builder()
        .no_brotli()
        .build()
        .unwrap()
        .get(format!("{}/serie/dark", fixture.url("sto")))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["content-encoding"], "br");
    assert!(!String::from_utf8_lossy(&raw.bytes().await.unwrap()).contains("Dark"));
    let hits = sto(&fixture).search("breaking").await.unwrap();
    assert_eq!(hits[0].key.as_str(), "breaking-bad");
    let info = sto(&fixture).series(&key("dark")).await.unwrap();
    assert_eq!(info.name, "Dark");
}

#[tokio::test]
async fn search_falls_back_to_form_search() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("sto.suggest", "down");
    fixture.state.set_knob("sto.series_search", "down");
    let hits = sto(&fixture).search("bad").await.unwrap();
    assert_eq!(
        hits.iter().map(|h| h.key.as_str()).collect::<Vec<_>>(),
        ["breaking-bad"]
    );
}

#[tokio::test]
async fn series_has_every_released_episode_with_movies_as_season_0() {
    let fixture = FixtureSite::start().await;
    let provider = sto(&fixture);
    for expected in catalogue::series_of(Site::Sto) {
        let info = provider.series(&key(expected.key)).await.unwrap();
        assert_eq!(info.name, expected.name);
        assert_eq!(info.year, Some(expected.year));
        assert_eq!(info.end_year, expected.end_year);
        assert_eq!(info.genres, expected.genres);
        assert_eq!(info.description.as_deref(), Some(expected.description));
        let want: BTreeSet<(u32, u32)> = expected.released().into_iter().collect();
        assert_eq!(info.episode_numbers(), want, "{}", expected.key);
    }
}

#[tokio::test]
async fn upcoming_episodes_are_left_out() {
    let fixture = FixtureSite::start().await;
    let info = sto(&fixture).series(&key("severance")).await.unwrap();
    assert!(info.episode(2, 2).is_some());
    assert!(info.episode(2, 3).is_none(), "episode 3 is only announced");
}

#[tokio::test]
async fn episode_lists_every_hoster_button_with_language() {
    let fixture = FixtureSite::start().await;
    let provider = sto(&fixture);
    for (k, s, e) in [("dark", 1, 1), ("breaking-bad", 0, 1), ("severance", 1, 1)] {
        let streams = provider.episode(&key(k), s, e).await.unwrap();
        let want: Vec<_> = catalogue::episode_links(Site::Sto, k, s, e)
            .iter()
            .map(|l| (lang(l.language), l.hoster.to_owned()))
            .collect();
        let got: Vec<_> = streams
            .links
            .iter()
            .map(|l| (l.language, l.hoster.clone()))
            .collect();
        assert_eq!(got, want, "{k} s{s}e{e}");
        let ep = catalogue::find(Site::Sto, k)
            .unwrap()
            .episode(s, e)
            .unwrap();
        assert_eq!(streams.title_de.as_deref(), Some(ep.title_de));
        assert_eq!(streams.title_en.as_deref(), Some(ep.title_en));
    }
}

#[tokio::test]
async fn dark_offers_german_sub_label() {
    let fixture = FixtureSite::start().await;
    let streams = sto(&fixture).episode(&key("dark"), 1, 1).await.unwrap();
    assert_eq!(
        streams.languages,
        [
            Language::GermanDub,
            Language::GermanSub,
            Language::EnglishDub
        ]
    );
}

#[tokio::test]
async fn play_url_resolves_to_the_hoster_embed_url() {
    let fixture = FixtureSite::start().await;
    let provider = sto(&fixture);
    let streams = provider.episode(&key("breaking-bad"), 1, 2).await.unwrap();
    let link = &streams.links[0];
    assert!(link.url.contains("/r?t="), "{}", link.url);
    let embed = provider.resolve_redirect(&link.url).await.unwrap();
    let expected = catalogue::episode_links(Site::Sto, "breaking-bad", 1, 2)[0];
    assert_eq!(
        embed,
        aniworld_testkit::hosters::embed_url(&fixture.state, expected.hoster, &expected.video())
    );
}

#[tokio::test]
async fn turnstile_on_the_redirect_is_blocked_while_pages_still_load() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("sto.challenge", "turnstile");
    let provider = sto(&fixture);
    let streams = provider.episode(&key("dark"), 1, 2).await.unwrap();
    let err = provider
        .resolve_redirect(&streams.links[0].url)
        .await
        .unwrap_err();
    match err {
        Error::Blocked { site, reason } => {
            assert_eq!(site, "sto");
            assert_eq!(reason, "Turnstile");
        }
        other => panic!("expected blocked, got {other:?}"),
    }
}

#[tokio::test]
async fn cloudflare_challenge_is_blocked() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("sto.challenge", "cloudflare");
    let err = sto(&fixture).series(&key("dark")).await.unwrap_err();
    assert!(matches!(err, Error::Blocked { .. }), "{err:?}");
}

#[tokio::test]
async fn unknown_series_and_episode_are_not_found() {
    let fixture = FixtureSite::start().await;
    let provider = sto(&fixture);
    let err = provider.series(&key("no-such-show")).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let err = provider.episode(&key("dark"), 1, 42).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn changed_markup_is_a_parse_error_naming_the_element() {
    let fixture = FixtureSite::start().await;
    fixture.state.set_knob("sto.markup", "changed");
    let provider = sto(&fixture);
    match provider.series(&key("dark")).await.unwrap_err() {
        Error::Parse { what } => assert!(what.contains("h1"), "{what}"),
        other => panic!("expected a parse error, got {other:?}"),
    }
    match provider.episode(&key("dark"), 1, 1).await.unwrap_err() {
        Error::Parse { what } => assert!(what.contains("h2"), "{what}"),
        other => panic!("expected a parse error, got {other:?}"),
    }
}
