//! The source tree's shape, for every crate in `crates/*`: no import cycle between the modules of
//! a crate (edges: the `crate::…` paths a module's file names, `use` trees included), every
//! `.rs` file under `src/` opens with a `//!` role comment, and no test code sits inline in `src`
//! (unit tests live in one `src/tests/` folder, declared once from the crate root).
//!
//! Nodes are the module files reached from each crate root (`lib.rs`, `main.rs`, `bin/*.rs`)
//! through `mod name;` declarations; a path is charged to the longest module prefix it names.
//! The root itself is the crate's façade, not a node: a path through it (`crate::Error`) is
//! charged to the module the root re-exports the name from (`pub use error::Error`).
//! Pure file reading: no lab, no root needed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// A module path inside one crate root (`[]` is the root).
type ModPath = Vec<String>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn crate_dirs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(workspace().join("crates"))
        .expect("crates/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("src").is_dir())
        .collect();
    v.sort();
    v
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source with comments, string and char literals blanked out (lengths kept).
fn code_only(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or('\0');
        if c == '/' && next == '/' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
                out.push(' ');
            }
        } else if c == '/' && next == '*' {
            let mut depth = 0usize;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                    out.push_str("  ");
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    out.push_str("  ");
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(if b[i] == '\n' { '\n' } else { ' ' });
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == '"' || next == '#')
            && !b.get(i.wrapping_sub(1)).is_some_and(|p| is_ident(*p))
        {
            // Raw string r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.extend(std::iter::repeat_n(' ', j - i));
            i = j;
        } else if c == '"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != '"' {
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            j = (j + 1).min(b.len());
            out.extend(std::iter::repeat_n(' ', j - i));
            i = j;
        } else if c == '\'' && (next == '\\' || b.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '\u{..}'); a lifetime ('a) is left as is.
            let mut j = i + 1;
            while j < b.len() && b[j] != '\'' {
                j += if b[j] == '\\' { 2 } else { 1 };
            }
            j = (j + 1).min(b.len());
            out.extend(std::iter::repeat_n(' ', j - i));
            i = j;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn skip_ws(s: &[char], mut i: usize) -> usize {
    while i < s.len() && s[i].is_whitespace() {
        i += 1;
    }
    i
}

fn ident(s: &[char], i: usize) -> (String, usize) {
    let mut j = i;
    while j < s.len() && is_ident(s[j]) {
        j += 1;
    }
    (s[i..j].iter().collect(), j)
}

/// Parses a path or use tree starting at `i` (just after `crate::`), pushing every full path.
fn use_tree(s: &[char], i: usize, prefix: &ModPath, out: &mut Vec<ModPath>) -> usize {
    let i = skip_ws(s, i);
    if s.get(i) == Some(&'{') {
        let mut i = i + 1;
        for _ in 0..s.len() {
            i = skip_ws(s, i);
            match s.get(i) {
                None => return i,
                Some('}') => return i + 1,
                Some(',') => i += 1,
                Some(_) => {
                    let j = use_tree(s, i, prefix, out);
                    // ` as name` and anything unknown: skip to the next separator.
                    let mut k = j.max(i + 1);
                    while k < s.len() && s[k] != ',' && s[k] != '}' && s[k] != '{' {
                        k += 1;
                    }
                    i = k;
                }
            }
        }
        return i;
    }
    let (name, j) = ident(s, i);
    if name.is_empty() || name == "self" {
        out.push(prefix.clone());
        return j.max(i + usize::from(s.get(i) == Some(&'*')));
    }
    let mut p = prefix.clone();
    p.push(name);
    let k = skip_ws(s, j);
    if s.get(k) == Some(&':') && s.get(k + 1) == Some(&':') {
        return use_tree(s, k + 2, &p, out);
    }
    out.push(p);
    j
}

/// Every `crate::…` path in a file's code (`$crate::` too), use trees expanded.
fn crate_paths(code: &str) -> Vec<ModPath> {
    let s: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 7 <= s.len() {
        let before_ok = i == 0 || !(is_ident(s[i - 1]) || s[i - 1] == ':');
        if before_ok && s[i..i + 5].iter().copied().eq("crate".chars()) {
            let j = skip_ws(&s, i + 5);
            if s.get(j) == Some(&':') && s.get(j + 1) == Some(&':') {
                i = use_tree(&s, j + 2, &Vec::new(), &mut out);
                continue;
            }
        }
        i += 1;
    }
    out
}

/// `mod name;` declarations (not inline `mod name { … }`) of a file's code.
fn mod_decls(code: &str) -> Vec<String> {
    let s: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= s.len() {
        let before_ok = i == 0 || !is_ident(s[i - 1]);
        if before_ok && s[i..i + 3].iter().copied().eq("mod".chars()) && s[i + 3].is_whitespace() {
            let j = skip_ws(&s, i + 3);
            let (name, k) = ident(&s, j);
            if !name.is_empty() && s.get(skip_ws(&s, k)) == Some(&';') {
                out.push(name);
            }
        }
        i += 1;
    }
    out
}

/// `pub use a::b::Name;` (also grouped, with `crate::` or relative paths) in the root: the
/// re-exported name → the module it comes from.
fn reexports(code: &str, modules: &BTreeSet<ModPath>) -> BTreeMap<String, ModPath> {
    let s: Vec<char> = code.chars().collect();
    let mut map = BTreeMap::new();
    let mut i = 0;
    while i + 8 <= s.len() {
        let before_ok = i == 0 || !is_ident(s[i - 1]);
        if before_ok && s[i..i + 3].iter().copied().eq("use".chars()) && s[i + 3].is_whitespace() {
            let mut j = skip_ws(&s, i + 3);
            if s[j..].starts_with(&['c', 'r', 'a', 't', 'e', ':', ':']) {
                j += 7;
            }
            let mut paths = Vec::new();
            i = use_tree(&s, j, &Vec::new(), &mut paths);
            for p in paths {
                if let (Some(name), Some(m)) = (p.last(), longest_module(&p, modules)) {
                    if !m.is_empty() {
                        map.insert(name.clone(), m);
                    }
                }
            }
            continue;
        }
        i += 1;
    }
    map
}

fn longest_module(path: &[String], modules: &BTreeSet<ModPath>) -> Option<ModPath> {
    (0..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains(p))
}

/// One crate root's module tree: module path → file.
fn module_tree(root: &Path) -> BTreeMap<ModPath, PathBuf> {
    let mut tree = BTreeMap::new();
    let mut todo: VecDeque<(ModPath, PathBuf)> = VecDeque::from([(Vec::new(), root.to_path_buf())]);
    let root_dir = root.parent().expect("src").to_path_buf();
    while let Some((m, file)) = todo.pop_front() {
        if tree.contains_key(&m) || tree.len() > 10_000 {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(&file).unwrap_or_default());
        // Children of lib.rs / main.rs / mod.rs / a bin root sit in its directory; of foo.rs in foo/.
        let own_dir = if m.is_empty() || file.file_name().is_some_and(|n| n == "mod.rs") {
            if m.is_empty() {
                root_dir.clone()
            } else {
                file.parent().expect("dir").to_path_buf()
            }
        } else {
            file.with_extension("")
        };
        for child in mod_decls(&code) {
            let flat = own_dir.join(format!("{child}.rs"));
            let nested = own_dir.join(&child).join("mod.rs");
            let f = if flat.is_file() { flat } else { nested };
            if f.is_file() {
                let mut cm = m.clone();
                cm.push(child);
                todo.push_back((cm, f));
            }
        }
        tree.insert(m, file);
    }
    tree
}

/// The import graph of one crate root: module → the modules it names through `crate::`.
fn import_graph(tree: &BTreeMap<ModPath, PathBuf>) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let modules: BTreeSet<ModPath> = tree.keys().cloned().collect();
    let root_code = code_only(&std::fs::read_to_string(&tree[&Vec::new()]).unwrap_or_default());
    let reexported = reexports(&root_code, &modules);
    let mut graph: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (m, file) in tree.iter().filter(|(m, _)| !m.is_empty()) {
        let code = code_only(&std::fs::read_to_string(file).unwrap_or_default());
        let edges = graph.entry(m.clone()).or_default();
        for p in crate_paths(&code) {
            let target = match longest_module(&p, &modules) {
                Some(t) if t.is_empty() => p.first().and_then(|name| reexported.get(name)).cloned(),
                t => t,
            };
            if let Some(t) = target.filter(|t| t != m) {
                edges.insert(t);
            }
        }
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        graph: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        out: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(st: &mut State<'a>, v: &'a ModPath) {
        let n = st.index.len();
        st.index.insert(v, n);
        st.low.insert(v, n);
        st.stack.push(v);
        st.on_stack.insert(v);
        let graph = st.graph;
        for w in graph.get(v).into_iter().flatten() {
            let Some((w, _)) = graph.get_key_value(w) else { continue };
            if !st.index.contains_key(w) {
                visit(st, w);
                let lw = st.low[w];
                let lv = st.low.get_mut(v).expect("low");
                *lv = (*lv).min(lw);
            } else if st.on_stack.contains(w) {
                let iw = st.index[w];
                let lv = st.low.get_mut(v).expect("low");
                *lv = (*lv).min(iw);
            }
        }
        if st.low[v] == st.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = st.stack.pop() {
                st.on_stack.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                st.out.push(comp);
            }
        }
    }
    let mut st = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !st.index.contains_key(v) {
            visit(&mut st, v);
        }
    }
    st.out
}

