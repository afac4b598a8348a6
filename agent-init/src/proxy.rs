//! An egress proxy inside the process for the OCI registry client, whose HTTP client takes neither
//! a resolver nor a redirect policy from us: the client is pointed at this proxy for http and
//! https, so every connection it makes (registry, token realm, blob redirects) is resolved and
//! checked here by [`Destinations::resolve`] and made to exactly the checked address.
//!
//! https targets arrive as `CONNECT host:port` and are tunnelled (TLS stays end to end); plain
//! http targets arrive in absolute form and are forwarded one request per connection, with
//! `connection: close` both ways. The proxy listens on 127.0.0.1 for one pull; it reaches nothing
//! that a local process could not reach directly, so it asks for no credentials.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::text::shorten;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use url::{Host, Url};

use crate::destination::Destinations;
use crate::error::{Error, Result};

/// Largest request or response head the proxy reads.
const MAX_HEAD: usize = 64 * 1024;

/// Headers about the hop between client and proxy, never forwarded.
const HOP_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
];

/// A running proxy; dropping it stops it and every connection through it.
pub(crate) struct EgressProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    destinations: Destinations,
    connect_timeout: Duration,
    /// The first host refused, so that the pull reports the refusal rather than the failed
    /// request it caused.
    refused: Mutex<Option<String>>,
    /// Why the last connection to an allowed host failed, for the same reason.
    unreachable: Mutex<Option<String>>,
}

impl EgressProxy {
    /// Starts the proxy on a free loopback port.
    pub(crate) async fn start(
        destinations: Destinations,
        connect_timeout: Duration,
    ) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::io("starting the registry egress proxy", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("starting the registry egress proxy", e))?;
        let shared = Arc::new(Shared {
            destinations,
            connect_timeout,
            refused: Mutex::new(None),
            unreachable: Mutex::new(None),
        });
        let task = tokio::spawn(accept(listener, shared.clone()));
        Ok(EgressProxy { addr, shared, task })
    }

    /// The proxy URL to give the client.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The refusal of a destination, if the proxy refused one.
    pub(crate) fn refusal(&self) -> Option<Error> {
        let refused = self.shared.refused.lock().ok()?.clone()?;
        Some(crate::destination::refused(&refused))
    }
}

impl EgressProxy {
    /// Why a connection to an allowed host failed since the last call, if one did.
    pub(crate) fn take_unreachable(&self) -> Option<String> {
        self.shared.unreachable.lock().ok()?.take()
    }
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    // Aborting this task drops the set, which aborts every connection task.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            // The client then fails to connect and the pull reports it.
            return;
        };
        let shared = shared.clone();
        connections.spawn(async move {
            if let Err(error) = serve(stream, &shared).await {
                tracing::debug!(%error, "egress proxy connection ended");
            }
        });
    }
}

/// Serves one client connection: one tunnel or one forwarded request.
async fn serve(mut client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let Some((head, rest)) = read_head(&mut client).await? else {
        return Ok(());
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    if !matches!(request.parse(&head), Ok(httparse::Status::Complete(_))) {
        return reply(&mut client, "400 Bad Request").await;
    }
    let (method, target) = (
        request.method.unwrap_or_default(),
        request.path.unwrap_or_default(),
    );
    if method.eq_ignore_ascii_case("CONNECT") {
        return tunnel(client, target, &rest, shared).await;
    }
    forward(client, method, target, request.headers, shared).await
}

/// Answers `CONNECT host:port` and relays bytes both ways (TLS stays end to end).
async fn tunnel(
    mut client: TcpStream,
    target: &str,
    rest: &[u8],
    shared: &Shared,
) -> std::io::Result<()> {
    let Some((host, port)) = authority(target) else {
        return reply(&mut client, "400 Bad Request").await;
    };
    let mut upstream = match shared.connect(&host, port).await {
        Ok(upstream) => upstream,
        Err(status) => return reply(&mut client, status).await,
    };
    client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    upstream.write_all(rest).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// Forwards one plain-http request given in absolute form, without a body, and its response,
/// closing the connection after it.
async fn forward(
    mut client: TcpStream,
    method: &str,
    target: &str,
    headers: &[httparse::Header<'_>],
    shared: &Shared,
) -> std::io::Result<()> {
    let Some(url) = Url::parse(target).ok().filter(|u| u.scheme() == "http") else {
        return reply(&mut client, "400 Bad Request").await;
    };
    let has_body = headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding")
            || (h.name.eq_ignore_ascii_case("content-length") && h.value != b"0")
    });
    if has_body {
        // A pull only reads; request bodies are not forwarded.
        return reply(&mut client, "501 Not Implemented").await;
    }
    let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
        return reply(&mut client, "400 Bad Request").await;
    };
    let mut upstream = match shared.connect(&host.to_string(), port).await {
        Ok(upstream) => upstream,
        Err(status) => return reply(&mut client, status).await,
    };
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    let mut forwarded = format!("{method} {path} HTTP/1.1\r\n").into_bytes();
    for header in headers {
        if !HOP_HEADERS
            .iter()
            .any(|h| header.name.eq_ignore_ascii_case(h))
        {
            forwarded.extend_from_slice(header.name.as_bytes());
            forwarded.extend_from_slice(b": ");
            forwarded.extend_from_slice(header.value);
            forwarded.extend_from_slice(b"\r\n");
        }
    }
    forwarded.extend_from_slice(b"connection: close\r\n\r\n");
    upstream.write_all(&forwarded).await?;
    let Some((head, rest)) = read_head(&mut upstream).await? else {
        return reply(&mut client, "502 Bad Gateway").await;
    };
    client.write_all(&closing_head(&head)).await?;
    client.write_all(&rest).await?;
    tokio::io::copy(&mut upstream, &mut client).await?;
    client.shutdown().await
}

