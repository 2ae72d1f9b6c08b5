//! Example native provider plugin: reads aniworld.to-style markup (the fixture site's) with its own
//! tiny HTTP client and tag scanner, so it depends on nothing but the SDK. It is a hoster too
//! (`FixtureHost`), to show that side of the ABI: one library may provide both.
//!
//! Its id is `fixture`; set `providers.fixture.base_url` in the server config to point it at a site.

mod html;
mod http;

use std::sync::RwLock;

use aniworld_plugin_sdk::{
    ABI_VERSION, Episode, EpisodeStreams, ErrorKind, MediaKind, MediaSource, Plugin, PluginError,
    PluginKind, PluginMetadata, PluginResult, SearchResult, Season, SeriesInfo, StreamLink,
    export_plugin,
};

const ID: &str = "fixture";
/// The hoster this library provides, and the domain its embed pages are on.
const HOSTER: &str = "FixtureHost";
const HOSTER_DOMAIN: &str = "fixture-host.test";

struct FixtureProvider {
    base_url: RwLock<String>,
}

fn language_name(key: &str) -> Option<&'static str> {
    match key.trim() {
        "1" => Some("German Dub"),
        "2" => Some("English Sub"),
        "3" => Some("German Sub"),
        "4" => Some("English Dub"),
        _ => None,
    }
}

