//! The architecture, policed (ARCHITECTURE.md states it for people).
//!
//! Reads every `src/**/*.rs` as text and fails on:
//! - an arrow between layers that points the wrong way (`use crate::...`,
//!   `crate::x::y` paths, `superlinear::x` in the binary, `super::x`);
//! - a circle between modules (file modules; a module and its own ancestors
//!   or descendants do not count: `mod.rs` declares its children and they
//!   use its error type);
//! - a module whose `//!` doc does not say its job, or a `src/claims/cN.rs`
//!   whose doc does not name its claim id;
//! - a file under `src/torch/` (its `mod.rs` aside) that does not use libtorch;
//! - issue numbers or development history in code comments.
//!
//! The checker is a set of functions over `(path, text)` pairs, so the tests
//! at the end also run it on small hand-made trees that break each rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. An arrow may point from a layer to itself or to
/// a layer in its `allowed` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// `src/data/`: readers of data files; imports nothing of the crate.
    Data,
    /// `linalg`, `stats`, `error`, `exit`: primitives every layer may use.
    Base,
    /// Every other library module: the math of the paper.
    Core,
    /// `src/claims/`: every verdict.
    Claims,
    /// `src/torch/`: what needs libtorch.
    Torch,
    /// `src/reproduce/`: orchestration of runs and grids.
    Reproduce,
    /// `src/cli/`, `src/main.rs`: the binary.
    Cli,
    /// `src/lib.rs`: declares the modules.
    Root,
}

impl Layer {
    fn of(module: &str) -> Layer {
        let first = module.split("::").next().unwrap_or("");
        match first {
            "" => Layer::Root,
            "data" => Layer::Data,
            "linalg" | "stats" | "error" | "exit" => Layer::Base,
            "claims" => Layer::Claims,
            "torch" => Layer::Torch,
            "reproduce" => Layer::Reproduce,
            "cli" | "main" => Layer::Cli,
            _ => Layer::Core,
        }
    }

    fn allowed(self) -> &'static [Layer] {
        use Layer::*;
        match self {
            Data => &[Data],
            Base => &[Base],
            Core => &[Core, Base, Data],
            Claims => &[Claims, Core, Base, Data],
            Torch => &[Torch, Core, Base, Data],
            Reproduce => &[Reproduce, Torch, Claims, Core, Base, Data],
            Cli | Root => &[Data, Base, Core, Claims, Torch, Reproduce, Cli, Root],
        }
    }
}

/// The module path of a source file: `src/lib.rs` -> "", `src/main.rs` ->
/// "main", `src/cli/mod.rs` -> "cli", `src/torch/model.rs` -> "torch::model".
fn module_of(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let mut segs: Vec<String> = parts[..parts.len() - 1].to_vec();
    let file = parts[parts.len() - 1].trim_end_matches(".rs").to_string();
    match (segs.is_empty(), file.as_str()) {
        (true, "lib") => return String::new(),
        (_, "mod") => {}
        _ => segs.push(file),
    }
    segs.join("::")
}

/// The text with comments and string literals blanked out (kept as spaces so
/// nothing shifts), for finding paths that the code really uses.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && i + 1 < b.len() && b[i + 1] == b'/' {
            while i < b.len() && b[i] != b'\n' {
                out.push(' ');
                i += 1;
            }
        } else if b[i] == b'/' && i + 1 < b.len() && b[i + 1] == b'*' {
            let mut depth = 0usize;
            while i < b.len() {
                if b[i] == b'/' && i + 1 < b.len() && b[i + 1] == b'*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == b'*' && i + 1 < b.len() && b[i + 1] == b'/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(if b[i] == b'\n' { '\n' } else { ' ' });
                    i += 1;
                }
            }
        } else if b[i] == b'"' && !(i > 0 && b[i - 1] == b'\'') {
            // A string literal (raw strings with hashes are rare here and
            // hold no paths we care about).
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    out.push(' ');
                    i += 1;
                }
                out.push(if b[i] == b'\n' { '\n' } else { ' ' });
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            // Keep multi-byte characters whole.
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path the code names from `root` (`crate`, `superlinear`, `super`),
/// as its segments after the root; `root::{a::b, c}` groups are expanded.
fn paths_from(code: &str, root: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let pat = format!("{root}::");
    let mut start = 0;
    while let Some(pos) = code[start..].find(&pat) {
        let at = start + pos;
        start = at + pat.len();
        if at > 0 {
            let prev = code[..at].chars().next_back().unwrap();
            if is_ident(prev) || prev == ':' {
                continue;
            }
        }
        let mut prefix: Vec<String> = Vec::new();
        if root == "super" {
            // `super::super::x`
            let mut rest = &code[start..];
            while let Some(r) = rest.strip_prefix("super::") {
                prefix.push("super".into());
                rest = r;
                start += "super::".len();
            }
        }
        out.extend(
            expand(&code[start..])
                .into_iter()
                .map(|p| prefix.iter().cloned().chain(p).collect()),
        );
    }
    out
}

