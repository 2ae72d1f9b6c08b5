//! Target paths: the naming template, sanitised path parts, and the proof that a path stays inside
//! the library root.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{Language, SeriesKey};

/// Longest path part we write, in bytes (common file systems allow 255).
const MAX_PART_BYTES: usize = 180;

/// Longest path component most file systems allow, in bytes.
const MAX_COMPONENT_BYTES: usize = 255;
/// Longest series name we put into a folder name, in characters.
const MAX_SERIES_NAME_CHARS: usize = 150;

/// Invisible characters that can make a name display differently from what it is: bidi
/// embeddings, overrides and isolates, directional marks, zero-width characters and the BOM.
pub fn is_invisible_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut_at_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// The folder a new series gets in the library: `Name (Year)` with path separators, reserved and
/// invisible characters removed, whitespace collapsed, no leading or trailing dots, the key when
/// nothing is left. Short enough in bytes that even the fallback `Name (Year) [key]` fits one path
/// component.
pub fn series_folder_name(name: &str, year: Option<i32>, key: &SeriesKey) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !is_invisible_format_char(*c))
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed = collapsed.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let mut base: String = trimmed.chars().take(MAX_SERIES_NAME_CHARS).collect();
    let year_suffix = year.map(|y| format!(" ({y})")).unwrap_or_default();
    let key_suffix = format!(" [{key}]").len();
    let budget = MAX_COMPONENT_BYTES.saturating_sub(year_suffix.len() + key_suffix);
    base = cut_at_bytes(&base, budget)
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
        .to_owned();
    if base.is_empty() {
        base = key.to_string();
    }
    match year {
        Some(y) if !base.ends_with(&format!("({y})")) => format!("{base}{year_suffix}"),
        _ => base,
    }
}

/// What the template's placeholders stand for.
#[derive(Debug, Clone)]
pub struct NamingValues<'a> {
    pub folder: &'a str,
    pub title: &'a str,
    pub year: Option<i32>,
    pub season: u32,
    pub episode: u32,
    pub language: Language,
    pub episode_title: Option<&'a str>,
}

/// The default series folder name: `Name (Year)` or `Name`.
pub fn default_folder_name(name: &str, year: Option<i32>) -> String {
    let base = match year {
        Some(y) => format!("{name} ({y})"),
        None => name.to_owned(),
    };
    sanitize_part(&base)
}

