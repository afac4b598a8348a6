//! Object store sources (`s3://`, `gs://`, `az://`) through `object_store`, with each store's
//! standard credential chain from the environment (e.g. `AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT` for
//! MinIO, web identity, instance metadata; `GOOGLE_APPLICATION_CREDENTIALS`; `AZURE_STORAGE_*`).
//!
//! The network destination is the operator's: the endpoint, account and credentials come from
//! the environment, and a source only names a bucket (or container) and a key, so the
//! `--allow-hosts` policy does not apply here. What a source can read is bounded by those
//! credentials: give agent-init read-only credentials for the agents' bucket alone. Error
//! messages never quote the store's answers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{
    BackoffConfig, ClientConfigKey, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig,
};
use tokio::io::AsyncWriteExt;
use url::Url;

use crate::error::{Error, Result};
use crate::http::HttpConfig;
use crate::limits::Limits;
use crate::source::redact_url;

/// URL schemes served by an object store.
pub const SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "azure", "abfs", "abfss"];

/// Downloads the object `url` names into `file`; returns the byte count.
pub async fn download(url: &Url, file: &Path, config: &HttpConfig, limits: &Limits) -> Result<u64> {
    let shown = redact_url(url);
    let failed = |reason: String| Error::ObjectStore {
        url: shown.clone(),
        reason,
    };
    let store =
        store(url, config).map_err(|e| failed(format!("cannot configure the store: {e}")))?;
    let location = object_store::path::Path::from_url_path(url.path())
        .map_err(|e| failed(format!("the object path is invalid: {e}")))?;
    let result = store
        .get(&location)
        .await
        .map_err(|e| failed(describe(&e)))?;
    let too_big = || Error::LimitExceeded {
        what: "download size",
        limit: limits.max_download_bytes,
        flag: "--max-download-bytes",
    };
    if result.meta.size > limits.max_download_bytes {
        return Err(too_big());
    }
    let write_error = |e: std::io::Error| Error::io(format!("writing {}", file.display()), e);
    let mut out = tokio::fs::File::create(file).await.map_err(write_error)?;
    let mut stream = result.into_stream();
    let mut bytes: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            failed(format!(
                "reading the object after {bytes} bytes: {}",
                describe(&e)
            ))
        })?;
        bytes += chunk.len() as u64;
        if bytes > limits.max_download_bytes {
            return Err(too_big());
        }
        out.write_all(&chunk).await.map_err(write_error)?;
    }
    out.flush().await.map_err(write_error)?;
    tracing::info!(url = %shown, bytes, "downloaded artifact from object store");
    Ok(bytes)
}

/// What went wrong, in words of our own: the store's messages quote its response bodies, which
/// go to the debug log only.
fn describe(error: &object_store::Error) -> String {
    use object_store::Error as E;
    use object_store::client::{HttpError, HttpErrorKind};
    tracing::debug!(%error, "object store request failed");
    let text = match error {
        E::NotFound { .. } => "the object does not exist",
        E::PermissionDenied { .. } => {
            "access denied: the store's credentials cannot read the object"
        }
        E::Unauthenticated { .. } => "the store did not accept the credentials",
        _ => {
            let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
            let mut kind = None;
            while let Some(e) = current {
                if let Some(http) = e.downcast_ref::<HttpError>() {
                    kind = Some(http.kind());
                    break;
                }
                current = e.source();
            }
            match kind {
                Some(HttpErrorKind::Connect) => "cannot connect to the store",
                Some(HttpErrorKind::Timeout) => "timed out",
                Some(HttpErrorKind::Interrupted | HttpErrorKind::Decode) => {
                    "the answer was cut short or malformed"
                }
                _ => "the store answered with an error",
            }
        }
    };
    text.to_owned()
}

/// Our timeouts, then the store's HTTP client settings from the environment (e.g.
/// `AWS_ALLOW_HTTP=true` for a plain-http MinIO), which the store builders would otherwise lose
/// when client options are set.
fn client_options(config: &HttpConfig, prefix: &str) -> ClientOptions {
    let mut options = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(config.connect_timeout_secs))
        .with_read_timeout(Duration::from_secs(config.read_timeout_secs))
        .with_timeout(Duration::from_secs(config.timeout_secs));
    if prefix == "google_" {
        // The Google builder's own default, kept for emulators.
        options = options.with_allow_http(true);
    }
    for (key, value) in std::env::vars() {
        let key = key.to_ascii_lowercase();
        let Some(name) = key.strip_prefix(prefix) else {
            continue;
        };
        if let Ok(client_key) = name.parse::<ClientConfigKey>() {
            options = options.with_config(client_key, value);
        }
    }
    options
}

fn store(url: &Url, config: &HttpConfig) -> object_store::Result<Arc<dyn ObjectStore>> {
    // Another part of the process may have chosen a provider already; either is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let prefix = match url.scheme() {
        "s3" | "s3a" => "aws_",
        "gs" => "google_",
        _ => "azure_",
    };
    let options = client_options(config, prefix);
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(config.retry_backoff_ms),
            max_backoff: Duration::from_secs(30),
            base: 2.0,
        },
        max_retries: config.retries as usize,
        retry_timeout: Duration::from_secs(config.timeout_secs),
    };
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "s3" | "s3a" => Arc::new(
            AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .with_client_options(options)
                .with_retry(retry)
                .build()?,
        ),
        "gs" => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .with_client_options(options)
                .with_retry(retry)
                .build()?,
        ),
        _ => Arc::new(
            MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .with_client_options(options)
                .with_retry(retry)
                .build()?,
        ),
    };
    Ok(store)
}
