//! The container files without a Docker engine: `.dockerignore` keeps the build context to the
//! Dockerfile's inputs (no `target/`, `.git/`, `data/` or database files), judged with Docker's
//! own rules (patterns in order, `!` re-includes, the last match wins, a match on a directory
//! covers everything under it).

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(repository().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The patterns of a `.dockerignore`, cleaned as Docker cleans them: `(re-include, pattern)`.
fn patterns(dockerignore: &str) -> Vec<(bool, String)> {
    dockerignore
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (include, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            // The syntax this matcher does not implement must not be judged as if it did.
            assert!(!pattern.contains(['[', '\\']), ".dockerignore: {pattern:?} needs a fuller matcher here");
            (include, pattern.trim_matches('/').trim_start_matches("./").to_string())
        })
        .collect()
}

/// One path segment against one pattern segment: `*` any run of characters, `?` one.
fn segment_matches(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            segment_matches(&pattern[1..], name) || (!name.is_empty() && segment_matches(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => segment_matches(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => segment_matches(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// A whole path against a pattern; `**` stands for any number of directories, none included.
fn path_matches(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            path_matches(&pattern[1..], path) || (!path.is_empty() && path_matches(pattern, &path[1..]))
        }
        (Some(p), Some(n)) => segment_matches(p.as_bytes(), n.as_bytes()) && path_matches(&pattern[1..], &path[1..]),
        _ => false,
    }
}

/// Whether Docker leaves `path` (relative to the context, `/`-separated) out of the context.
fn excluded(patterns: &[(bool, String)], path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = false;
    for (include, pattern) in patterns {
        let pattern: Vec<&str> = pattern.split('/').collect();
        // The path itself or a directory above it.
        if (1..=segments.len()).any(|n| path_matches(&pattern, &segments[..n])) {
            out = !include;
        }
    }
    out
}

/// The sources of the Dockerfile's `COPY` lines that read the build context (not `--from`).
fn copied_from_context(dockerfile: &str) -> Vec<String> {
    let mut sources = Vec::new();
    for line in dockerfile.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("COPY ") else { continue };
        let words: Vec<&str> = rest.split_whitespace().collect();
        assert!(!rest.trim_start().starts_with('['), "the JSON form of COPY is not read here: {line}");
        if words.iter().any(|w| w.starts_with("--from")) {
            continue;
        }
        let operands: Vec<&str> = words.into_iter().filter(|w| !w.starts_with("--")).collect();
        assert!(operands.len() >= 2, "COPY needs a source and a destination: {line}");
        sources.extend(operands[..operands.len() - 1].iter().map(|s| s.to_string()));
    }
    sources
}

/// Every file under `dir` (or `dir` itself), relative to the repository.
fn files_under(dir: &Path, out: &mut Vec<String>) {
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            files_under(&entry.unwrap().path(), out);
        }
    } else {
        out.push(dir.strip_prefix(repository()).unwrap().to_string_lossy().into_owned());
    }
}

#[test]
fn the_matcher_follows_dockers_rules() {
    let rules = patterns("# comment\n*\n!src\n**/*.db\n/data/\n");
    assert!(excluded(&rules, "target"));
    assert!(excluded(&rules, "target/release/gatehouse"), "under an excluded directory");
    assert!(!excluded(&rules, "src/main.rs"), "re-included with its directory");
    assert!(excluded(&rules, "src/deep/x.db"), "`**` at any depth, later rules win");
    assert!(excluded(&rules, "data/gatehouse.db"));
    assert!(!excluded(&patterns("target\n"), "src/target.rs"), "a pattern is a whole segment");
    assert!(!excluded(&patterns("src/*.rs\n"), "src/a/b.rs"), "`*` stays within a segment");
}

#[test]
fn the_build_context_is_the_dockerfiles_inputs_only() {
    let rules = patterns(&read(".dockerignore"));
    for path in [
        "target",
        "target/release/gatehouse",
        "target/debug/deps/libgatehouse.rlib",
        ".git",
        ".git/HEAD",
        "data",
        "data/gatehouse.db",
        "gatehouse.db",
        "gatehouse.db-wal",
        "gatehouse.db-shm",
        "config/gatehouse.db",
        "config/data/gatehouse.db-wal",
        "node_modules/x/index.js",
        "tests/it/main.rs",
        ".env",
    ] {
        assert!(excluded(&rules, path), "{path} would be sent to the Docker daemon");
    }

    let sources = copied_from_context(&read("Dockerfile"));
    for needed in ["Cargo.toml", "Cargo.lock", "src", "migrations", "config/gatehouse.toml"] {
        assert!(sources.iter().any(|s| s == needed), "the Dockerfile no longer copies {needed}: {sources:?}");
    }
    // Everything the Dockerfile copies stays in the context, down to the last file.
    let mut files = Vec::new();
    for source in &sources {
        let path = repository().join(source);
        assert!(path.exists(), "the Dockerfile copies {source}, which does not exist");
        files_under(&path, &mut files);
    }
    assert!(files.iter().any(|f| f == "src/main.rs") && files.iter().any(|f| f.starts_with("migrations/postgres/")));
    for file in &files {
        assert!(!excluded(&rules, file), "{file} is copied by the Dockerfile but left out of the context");
    }
}