/// Renders `template` (parts separated by `/`) to a path relative to the library root. Each
/// placeholder value is sanitised before it is inserted, so a title can never add a directory level.
pub fn render_template(template: &str, values: &NamingValues<'_>) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    let parts: Vec<&str> = template
        .split(['/', '\\'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return Err(Error::invalid(
            "library.naming_template",
            "template is empty",
        ));
    }
    for part in parts {
        let rendered = render_part(part, values)?;
        out.push(sanitize_part(&tidy(&rendered)));
    }
    Ok(out)
}

fn render_part(part: &str, v: &NamingValues<'_>) -> Result<String> {
    let mut out = String::with_capacity(part.len() + 32);
    let mut rest = part;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return Err(Error::invalid(
                "library.naming_template",
                format!("unclosed '{{' in {part:?}"),
            ));
        };
        let spec = &after[..end];
        let (name, width) = match spec.split_once(':') {
            Some((n, w)) => {
                let width: usize = w.trim_start_matches('0').parse().unwrap_or(0);
                (n, width.min(6))
            }
            None => (spec, 0),
        };
        let value = match name {
            "folder" => sanitize_value(v.folder),
            "title" => sanitize_value(v.title),
            "year" => v.year.map(|y| y.to_string()).unwrap_or_default(),
            "season" => format!("{:0width$}", v.season),
            "episode" => format!("{:0width$}", v.episode),
            "language" => v.language.as_str().to_owned(),
            "episode_title" => v.episode_title.map(sanitize_value).unwrap_or_default(),
            other => {
                return Err(Error::invalid(
                    "library.naming_template",
                    format!(
                        "unknown placeholder {{{other}}} (known: folder, title, year, season, episode, language, episode_title)"
                    ),
                ));
            }
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Removes what an empty placeholder leaves behind: `()`, `[]`, doubled spaces, dangling ` - `.
fn tidy(s: &str) -> String {
    let mut t = s.replace("()", "").replace("[]", "");
    while t.contains("  ") {
        t = t.replace("  ", " ");
    }
    t = t
        .replace(" - - ", " - ")
        .replace(" - .", ".")
        .replace(" .", ".");
    t.trim().trim_end_matches(" -").to_owned()
}

/// A placeholder value: path separators become spaces-with-dash so they cannot split a path.
fn sanitize_value(v: &str) -> String {
    v.chars()
        .map(|c| if c == '/' || c == '\\' { '-' } else { c })
        .collect()
}

/// Makes one path component safe on every common file system: no separators or reserved
/// characters, no control characters, not `.`/`..`, not a Windows device name, no trailing dots or
/// spaces, and at most [`MAX_PART_BYTES`] bytes (keeping a short extension).
pub fn sanitize_part(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .filter(|c| !is_invisible_format_char(*c))
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    s = s
        .trim()
        .trim_end_matches(['.', ' '])
        .trim_start()
        .to_owned();
    // Leading dots would make hidden files or `..`.
    while s.starts_with('.') {
        s.remove(0);
    }
    if s.is_empty() {
        s = "_".to_owned();
    }
    let stem_upper = s
        .split('.')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    let reserved = matches!(stem_upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem_upper.starts_with("COM") || stem_upper.starts_with("LPT"))
            && stem_upper.len() == 4
            && stem_upper.as_bytes()[3].is_ascii_digit());
    if reserved {
        s.insert(0, '_');
    }
    truncate_keeping_extension(&s, MAX_PART_BYTES)
}

fn truncate_keeping_extension(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let ext = match s.rfind('.') {
        Some(i) if s.len() - i <= 6 && i > 0 => &s[i..],
        _ => "",
    };
    let stem = cut_at_bytes(s, max - ext.len()).trim_end_matches(['.', ' ']);
    format!("{stem}{ext}")
}

/// Joins a relative path under `root`, refusing anything that could leave it (absolute parts, `..`,
/// prefixes). Symlinks are checked by [`ensure_inside_existing`] once directories exist.
pub fn join_inside(root: &Path, relative: &Path) -> Result<PathBuf> {
    let mut out = root.to_path_buf();
    for c in relative.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => {
                return Err(Error::invalid(
                    "path",
                    format!("{} would leave the library root", relative.display()),
                ));
            }
        }
    }
    Ok(out)
}

/// After the directories exist: the canonical parent of `path` lies inside the canonical `root`
/// (catches symlinked folders pointing elsewhere).
pub fn ensure_inside_existing(root: &Path, path: &Path) -> Result<()> {
    let root_c = root.canonicalize().map_err(|e| Error::io(root, e))?;
    let parent = path.parent().unwrap_or(path);
    let parent_c = parent.canonicalize().map_err(|e| Error::io(parent, e))?;
    if parent_c.starts_with(&root_c) {
        Ok(())
    } else {
        Err(Error::invalid(
            "path",
            format!("{} resolves outside the library root", path.display()),
        ))
    }
}

