//! Streamtape (MP4): the player script assembles `//host/get_video?id=..&expires=..&ip=..&token=..`
//! from string pieces (`'a' + ('xyzb').substring(2)...`); we evaluate that expression.

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use url::Url;

use super::common;
use crate::error::{Error, Result};
use crate::model::{MediaKind, MediaSource};
use crate::traits::Hoster;

pub const NAME: &str = "Streamtape";

static LINK_ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"getElementById\(\s*['"](?:robotlink|norobotlink|botlink)['"]\s*\)\.innerHTML\s*=\s*([^;\n]+)"#)
        .expect("static regex")
});

pub struct Streamtape {
    client: common::HosterClient,
}

impl Streamtape {
    pub fn new(client: impl Into<common::HosterClient>) -> Self {
        Streamtape {
            client: client.into(),
        }
    }
}

#[async_trait]
impl Hoster for Streamtape {
    fn name(&self) -> &str {
        NAME
    }

    fn domains(&self) -> Vec<String> {
        [
            "streamtape.com",
            "streamtape.net",
            "streamtape.to",
            "streamtape.xyz",
            "streamtape.cc",
            "streamta.pe",
            "strtape.cloud",
            "strcloud.link",
            "strtpe.link",
            "stape.fun",
            "shavetape.cash",
            "streamadblockplus.com",
            "streamtapeadblock.art",
            "tapeadvertisement.com",
            "watchadsontape.com",
        ]
        .map(String::from)
        .to_vec()
    }

    async fn extract(&self, embed_url: &str) -> Result<MediaSource> {
        let url = common::parse_url(embed_url)?;
        let page = common::get_page(&self.client, NAME, &url, None).await?;
        let media = parse_page(&page.body, &page.url)?;
        Ok(MediaSource {
            url: media,
            kind: MediaKind::Mp4,
            headers: common::media_headers(&page.url),
        })
    }
}

/// The `get_video` URL a Streamtape player page assembles (the last assignment wins, as in the browser).
pub fn parse_page(body: &str, page: &Url) -> Result<String> {
    let expr = LINK_ASSIGNMENT
        .captures_iter(body)
        .filter_map(|c| c.get(1))
        .last()
        .map(|m| m.as_str())
        .ok_or_else(|| common::missing(NAME, "get_video link script (robotlink)", body))?;
    let link = eval_concat(expr)
        .ok_or_else(|| Error::parse(format!("{NAME} link expression {:?}", common::short(expr))))?;
    if !link.contains("get_video") {
        return Err(Error::parse(format!(
            "{NAME} get_video link (assembled {:?})",
            common::short(&link)
        )));
    }
    common::absolutize(&link, page, "Streamtape get_video link")
}

/// Evaluates `'a' + ('b').substring(1).substring(2) + "c"`: string literals, optional parentheses,
/// `.substring(n)` / `.substr(n)` calls, joined by `+`.
pub fn eval_concat(expr: &str) -> Option<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut pos = 0;
    let mut out = String::new();
    let skip_ws = |pos: &mut usize| {
        while *pos < chars.len() && chars[*pos].is_whitespace() {
            *pos += 1;
        }
    };
    loop {
        skip_ws(&mut pos);
        let parenthesised = chars.get(pos) == Some(&'(');
        if parenthesised {
            pos += 1;
            skip_ws(&mut pos);
        }
        let mut term = read_literal(&chars, &mut pos)?;
        skip_ws(&mut pos);
        if parenthesised {
            if chars.get(pos) != Some(&')') {
                return None;
            }
            pos += 1;
        }
        while let Some(n) = read_substring_call(&chars, &mut pos) {
            term = term.chars().skip(n).collect();
        }
        out.push_str(&term);
        skip_ws(&mut pos);
        match chars.get(pos) {
            Some('+') => pos += 1,
            None => return Some(out),
            Some(_) => return None,
        }
    }
}

fn read_literal(chars: &[char], pos: &mut usize) -> Option<String> {
    let quote = *chars.get(*pos).filter(|c| **c == '\'' || **c == '"')?;
    *pos += 1;
    let mut raw = String::new();
    while let Some(&c) = chars.get(*pos) {
        *pos += 1;
        if c == '\\' {
            raw.push(c);
            raw.push(*chars.get(*pos)?);
            *pos += 1;
        } else if c == quote {
            return Some(common::unescape_js(&raw));
        } else {
            raw.push(c);
        }
    }
    None
}

/// `.substring(n)` or `.substr(n)` at `pos`; returns n and moves past it.
fn read_substring_call(chars: &[char], pos: &mut usize) -> Option<usize> {
    let rest: String = chars.iter().skip(*pos).take(24).collect();
    let name_len = if rest.starts_with(".substring(") {
        ".substring(".len()
    } else if rest.starts_with(".substr(") {
        ".substr(".len()
    } else {
        return None;
    };
    let digits: String = rest[name_len..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let close = rest[name_len + digits.len()..].starts_with(')');
    if digits.is_empty() || !close {
        return None;
    }
    *pos += name_len + digits.len() + 1;
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_the_substring_chain() {
        assert_eq!(
            eval_concat("'//host/get_v'+ ('xcdideo?id=1').substring(2).substring(1)").unwrap(),
            "//host/get_video?id=1"
        );
    }

    #[test]
    fn rejects_expressions_it_cannot_evaluate() {
        assert!(eval_concat("a + 'b'").is_none());
        assert!(eval_concat("'a' + ").is_none());
        assert!(eval_concat("('a'").is_none());
    }
}
