//! Cleaning text scraped from the sites: entities, stray tags, control characters, whitespace.

use scraper::ElementRef;

/// Decodes HTML entities, drops tags (`<em>` highlights in search results), removes control
/// characters and collapses whitespace.
pub fn clean_text(raw: &str) -> String {
    let without_tags = strip_tags(raw);
    let decoded = html_escape::decode_html_entities(&without_tags);
    collapse_whitespace(&decoded)
}

/// Element text with whitespace collapsed (entities are already decoded by the HTML parser).
pub fn element_text(el: ElementRef<'_>) -> String {
    let joined: String = el.text().collect();
    collapse_whitespace(&joined)
}

/// `Some(text)` unless the text is empty.
pub fn non_empty(text: String) -> Option<String> {
    if text.is_empty() { None } else { Some(text) }
}

fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn strip_tags(s: &str) -> String {
    if !s.contains('<') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        // Only something that looks like a tag is dropped; a lone `<` in a title stays.
        let looks_like_tag = after[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        match after.find('>') {
            Some(end) if looks_like_tag => rest = &after[end + 1..],
            _ => {
                out.push('<');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Replaces raw control characters so a JSON body with stray ones still parses.
pub fn sanitize_json(body: &str) -> String {
    body.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The first four-digit year in `text` (`"(2020 - 2024)"` → 2020).
pub fn first_year(text: &str) -> Option<i32> {
    years(text).next()
}

/// Every four-digit number in `text` that looks like a year.
pub fn years(text: &str) -> impl Iterator<Item = i32> + '_ {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 4)
        .filter_map(|w| w.parse::<i32>().ok())
        .filter(|y| (1900..=2200).contains(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_entities_tags_and_control_characters() {
        assert_eq!(
            clean_text("Tom &amp; <em>Jerry</em>&#039;s\u{0007}  Show\n"),
            "Tom & Jerry's Show"
        );
    }

    #[test]
    fn keeps_a_lone_angle_bracket() {
        assert_eq!(clean_text("a < b"), "a < b");
    }

    #[test]
    fn finds_years() {
        assert_eq!(first_year("(2020 - 2024)"), Some(2020));
        assert_eq!(years("2008 - 2013").collect::<Vec<_>>(), vec![2008, 2013]);
        assert_eq!(first_year("heute"), None);
    }
}