/// Replaces the extension of the last component (`.mp4` → `.ts`), adding one when missing.
pub fn with_container_extension(path: &Path, ext: &str) -> PathBuf {
    let known = ["mp4", "mkv", "ts", "m4v", "avi", "webm"];
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if known.contains(&e.to_ascii_lowercase().as_str()) => path.with_extension(ext),
        _ => {
            let mut s = path.as_os_str().to_owned();
            s.push(format!(".{ext}"));
            PathBuf::from(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(folder: &'a str, title: &'a str, ep_title: Option<&'a str>) -> NamingValues<'a> {
        NamingValues {
            folder,
            title,
            year: Some(2013),
            season: 1,
            episode: 5,
            language: Language::GermanDub,
            episode_title: ep_title,
        }
    }

    #[test]
    fn default_template_renders_jellyfin_names() {
        let p = render_template(
            &crate::config::LibraryConfig::default().naming_template,
            &values("Attack on Titan (2013)", "Attack on Titan", None),
        )
        .unwrap();
        assert_eq!(
            p,
            PathBuf::from(
                "Attack on Titan (2013)/Season 01/Attack on Titan - S01E005 - (German Dub).mp4"
            )
        );
    }

    #[test]
    fn hostile_values_cannot_add_directories_or_escape() {
        let p = render_template(
            "{folder}/{episode_title}/{title}.mp4",
            &values("../../etc", "..", Some("a/../../b\0c")),
        )
        .unwrap();
        assert_eq!(p.components().count(), 3);
        for c in p.components() {
            let Component::Normal(s) = c else {
                panic!("non-normal component in {p:?}")
            };
            let s = s.to_str().unwrap();
            assert!(
                !s.starts_with('.') && !s.contains('/') && !s.contains('\0'),
                "{s:?}"
            );
        }
        assert!(
            join_inside(Path::new("/lib"), &p)
                .unwrap()
                .starts_with("/lib")
        );
    }

    #[test]
    fn missing_year_leaves_no_empty_parentheses() {
        let mut v = values("F", "Title", None);
        v.year = None;
        let p = render_template("{title} ({year})/x.mp4", &v).unwrap();
        assert_eq!(p, PathBuf::from("Title/x.mp4"));
    }

    #[test]
    fn reserved_and_long_names_are_made_safe() {
        assert_eq!(sanitize_part("CON"), "_CON");
        assert_eq!(sanitize_part("com1.mp4"), "_com1.mp4");
        assert_eq!(sanitize_part(".."), "_");
        assert_eq!(sanitize_part("a:b?"), "a_b_");
        let long = format!("{}.mp4", "é".repeat(300));
        let s = sanitize_part(&long);
        assert!(s.len() <= MAX_PART_BYTES && s.ends_with(".mp4"), "{s}");
    }

    #[test]
    fn invisible_bidi_and_zero_width_characters_are_removed() {
        let key = SeriesKey::parse("k").unwrap();
        let spoofed = "Evil\u{202E}4pm.exe\u{200B}\u{2066}x\u{FEFF}";
        assert_eq!(series_folder_name(spoofed, None, &key), "Evil4pm.exex");
        assert_eq!(sanitize_part(spoofed), "Evil4pm.exex");
        assert_eq!(series_folder_name("\u{200B}\u{200D}", None, &key), "k");
    }

    #[test]
    fn series_folder_names_fit_a_path_component_in_bytes() {
        let key = SeriesKey::parse("a-long-series-key-with-many-words-in-it").unwrap();
        let name = "Ü".repeat(130);
        let folder = series_folder_name(&name, Some(2020), &key);
        assert!(folder.ends_with(" (2020)"), "{folder}");
        assert!(folder.starts_with("ÜÜÜ"), "{folder}");
        let fallback = format!("{folder} [{key}]");
        assert!(
            fallback.len() <= MAX_COMPONENT_BYTES,
            "{} bytes",
            fallback.len()
        );
        assert_eq!(
            series_folder_name("Attack on Titan", Some(2013), &key),
            "Attack on Titan (2013)"
        );
        assert_eq!(
            series_folder_name("../../etc/passwd", None, &key),
            "etc passwd"
        );
        assert_eq!(series_folder_name("...", None, &key), key.as_str());
    }

    #[test]
    fn unknown_placeholder_is_a_clear_error() {
        let err = render_template("{nope}.mp4", &values("f", "t", None)).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn join_refuses_parent_and_absolute_components() {
        assert!(join_inside(Path::new("/lib"), Path::new("../x")).is_err());
        assert!(join_inside(Path::new("/lib"), Path::new("/etc/passwd")).is_err());
    }

    #[test]
    fn container_extension_is_replaced_or_added() {
        assert_eq!(
            with_container_extension(Path::new("a/b.mp4"), "ts"),
            PathBuf::from("a/b.ts")
        );
        assert_eq!(
            with_container_extension(Path::new("a/b (x)"), "mp4"),
            PathBuf::from("a/b (x).mp4")
        );
    }
}
