//! Downloads over `http://` and `https://` (rustls): bounded redirects, timeouts, and retries with
//! exponential backoff on transient failures only. URLs are shown without credentials.
//!
//! Every hop reaches only what [`Destinations`] allows: IP literals are checked before the first
//! request and on each redirect, names by the client's resolver, which hands the connection exactly
//! the addresses it checked. Proxies from the environment are ignored, since a proxy would resolve
//! and connect on its own.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use reqwest::redirect::Policy;
use tokio::io::AsyncWriteExt;
use url::Url;

use crate::destination::{self, Destinations};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::source::redact_url;

/// Longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How downloads are attempted.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "HTTP")]
pub struct HttpConfig {
    /// Seconds to wait for a TCP and TLS connection.
    #[arg(long, env = "AGENT_INIT_CONNECT_TIMEOUT_SECS", default_value_t = 10)]
    pub connect_timeout_secs: u64,

    /// Seconds without receiving any data before an attempt is abandoned.
    #[arg(long, env = "AGENT_INIT_READ_TIMEOUT_SECS", default_value_t = 30)]
    pub read_timeout_secs: u64,

    /// Seconds one whole attempt (request and body) may take.
    #[arg(long, env = "AGENT_INIT_TIMEOUT_SECS", default_value_t = 600)]
    pub timeout_secs: u64,

    /// Retries after a transient failure: connection error, timeout, truncated body, or HTTP
    /// 408, 429 or 5xx. Other statuses (404, 403, ...) fail at once.
    #[arg(long, env = "AGENT_INIT_RETRIES", default_value_t = 3)]
    pub retries: u32,

    /// Milliseconds before the first retry; doubled after each retry, at most 30 s.
    #[arg(long, env = "AGENT_INIT_RETRY_BACKOFF_MS", default_value_t = 500)]
    pub retry_backoff_ms: u64,

    /// Redirects followed before giving up (https to http redirects are always refused).
    #[arg(long, env = "AGENT_INIT_MAX_REDIRECTS", default_value_t = 5)]
    pub max_redirects: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout_secs: 10,
            read_timeout_secs: 30,
            timeout_secs: 600,
            retries: 3,
            retry_backoff_ms: 500,
            max_redirects: 5,
        }
    }
}

/// One failed attempt, and whether trying again may help.
enum Failure {
    Transient(Error),
    Fatal(Error),
}

