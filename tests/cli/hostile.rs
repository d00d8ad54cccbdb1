//! Hostile input gets a clear error and never a panic: huge files through the real binary, and
//! property tests over arbitrary bytes and over mutated valid plans through the library.

use crate::support::{files, rollgate, root};
use proptest::prelude::*;
use rollgate::compile::compile;
use rollgate::graph::{to_dot, to_mermaid};
use rollgate::validate::validate;

#[test]
fn a_huge_file_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let line = "# padding padding padding padding padding padding padding padding\n";
    std::fs::write(
        &path,
        format!("name: huge\n{}", line.repeat(17 * 1024 * 1024 / line.len())),
    )
    .unwrap();
    let run = rollgate(&["validate", path.to_str().unwrap()]).invalid();
    assert!(
        run.stderr.contains("error[not-text]: the file is"),
        "{}",
        run.stderr
    );
}

/// Everything a user could ask for with this text must end in Ok or diagnostics.
fn exercise(text: &str) {
    match validate("fuzz.yaml", text) {
        Ok(v) => {
            let g = compile(&v);
            to_mermaid(&g);
            to_dot(&g);
            g.to_json();
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "an invalid plan must say why");
            rollgate::diagnostics::render_human("fuzz.yaml", text, &diags);
            rollgate::diagnostics::to_json("fuzz.yaml", &diags);
        }
    }
}

fn plans() -> &'static [String] {
    static PLANS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    PLANS.get_or_init(|| {
        files("workflows", "yaml")
            .into_iter()
            .map(|p| std::fs::read_to_string(root().join(p)).unwrap())
            .collect()
    })
}

/// One edit of a valid plan: a deletion, an insertion of YAML-significant text, a duplicated or
/// swapped line, or a re-indentation.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Indent { line: usize, by: i8 },
}

fn edit() -> impl Strategy<Value = Edit> {
    let snippet = prop_oneof![
        Just(": ".to_string()),
        Just("- ".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("&a ".to_string()),
        Just("*a".to_string()),
        Just("<<: *a".to_string()),
        Just("${{ ".to_string()),
        Just(" }}".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("|\n".to_string()),
        Just("\t".to_string()),
        Just("\n".to_string()),
        Just("weight: 500".to_string()),
        Just("needs: [x]".to_string()),
        Just("observe: 0s".to_string()),
        Just("!!binary ".to_string()),
        Just("---\n".to_string()),
        Just("~".to_string()),
        Just("1e999".to_string()),
        "[ -~]{0,12}",
    ];
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), snippet).prop_map(|(at, text)| Edit::Insert { at, text }),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), -4i8..4).prop_map(|(line, by)| Edit::Indent { line, by }),
    ]
}

fn apply(text: &str, e: &Edit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len().max(1);
    match e {
        Edit::Delete { at, len } => {
            let chars: Vec<char> = text.chars().collect();
            let at = at % chars.len().max(1);
            let end = (at + len).min(chars.len());
            chars[..at].iter().chain(&chars[end..]).collect()
        }
        Edit::Insert { at, text: ins } => {
            let chars: Vec<char> = text.chars().collect();
            let at = at % (chars.len() + 1);
            chars[..at].iter().collect::<String>() + ins + &chars[at..].iter().collect::<String>()
        }
        Edit::DuplicateLine(i) => {
            let i = i % n;
            if let Some(l) = lines.get(i).cloned() {
                lines.insert(i, l);
            }
            lines.join("\n")
        }
        Edit::SwapLines(a, b) => {
            if !lines.is_empty() {
                lines.swap(a % n, b % n);
            }
            lines.join("\n")
        }
        Edit::Indent { line, by } => {
            if let Some(l) = lines.get_mut(line % n) {
                let k = by.unsigned_abs() as usize;
                *l = if *by >= 0 {
                    " ".repeat(k) + l
                } else {
                    l.strip_prefix(&" ".repeat(k))
                        .unwrap_or(l.trim_start())
                        .to_string()
                };
            }
            lines.join("\n")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_plans_never_panic(which in any::<usize>(), edits in proptest::collection::vec(edit(), 1..6)) {
        let all = plans();
        let mut text = all[which % all.len()].clone();
        for e in &edits {
            text = apply(&text, e);
        }
        exercise(&text);
    }
}
