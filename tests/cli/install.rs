//! How `action.yml` installs rollgate: its install step's own script, run by bash as the Actions
//! runner runs it, against a local HTTP server laid out like GitHub's release downloads
//! (`/OWNER/REPO/releases/download/TAG/ASSET`) serving this build packed as a release asset.

use crate::support::root;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

const TAG: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// The asset for the machine the tests run on, as install.sh names it.
fn asset() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        other => panic!("no release target for {other}"),
    };
    format!("rollgate-{arch}-unknown-linux-musl.tar.gz")
}

fn runner_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "ARM64",
        _ => "X64",
    }
}

/// Files served by path; every request's path is remembered.
struct Releases {
    url: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Releases {
    fn serve(files: BTreeMap<String, Vec<u8>>) -> Releases {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let seen = asked.clone();
        std::thread::spawn(move || {
            for req in server.incoming_requests() {
                let path = req.url().to_string();
                seen.lock().unwrap().push(path.clone());
                let _ = match files.get(&path) {
                    Some(body) => req.respond(tiny_http::Response::from_data(body.clone())),
                    None => req.respond(
                        tiny_http::Response::from_string("Not Found").with_status_code(404),
                    ),
                };
            }
        });
        Releases { url, asked }
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

/// This build of rollgate as a release asset: a gzipped tar holding `rollgate`.
fn packed(dir: &Path) -> Vec<u8> {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_rollgate"), stage.join("rollgate")).unwrap();
    let tarball = dir.join("asset.tar.gz");
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&stage)
        .arg("rollgate")
        .status()
        .unwrap();
    assert!(ok.success());
    std::fs::read(tarball).unwrap()
}

fn sums(asset: &str, bytes: &[u8]) -> Vec<u8> {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{hex}  rollgate-other-target.tar.gz\n{hex}  {asset}\n").into_bytes()
}

/// The install step of `action.yml`: its `run` script and its `env`, with the expressions the
/// runner would fill in.
fn install_step(action_ref: &str, temp: &Path) -> (String, Vec<(String, String)>) {
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let action = rollgate::plan::load::load("action.yml", &text)
        .unwrap()
        .value;
    let step = action["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "install")
        .expect("action.yml has a step with id `install`")
        .clone();
    let filled = |v: &str| {
        v.replace("${{ github.action_ref }}", action_ref)
            .replace("${{ github.action_repository }}", "rollgate/rollgate")
            .replace("${{ runner.temp }}", temp.to_str().unwrap())
    };
    let env = step["env"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), filled(v.as_str().unwrap())))
        .collect();
    (step["run"].as_str().unwrap().to_string(), env)
}

struct Installed {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    outputs: String,
    path: String,
    bin: PathBuf,
}

/// Runs the install step as the runner would, the action checked out where Actions puts it:
/// `_actions/rollgate/rollgate/REF`.
fn install(releases: &Releases, action_ref: &str, dir: &Path) -> Installed {
    let temp = dir.join("runner-temp");
    let action_path = dir
        .join("_actions/rollgate/rollgate")
        .join(if action_ref.is_empty() {
            TAG
        } else {
            action_ref
        });
    std::fs::create_dir_all(&action_path).unwrap();
    std::fs::copy(root().join("install.sh"), action_path.join("install.sh")).unwrap();
    let (script, env) = install_step(action_ref, &temp);
    let (outputs, path) = (dir.join("output"), dir.join("path"));
    for f in [&outputs, &path] {
        std::fs::write(f, "").unwrap();
    }
    let out = Command::new("bash")
        .arg("-e")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .envs(env)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_ACTION_PATH", &action_path)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_PATH", &path)
        .env("GITHUB_SERVER_URL", &releases.url)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", runner_arch())
        .env("RUNNER_TEMP", &temp)
        .output()
        .unwrap();
    Installed {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
        outputs: std::fs::read_to_string(outputs).unwrap(),
        path: std::fs::read_to_string(path).unwrap(),
        bin: temp.join("rollgate/bin/rollgate"),
    }
}

fn release(files: &[(&str, Vec<u8>)]) -> Releases {
    Releases::serve(
        files
            .iter()
            .map(|(name, body)| {
                (
                    format!("/rollgate/rollgate/releases/download/{TAG}/{name}"),
                    body.clone(),
                )
            })
            .collect(),
    )
}

