//! A forgiving tag scanner: enough to pick attributes and text out of known markup without an
//! HTML parser dependency. Never panics on malformed input; missing pieces come back as `None`.

/// One start tag.
#[derive(Debug, Clone)]
pub struct Tag<'a> {
    pub name: String,
    attrs: Vec<(String, String)>,
    /// Byte offset just after the tag's `>`.
    pub end: usize,
    html: &'a str,
}

impl<'a> Tag<'a> {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_whitespace().any(|x| x == class))
    }

    /// Text up to the next tag, entities decoded, trimmed.
    pub fn text(&self) -> String {
        let rest = &self.html[self.end..];
        let until = rest.find('<').unwrap_or(rest.len());
        decode_entities(rest[..until].trim())
    }

    /// Raw markup from after this tag to the matching close of `name` (not nesting-aware, which
    /// is enough for `li`, `tr` and `td` in the known markup).
    pub fn inner(&self) -> &'a str {
        let rest = &self.html[self.end..];
        let close = format!("</{}", self.name);
        let until = find_ci(rest, &close).unwrap_or(rest.len());
        &rest[..until]
    }
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .to_ascii_lowercase()
        .find(&needle.to_ascii_lowercase())
}

/// Every start tag in document order.
pub fn tags(html: &str) -> Vec<Tag<'_>> {
    let bytes = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'/' || bytes[j] == b'!' || bytes[j] == b'?') {
            // Close tags, comments, doctype: skip to '>'.
            while j < bytes.len() && bytes[j] != b'>' {
                j += 1;
            }
            i = j + 1;
            continue;
        }
        let mut quote: Option<u8> = None;
        while j < bytes.len() {
            match (quote, bytes[j]) {
                (None, b'>') => break,
                (None, b'"' | b'\'') => quote = Some(bytes[j]),
                (Some(q), c) if c == q => quote = None,
                _ => {}
            }
            j += 1;
        }
        if j >= bytes.len() {
            break;
        }
        let inside = &html[start + 1..j];
        if let Some((name, attrs)) = parse_tag(inside) {
            out.push(Tag {
                name,
                attrs,
                end: j + 1,
                html,
            });
        }
        i = j + 1;
    }
    out
}

fn parse_tag(inside: &str) -> Option<(String, Vec<(String, String)>)> {
    let inside = inside.trim_end_matches('/');
    let name_end = inside
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(inside.len());
    let name = inside[..name_end].to_ascii_lowercase();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let mut attrs = Vec::new();
    let rest = &inside[name_end..];
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let ks = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' {
            i += 1;
        }
        if ks == i {
            i += 1;
            continue;
        }
        let key = rest[ks..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                i = vs;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                value = decode_entities(&rest[vs..i.min(rest.len())]);
                i += 1;
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = decode_entities(&rest[vs..i]);
            }
        }
        attrs.push((key, value));
    }
    Some((name, attrs))
}

/// The handful of entities the sites use, plus numeric ones.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" | "#39" => Some('\''),
            "nbsp" => Some(' '),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text of a fragment with every tag removed.
pub fn strip_tags(fragment: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in fragment.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode_entities(out.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_attributes_and_text() {
        let html =
            r#"<div class="a b"><h1 itemprop='name' data-x=1><span>Title &amp; Co</span></h1>"#;
        let t = tags(html);
        assert!(t[0].has_class("b"));
        assert_eq!(t[1].attr("itemprop"), Some("name"));
        assert_eq!(t[1].attr("data-x"), Some("1"));
        assert_eq!(t[2].text(), "Title & Co");
    }

    #[test]
    fn survives_garbage() {
        for junk in [
            "<",
            "<<>>",
            "<a href=\"x",
            "&#xZZ; &",
            "<div class=>",
            "</>",
        ] {
            let _ = tags(junk);
            let _ = decode_entities(junk);
        }
    }
}