fn is_key(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn check_key(key: &str) -> PluginResult<()> {
    if is_key(key) {
        Ok(())
    } else {
        Err(PluginError::new(
            ErrorKind::Invalid,
            format!("not a series key: {key:?}"),
        ))
    }
}

/// Years like `(2020 - 2024)` or `2013`: the first four-digit number.
fn first_year(text: &str) -> Option<i32> {
    let digits: Vec<char> = text.chars().collect();
    digits
        .windows(4)
        .find(|w| w.iter().all(char::is_ascii_digit))
        .and_then(|w| w.iter().collect::<String>().parse().ok())
}

impl FixtureProvider {
    fn base(&self) -> String {
        self.base_url
            .read()
            .map(|b| b.trim_end_matches('/').to_owned())
            .unwrap_or_default()
    }

    fn absolute(&self, link: &str) -> String {
        if link.starts_with("http://") || link.starts_with("https://") {
            link.to_owned()
        } else if link.starts_with('/') {
            format!("{}{link}", self.base())
        } else {
            format!("{}/{link}", self.base())
        }
    }

    fn page(&self, path: &str) -> PluginResult<String> {
        let url = self.absolute(path);
        let resp = http::get(&url, Some(&format!("{}/", self.base())))?;
        match resp.status {
            200 => {}
            404 => return Err(PluginError::not_found(url)),
            403 => {
                return Err(PluginError::new(
                    ErrorKind::Blocked,
                    format!("403 at {url}"),
                ));
            }
            s => return Err(PluginError::http(format!("status {s} at {url}"))),
        }
        if resp.body.contains("messageAlert danger") {
            return Err(PluginError::not_found(url));
        }
        Ok(resp.body)
    }

    fn season_episodes(&self, key: &str, season: u32) -> PluginResult<Vec<Episode>> {
        let path = if season == 0 {
            format!("/anime/stream/{key}/filme")
        } else {
            format!("/anime/stream/{key}/staffel-{season}")
        };
        let body = self.page(&path)?;
        let tags = html::tags(&body);
        let mut episodes = Vec::new();
        for row in tags
            .iter()
            .filter(|t| t.name == "tr" && t.attr("itemprop") == Some("episode"))
        {
            let inner = row.inner();
            let inner_tags = html::tags(inner);
            let number = row
                .attr("data-episode-season-id")
                .and_then(|n| n.trim().parse::<u32>().ok())
                .or_else(|| {
                    inner_tags
                        .iter()
                        .find(|t| t.name == "meta" && t.attr("itemprop") == Some("episodeNumber"))
                        .and_then(|t| t.attr("content")?.trim().parse().ok())
                });
            let Some(number) = number else { continue };
            let title = |name: &str| {
                inner_tags
                    .iter()
                    .find(|t| t.name == name)
                    .map(|t| t.text())
                    .filter(|t| !t.is_empty())
            };
            let mut languages = Vec::new();
            for flag in inner_tags.iter().filter(|t| t.name == "img") {
                let src = flag.attr("src").or(flag.attr("data-src")).unwrap_or("");
                let lang = if src.ends_with("japanese-german.svg") {
                    "German Sub"
                } else if src.ends_with("japanese-english.svg") {
                    "English Sub"
                } else if src.ends_with("german.svg") {
                    "German Dub"
                } else if src.ends_with("english.svg") {
                    "English Dub"
                } else {
                    continue;
                };
                if !languages.iter().any(|l| l == lang) {
                    languages.push(lang.to_owned());
                }
            }
            let url = inner_tags
                .iter()
                .find(|t| t.name == "a")
                .and_then(|t| t.attr("href"))
                .map(|h| self.absolute(h));
            episodes.push(Episode {
                number,
                title_de: title("strong"),
                title_en: title("span"),
                languages,
                url,
            });
        }
        episodes.sort_by_key(|e| e.number);
        episodes.dedup_by_key(|e| e.number);
        Ok(episodes)
    }
}

impl Plugin for FixtureProvider {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata {
            id: ID.into(),
            name: "Fixture (aniworld markup)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            abi_version: ABI_VERSION,
            kinds: vec![PluginKind::Provider, PluginKind::Hoster],
            hoster_name: Some(HOSTER.into()),
            hoster_domains: vec![HOSTER_DOMAIN.into()],
            description: Some("Example provider plugin for aniworld.to-style markup".into()),
        }
    }

    fn init(&self, settings: &serde_json::Value) -> PluginResult<()> {
        if let Some(url) = settings.get("base_url").and_then(|v| v.as_str())
            && !url.is_empty()
            && let Ok(mut base) = self.base_url.write()
        {
            *base = url.to_owned();
        }
        Ok(())
    }

    fn search(&self, query: &str) -> PluginResult<Vec<SearchResult>> {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let body = self.page(&format!("/ajax/seriesSearch?keyword={encoded}"))?;
        // The site sends stray control characters: drop them before parsing.
        let clean: String = body
            .chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .collect();
        let items: Vec<serde_json::Value> = serde_json::from_str(&clean)
            .map_err(|e| PluginError::parse(format!("search JSON: {e}")))?;
        let mut out = Vec::new();
        for item in items {
            let field = |k: &str| {
                item.get(k)
                    .and_then(|v| v.as_str())
                    .map(html::decode_entities)
            };
            let Some(link) = field("link") else { continue };
            let key = link
                .trim_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            if !is_key(&key) {
                continue;
            }
            out.push(SearchResult {
                site: ID.into(),
                name: field("name")
                    .map(|n| html::strip_tags(&n))
                    .unwrap_or_else(|| key.clone()),
                year: field("productionYear").as_deref().and_then(first_year),
                description: field("description"),
                cover: field("cover").map(|c| self.absolute(&c)),
                link: self.absolute(&format!("/anime/stream/{key}")),
                key,
            });
        }
        Ok(out)
    }

    fn series(&self, key: &str) -> PluginResult<SeriesInfo> {
        check_key(key)?;
        let body = self.page(&format!("/anime/stream/{key}"))?;
        let tags = html::tags(&body);
        let h1 = tags
            .iter()
            .position(|t| t.name == "h1" && t.attr("itemprop") == Some("name"))
            .ok_or_else(|| PluginError::parse("series title h1[itemprop=name]"))?;
        let name = tags[h1 + 1..]
            .iter()
            .find(|t| t.name == "span")
            .map(|t| t.text())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| PluginError::parse("series title span"))?;
        let alternative_titles = tags[h1]
            .attr("data-alternativetitles")
            .map(|a| {
                a.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let year_after = |prop: &str| {
            let i = tags.iter().position(|t| t.attr("itemprop") == Some(prop))?;
            tags[i..].iter().find(|t| t.name == "a").map(|t| t.text())
        };
        let description = tags
            .iter()
            .find(|t| t.has_class("seri_des"))
            .and_then(|t| {
                t.attr("data-full-description")
                    .map(str::to_owned)
                    .or(Some(t.text()))
            })
            .filter(|d| !d.is_empty());
        // The genre list also carries language tags (`Ger`, `GerSub`, `EngSub`): not genres.
        let genres = tags
            .iter()
            .filter(|t| t.name == "a" && t.has_class("genreButton"))
            .map(|t| t.text())
            .filter(|g| {
                !g.is_empty()
                    && !matches!(g.as_str(), "Ger" | "GerSub" | "EngSub" | "Eng" | "EngDub")
            })
            .collect();
        let cover = tags
            .iter()
            .position(|t| t.has_class("seriesCoverBox"))
            .and_then(|i| tags[i..].iter().find(|t| t.name == "img"))
            .and_then(|t| t.attr("data-src").or(t.attr("src")))
            .map(|c| self.absolute(c));

        let mut season_numbers: Vec<u32> = Vec::new();
        let prefix = format!("/anime/stream/{key}/");
        for a in tags.iter().filter(|t| t.name == "a") {
            let Some(href) = a.attr("href") else { continue };
            let Some(pos) = href.find(&prefix) else {
                continue;
            };
            let tail = &href[pos + prefix.len()..];
            let number = if tail == "filme" {
                Some(0)
            } else {
                tail.strip_prefix("staffel-")
                    .and_then(|n| n.parse::<u32>().ok())
            };
            if let Some(n) = number
                && !season_numbers.contains(&n)
            {
                season_numbers.push(n);
            }
        }
        season_numbers.sort_unstable();
        let mut seasons = Vec::new();
        for number in season_numbers {
            seasons.push(Season {
                number,
                episodes: self.season_episodes(key, number)?,
            });
        }
        Ok(SeriesInfo {
            key: key.to_owned(),
            site: ID.into(),
            name,
            year: year_after("startDate").as_deref().and_then(first_year),
            end_year: year_after("endDate").as_deref().and_then(first_year),
            description,
            cover,
            genres,
            alternative_titles,
            seasons,
            url: self.absolute(&format!("/anime/stream/{key}")),
        })
    }

    fn episode(&self, key: &str, season: u32, episode: u32) -> PluginResult<EpisodeStreams> {
        check_key(key)?;
        let path = if season == 0 {
            format!("/anime/stream/{key}/filme/film-{episode}")
        } else {
            format!("/anime/stream/{key}/staffel-{season}/episode-{episode}")
        };
        let body = self.page(&path)?;
        let tags = html::tags(&body);
        let title = |class: &str| {
            tags.iter()
                .find(|t| t.has_class(class))
                .map(|t| html::strip_tags(t.inner()))
                .filter(|t| !t.is_empty())
        };
        let mut languages: Vec<String> = Vec::new();
        let mut links = Vec::new();
        for t in &tags {
            if t.name == "img"
                && let Some(lang) = t.attr("data-lang-key").and_then(language_name)
                && !languages.iter().any(|l| l == lang)
            {
                languages.push(lang.to_owned());
            }
            if t.name == "li"
                && let (Some(lang), Some(target)) = (
                    t.attr("data-lang-key").and_then(language_name),
                    t.attr("data-link-target"),
                )
            {
                let inner = html::tags(t.inner());
                let hoster = inner
                    .iter()
                    .find(|x| x.name == "h4")
                    .map(|x| x.text())
                    .filter(|h| !h.is_empty());
                if let Some(hoster) = hoster {
                    links.push(StreamLink {
                        language: lang.to_owned(),
                        hoster,
                        url: self.absolute(target),
                    });
                }
            }
        }
        for l in &links {
            if !languages.contains(&l.language) {
                languages.push(l.language.clone());
            }
        }
        Ok(EpisodeStreams {
            key: key.to_owned(),
            season,
            episode,
            title_de: title("episodeGermanTitle"),
            title_en: title("episodeEnglishTitle"),
            languages,
            links,
        })
    }

    /// `https://fixture-host.test/e/{id}` → the MP4 `https://fixture-host.test/v/{id}.mp4`, to be
    /// fetched with the embed page as `Referer`.
    fn extract(&self, embed_url: &str) -> PluginResult<MediaSource> {
        let id = embed_url
            .split_once(&format!("{HOSTER_DOMAIN}/e/"))
            .map(|(_, id)| id.trim_end_matches('/'))
            .filter(|id| is_key(id))
            .ok_or_else(|| {
                PluginError::not_found(format!("not a {HOSTER} embed URL: {embed_url}"))
            })?;
        let origin = &embed_url[..embed_url.find("/e/").unwrap_or(embed_url.len())];
        Ok(MediaSource {
            url: format!("{origin}/v/{id}.mp4"),
            kind: MediaKind::Mp4,
            headers: [("Referer".to_owned(), embed_url.to_owned())].into(),
        })
    }

    fn resolve_redirect(&self, link: &str) -> PluginResult<String> {
        let url = self.absolute(link);
        if !url.starts_with(&self.base()) || !url.contains("/redirect/") {
            return Ok(url);
        }
        let resp = http::get(&url, Some(&format!("{}/", self.base())))?;
        match resp.status {
            301 | 302 | 303 | 307 | 308 => resp
                .header("location")
                .map(|l| self.absolute(l))
                .ok_or_else(|| PluginError::parse("redirect without Location")),
            404 => Err(PluginError::not_found(url)),
            s => Err(PluginError::http(format!("redirect answered {s}"))),
        }
    }

    fn key_from_link(&self, link: &str) -> PluginResult<Option<String>> {
        if let Some(pos) = link.find("/anime/stream/") {
            let key = link[pos + "/anime/stream/".len()..]
                .split(['/', '?', '#'])
                .next()
                .unwrap_or_default();
            return Ok(is_key(key).then(|| key.to_owned()));
        }
        Ok(None)
    }
}

export_plugin!(FixtureProvider {
    base_url: RwLock::new("http://127.0.0.1".to_owned()),
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_links() {
        let p = FixtureProvider {
            base_url: RwLock::new("http://x".into()),
        };
        assert_eq!(
            p.key_from_link("http://x/anime/stream/one-piece/staffel-1")
                .unwrap(),
            Some("one-piece".into())
        );
        assert_eq!(p.key_from_link("/serie/other").unwrap(), None);
        assert_eq!(p.key_from_link("/anime/stream/../etc").unwrap(), None);
    }

    #[test]
    fn years_from_text() {
        assert_eq!(first_year("(2020 - 2024)"), Some(2020));
        assert_eq!(first_year("heute"), None);
    }
}
