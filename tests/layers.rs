//! The layout rules, checked on the source itself: the files of src/, and its top-level
//! modules, refer to each other without a circle; services never name the routes layer or the
//! state; all SQL is in `db/`; and the bottom layers (`db/`, `docker/`) refer to no module above
//! them. A reference is a `use` line or an inline `crate::`, `super::` or
//! child-module path; a module's `mod` declarations are not references.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every source file by module path (`session::streams::exec`; `` for lib.rs).
fn sources() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix("src").unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts
                    .last()
                    .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
                {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                out.insert(parts.join("::"), text);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(Path::new("src"), &mut out);
    out
}

/// The code of a file without comments, string literals' contents and its unit tests.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap();
    text.lines()
        .map(|line| line.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Paths written in a file: `use` trees expanded, and inline paths.
fn paths(code: &str) -> Vec<Vec<String>> {
    fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
        let tree = tree.trim();
        match tree.find('{') {
            None => out.push(format!("{prefix}{tree}")),
            Some(open) => {
                let head = &tree[..open];
                let inner = &tree[open + 1..tree.rfind('}').unwrap()];
                let (mut depth, mut start) = (0, 0);
                for (i, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            expand(&format!("{prefix}{head}"), &inner[start..i], out);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
                expand(&format!("{prefix}{head}"), &inner[start..], out);
            }
        }
    }
    let mut found = Vec::new();
    for statement in code.split(';') {
        if let Some(tree) = statement.trim_start().strip_prefix("use ").or_else(|| {
            statement
                .trim_start()
                .split_once(" use ")
                .filter(|(vis, _)| vis.starts_with("pub"))
                .map(|(_, tree)| tree)
        }) {
            expand("", tree, &mut found);
        }
    }
    // Inline paths: a lowercase segment followed by `::`, not itself after `::`.
    let bytes = code.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let starts = word(bytes[i])
            && (i == 0 || (!word(bytes[i - 1]) && bytes[i - 1] != b':'))
            && bytes[i].is_ascii_lowercase();
        if starts {
            let end = (i..bytes.len())
                .find(|&j| !(word(bytes[j]) || bytes[j] == b':'))
                .unwrap_or(bytes.len());
            let path = &code[i..end];
            if path.contains("::") {
                found.push(path.to_string());
            }
            i = end;
        } else {
            i += 1;
        }
    }
    found
        .into_iter()
        .map(|p| {
            let p = p.split(" as ").next().unwrap().trim().trim_end_matches(':');
            p.split("::")
                .map(str::to_string)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .collect()
}

/// Which files each file refers to.
fn references(files: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let split = |key: &str| -> Vec<String> {
        key.split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let resolve = |segments: &[String]| -> Option<String> {
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|key| files.contains_key(key))
    };
    let mut graph = BTreeMap::new();
    for (key, text) in files {
        let me = split(key);
        let mut refs = BTreeSet::new();
        for path in paths(&code(text)) {
            let target: Vec<String> = match path[0].as_str() {
                "crate" => path[1..].to_vec(),
                "super" => {
                    let mut base = me.clone();
                    let mut rest = &path[..];
                    while rest.first().is_some_and(|s| s == "super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    base.into_iter().chain(rest.iter().cloned()).collect()
                }
                "self" => me.iter().chain(&path[1..]).cloned().collect(),
                _ => me.iter().chain(&path).cloned().collect(), // a child module, if any
            };
            if let Some(found) = resolve(&target) {
                let outside_relative = !matches!(path[0].as_str(), "crate" | "super" | "self")
                    && split(&found).len() <= me.len();
                if found != *key && !outside_relative {
                    refs.insert(found);
                }
            }
        }
        graph.insert(key.clone(), refs);
    }
    graph
}

/// A circle in `graph`, if it has one (a depth-first search: a node met again while it is still
/// on the trail closes a circle).
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, bool>,
        trail: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let from = trail.iter().position(|n| *n == node).unwrap();
                return Some(trail[from..].iter().map(|s| s.to_string()).collect());
            }
            None => {}
        }
        state.insert(node, false);
        trail.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, state, trail) {
                return Some(circle);
            }
        }
        trail.pop();
        state.insert(node, true);
        None
    }
    let mut state = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut state, &mut Vec::new()))
}

/// The top-level module a file belongs to (`session` for `session::streams::exec`).
fn top(module: &str) -> &str {
    module.split("::").next().unwrap()
}

/// Which top-level modules each top-level module refers to.
fn module_references() -> BTreeMap<String, BTreeSet<String>> {
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, refs) in references(&sources()) {
        let entry = modules.entry(top(&from).to_string()).or_default();
        entry.extend(
            refs.iter()
                .map(|to| top(to).to_string())
                .filter(|to| to != top(&from)),
        );
    }
    modules
}

#[test]
fn the_files_of_src_refer_to_each_other_without_a_circle() {
    let graph = references(&sources());
    let circle = find_circle(&graph);
    assert!(circle.is_none(), "a circle of references: {circle:?}");
    assert!(
        graph["session::upgrade"].contains("state"),
        "the check sees references"
    );
}

#[test]
fn the_top_level_modules_refer_to_each_other_without_a_circle() {
    let modules = module_references();
    let circle = find_circle(&modules);
    assert!(circle.is_none(), "a circle of modules: {circle:?}");
    assert!(
        modules["routes"].contains("workspaces") && modules["workspaces"].contains("templates"),
        "the check sees references between modules"
    );
}

/// The routes layer (HTTP handlers and the WebSocket session) and what wires it together.
const ABOVE_SERVICES: [&str; 4] = ["routes", "session", "state", "startup"];

#[test]
fn services_never_name_a_route_the_session_or_the_state() {
    for (from, refs) in module_references() {
        if ABOVE_SERVICES.contains(&from.as_str()) || from.is_empty() {
            continue;
        }
        for to in refs {
            assert!(
                !ABOVE_SERVICES.contains(&to.as_str()),
                "{from} refers to {to}, which is above the services"
            );
        }
    }
    let state = &module_references()["state"];
    assert!(
        !state.contains("routes") && !state.contains("session"),
        "state refers to the routes layer: {state:?}"
    );
}

#[test]
fn sql_lives_only_in_db() {
    for (key, text) in sources() {
        if key == "db" || key.starts_with("db::") {
            continue;
        }
        for needle in ["sqlx::query", "query_as(", "query_scalar(", ".begin()"] {
            assert!(!code(&text).contains(needle), "{key} runs SQL ({needle})");
        }
    }
}

#[test]
fn the_bottom_layers_refer_to_nothing_above_them() {
    let graph = references(&sources());
    let allowed =
        |from: &str, to: &str| top(from) == top(to) || ["error", "config", "clock"].contains(&to);
    for (from, refs) in &graph {
        if from == "db"
            || from.starts_with("db::")
            || from == "docker"
            || from.starts_with("docker::")
        {
            for to in refs {
                assert!(allowed(from, to), "{from} refers to {to}, a layer above it");
            }
        }
    }
}

#[test]
fn engine_requests_are_made_only_in_docker() {
    // Requests to an engine need bollard's request types; only docker/ builds them.
    for (key, text) in sources() {
        if key == "docker" || key.starts_with("docker::") {
            continue;
        }
        for needle in [
            "bollard::query_parameters",
            "bollard::exec",
            "body_try_stream",
        ] {
            assert!(
                !code(&text).contains(needle),
                "{key} makes engine requests itself ({needle})"
            );
        }
    }
}
