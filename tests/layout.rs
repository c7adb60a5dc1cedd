//! The house keeps its map true: every crate's root file (`src/lib.rs`, or
//! `src/main.rs` for the binary) opens with a `//!` comment that names each
//! of its modules (as `` `name` `` or [`name`]), and no source file outside
//! tests, testkit and benches runs over 500 lines before its
//! `#[cfg(test)]` part.

use std::fs;
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's crate directories: the root and every `members` entry.
fn crates() -> Vec<PathBuf> {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let start = manifest.find("members = [").expect("a members list");
    let list = &manifest[start + "members = [".len()..];
    let list = &list[..list.find(']').expect("members list ends")];
    let mut dirs = vec![root()];
    dirs.extend(
        list.split(',')
            .map(|m| m.trim().trim_matches('"'))
            .filter(|m| !m.is_empty())
            .map(|m| root().join(m)),
    );
    dirs
}

/// A crate's root file.
fn crate_root(dir: &Path) -> PathBuf {
    let lib = dir.join("src/lib.rs");
    if lib.exists() {
        lib
    } else {
        dir.join("src/main.rs")
    }
}

/// The leading `//!` comment and the modules declared at the top level
/// (`mod x;`, `pub mod x;`, `pub(crate) mod x;`), leaving out `#[cfg(test)]`
/// ones.
fn doc_and_modules(source: &str) -> (String, Vec<String>) {
    let doc: String = source
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| format!("{}\n", l.trim_start_matches("//!")))
        .collect();
    let mut modules = Vec::new();
    let mut previous = "";
    for line in source.lines() {
        let decl = line
            .strip_prefix("pub(crate) ")
            .or_else(|| line.strip_prefix("pub "))
            .unwrap_or(line);
        if let Some(rest) = decl.strip_prefix("mod ")
            && let Some(name) = rest.strip_suffix(';')
            && previous.trim() != "#[cfg(test)]"
        {
            modules.push(name.trim().to_owned());
        }
        if !line.trim().is_empty() {
            previous = line;
        }
    }
    (doc, modules)
}

#[test]
fn every_crate_root_names_its_modules() {
    let mut wanting = Vec::new();
    for dir in crates() {
        let file = crate_root(&dir);
        let source =
            fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let (doc, modules) = doc_and_modules(&source);
        assert!(
            !doc.trim().is_empty(),
            "{} has no //! layout comment",
            file.display()
        );
        for m in modules {
            if !doc.contains(&format!("`{m}`")) {
                wanting.push(format!("{}: `{m}`", file.display()));
            }
        }
    }
    assert!(
        wanting.is_empty(),
        "modules the crate's //! comment does not name:\n{}",
        wanting.join("\n")
    );
}

/// Counted: lines before the first `#[cfg(test)]` line.
fn counted_lines(source: &str) -> usize {
    source
        .lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .count()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_source_file_is_over_500_lines() {
    let mut files = Vec::new();
    for dir in crates() {
        if dir.ends_with("testkit") {
            continue;
        }
        rust_files(&dir.join("src"), &mut files);
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut long: Vec<String> = files
        .iter()
        .filter(|f| {
            !f.components()
                .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "benches")
        })
        .filter_map(|f| {
            let n = counted_lines(&fs::read_to_string(f).ok()?);
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    long.sort();
    assert!(
        long.is_empty(),
        "over {MAX_LINES} lines outside tests:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checks_read_declarations_and_stop_at_tests() {
    let (doc, modules) = doc_and_modules(
        "//! - [`a`]: one\n//! - `b`: two\n\npub mod a;\nmod b;\n#[cfg(test)]\nmod tests;\n",
    );
    assert_eq!(modules, ["a", "b"]);
    assert!(doc.contains("`a`") && doc.contains("`b`"));
    assert_eq!(counted_lines("a\nb\n#[cfg(test)]\nmod tests {}\n"), 2);
}