/// Downloads `url` into `file`, replacing its content on every attempt; returns the byte count.
pub async fn download(
    url: &Url,
    file: &Path,
    config: &HttpConfig,
    limits: &Limits,
    destinations: &Destinations,
) -> Result<u64> {
    let shown = redact_url(url);
    if let Some(host) = url.host() {
        destinations.check_host(&host)?;
    }
    let client = client(config, destinations).map_err(|e| Error::HttpTransport {
        url: shown.clone(),
        reason: format!("cannot build the HTTP client: {}", chain(&e)),
    })?;
    let mut backoff = Duration::from_millis(config.retry_backoff_ms);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match fetch_once(&client, url, &shown, file, limits).await {
            Ok(bytes) => {
                tracing::info!(url = %shown, bytes, attempt, "downloaded artifact");
                return Ok(bytes);
            }
            Err(Failure::Transient(error)) if attempt <= config.retries => {
                tracing::warn!(url = %shown, attempt, error = %error, backoff_ms = backoff.as_millis() as u64, "download failed, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(Failure::Transient(error) | Failure::Fatal(error)) => return Err(error),
        }
    }
}

/// The client's resolver: every name is resolved and checked by [`Destinations::resolve`].
struct CheckedResolver(Arc<Destinations>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (destinations, host) = (self.0.clone(), name.as_str().to_owned());
        Box::pin(async move {
            let addrs = destinations.resolve(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn client(config: &HttpConfig, destinations: &Destinations) -> reqwest::Result<reqwest::Client> {
    // Another part of the process may have chosen a provider already; either is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let max_redirects = config.max_redirects;
    let destinations = Arc::new(destinations.clone());
    let hops = destinations.clone();
    let policy = Policy::custom(move |attempt| {
        if let Some(Err(refused)) = attempt.url().host().map(|host| hops.check_host(&host)) {
            return attempt.error(refused);
        }
        let downgrade = attempt.url().scheme() == "http"
            && attempt
                .previous()
                .last()
                .is_some_and(|u| u.scheme() == "https");
        if attempt.previous().len() > max_redirects {
            attempt.error(format!(
                "too many redirects (more than {max_redirects}): check the URL or raise --max-redirects"
            ))
        } else if downgrade {
            attempt.error("redirect from https to http refused")
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .user_agent(concat!("agent-init/", env!("CARGO_PKG_VERSION")))
        .redirect(policy)
        .no_proxy()
        .dns_resolver(CheckedResolver(destinations))
        .connect_timeout(Duration::from_secs(config.connect_timeout_secs))
        .read_timeout(Duration::from_secs(config.read_timeout_secs))
        .timeout(Duration::from_secs(config.timeout_secs))
        .build()
}

async fn fetch_once(
    client: &reqwest::Client,
    url: &Url,
    shown: &str,
    file: &Path,
    limits: &Limits,
) -> Result<u64, Failure> {
    let transport = |e: &reqwest::Error| Error::HttpTransport {
        url: shown.to_owned(),
        reason: chain(e),
    };
    let mut response = match client.get(url.clone()).send().await {
        Ok(response) => response,
        Err(e) => {
            return Err(if let Some(refusal) = destination::find_refusal(&e) {
                Failure::Fatal(refusal)
            } else if e.is_redirect() || e.is_builder() {
                Failure::Fatal(transport(&e))
            } else {
                Failure::Transient(transport(&e))
            });
        }
    };
    let status = response.status();
    if !status.is_success() {
        let error = Error::HttpStatus {
            url: shown.to_owned(),
            status: status.as_u16(),
        };
        let transient = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
        return Err(if transient {
            Failure::Transient(error)
        } else {
            Failure::Fatal(error)
        });
    }
    let too_big = || Error::LimitExceeded {
        what: "download size",
        limit: limits.max_download_bytes,
        flag: "--max-download-bytes",
    };
    if response
        .content_length()
        .is_some_and(|len| len > limits.max_download_bytes)
    {
        return Err(Failure::Fatal(too_big()));
    }
    let write_error =
        |e: std::io::Error| Failure::Fatal(Error::io(format!("writing {}", file.display()), e));
    let mut out = tokio::fs::File::create(file).await.map_err(write_error)?;
    let mut bytes: u64 = 0;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                bytes += chunk.len() as u64;
                if bytes > limits.max_download_bytes {
                    return Err(Failure::Fatal(too_big()));
                }
                out.write_all(&chunk).await.map_err(write_error)?;
            }
            Ok(None) => break,
            Err(e) => {
                let mut error = transport(&e);
                if let Error::HttpTransport { reason, .. } = &mut error {
                    *reason = format!("reading the body after {bytes} bytes: {reason}");
                }
                return Err(Failure::Transient(error));
            }
        }
    }
    out.flush().await.map_err(write_error)?;
    Ok(bytes)
}

/// An error and its causes on one line, without the URL (which may hold credentials).
fn chain(error: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut current: Option<&dyn std::error::Error> = Some(error);
    let mut first = true;
    while let Some(e) = current {
        let part = if first {
            // `reqwest::Error`'s own text names the URL; describe it by kind instead.
            if error.is_timeout() {
                "timed out".to_owned()
            } else if error.is_connect() {
                "cannot connect".to_owned()
            } else if error.is_redirect() {
                "redirect refused".to_owned()
            } else if error.is_body() || error.is_decode() {
                "the body was cut short or malformed".to_owned()
            } else {
                "request failed".to_owned()
            }
        } else {
            e.to_string()
        };
        first = false;
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        current = e.source();
    }
    text
}