/// The paths of one use-tree starting at `s` (after a `::`).
fn expand(s: &str) -> Vec<Vec<String>> {
    let s = s.trim_start();
    if let Some(inner) = s.strip_prefix('{') {
        let mut depth = 0;
        let mut items = Vec::new();
        let mut cur = String::new();
        for ch in inner.chars() {
            match ch {
                '{' => {
                    depth += 1;
                    cur.push(ch);
                }
                '}' if depth == 0 => break,
                '}' => {
                    depth -= 1;
                    cur.push(ch);
                }
                ',' if depth == 0 => items.push(std::mem::take(&mut cur)),
                _ => cur.push(ch),
            }
        }
        items.push(cur);
        return items
            .iter()
            .map(|i| i.trim())
            .filter(|i| !i.is_empty())
            .flat_map(expand_item)
            .collect();
    }
    expand_item(s)
}

fn expand_item(s: &str) -> Vec<Vec<String>> {
    let ident: String = s.chars().take_while(|c| is_ident(*c)).collect();
    if ident.is_empty() {
        return vec![];
    }
    let rest = &s[ident.len()..];
    if let Some(r) = rest.strip_prefix("::") {
        let tails = expand(r);
        if tails.is_empty() {
            return vec![vec![ident]];
        }
        return tails
            .into_iter()
            .map(|t| std::iter::once(ident.clone()).chain(t).collect())
            .collect();
    }
    vec![vec![ident]]
}

/// The crate's tree: module path -> (file, text).
struct Tree {
    files: BTreeMap<String, (PathBuf, String)>,
}

impl Tree {
    fn read(src: &Path) -> Tree {
        let mut files = BTreeMap::new();
        let mut stack = vec![src.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let rel = p.strip_prefix(src).unwrap().to_path_buf();
                    let text = std::fs::read_to_string(&p).unwrap();
                    files.insert(module_of(&rel), (rel, text));
                }
            }
        }
        Tree { files }
    }

    fn from_pairs(pairs: &[(&str, &str)]) -> Tree {
        let files = pairs
            .iter()
            .map(|(p, t)| {
                let rel = PathBuf::from(p);
                (module_of(&rel), (rel, t.to_string()))
            })
            .collect();
        Tree { files }
    }

    /// The longest module path that `segs` starts with (the crate root's
    /// re-exports `Error` and `Result` are `error`'s).
    fn resolve(&self, segs: &[String]) -> Option<String> {
        if matches!(segs.first().map(String::as_str), Some("Error" | "Result")) {
            return Some("error".into());
        }
        (1..=segs.len())
            .rev()
            .map(|n| segs[..n].join("::"))
            .find(|m| self.files.contains_key(m))
    }

    /// The modules each module's code names.
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, (_, text)) in &self.files {
            let code = code_only(text);
            let mut targets = BTreeSet::new();
            for root in ["crate", "superlinear"] {
                for p in paths_from(&code, root) {
                    if let Some(t) = self.resolve(&p) {
                        targets.insert(t);
                    }
                }
            }
            // `super::` is relative to the module's parent (for mod.rs, to
            // the parent of its directory's module).
            for p in paths_from(&code, "super") {
                let mut base: Vec<String> = module
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                base.pop();
                let mut segs = p.as_slice();
                while segs.first().is_some_and(|s| s == "super") {
                    base.pop();
                    segs = &segs[1..];
                }
                let full: Vec<String> = base.into_iter().chain(segs.iter().cloned()).collect();
                if let Some(t) = self.resolve(&full) {
                    targets.insert(t);
                }
            }
            targets.remove(module);
            edges.insert(module.clone(), targets);
        }
        edges
    }
}

