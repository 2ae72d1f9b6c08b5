//! The shape of `core`: its modules depend on each other in one direction only (no import
//! circles), and it knows nothing of HTTP serving, rhai or libloading.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's code without its tests and comments.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source");
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text,
    };
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `module → modules it uses`, at the given depth below `src` (1 = `scanner`, 2 = `scanner::state`).
fn graph(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .expect("below src")
            .with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
            parts.pop();
        }
        if parts.is_empty() {
            continue;
        }
        let me = parts[..parts.len().min(depth)].join("::");
        let code = code_of(&file);
        // `super::x` in a file below a folder means `folder::x`.
        let parent = parts[..parts.len() - 1].join("::");
        let uses = code
            .match_indices("crate::")
            .map(|(i, _)| (String::new(), i + 7))
            .chain(
                code.match_indices("super::")
                    .filter(|_| !parent.is_empty())
                    .map(|(i, _)| (format!("{parent}::"), i + 7)),
            );
        for (prefix, at) in uses {
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let path = format!("{prefix}{path}");
            let used: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
            let used = used[..used.len().min(depth)].join("::");
            if !used.is_empty() && used != me && !me.starts_with(&format!("{used}::")) {
                graph.entry(me.clone()).or_default().insert(used);
            }
        }
    }
    graph
}

/// Pairs of modules that reach each other.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, String)> {
    fn reaches(
        graph: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        to: &str,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        if from == to {
            return true;
        }
        if !seen.insert(from.to_owned()) {
            return false;
        }
        graph
            .get(from)
            .is_some_and(|next| next.iter().any(|n| reaches(graph, n, to, seen)))
    }
    let mut out = Vec::new();
    for (a, uses) in graph {
        for b in uses {
            if a < b && reaches(graph, b, a, &mut BTreeSet::new()) {
                out.push((a.clone(), b.clone()));
            }
        }
    }
    out
}

#[test]
fn top_level_modules_have_no_import_circles() {
    let circles = circles(&graph(1));
    assert!(
        circles.is_empty(),
        "modules that import each other: {circles:?}"
    );
}

#[test]
fn second_level_modules_have_no_import_circles() {
    let circles = circles(&graph(2));
    assert!(
        circles.is_empty(),
        "modules that import each other: {circles:?}"
    );
}

#[test]
fn core_knows_nothing_of_http_serving_rhai_or_libloading() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    for file in files {
        let code = code_of(&file);
        for banned in ["poem", "rhai", "libloading"] {
            assert!(
                !code.contains(&format!("{banned}::")) && !code.contains(&format!("use {banned}")),
                "{} uses {banned}",
                file.display()
            );
        }
    }
}