impl Shared {
    /// Resolves and checks `host`, then connects to one of the checked addresses; on failure,
    /// the status line to answer with.
    async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, &'static str> {
        let addrs = match self.destinations.resolve(host, port).await {
            Ok(addrs) => addrs,
            Err(Error::DestinationRefused { host }) => {
                tracing::debug!(%host, "egress proxy refused a destination");
                if let Ok(mut refused) = self.refused.lock() {
                    refused.get_or_insert(host);
                }
                return Err("403 Forbidden");
            }
            Err(_) => return Err(self.unreachable("cannot resolve", host, port)),
        };
        let mut reason = "cannot connect to";
        for addr in addrs {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(_)) => {}
                Err(_) => reason = "timed out connecting to",
            }
        }
        Err(self.unreachable(reason, host, port))
    }

    /// Records why an allowed host could not be reached; returns the status to answer with.
    fn unreachable(&self, what: &str, host: &str, port: u16) -> &'static str {
        if let Ok(mut unreachable) = self.unreachable.lock() {
            *unreachable = Some(format!("{what} {}:{port}", shorten(host, 100)));
        }
        "502 Bad Gateway"
    }
}

/// `host:port` of a CONNECT request, the host normalised like a URL host (IPv4 forms, case).
fn authority(target: &str) -> Option<(String, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return None;
    }
    let host = Host::parse(host).ok()?;
    Some((host.to_string(), port.parse().ok()?))
}

/// Reads up to the end of a message head; returns the head and the bytes read past it, or `None`
/// when the peer closed first.
async fn read_head<R: AsyncRead + Unpin>(
    stream: &mut R,
) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok(Some((buf, rest)));
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("message head too large"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A response head with its hop headers replaced by `connection: close`.
fn closing_head(head: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + 20);
    let mut lines = head.split(|b| *b == b'\n').filter(|l| l.len() > 1);
    if let Some(status) = lines.next() {
        out.extend_from_slice(status);
        out.push(b'\n');
    }
    for line in lines {
        let name = line.split(|b| *b == b':').next().unwrap_or_default();
        let name = String::from_utf8_lossy(name);
        if !HOP_HEADERS
            .iter()
            .any(|h| name.trim().eq_ignore_ascii_case(h))
        {
            out.extend_from_slice(line);
            out.push(b'\n');
        }
    }
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out
}

async fn reply(client: &mut TcpStream, status: &str) -> std::io::Result<()> {
    let response = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    client.write_all(response.as_bytes()).await?;
    client.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_targets_parse_like_url_hosts() {
        let cases = [
            ("registry.example:443", Some(("registry.example", 443))),
            ("Registry.Example:5000", Some(("registry.example", 5000))),
            ("127.0.0.1:5000", Some(("127.0.0.1", 5000))),
            ("2130706433:80", Some(("127.0.0.1", 80))),
            ("[::1]:5000", Some(("[::1]", 5000))),
            ("::1:5000", None),
            ("registry.example", None),
            ("registry.example:http", None),
            (":443", None),
        ];
        for (target, want) in cases {
            let got = authority(target);
            assert_eq!(
                got.as_ref().map(|(h, p)| (h.as_str(), *p)),
                want,
                "{target}"
            );
        }
    }

    #[test]
    fn forwarded_response_heads_close_the_connection() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n";
        let got = String::from_utf8(closing_head(head)).unwrap();
        assert_eq!(
            got,
            "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\n"
        );
    }
}
