//! Keeping connection secrets (tokens, URL passwords, secret query values, Discord webhook
//! tokens) out of API answers, error messages and logs.

use super::ConnectionConfig;

/// What the API shows instead of a secret.
pub const PLACEHOLDER: &str = "***";

/// Query parameters whose values are credentials.
const SECRET_PARAMS: [&str; 10] = [
    "token",
    "access_token",
    "auth",
    "api_key",
    "apikey",
    "key",
    "x-plex-token",
    "password",
    "secret",
    "signature",
];

fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// `https://discord.com/api/webhooks/<id>/<token>`: the index of the token segment.
fn discord_token_segment(url: &url::Url) -> Option<usize> {
    let host = url.host_str()?.to_ascii_lowercase();
    let discord = ["discord.com", "discordapp.com"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")));
    if !discord {
        return None;
    }
    let segments: Vec<&str> = url.path_segments()?.collect();
    let at = segments.iter().position(|s| *s == "webhooks")?;
    (segments.len() > at + 2 && !segments[at + 2].is_empty()).then_some(at + 2)
}

/// `raw` with its secret parts replaced by `***`: the password, secret query values and a
/// Discord webhook's token. Anything that is not a URL comes back unchanged.
pub fn redacted_url(_kind: &str, raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return raw.to_owned();
    };
    let mut changed = false;
    if url.password().is_some() {
        let _ = url.set_password(Some(PLACEHOLDER));
        changed = true;
    }
    if url.query_pairs().any(|(k, _)| is_secret_param(&k)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
                    PLACEHOLDER.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        changed = true;
    }
    if let Some(at) = discord_token_segment(&url) {
        let segments: Vec<String> = url
            .path_segments()
            .map(|s| s.map(str::to_owned).collect())
            .unwrap_or_default();
        if let Ok(mut path) = url.path_segments_mut() {
            path.clear();
            for (i, s) in segments.iter().enumerate() {
                path.push(if i == at { PLACEHOLDER } else { s });
            }
        }
        changed = true;
    }
    if changed {
        url.to_string()
    } else {
        raw.to_owned()
    }
}

/// The secret strings of a connection, longest first (so a value containing another is replaced whole).
fn secrets_of(connection: &ConnectionConfig) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Some(t) = &connection.token {
        secrets.push(t.clone());
    }
    if let Ok(url) = url::Url::parse(&connection.url) {
        if let Some(p) = url.password() {
            secrets.push(p.to_owned());
            if let Some(decoded) = percent_decode(p) {
                secrets.push(decoded);
            }
        }
        for (k, v) in url.query_pairs() {
            if is_secret_param(&k) {
                secrets.push(v.into_owned());
            }
        }
        if let Some(at) = discord_token_segment(&url)
            && let Some(segment) = url.path_segments().and_then(|mut s| s.nth(at))
        {
            secrets.push(segment.to_owned());
        }
    }
    // One- and two-character "secrets" would mangle ordinary text; nobody uses such tokens.
    secrets.retain(|s| s.len() >= 3);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// `%XX` escapes decoded (URL userinfo keeps them); `None` when the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `text` with every secret of `connection` replaced by `***` (for error messages and logs built
/// from what a receiver answered).
pub fn scrub(text: &str, connection: &ConnectionConfig) -> String {
    let mut out = text.to_owned();
    for secret in secrets_of(connection) {
        if out.contains(&secret) {
            out = out.replace(&secret, PLACEHOLDER);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_query_secrets_and_discord_tokens_are_redacted() {
        assert_eq!(
            redacted_url("webhook", "https://u:pw@example.com/hook?x=1"),
            "https://u:***@example.com/hook?x=1"
        );
        assert_eq!(
            redacted_url("ntfy", "https://ntfy.example/topic?auth=abc&title=x"),
            "https://ntfy.example/topic?auth=***&title=x"
        );
        assert_eq!(
            redacted_url("discord", "https://discord.com/api/webhooks/123/s3cr3t-tok"),
            "https://discord.com/api/webhooks/123/***"
        );
        assert_eq!(
            redacted_url("webhook", "http://127.0.0.1:9/plain"),
            "http://127.0.0.1:9/plain"
        );
    }

    #[test]
    fn scrub_removes_every_secret_of_the_connection() {
        let c = ConnectionConfig {
            name: "n".into(),
            kind: "webhook".into(),
            url: "http://user:p%40ss@h/x?token=qtok".into(),
            token: Some("bearer-secret".into()),
            events: None,
        };
        let text = "got bearer-secret and p@ss and p%40ss and qtok back";
        let clean = scrub(text, &c);
        for secret in ["bearer-secret", "p@ss", "p%40ss", "qtok"] {
            assert!(!clean.contains(secret), "{clean}");
        }
    }
}