fn related(a: &str, b: &str) -> bool {
    let anc = |x: &str, y: &str| x.is_empty() || y.starts_with(&format!("{x}::"));
    anc(a, b) || anc(b, a)
}

/// Arrows that point the wrong way between layers.
fn layer_violations(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (from, targets) in tree.edges() {
        let lf = Layer::of(&from);
        for to in targets {
            let lt = Layer::of(&to);
            if !lf.allowed().contains(&lt) {
                out.push(format!(
                    "{} ({lf:?}) imports {to} ({lt:?})",
                    tree.files[&from].0.display()
                ));
            }
        }
    }
    out
}

/// `module` cut to its first `depth` segments (`torch::netclaims::terms` at
/// depth 2 is `torch::netclaims`).
fn truncate(module: &str, depth: usize) -> String {
    module
        .split("::")
        .take(depth)
        .collect::<Vec<_>>()
        .join("::")
}

/// Circles between modules: strongly connected components of more than one
/// module, for file modules and for modules seen whole at depth 1 and 2 (so
/// `torch::analyze` using `torch::netclaims::terms` while `torch::netclaims`
/// uses `torch::analyze` is a circle). Edges between a module and its
/// ancestors or descendants are left out.
fn circles(tree: &Tree) -> Vec<Vec<String>> {
    let full = tree.edges();
    let mut out: Vec<Vec<String>> = Vec::new();
    for depth in [usize::MAX, 2, 1] {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, targets) in &full {
            let f = truncate(from, depth);
            let entry = edges.entry(f.clone()).or_default();
            for t in targets {
                let t = truncate(t, depth);
                if t != f {
                    entry.insert(t);
                }
            }
        }
        for c in circles_in(&edges) {
            if !out.iter().any(|o| {
                c.iter()
                    .all(|m| o.iter().any(|x| x == m || x.starts_with(&format!("{m}::"))))
            }) {
                out.push(c);
            }
        }
    }
    out
}

fn circles_in(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let names: Vec<&String> = edges.keys().collect();
    let index: BTreeMap<&String, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let adj: Vec<Vec<usize>> = names
        .iter()
        .map(|n| {
            edges[*n]
                .iter()
                .filter(|t| !related(n, t))
                .filter_map(|t| index.get(t).copied())
                .collect()
        })
        .collect();
    // Tarjan's strongly connected components.
    struct State {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        comps: Vec<Vec<usize>>,
    }
    fn visit(v: usize, adj: &[Vec<usize>], s: &mut State) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on[v] = true;
        for &w in &adj[v] {
            match s.index[w] {
                None => {
                    visit(w, adj, s);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on[w] => s.low[v] = s.low[v].min(iw),
                _ => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.comps.push(comp);
            }
        }
    }
    let n = names.len();
    let mut s = State {
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        comps: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(v, &adj, &mut s);
        }
    }
    s.comps
        .into_iter()
        .map(|c| {
            let mut m: Vec<String> = c.into_iter().map(|i| names[i].clone()).collect();
            m.sort();
            m
        })
        .collect()
}

