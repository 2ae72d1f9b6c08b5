//! Dean Edwards' `eval(function(p,a,c,k,e,d){...}('payload',a,c,'w0|w1|...'.split('|'),0,{}))`
//! packer, undone: every word of the payload is a number in base `a` indexing the word list.

use std::sync::LazyLock;

use regex::Regex;

use crate::error::{Error, Result};

static PACKED_ARGS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\}\s*\(\s*'((?:[^'\\]|\\.)*)'\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*'((?:[^'\\]|\\.)*)'\s*\.split\(\s*'\|'\s*\)"#,
    )
    .expect("static regex")
});

const PACKER_START: &str = "eval(function(p,a,c,k,e,";

/// Largest base the packer's digit alphabet `0-9a-zA-Z` can express.
const MAX_BASE: usize = 62;

/// Unpacks every packed script in `text`, in page order; scripts that do not unpack are skipped.
pub fn unpack_all(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PACKER_START) {
        let tail = &rest[start..];
        if let Ok(unpacked) = unpack(tail) {
            out.push(unpacked);
        }
        rest = &tail[PACKER_START.len()..];
    }
    out
}

/// Unpacks the first packed script in `text`.
pub fn unpack(text: &str) -> Result<String> {
    let caps = PACKED_ARGS
        .captures(text)
        .ok_or_else(|| Error::parse("packed script arguments"))?;
    let payload = unescape_single_quoted(caps.get(1).map_or("", |m| m.as_str()));
    let base: usize = caps
        .get(2)
        .and_then(|m| m.as_str().parse().ok())
        .ok_or_else(|| Error::parse("packed script base"))?;
    let count: usize = caps
        .get(3)
        .and_then(|m| m.as_str().parse().ok())
        .ok_or_else(|| Error::parse("packed script word count"))?;
    if !(2..=MAX_BASE).contains(&base) {
        return Err(Error::parse(format!(
            "packed script base {base} (supported: 2 to {MAX_BASE})"
        )));
    }
    let words_raw = unescape_single_quoted(caps.get(4).map_or("", |m| m.as_str()));
    let words: Vec<&str> = words_raw.split('|').collect();

    let mut out = String::with_capacity(payload.len() * 2);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let replacement = decode_number(word, base)
            .filter(|n| *n < count)
            .and_then(|n| words.get(n))
            .filter(|w| !w.is_empty());
        match replacement {
            Some(w) => out.push_str(w),
            None => out.push_str(word),
        }
        word.clear();
    };
    for ch in payload.chars() {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            word.push(ch);
        } else {
            flush(&mut word, &mut out);
            out.push(ch);
        }
    }
    flush(&mut word, &mut out);
    Ok(out)
}

/// A word of the payload read as a number in `base` with the packer's digits `0-9a-zA-Z`.
fn decode_number(word: &str, base: usize) -> Option<usize> {
    let mut n: usize = 0;
    for ch in word.chars() {
        let digit = match ch {
            '0'..='9' => ch as usize - '0' as usize,
            'a'..='z' => ch as usize - 'a' as usize + 10,
            'A'..='Z' => ch as usize - 'A' as usize + 36,
            _ => return None,
        };
        if digit >= base {
            return None;
        }
        n = n.checked_mul(base)?.checked_add(digit)?;
    }
    Some(n)
}

fn unescape_single_quoted(s: &str) -> String {
    super::common::unescape_js(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_a_hand_packed_script() {
        let packed = r#"eval(function(p,a,c,k,e,d){while(c--)if(k[c])p=p.replace(new RegExp('\\b'+c.toString(a)+'\\b','g'),k[c]);return p}('0 1=\'2\';',3,3,'var|x|hello'.split('|'),0,{}))"#;
        assert_eq!(unpack(packed).unwrap(), "var x='hello';");
    }

    #[test]
    fn words_outside_the_table_stay_as_they_are() {
        let packed = r#"eval(function(p,a,c,k,e,d){}('0 z 1',62,2,'a|'.split('|'),0,{}))"#;
        assert_eq!(unpack(packed).unwrap(), "a z 1");
    }

    #[test]
    fn bases_above_62_are_refused_not_misread() {
        let packed = r#"eval(function(p,a,c,k,e,d){}('0',95,1,'a'.split('|'),0,{}))"#;
        assert!(matches!(unpack(packed), Err(Error::Parse { .. })));
    }
}
