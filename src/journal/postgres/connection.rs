//! The store's connection: one thread owning it, taking jobs, so the store's calls stay
//! synchronous wherever they are made; and how it connects and speaks of itself.

use postgres::{Client, Config};
use std::collections::HashMap;
use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(super) type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// A run's lease as this process holds it.
pub(super) struct Held {
    pub(super) fence: i64,
    pub(super) lost: Arc<AtomicBool>,
}

/// The connection's thread, taking jobs.
pub(super) struct Worker {
    pub(super) jobs: Mutex<mpsc::Sender<Job>>,
    /// Where, for people: `postgres://user@host:port/db`, never the password.
    pub(super) shown: String,
    /// Each run this process owns: the fence its events are written under, and whether its
    /// lease was found gone. The store's heartbeat renews them all at once.
    pub(super) fences: Mutex<HashMap<String, Held>>,
    /// How long a call may wait for its answer. A server that stalls (connections open, no
    /// bytes: a hung server, a middlebox, a full disk) gives no TCP error, so without a
    /// deadline of the client's own every caller would wait with it.
    pub(super) deadline: Duration,
}

impl Worker {
    /// Runs `f` on the connection and waits for what it returns, for at most the deadline:
    /// past it the store counts as unreachable (`TimedOut`), as a refused connection does.
    pub(super) fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> io::Result<T> {
        self.call_within(self.deadline, f)
    }

    /// [`Worker::call`] with a deadline of its own (reading every run takes longer).
    pub(super) fn call_within<T: Send + 'static>(
        &self,
        deadline: Duration,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send + 'static,
    ) -> io::Result<T> {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |client| {
            let _ = tx.send(f(client));
        });
        let sent = self.jobs.lock().expect("not poisoned").send(job);
        let gone = || io::Error::other(format!("the store at {} stopped", self.shown));
        sent.map_err(|_| gone())?;
        match rx.recv_timeout(deadline) {
            Ok(answer) => {
                answer.map_err(|e| io::Error::other(format!("{}: {}", self.shown, said(&e))))
            }
            // The job stays queued behind the stalled one; its answer, if it ever comes, is
            // dropped (appends are idempotent by sequence number and fence).
            Err(mpsc::RecvTimeoutError::Timeout) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the store at {} did not answer within {}",
                    self.shown,
                    humantime::format_duration(deadline)
                ),
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(gone()),
        }
    }
}

/// A database error in words: the server's message where it sent one.
pub(super) fn said(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// `url` for people: its user, host, port and database, without a password.
pub(super) fn shown(config: &Config) -> String {
    use postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{host}:{port}/{db}")
}

/// Connects as `config` says, with TLS (rustls, the system's roots) unless `sslmode=disable`.
pub(super) fn connect(config: &Config) -> Result<Client, postgres::Error> {
    use postgres::config::SslMode;
    if config.get_ssl_mode() == SslMode::Disable {
        return config.connect(postgres::NoTls);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
}