#[test]
fn a_release_tag_installs_the_released_binary_after_checking_its_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let asset = asset();
    let bytes = packed(dir.path());
    let releases = release(&[
        (&asset, bytes.clone()),
        ("SHA256SUMS", sums(&asset, &bytes)),
    ]);
    let got = install(&releases, TAG, dir.path());
    assert_eq!(got.code, Some(0), "{}", got.stderr);
    assert_eq!(got.outputs, "how=download\n");
    let bin_dir = got.bin.parent().unwrap();
    assert_eq!(got.path, format!("{}\n", bin_dir.display()));
    assert!(
        got.stderr.contains(&format!(
            "installed rollgate {} for ",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        got.stderr
    );
    let version = Command::new(&got.bin).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("rollgate {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        releases.asked(),
        [
            format!("/rollgate/rollgate/releases/download/{TAG}/{asset}"),
            format!("/rollgate/rollgate/releases/download/{TAG}/SHA256SUMS"),
        ]
    );

    // `github.action_ref` empty, as in a composite action's steps at times: the action's
    // directory names the tag.
    let dir = tempfile::tempdir().unwrap();
    let got = install(&releases, "", dir.path());
    assert_eq!(got.code, Some(0), "{}", got.stderr);
    assert_eq!(got.outputs, "how=download\n");
}

#[test]
fn a_corrupted_or_missing_asset_is_refused_and_nothing_is_installed() {
    let dir = tempfile::tempdir().unwrap();
    let asset = asset();
    let bytes = packed(dir.path());
    let mut corrupted = bytes.clone();
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0x01;
    let releases = release(&[(&asset, corrupted), ("SHA256SUMS", sums(&asset, &bytes))]);
    let got = install(&releases, TAG, dir.path());
    assert_eq!(got.code, Some(1));
    assert!(
        got.stderr.contains(&format!(
            "{asset} of {TAG} does not match its checksum (SHA256SUMS says "
        )),
        "{}",
        got.stderr
    );
    assert!(
        got.stderr.contains("refused, nothing installed"),
        "{}",
        got.stderr
    );
    assert!(
        got.stdout.starts_with("::error title=rollgate install::"),
        "{}",
        got.stdout
    );
    assert!(!got.bin.exists());
    assert_eq!((got.outputs.as_str(), got.path.as_str()), ("", ""));

    // A release without this machine's asset.
    let dir = tempfile::tempdir().unwrap();
    let releases = release(&[("SHA256SUMS", sums(&asset, &bytes))]);
    let got = install(&releases, TAG, dir.path());
    assert_eq!(got.code, Some(1));
    assert!(
        got.stderr.contains(&format!(
            "cannot download {}/rollgate/rollgate/releases/download/{TAG}/{asset}",
            releases.url
        )),
        "{}",
        got.stderr
    );
    assert!(!got.bin.exists());

    // A checksum file that does not list the asset.
    let dir = tempfile::tempdir().unwrap();
    let releases = release(&[
        (&asset, bytes.clone()),
        ("SHA256SUMS", b"0000  other.tar.gz\n".to_vec()),
    ]);
    let got = install(&releases, TAG, dir.path());
    assert_eq!(got.code, Some(1));
    assert!(
        got.stderr
            .contains(&format!("SHA256SUMS of {TAG} has no line for {asset}")),
        "{}",
        got.stderr
    );
    assert!(!got.bin.exists());
}

#[test]
fn a_ref_without_a_release_is_built_from_source_and_nothing_is_downloaded() {
    let releases = release(&[]);
    for r in ["main", "0123456789abcdef0123456789abcdef01234567"] {
        let dir = tempfile::tempdir().unwrap();
        let got = install(&releases, r, dir.path());
        assert_eq!(got.code, Some(0), "{}", got.stderr);
        assert_eq!(got.outputs, "how=build\n");
        assert!(
            got.stderr.contains(&format!("`{r}` is not a release tag")),
            "{}",
            got.stderr
        );
    }
    assert!(releases.asked().is_empty());
    // The build steps run only then, and cache the binary by the sources' fingerprint.
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let action = rollgate::plan::load::load("action.yml", &text)
        .unwrap()
        .value;
    let steps = action["runs"]["steps"].as_array().unwrap();
    let built: Vec<&serde_json::Value> = steps
        .iter()
        .filter(|s| {
            s["if"]
                .as_str()
                .is_some_and(|c| c.starts_with("steps.install.outputs.how == 'build'"))
        })
        .collect();
    assert_eq!(built.len(), 3, "fingerprint, cache, build");
    assert_eq!(built[1]["uses"], "actions/cache@v4");
    assert!(built[2]["run"]
        .as_str()
        .unwrap()
        .contains("cargo install --locked"));
}