/// A shortest cycle through `start` inside `comp` (breadth first), as `a → b → … → a`.
fn show_cycle(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>, comp: &[ModPath]) -> String {
    let name = |m: &ModPath| m.join("::");
    let start = &comp[0];
    let mut prev: BTreeMap<&ModPath, &ModPath> = BTreeMap::new();
    let mut queue: VecDeque<&ModPath> = VecDeque::from([start]);
    let mut seen: BTreeSet<&ModPath> = BTreeSet::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in graph.get(v).into_iter().flatten().filter(|w| comp.contains(w)) {
            if w == start {
                let mut path = vec![name(start)];
                let mut at = v;
                while at != start {
                    path.push(name(at));
                    at = prev[at];
                }
                path.push(name(start));
                path.reverse();
                return path.join(" → ");
            }
            if seen.insert(w) {
                prev.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    comp.iter().map(name).collect::<Vec<_>>().join(", ")
}

/// The import cycles of every crate root in the workspace, one line each.
fn workspace_cycles() -> Vec<String> {
    let mut found = Vec::new();
    for dir in crate_dirs() {
        let src = dir.join("src");
        let mut roots: Vec<PathBuf> =
            ["lib.rs", "main.rs"].iter().map(|f| src.join(f)).filter(|p| p.is_file()).collect();
        let mut bins = Vec::new();
        rs_files(&src.join("bin"), &mut bins);
        roots.extend(bins.into_iter().filter(|p| p.parent() == Some(&src.join("bin"))));
        for root in roots {
            let graph = import_graph(&module_tree(&root));
            for comp in cycles(&graph) {
                let krate = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let root_name = root.strip_prefix(&src).unwrap_or(&root).display().to_string();
                found.push(format!("crates/{krate} ({root_name}): {}", show_cycle(&graph, &comp)));
            }
        }
    }
    found
}

#[test]
fn no_crate_has_an_import_cycle() {
    let found = workspace_cycles();
    for c in &found {
        eprintln!("import cycle: {c}");
    }
    assert!(found.is_empty(), "import cycles between modules:\n{}", found.join("\n"));
}

#[test]
fn every_source_file_opens_with_its_role() {
    let mut missing = Vec::new();
    for dir in crate_dirs() {
        let mut files = Vec::new();
        rs_files(&dir.join("src"), &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            if !first.starts_with("//!") {
                missing.push(f.strip_prefix(workspace()).unwrap_or(&f).display().to_string());
            }
        }
    }
    assert!(missing.is_empty(), "files without a `//!` role comment at the top:\n{}", missing.join("\n"));
}

/// The shells: the only files of the engine crates that may own sockets, read the clock or hold
/// process-wide state (the server's `shell*`, the client's bind, driver, pump, mesh and NAT probe).
const SHELL_FILES: [&str; 7] = [
    "crates/server/src/shell.rs",
    "crates/server/src/shell/",
    "crates/client/src/bind.rs",
    "crates/client/src/driver.rs",
    "crates/client/src/pump.rs",
    "crates/client/src/mesh.rs",
    "crates/client/src/nat_probe.rs",
];

#[test]
fn no_engine_reads_the_clock_or_holds_process_wide_state() {
    let mut found = Vec::new();
    let mut checked = 0;
    for krate in ["io", "proto", "server", "client", "cluster"] {
        let mut files = Vec::new();
        rs_files(&workspace().join("crates").join(krate).join("src"), &mut files);
        for f in files {
            let rel = f.strip_prefix(workspace()).unwrap_or(&f).display().to_string();
            if rel.contains("/src/tests/") || SHELL_FILES.iter().any(|s| rel.starts_with(s)) {
                continue;
            }
            checked += 1;
            let code = code_only(&std::fs::read_to_string(&f).unwrap_or_default());
            for bad in [
                "Instant::now",
                "SystemTime::now",
                "OnceLock",
                "thread_local!",
                "static mut",
                "Atomic",
                "UdpSocket",
            ] {
                if code.contains(bad) {
                    found.push(format!("{rel}: {bad}"));
                }
            }
        }
    }
    assert!(checked > 60, "only {checked} engine files read");
    assert!(
        found.is_empty(),
        "engine code that reads the clock, owns a socket or holds state:\n{}",
        found.join("\n")
    );
}

/// What a `#[cfg(test)]` is allowed to stand on outside `src/tests/`: nothing today (the client's
/// simulated tests moved to `rhp-sim`). A file or a `(file, mod)` listed here would be exempt.
const INLINE_TEST_EXEMPT_FILES: [&str; 0] = [];
const INLINE_TEST_EXEMPT_MODS: [(&str, &str); 0] = [];

/// The item a `#[cfg(test)]` at char `i` of `code` stands on, past further attributes and a
/// visibility: its keyword, its name and, for a `mod`, whether `;` or `{` follows.
fn cfg_test_item(code: &[char], mut i: usize) -> (String, String, char) {
    i += "#[cfg(test)]".chars().count();
    loop {
        i = skip_ws(code, i);
        if code.get(i) != Some(&'#') {
            break;
        }
        let mut depth = 0usize;
        while i < code.len() {
            match code[i] {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        i += 1;
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
    let (mut word, mut j) = ident(code, i);
    if word == "pub" {
        j = skip_ws(code, j);
        if code.get(j) == Some(&'(') {
            while j < code.len() && code[j] != ')' {
                j += 1;
            }
            j += 1;
        }
        (word, j) = ident(code, skip_ws(code, j));
    }
    let (name, k) = ident(code, skip_ws(code, j));
    if word != "mod" {
        return (word, name, ' ');
    }
    let end = code.get(skip_ws(code, k)).copied().unwrap_or(' ');
    (word, name, end)
}

/// Where test code sits inline in `src`: every `#[cfg(test)]` and every `mod tests {` outside
/// `src/tests/`, but the crate root's one `#[cfg(test)] mod tests;` and the exemptions above.
fn inline_test_code() -> Vec<String> {
    let mut found = Vec::new();
    for dir in crate_dirs() {
        let src = dir.join("src");
        let mut files = Vec::new();
        rs_files(&src, &mut files);
        for f in files {
            let rel = f.strip_prefix(workspace()).unwrap_or(&f).display().to_string();
            if f.starts_with(src.join("tests")) || INLINE_TEST_EXEMPT_FILES.iter().any(|e| rel.starts_with(e))
            {
                continue;
            }
            let is_root = ["lib.rs", "main.rs"].iter().any(|r| f == src.join(r))
                || f.parent() == Some(&src.join("bin"));
            let code: Vec<char> =
                code_only(&std::fs::read_to_string(&f).unwrap_or_default()).chars().collect();
            let line = |i: usize| code[..i].iter().filter(|c| **c == '\n').count() + 1;
            let at = |pat: &str| -> Vec<usize> {
                let p: Vec<char> = pat.chars().collect();
                (0..code.len().saturating_sub(p.len() - 1))
                    .filter(|&i| code[i..i + p.len()] == p[..])
                    .collect()
            };
            for i in at("#[cfg(test)]") {
                let (word, name, end) = cfg_test_item(&code, i);
                let declared_tests = word == "mod" && name == "tests" && end == ';' && is_root;
                let exempt =
                    word == "mod" && INLINE_TEST_EXEMPT_MODS.contains(&(rel.as_str(), name.as_str()));
                if !declared_tests && !exempt {
                    found.push(format!("{rel}:{}: #[cfg(test)] {word} {name}", line(i)));
                }
            }
            for i in at("mod tests") {
                let (name, k) = ident(&code, i + 4);
                if name == "tests" && code.get(skip_ws(&code, k)) == Some(&'{') {
                    found.push(format!("{rel}:{}: inline `mod tests {{`", line(i)));
                }
            }
        }
    }
    found
}

#[test]
fn no_test_code_sits_inline_in_src() {
    let found = inline_test_code();
    assert!(
        found.is_empty(),
        "test code inline in src (tests of the public surface go to `tests/`, unit tests that need \
         private access to `src/tests/<module>.rs`, declared once from the root as \
         `#[cfg(test)] mod tests;`):\n{}",
        found.join("\n")
    );
}

// The parser itself, on small inputs.

#[test]
fn use_trees_and_inline_paths_are_read() {
    let code = code_only(
        "use crate::a::{b::X, c, d::{self, e::Y}};\n\
         // use crate::commented::Out;\n\
         let s = \"crate::in_a_string\";\n\
         fn f() { crate::f::g(); $crate::h::i!(); }\n\
         pub(crate) use crate::j as k;\n",
    );
    let got: Vec<String> = crate_paths(&code).iter().map(|p| p.join("::")).collect();
    assert_eq!(got, ["a::b::X", "a::c", "a::d", "a::d::e::Y", "f::g", "h::i", "j"]);
}

#[test]
fn a_cycle_is_found_and_shown() {
    let m = |s: &str| -> ModPath { s.split("::").map(String::from).collect() };
    let mut g: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    g.insert(m("classify"), BTreeSet::from([m("outbox")]));
    g.insert(m("outbox"), BTreeSet::from([m("events")]));
    g.insert(m("events"), BTreeSet::from([m("classify"), m("leaf")]));
    g.insert(m("leaf"), BTreeSet::new());
    let c = cycles(&g);
    assert_eq!(c.len(), 1);
    assert_eq!(show_cycle(&g, &c[0]), "classify → outbox → events → classify");
    g.get_mut(&m("events")).expect("events").remove(&m("classify"));
    assert!(cycles(&g).is_empty());
}
