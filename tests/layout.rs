//! The house keeps its map true: every crate's root file (`src/lib.rs`, or
//! `src/main.rs` for the binary) opens with a `//!` comment that names each
//! of its modules (as `` `name` `` or [`name`]), and no source file outside
//! tests, testkit and benches runs over 500 lines before its
//! `#[cfg(test)]` part, and no two modules of a crate import each other,
//! directly or round a longer loop.

use std::collections::{BTreeMap, BTreeSet};
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

type ModPath = Vec<String>;

/// Every file module of a crate: its path (`db::work`) → its source, up to
/// its `#[cfg(test)]` part, without `//` comments.
fn modules_of(dir: &Path) -> BTreeMap<ModPath, String> {
    let src = dir.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap().with_extension("");
        let mut path: ModPath = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(
            path.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            path.pop();
        }
        let text = fs::read_to_string(&f).unwrap();
        let code: String = text
            .lines()
            .take_while(|l| l.trim() != "#[cfg(test)]")
            .map(|l| match l.find("//") {
                Some(i) if !l[..i].contains('"') => &l[..i],
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        out.insert(path, code);
    }
    out
}

/// The paths a module names after `crate::`, `super::` or `self::`,
/// brace groups expanded one level, made absolute.
fn referenced(module: &ModPath, code: &str) -> Vec<ModPath> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find(['c', 's']) {
        let at = &rest[i..];
        let boundary = i == 0 || !rest[..i].ends_with(ident);
        let (mut base, tail) = if boundary && at.starts_with("crate::") {
            (Vec::new(), &at["crate::".len()..])
        } else if boundary && at.starts_with("self::") {
            (module.clone(), &at["self::".len()..])
        } else if boundary && at.starts_with("super::") {
            let mut base = module.clone();
            let mut tail = at;
            while let Some(t) = tail.strip_prefix("super::") {
                base.pop();
                tail = t;
            }
            (base, tail)
        } else {
            rest = &rest[i + 1..];
            continue;
        };
        let read_path = |t: &str| -> Vec<String> {
            t.split("::")
                .map(|seg| seg.chars().take_while(|c| ident(*c)).collect::<String>())
                .take_while(|seg| !seg.is_empty())
                .collect()
        };
        if let Some(group) = tail.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let mut p = base.clone();
                p.extend(read_path(item.trim()));
                out.push(p);
            }
        } else {
            let segs = read_path(tail);
            // `crate::a::b::{c, d}`: the prefix is enough to find the module.
            base.extend(segs);
            out.push(base);
        }
        rest = &at[1..];
    }
    out
}

/// The import loops between a crate's file modules (Tarjan's components
/// of more than one module).
fn loops(modules: &BTreeMap<ModPath, String>) -> Vec<Vec<String>> {
    let resolve = |p: &ModPath| -> Option<ModPath> {
        let mut p = p.clone();
        while !p.is_empty() && !modules.contains_key(&p) {
            p.pop();
        }
        (!p.is_empty()).then_some(p)
    };
    let names: Vec<&ModPath> = modules.keys().collect();
    let index: BTreeMap<&ModPath, usize> = names.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let edges: Vec<BTreeSet<usize>> = names
        .iter()
        .map(|m| {
            referenced(m, &modules[*m])
                .iter()
                .filter_map(resolve)
                .filter(|t| t != *m)
                .map(|t| index[&t])
                .collect()
        })
        .collect();
    // Tarjan, iterative enough for a few hundred modules.
    struct T<'a> {
        edges: &'a [BTreeSet<usize>],
        idx: Vec<Option<usize>>,
        low: Vec<usize>,
        stack: Vec<usize>,
        on: Vec<bool>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T, v: usize) {
        t.idx[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in t.edges[v].iter() {
            match t.idx[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                _ => {}
            }
        }
        if Some(t.low[v]) == t.idx[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let n = names.len();
    let mut t = T {
        edges: &edges,
        idx: vec![None; n],
        low: vec![0; n],
        stack: Vec::new(),
        on: vec![false; n],
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.idx[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.out
        .into_iter()
        .map(|c| {
            let mut c: Vec<String> = c.into_iter().map(|i| names[i].join("::")).collect();
            c.sort();
            c
        })
        .collect()
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    let mut found = Vec::new();
    for dir in crates() {
        for cycle in loops(&modules_of(&dir)) {
            // sea-orm declares a relation on both of its entities.
            if cycle.iter().all(|m| m.starts_with("db::entities::")) {
                continue;
            }
            found.push(format!("{}: {}", dir.display(), cycle.join(" ⇄ ")));
        }
    }
    assert!(found.is_empty(), "import loops:\n{}", found.join("\n"));
}

#[test]
fn loops_are_found_through_crate_super_and_groups() {
    let modules: BTreeMap<ModPath, String> = [
        (vec!["a".to_owned()], "use crate::b::X;\n".to_owned()),
        (vec!["b".to_owned()], "use super::{c::Y, d};\n".to_owned()),
        (
            vec!["c".to_owned()],
            "fn f() { crate::a::g() } // crate::d\n".to_owned(),
        ),
        (vec!["d".to_owned()], "fn d() {}\n".to_owned()),
    ]
    .into_iter()
    .collect();
    assert_eq!(loops(&modules), [["a", "b", "c"]]);
}