/// The `//!` doc at the top of a file, joined.
fn module_doc(text: &str) -> String {
    text.lines()
        .map(str::trim_start)
        .skip_while(|l| l.is_empty())
        .take_while(|l| l.starts_with("//!"))
        .map(|l| l.trim_start_matches("//!").trim())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Modules whose doc does not say their job (fewer than 40 characters of
/// text), and claim files whose doc does not name their claim.
fn doc_violations(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (rel, text) in tree.files.values() {
        let doc = module_doc(text);
        if doc.trim().len() < 40 {
            out.push(format!(
                "{}: no `//!` module doc saying its job (found {:?})",
                rel.display(),
                doc
            ));
            continue;
        }
        let stem = rel.file_stem().unwrap().to_string_lossy();
        let in_claims = rel.parent().is_some_and(|p| p.ends_with("claims"));
        if in_claims && stem.starts_with('c') && stem[1..].chars().all(|c| c.is_ascii_digit()) {
            let id = format!("C{}", &stem[1..]);
            let named = doc
                .match_indices(&id)
                .any(|(i, _)| !doc[i + id.len()..].starts_with(|c: char| c.is_ascii_digit()));
            if !named {
                out.push(format!("{}: module doc does not name {id}", rel.display()));
            }
        }
    }
    out
}

/// Files under `src/torch/` (mod.rs aside) that do not use libtorch.
fn torch_violations(tree: &Tree) -> Vec<String> {
    tree.files
        .iter()
        .filter(|(m, (rel, _))| {
            m.starts_with("torch::") && rel.file_name().is_some_and(|f| f != "mod.rs")
        })
        .filter(|(_, (_, text))| {
            let code = code_only(text);
            !(code.contains("tch::") || code.contains("use tch") || code.contains("Tensor"))
        })
        .map(|(_, (rel, _))| format!("{}: under src/torch/ but uses no libtorch", rel.display()))
        .collect()
}

/// Comment lines that carry issue numbers or development history.
fn history_violations(tree: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (rel, text) in tree.files.values() {
        for (n, line) in text.lines().enumerate() {
            let Some(pos) = line.find("//") else {
                continue;
            };
            let comment = line[pos..].to_ascii_lowercase();
            let numbered = |word: &str| {
                comment.match_indices(word).any(|(i, _)| {
                    let before_ok = i == 0
                        || !comment[..i]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_ascii_alphanumeric());
                    let after = comment[i + word.len()..].trim_start_matches([' ', '#']);
                    before_ok && after.starts_with(|c: char| c.is_ascii_digit())
                })
            };
            if numbered("issue") || numbered("session") {
                out.push(format!("{}:{}: {}", rel.display(), n + 1, line.trim()));
            }
        }
    }
    out
}

fn report(what: &str, v: &[String]) {
    assert!(
        v.is_empty(),
        "{what} ({}):\n  {}\n(see ARCHITECTURE.md)",
        v.len(),
        v.join("\n  ")
    );
}

fn real_tree() -> Tree {
    Tree::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn layers_point_one_way() {
    report("arrows against the layers", &layer_violations(&real_tree()));
}

#[test]
fn no_circles_between_modules() {
    let c: Vec<String> = circles(&real_tree())
        .into_iter()
        .map(|m| m.join(" <-> "))
        .collect();
    report("circles between modules", &c);
}

#[test]
fn every_module_says_its_job() {
    report("module docs", &doc_violations(&real_tree()));
}

#[test]
fn torch_tier_only_does_torch() {
    report("torch tier", &torch_violations(&real_tree()));
}

#[test]
fn code_comments_carry_no_history() {
    report("history in comments", &history_violations(&real_tree()));
}

#[test]
fn the_real_tree_is_read() {
    let t = real_tree();
    for m in [
        "",
        "main",
        "cli",
        "claims",
        "claims::c9",
        "kron",
        "data",
        "linalg",
    ] {
        assert!(t.files.contains_key(m), "module {m:?} not found");
    }
}

// The checker itself, on small trees that break each rule.

const DOC: &str = "//! A module doc long enough to say what this module does.\n";

fn fake(pairs: &[(&str, &str)]) -> Tree {
    Tree::from_pairs(pairs)
}

#[test]
fn checker_finds_torch_judging() {
    let t = fake(&[
        ("claims/mod.rs", DOC),
        ("torch/mod.rs", DOC),
        (
            "torch/verdicts.rs",
            "//! A module doc long enough to say what this module does.\nuse crate::claims::Verdict;\nuse tch::Tensor;\n",
        ),
    ]);
    let v = layer_violations(&t);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("torch/verdicts.rs") && v[0].contains("claims"));
}

#[test]
fn checker_finds_grouped_and_inline_paths() {
    let t = fake(&[
        ("kron.rs", DOC),
        ("reproduce/mod.rs", DOC),
        ("cli/mod.rs", DOC),
        (
            "kron2.rs",
            "//! A module doc long enough to say what this module does.\nuse crate::{linalg, reproduce::Thing};\nfn f() { let _ = crate::cli::x(); }\n// crate::torch in a comment does not count\nconst S: &str = \"crate::torch\";\n",
        ),
        ("linalg.rs", DOC),
    ]);
    let v = layer_violations(&t);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v.iter().any(|x| x.contains("reproduce")));
    assert!(v.iter().any(|x| x.contains("imports cli")));
}

