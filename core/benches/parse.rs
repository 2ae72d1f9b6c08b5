//! Provider parsing, with a baseline from the same run.
//!
//! Run: `cargo bench -p aniworld-core --bench parse`. Targets: a season page and an episode page
//! parse well under 1 ms each.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aniworld_core::providers::{aniworld, sto};

/// Median time of `f` over `runs` runs (after a few warm-up runs).
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..3 {
        f();
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn report(
    name: &str,
    measured: Duration,
    baseline_name: &str,
    baseline: Duration,
    target: Duration,
) {
    let ratio = measured.as_secs_f64() / baseline.as_secs_f64().max(1e-12);
    let verdict = if measured < target {
        "ok"
    } else {
        "OVER TARGET"
    };
    println!(
        "{name:<34} {:>9.1} µs   baseline {baseline_name}: {:>9.1} µs   ratio {ratio:>5.2}x   target < {} µs: {verdict}",
        measured.as_secs_f64() * 1e6,
        baseline.as_secs_f64() * 1e6,
        target.as_micros(),
    );
}

/// Site chrome around the content, sized like the real pages (menus, footer, scripts).
fn chrome(content: &str) -> String {
    let menu: String = (0..150)
        .map(|i| {
            format!(r#"<li><a href="/animes/genre/genre-{i}" title="Genre {i}">Genre {i}</a></li>"#)
        })
        .collect();
    format!(
        r#"<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Series | AniWorld.to</title>
<link rel="stylesheet" href="/public/css/main.css"><script>window.dataLayer=[];function gtag(){{dataLayer.push(arguments)}}</script></head>
<body><div id="wrapper"><header class="main-header"><nav><ul class="primary-navigation">{menu}</ul></nav></header>
{content}<footer><div class="container"><ul>{menu}</ul><p>&copy; 2026 AniWorld</p></div></footer></div>
<script src="/public/js/default.js"></script></body></html>"#
    )
}

const HOSTERS: [&str; 9] = [
    "VOE",
    "Filemoon",
    "Vidmoly",
    "Doodstream",
    "LoadX",
    "Luluvdo",
    "Vidoza",
    "Streamtape",
    "SpeedFiles",
];

/// An aniworld.to season page with 24 episodes.
fn aniworld_season_page() -> String {
    let rows: String = (1..=24)
        .map(|n| {
            let icons: String = HOSTERS.iter().map(|h| format!(r#"<i class="icon {h}" title="{h}"></i>"#)).collect();
            format!(
                r##"<tr class="" data-episode-id="{id}" data-episode-season-id="{n}" itemscope itemprop="episode" itemtype="http://schema.org/Episode">
<td class="season1EpisodeID"><meta itemprop="episodeNumber" content="{n}"><a itemprop="url" href="/anime/stream/x/staffel-1/episode-{n}">Folge {n}</a></td>
<td class="seasonEpisodeTitle"><a href="/anime/stream/x/staffel-1/episode-{n}"><strong>Deutscher Titel &amp; Folge {n}</strong> - <span>English title {n}</span></a></td>
<td><a href="/anime/stream/x/staffel-1/episode-{n}">{icons}</a></td>
<td class="editFunctions"><a href="#"><img class="flag" src="/public/img/german.svg"><img class="flag" src="/public/img/japanese-german.svg"><img class="flag" src="/public/img/japanese-english.svg"></a></td></tr>"##,
                id = 40_000 + n
            )
        })
        .collect();
    chrome(&format!(
        r#"<div class="container"><div id="stream" class="hosterSiteDirectNav"><ul><li><a href="/anime/stream/x/staffel-1">1</a></li><li><a href="/anime/stream/x/staffel-2">2</a></li></ul></div>
<table class="seasonEpisodesList" data-season-id="1"><tbody id="season1">{rows}</tbody></table></div>"#
    ))
}

/// An aniworld.to episode page: 3 languages × 9 hosters, two languages hidden.
fn aniworld_episode_page() -> String {
    let mut entries = String::new();
    let mut id = 90_000;
    for (i, key) in [1, 3, 2].iter().enumerate() {
        for h in HOSTERS {
            id += 1;
            let hidden = if i == 0 {
                ""
            } else {
                r#" style="display: none;""#
            };
            entries.push_str(&format!(
                r#"<li class="col-md-3 col-xs-12 col-sm-6 episodeLink{id}" data-lang-key="{key}" data-link-id="{id}" data-link-target="/redirect/{id}" data-external-embed="false"{hidden}>
<div><a class="watchEpisode" itemprop="url" href="/redirect/{id}" target="_blank"><i class="icon {h}" title="Hoster {h}"></i><h4>{h}</h4><div class="hosterSiteVideoButton">Video Ansehen</div></a></div></li>"#
            ));
        }
    }
    chrome(&format!(
        r#"<div class="container"><div class="hosterSiteTitle"><h2><span class="episodeGermanTitle">Deutscher Titel</span> <small class="episodeEnglishTitle">English Title</small></h2></div>
<div class="hosterSiteVideo"><div class="changeLanguageBox"><img data-lang-key="1" src="/public/img/german.svg"><img data-lang-key="3" src="/public/img/japanese-german.svg"><img data-lang-key="2" src="/public/img/japanese-english.svg"></div>
<ul class="row">{entries}</ul></div></div>"#
    ))
}

/// An s.to episode page: 2 languages × 9 hosters.
fn sto_episode_page() -> String {
    let buttons: String = ["Deutsch", "Englisch"]
        .iter()
        .flat_map(|l| HOSTERS.iter().map(move |h| (l, h)))
        .enumerate()
        .map(|(i, (l, h))| {
            format!(r#"<button class="btn link-box" data-play-url="/r?t=tok{i}" data-provider-name="{h}" data-language-label="{l}">{h}</button>"#)
        })
        .collect();
    chrome(&format!(
        r#"<main><h1 class="h2 mb-1 fw-bold">Serie</h1><h2 class="h4">S01E01: Deutscher Titel (English Title)</h2><div class="hoster-list">{buttons}</div></main>"#
    ))
}

fn main() {
    let season = aniworld_season_page();
    let episode = aniworld_episode_page();
    let sto_episode = sto_episode_page();
    println!(
        "page sizes: aniworld season {} KB, aniworld episode {} KB, s.to episode {} KB",
        season.len() / 1024,
        episode.len() / 1024,
        sto_episode.len() / 1024
    );
    assert_eq!(
        aniworld::parse::parse_season_page(&season, 1)
            .expect("parses")
            .len(),
        24
    );
    assert_eq!(
        aniworld::parse::parse_episode_page(&episode)
            .expect("parses")
            .entries
            .len(),
        27
    );
    assert_eq!(
        sto::parse::parse_episode_page(&sto_episode)
            .expect("parses")
            .buttons
            .len(),
        18
    );

    let one_ms = Duration::from_millis(1);
    let base = median(200, || {
        black_box(scraper::Html::parse_document(black_box(&season)));
    });
    let t = median(200, || {
        black_box(aniworld::parse::parse_season_page(black_box(&season), 1).ok());
    });
    report(
        "aniworld season page (24 episodes)",
        t,
        "Html::parse_document",
        base,
        one_ms,
    );

    let base = median(200, || {
        black_box(scraper::Html::parse_document(black_box(&episode)));
    });
    let t = median(200, || {
        black_box(aniworld::parse::parse_episode_page(black_box(&episode)).ok());
    });
    report(
        "aniworld episode page (27 hosters)",
        t,
        "Html::parse_document",
        base,
        one_ms,
    );

    let base = median(200, || {
        black_box(scraper::Html::parse_document(black_box(&sto_episode)));
    });
    let t = median(200, || {
        black_box(sto::parse::parse_episode_page(black_box(&sto_episode)).ok());
    });
    report(
        "s.to episode page (18 hosters)",
        t,
        "Html::parse_document",
        base,
        one_ms,
    );
}
