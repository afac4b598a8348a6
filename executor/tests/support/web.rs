//! A loopback HTTP server that gives every request the same reply (a file or a redirect) and counts the
//! requests, for agent downloads the executor must or must not make.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// What the server answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `200 OK` with this body.
    File(Vec<u8>),
    /// `302 Found` to this URL.
    Redirect(String),
}

/// A running server; stopped when dropped.
pub struct WebServer {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl WebServer {
    /// Serves `reply` on a free port of `ip` (any loopback address, such as 127.0.0.2).
    pub fn start(ip: &str, reply: Reply) -> Self {
        let listener = TcpListener::bind((ip, 0)).expect("bind the web server");
        let addr = listener.local_addr().expect("web server address");
        let (hits, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (counted, stopping) = (Arc::clone(&hits), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    counted.fetch_add(1, Ordering::SeqCst);
                    answer(stream, &reply);
                }
            }
        });
        Self { addr, hits, stop }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads the request head, then writes the reply and closes.
fn answer(mut stream: TcpStream, reply: &Reply) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let response = match reply {
        Reply::File(body) => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            out.extend_from_slice(body);
            out
        }
        Reply::Redirect(location) => format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .into_bytes(),
    };
    let _ = stream.write_all(&response);
    let _ = stream.flush();
}
