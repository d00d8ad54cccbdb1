//! Running the user's programs: `sh -c COMMAND` with extra environment, its output captured,
//! and a failure that says which command, its exit status and the end of its stderr.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// A command ready for `sh -c`, and the variables it reads its values from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub text: String,
    pub env: BTreeMap<String, String>,
}

impl Script {
    /// A command with nothing bound.
    pub fn plain(text: &str) -> Script {
        Script {
            text: text.to_string(),
            env: BTreeMap::new(),
        }
    }

    /// [`run`]s it in `cwd` with its variables and then `extra` (the provider's own:
    /// `ROLLGATE_CANARY_WEIGHT`, `ROLLGATE_QUERY`, …).
    pub async fn run(
        &self,
        extra: BTreeMap<String, String>,
        cwd: Option<&Path>,
    ) -> Result<String, String> {
        let mut env = self.env.clone();
        env.extend(extra);
        run(&self.text, &env, DEFAULT_TIMEOUT, cwd).await
    }
}

/// How long a provider's command may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `command` (in `cwd`, when given) and returns its stdout, or why it failed.
pub async fn run(
    command: &str,
    env: &BTreeMap<String, String>,
    timeout: Duration,
    cwd: Option<&Path>,
) -> Result<String, String> {
    let mut sh = tokio::process::Command::new("sh");
    if let Some(dir) = cwd {
        sh.current_dir(dir);
    }
    let child = sh
        .arg("-c")
        .arg(command)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start `{command}`: {e}"))?;
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(r) => r.map_err(|e| format!("`{command}` failed: {e}"))?,
        Err(_) => {
            return Err(format!(
                "`{command}` took longer than {}s",
                timeout.as_secs()
            ))
        }
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = stderr
            .trim()
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" / ");
        return Err(format!(
            "`{command}` exited with {}{}",
            out.status,
            if tail.is_empty() {
                String::new()
            } else {
                format!(": {tail}")
            }
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_env_and_failures() {
        let env = BTreeMap::from([("ROLLGATE_X".to_string(), "42".to_string())]);
        assert_eq!(
            run("echo $ROLLGATE_X", &env, DEFAULT_TIMEOUT, None)
                .await
                .unwrap(),
            "42\n"
        );
        let e = run("echo oops >&2; exit 3", &env, DEFAULT_TIMEOUT, None)
            .await
            .unwrap_err();
        assert!(e.contains("exit status: 3") && e.ends_with(": oops"), "{e}");
        let e = run("sleep 5", &env, Duration::from_millis(100), None)
            .await
            .unwrap_err();
        assert!(e.contains("took longer"), "{e}");
    }
}
