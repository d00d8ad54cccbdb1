//! A TCP proxy on loopback between rollgate and its PostgreSQL that fails the way networks
//! and databases do: `hold` (bytes stop both ways and connections stay open, with no TCP
//! error, as with a hung server, a middlebox or a full disk), `drop` (every connection
//! closed, new ones refused at once), and `pass` again. Started by the tests that need it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Pass,
    Hold,
    Drop,
}

pub struct FaultProxy {
    pub port: u16,
    fault: Arc<Mutex<Fault>>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl FaultProxy {
    /// A proxy to `127.0.0.1:upstream`, passing bytes.
    pub fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fault = Arc::new(Mutex::new(Fault::Pass));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (f, o) = (fault.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if *f.lock().unwrap() == Fault::Drop {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                o.lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                pump(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    f.clone(),
                );
                pump(server, client, f.clone());
            }
        });
        FaultProxy { port, fault, open }
    }

    /// A proxy in front of the server of `url` (a PostgreSQL URL on 127.0.0.1), and `url`
    /// through it.
    pub fn before(url: &str) -> (FaultProxy, String) {
        let port: u16 = url
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .expect("a URL on 127.0.0.1:PORT");
        let proxy = FaultProxy::start(port);
        let through = url.replace(
            &format!("127.0.0.1:{port}"),
            &format!("127.0.0.1:{}", proxy.port),
        );
        (proxy, through)
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
        if fault == Fault::Drop {
            for s in self.open.lock().unwrap().drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Copies `from` to `to` until either closes or the proxy drops them; while held, what was
/// read waits.
fn pump(mut from: TcpStream, mut to: TcpStream, fault: Arc<Mutex<Fault>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            loop {
                match *fault.lock().unwrap() {
                    Fault::Pass => break,
                    Fault::Drop => {
                        let _ = (from.shutdown(Shutdown::Both), to.shutdown(Shutdown::Both));
                        return;
                    }
                    Fault::Hold => {}
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}