#[test]
fn checker_finds_data_importing_the_crate_and_core_importing_claims() {
    let t = fake(&[
        ("data/mod.rs", "//! A module doc long enough to say what this module does.\nuse crate::linalg::x;\n"),
        ("linalg.rs", DOC),
        ("claims/mod.rs", DOC),
        ("fit.rs", "//! A module doc long enough to say what this module does.\nuse crate::claims::Verdict;\n"),
    ]);
    assert_eq!(layer_violations(&t).len(), 2);
}

#[test]
fn checker_finds_circles_but_not_parent_child_use() {
    let t = fake(&[
        ("torch/mod.rs", DOC),
        ("torch/dataset.rs", "//! A module doc long enough to say what this module does.\nuse super::train::TrainData;\nuse super::Result;\n"),
        ("torch/train.rs", "//! A module doc long enough to say what this module does.\nuse super::dataset::load;\nuse super::Result;\n"),
        ("torch/model.rs", "//! A module doc long enough to say what this module does.\nuse super::Result;\n"),
    ]);
    let c = circles(&t);
    assert_eq!(
        c,
        vec![vec![
            "torch::dataset".to_string(),
            "torch::train".to_string()
        ]]
    );
    let ok = fake(&[
        ("torch/mod.rs", "//! A module doc long enough to say what this module does.\npub use self::model::Net;\n"),
        ("torch/model.rs", "//! A module doc long enough to say what this module does.\nuse super::Result;\n"),
    ]);
    assert!(circles(&ok).is_empty());
    // A circle between two modules seen whole, not between their files.
    let deep = fake(&[
        ("torch/mod.rs", DOC),
        ("torch/analyze.rs", "//! A module doc long enough to say what this module does.\nuse super::netclaims::terms::measure;\n"),
        ("torch/netclaims/mod.rs", "//! A module doc long enough to say what this module does.\nuse super::analyze::run;\n"),
        ("torch/netclaims/terms.rs", DOC),
    ]);
    assert_eq!(
        circles(&deep),
        vec![vec![
            "torch::analyze".to_string(),
            "torch::netclaims".to_string()
        ]]
    );
}

#[test]
fn checker_finds_missing_docs_and_claim_ids() {
    let t = fake(&[
        ("fit.rs", "use crate::linalg;\n"),
        (
            "claims/c6.rs",
            "//! Term I against the real gradient difference of matched pairs.\n",
        ),
        (
            "claims/c1.rs",
            "//! C1 (Sec. 2.1): Fisher against Hessian, checked on random heads.\n",
        ),
        (
            "claims/c13.rs",
            "//! C1 and C3 only: this doc names the wrong claims, on purpose.\n",
        ),
    ]);
    let v = doc_violations(&t);
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(v.iter().any(|x| x.starts_with("fit.rs")));
    assert!(v.iter().any(|x| x.contains("does not name C6")));
    assert!(v.iter().any(|x| x.contains("does not name C13")));
}

#[test]
fn checker_finds_pure_math_in_torch_and_history() {
    let t = fake(&[
        ("torch/mod.rs", DOC),
        ("torch/terms.rs", "//! A module doc long enough to say what this module does.\nuse faer::Mat;\n"),
        ("torch/model.rs", "//! A module doc long enough to say what this module does.\nuse tch::nn;\n"),
        ("kron.rs", "//! A module doc long enough to say what this module does.\n// fixed in session 3 (Issue #7)\nfn f() {} // tissue 4 is fine\n"),
    ]);
    let v = torch_violations(&t);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("terms.rs"));
    let h = history_violations(&t);
    assert_eq!(h.len(), 1, "{h:?}");
    assert!(h[0].starts_with("kron.rs:2"));
}
