//! A throwaway PostgreSQL cluster on loopback (Debian's `postgresql`, which the README's test
//! command installs when missing), started as the `postgres` user when run as root (PostgreSQL
//! refuses root). Shared by the tests and `cargo bench --bench store`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A cluster of its own, stopped and removed when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// Whether commits wait for the disk, as in production (tests need not).
    durable: bool,
}

/// PostgreSQL's server programs: Debian keeps them out of PATH, by major version (the newest
/// installed is taken); elsewhere they are on it.
fn server_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| Some(e.ok()?.path().join("bin"))).collect())
        .unwrap_or_default();
    versions.retain(|bin| bin.join("initdb").exists());
    versions.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    // Elsewhere, on PATH: named bare.
    versions.pop().unwrap_or_default()
}

/// Runs a server program; as root, as the `postgres` user (PostgreSQL refuses root).
fn as_owner(program: &Path) -> Command {
    let id = Command::new("id").arg("-u").output().expect("id runs");
    if String::from_utf8_lossy(&id.stdout).trim() == "0" {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Cluster {
    /// A cluster whose commits do not wait for the disk: fast, for tests.
    pub fn start() -> Cluster {
        Cluster::start_with(false)
    }

    /// `durable`: commits wait for the disk, as a production database's do.
    pub fn start_with(durable: bool) -> Cluster {
        let bin = server_bin();
        let dir = tempfile::tempdir().unwrap();
        let _ = Command::new("chown")
            .args(["postgres"])
            .arg(dir.path())
            .status();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = dir.path().join("data");
        let init = as_owner(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "rollgate", "--no-sync"])
            .output()
            .unwrap_or_else(|e| {
                panic!("initdb: {e}: PostgreSQL's server is needed: apt-get install -y postgresql (the README's test command installs it)")
            });
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let cluster = Cluster {
            dir,
            bin,
            port,
            durable,
        };
        cluster.pg_ctl("start");
        cluster
    }

    /// Stops the server (fast: its connections are closed), as a restart or a failover does.
    pub fn stop(&self) {
        self.pg_ctl("stop");
    }

    /// Starts it again after [`Cluster::stop`], on the same port.
    pub fn start_again(&self) {
        self.pg_ctl("start");
    }

    fn pg_ctl(&self, what: &str) {
        let data = self.dir.path().join("data");
        let mut c = as_owner(&self.bin.join("pg_ctl"));
        c.arg("-D").arg(&data).args(["-w", "-m", "fast"]);
        if what != "stop" {
            c.arg("-o").arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync={} -c max_connections=250",
                self.port,
                self.dir.path().display(),
                if self.durable { "on" } else { "off" }
            ));
            c.arg("-l").arg(self.dir.path().join("log"));
        }
        let out = c.arg(what).output().unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {what}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `psql` on database `db`, running `sql`, unaligned and bare; what it printed.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "rollgate", "-d", db, "-At", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A URL for a fresh database of its own.
    pub fn database(&self, name: &str) -> String {
        self.sql("postgres", &format!("CREATE DATABASE \"{name}\""));
        format!(
            "postgres://rollgate@127.0.0.1:{}/{name}?sslmode=disable",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}
