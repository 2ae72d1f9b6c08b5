//! The encoding side of each hoster scheme, so the fixture's payloads are genuinely encoded and
//! the extractors' decoders are really exercised.

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

const VOE_JUNK: [&str; 7] = ["@$", "^^", "~@", "%?", "*~", "!!", "#&"];

fn b64(data: impl AsRef<[u8]>) -> String {
    STANDARD.encode(data)
}

fn reverse(s: &str) -> String {
    s.chars().rev().collect()
}

fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn rot13(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            _ => c,
        })
        .collect()
}

/// VOE's current payload: JSON → base64 → reverse → plus 3 per char → base64 → junk tokens
/// sprinkled in → ROT13.
pub fn voe_payload(json: &str) -> String {
    let step = b64(json);
    let step: String = reverse(&step)
        .chars()
        .map(|c| (c as u8 + 3) as char)
        .collect();
    let step = b64(step);
    let mut with_junk = String::with_capacity(step.len() * 2);
    for (i, c) in step.chars().enumerate() {
        with_junk.push(c);
        if i % 7 == 3 {
            with_junk.push_str(VOE_JUNK[(i / 7) % VOE_JUNK.len()]);
        }
    }
    rot13(&with_junk)
}

/// VOE's oldest form: base64 of the reversed JSON.
pub fn voe_reversed_blob(json: &str) -> String {
    b64(reverse(json))
}

/// Plain base64 (VOE's old `'hls': '...'`).
pub fn base64(text: &str) -> String {
    b64(text)
}

/// SpeedFiles: the inverse of base64 → swap case → reverse → base64 → reverse → hex pairs →
/// minus 3 → swap case → reverse → base64.
pub fn speedfiles(url: &str) -> String {
    let a = b64(url);
    let b = swap_case(&reverse(&a));
    let c: String = b
        .chars()
        .map(|ch| format!("{:02x}", ch as u32 + 3))
        .collect();
    let d = reverse(&c);
    let e = b64(d);
    let f = swap_case(&reverse(&e));
    b64(f)
}

/// Filemoon's `playback` object: `plaintext` encrypted with AES-256-GCM under a fresh key split in
/// two base64url parts; `payload` is ciphertext followed by the 16-byte tag.
pub fn filemoon_playback(plaintext: &str) -> serde_json::Value {
    let key: [u8; 32] = rand::random();
    let iv: [u8; 12] = rand::random();
    let cipher = Aes256Gcm::new_from_slice(&key).expect("32-byte key");
    let payload = cipher
        .encrypt(Nonce::from_slice(&iv), plaintext.as_bytes())
        .expect("AES-GCM encryption of a small payload");
    serde_json::json!({
        "algorithm": "AES-256-GCM",
        "iv": URL_SAFE_NO_PAD.encode(iv),
        "payload": URL_SAFE_NO_PAD.encode(payload),
        "key_parts": [URL_SAFE_NO_PAD.encode(&key[..16]), URL_SAFE_NO_PAD.encode(&key[16..])],
        "decrypt_keys": {},
    })
}

/// Dean Edwards' p,a,c,k,e,d packer (base 62): every word becomes its index in the word list.
pub fn pack(source: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut payload = String::new();
    let mut word = String::new();
    let mut flush = |word: &mut String, payload: &mut String| {
        if word.is_empty() {
            return;
        }
        let index = match words.iter().position(|w| w == word) {
            Some(i) => i,
            None => {
                words.push(word.clone());
                words.len() - 1
            }
        };
        payload.push_str(&base62(index));
        word.clear();
    };
    for ch in source.chars() {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            word.push(ch);
        } else {
            flush(&mut word, &mut payload);
            match ch {
                '\\' => payload.push_str("\\\\"),
                '\'' => payload.push_str("\\'"),
                '\n' => payload.push_str("\\n"),
                other => payload.push(other),
            }
        }
    }
    flush(&mut word, &mut payload);
    let count = words.len();
    let dictionary = words.join("|");
    format!(
        "eval(function(p,a,c,k,e,d){{e=function(c){{return(c<a?'':e(parseInt(c/a)))+((c=c%a)>35?String.fromCharCode(c+29):c.toString(36))}};if(!''.replace(/^/,String)){{while(c--){{d[e(c)]=k[c]||e(c)}}k=[function(e){{return d[e]}}];e=function(){{return'\\\\w+'}};c=1}};while(c--){{if(k[c]){{p=p.replace(new RegExp('\\\\b'+e(c)+'\\\\b','g'),k[c])}}}}return p}}('{payload}',62,{count},'{dictionary}'.split('|'),0,{{}}))"
    )
}

/// The packer's number encoding: digits `0-9a-zA-Z`.
fn base62(mut n: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[n % 62]);
        n /= 62;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii digits")
}
