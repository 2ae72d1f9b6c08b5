//! Language and hoster choice: ranked (language, hoster, link) candidates for an episode.

use serde::Serialize;

use crate::config::DownloadConfig;
use crate::model::{EpisodeStreams, Language, StreamLink};

/// One way to get an episode: try candidates in order, falling back to the next on failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub language: Language,
    pub hoster: String,
    /// Provider redirect link or embed URL.
    pub url: String,
}

/// Ranks every hoster entry of an episode: first by the language preference, then by the hoster
/// preference; languages not in the preference list are left out (so "German Dub only" never
/// downloads English), hosters not in the preference list come after the listed ones, in page order.
/// `language` forces one language (the CLI's `--language`).
pub fn rank_candidates(
    streams: &EpisodeStreams,
    prefs: &DownloadConfig,
    language: Option<Language>,
) -> Vec<Candidate> {
    let languages: Vec<Language> = match language {
        Some(l) => vec![l],
        None => {
            let parsed: Vec<Language> = prefs
                .languages
                .iter()
                .filter_map(|l| l.parse().ok())
                .collect();
            if parsed.is_empty() {
                Language::ALL.to_vec()
            } else {
                parsed
            }
        }
    };
    let hoster_rank = |link: &StreamLink| {
        prefs
            .hosters
            .iter()
            .position(|h| h.eq_ignore_ascii_case(&link.hoster))
            .unwrap_or(usize::MAX)
    };
    let mut out = Vec::new();
    for lang in languages {
        let mut links: Vec<(usize, usize, &StreamLink)> = streams
            .links
            .iter()
            .enumerate()
            .filter(|(_, l)| l.language == lang)
            .map(|(i, l)| (hoster_rank(l), i, l))
            .collect();
        links.sort_by_key(|(rank, i, _)| (*rank, *i));
        out.extend(links.into_iter().map(|(_, _, l)| Candidate {
            language: l.language,
            hoster: l.hoster.clone(),
            url: l.url.clone(),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SeriesKey;

    fn link(language: Language, hoster: &str) -> StreamLink {
        StreamLink {
            language,
            hoster: hoster.into(),
            url: format!("/redirect/{hoster}-{}", language.aniworld_key()),
        }
    }

    fn streams(links: Vec<StreamLink>) -> EpisodeStreams {
        EpisodeStreams {
            key: SeriesKey::parse("k").unwrap(),
            season: 1,
            episode: 1,
            title_de: None,
            title_en: None,
            languages: vec![],
            links,
        }
    }

    #[test]
    fn language_first_then_hoster_order_with_fallback() {
        let s = streams(vec![
            link(Language::EnglishSub, "VOE"),
            link(Language::GermanSub, "Streamtape"),
            link(Language::GermanSub, "VOE"),
            link(Language::GermanSub, "Unknown"),
        ]);
        let prefs = DownloadConfig {
            languages: vec![
                "German Dub".into(),
                "German Sub".into(),
                "English Sub".into(),
            ],
            hosters: vec!["VOE".into(), "Streamtape".into()],
            ..Default::default()
        };
        let ranked: Vec<(Language, String)> = rank_candidates(&s, &prefs, None)
            .into_iter()
            .map(|c| (c.language, c.hoster))
            .collect();
        assert_eq!(
            ranked,
            vec![
                (Language::GermanSub, "VOE".into()),
                (Language::GermanSub, "Streamtape".into()),
                (Language::GermanSub, "Unknown".into()),
                (Language::EnglishSub, "VOE".into()),
            ]
        );
    }

    #[test]
    fn forced_language_excludes_others() {
        let s = streams(vec![
            link(Language::GermanDub, "VOE"),
            link(Language::EnglishSub, "VOE"),
        ]);
        let c = rank_candidates(&s, &DownloadConfig::default(), Some(Language::EnglishSub));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].language, Language::EnglishSub);
    }
}
