//! OCI image sources (`oci://registry/repository:tag` or `...@sha256:...`): the manifest and
//! layers are pulled over the distribution API (anonymous or with a Docker config JSON), a
//! linux/amd64 or linux/arm64 manifest is picked from an index, layers are applied in order with
//! whiteouts, and one directory of the image (default `/app`) is installed as the agent.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use clap::Args;
use common::text::shorten;
use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{ImageIndexEntry, OciDescriptor};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::archive::{self, Format};
use crate::destination::Destinations;
use crate::error::{Error, Result};
use crate::extract::{Extractor, Origin, Summary, display};
use crate::http::HttpConfig;
use crate::limits::Limits;
use crate::proxy::EgressProxy;

/// Longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How OCI images are pulled and which part of them is installed.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "OCI images")]
pub struct OciConfig {
    /// Directory of the image installed as the agent.
    #[arg(long, env = "AGENT_INIT_OCI_DIR", default_value = "/app")]
    pub oci_dir: String,

    /// Platform picked from a multi-platform image: linux/amd64 or linux/arm64 [default: this
    /// machine's].
    #[arg(long, env = "AGENT_INIT_OCI_PLATFORM")]
    pub oci_platform: Option<String>,

    /// Docker config JSON holding registry credentials under `auths` (e.g. a mounted pull
    /// secret's `.dockerconfigjson`). Default: $DOCKER_CONFIG/config.json or
    /// ~/.docker/config.json when present; anonymous otherwise.
    #[arg(long, env = "AGENT_INIT_DOCKER_CONFIG")]
    pub docker_config: Option<PathBuf>,

    /// Registries (host:port, comma-separated) reached over plain http instead of https.
    #[arg(long, env = "AGENT_INIT_OCI_PLAIN_HTTP", value_delimiter = ',')]
    pub oci_plain_http: Vec<String>,
}

impl Default for OciConfig {
    fn default() -> Self {
        OciConfig {
            oci_dir: "/app".to_owned(),
            oci_platform: None,
            docker_config: None,
            oci_plain_http: Vec::new(),
        }
    }
}

/// Parses an image reference (the part after `oci://`).
pub fn parse_reference(text: &str) -> std::result::Result<Reference, String> {
    text.parse::<Reference>().map_err(|e| e.to_string())
}

/// One failed attempt, and whether trying again may help.
enum Failure {
    Transient(Error),
    Fatal(Error),
}

/// Pulls the image's layers into `dir`; returns the layer files in application order. Every
/// connection (registry, token service, blob redirects) goes through an [`EgressProxy`] that
/// reaches only what `destinations` allows.
pub async fn pull(
    image: &str,
    dir: &Path,
    http: &HttpConfig,
    oci: &OciConfig,
    limits: &Limits,
    destinations: &Destinations,
) -> Result<Vec<PathBuf>> {
    let reference = parse_reference(image).map_err(|reason| Error::InvalidSource {
        source_text: format!("oci://{image}"),
        reason,
    })?;
    let auth = registry_auth(oci, reference.resolve_registry())?;
    let proxy = EgressProxy::start(
        destinations.clone(),
        Duration::from_secs(http.connect_timeout_secs),
    )
    .await?;
    let client = client(http, oci, &proxy.url())?;
    let mut backoff = Duration::from_millis(http.retry_backoff_ms);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut outcome = pull_once(&client, &reference, &auth, dir, limits).await;
        if let Some(refusal) = proxy.refusal() {
            return Err(refusal);
        }
        if let (Err(_), Some(reason)) = (&outcome, proxy.take_unreachable()) {
            // The proxy saw the cause; the client only saw the proxy's answer.
            outcome = Err(Failure::Transient(Error::HttpTransport {
                url: format!("oci://{reference}"),
                reason,
            }));
        }
        match outcome {
            Ok(layers) => {
                tracing::info!(image = %reference, layers = layers.len(), attempt, "pulled image");
                return Ok(layers);
            }
            Err(Failure::Transient(error)) if attempt <= http.retries => {
                tracing::warn!(image = %reference, attempt, error = %error, backoff_ms = backoff.as_millis() as u64, "pull failed, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(Failure::Transient(error) | Failure::Fatal(error)) => return Err(error),
        }
    }
}

/// The registry client, connecting only through the egress proxy at `proxy` (an explicit proxy
/// also turns off proxies from the environment).
fn client(http: &HttpConfig, oci: &OciConfig, proxy: &str) -> Result<Client> {
    // Another part of the process may have chosen a provider already; either is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (os, arch, variant) = platform(oci.oci_platform.as_deref())?;
    let resolver = move |entries: &[ImageIndexEntry]| {
        entries
            .iter()
            .find(|entry| {
                entry.platform.as_ref().is_some_and(|p| {
                    p.os.to_string() == os
                        && p.architecture.to_string() == arch
                        && variant
                            .as_ref()
                            .is_none_or(|v| p.variant.as_deref() == Some(v.as_str()))
                })
            })
            .map(|entry| entry.digest.clone())
    };
    let protocol = if oci.oci_plain_http.is_empty() {
        ClientProtocol::Https
    } else {
        ClientProtocol::HttpsExcept(oci.oci_plain_http.clone())
    };
    // `try_from`, not `new`: `new` falls back to a default client, which would bypass the proxy.
    Client::try_from(ClientConfig {
        protocol,
        platform_resolver: Some(Box::new(resolver)),
        connect_timeout: Some(Duration::from_secs(http.connect_timeout_secs)),
        read_timeout: Some(Duration::from_secs(http.read_timeout_secs)),
        https_proxy: Some(proxy.to_owned()),
        http_proxy: Some(proxy.to_owned()),
        ..ClientConfig::default()
    })
    .map_err(|e| {
        Error::io(
            "building the registry client",
            std::io::Error::other(e.to_string()),
        )
    })
}

/// `os/arch[/variant]`, defaulting to linux and this machine's architecture.
fn platform(given: Option<&str>) -> Result<(String, String, Option<String>)> {
    let Some(given) = given else {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        return Ok(("linux".to_owned(), arch.to_owned(), None));
    };
    let parts: Vec<&str> = given.split('/').collect();
    match parts.as_slice() {
        [os, arch] => Ok(((*os).to_owned(), (*arch).to_owned(), None)),
        [os, arch, variant] => Ok((
            (*os).to_owned(),
            (*arch).to_owned(),
            Some((*variant).to_owned()),
        )),
        _ => Err(Error::InvalidSource {
            source_text: given.to_owned(),
            reason: "--oci-platform must look like linux/amd64 or linux/arm64/v8".to_owned(),
        }),
    }
}

async fn pull_once(
    client: &Client,
    reference: &Reference,
    auth: &RegistryAuth,
    dir: &Path,
    limits: &Limits,
) -> Result<Vec<PathBuf>, Failure> {
    let credentials = !matches!(auth, RegistryAuth::Anonymous);
    let (manifest, digest) = client
        .pull_image_manifest(reference, auth)
        .await
        .map_err(|e| classify(reference, credentials, e))?;
    tracing::debug!(image = %reference, %digest, layers = manifest.layers.len(), "resolved manifest");
    let declared: i64 = manifest.layers.iter().map(|l| l.size.max(0)).sum();
    if declared as u64 > limits.max_download_bytes {
        return Err(Failure::Fatal(too_big(limits)));
    }
    let mut files = Vec::with_capacity(manifest.layers.len());
    let mut total: u64 = 0;
    for (index, layer) in manifest.layers.iter().enumerate() {
        let path = dir.join(format!("layer-{index:04}"));
        total += pull_layer(client, reference, credentials, layer, &path, limits, total).await?;
        files.push(path);
    }
    Ok(files)
}

/// Streams one layer to `path`, checking its digest and the download budget; returns its size.
async fn pull_layer(
    client: &Client,
    reference: &Reference,
    credentials: bool,
    layer: &OciDescriptor,
    path: &Path,
    limits: &Limits,
    already: u64,
) -> Result<u64, Failure> {
    let Some(expected) = layer.digest.strip_prefix("sha256:") else {
        return Err(Failure::Fatal(Error::BadArchive {
            format: "oci image",
            reason: format!("layer digest {} is not sha256", layer.digest),
        }));
    };
    let mut stream = client
        .pull_blob_stream(reference, layer)
        .await
        .map_err(|e| classify(reference, credentials, e))?;
    let write_error =
        |e: std::io::Error| Failure::Fatal(Error::io(format!("writing {}", path.display()), e));
    let mut out = tokio::fs::File::create(path).await.map_err(write_error)?;
    let mut hasher = Sha256::new();
    let mut bytes: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            // The client verifies the digest as the stream ends.
            let digest_error = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<oci_client::errors::DigestError>());
            match digest_error {
                Some(oci_client::errors::DigestError::VerificationError { expected, actual }) => {
                    Failure::Fatal(Error::DigestMismatch {
                        expected: expected.clone(),
                        actual: actual.clone(),
                    })
                }
                _ => Failure::Transient(Error::HttpTransport {
                    url: format!("oci://{reference}"),
                    reason: format!("reading layer {} after {bytes} bytes: {e}", layer.digest),
                }),
            }
        })?;
        bytes += chunk.len() as u64;
        if already + bytes > limits.max_download_bytes {
            return Err(Failure::Fatal(too_big(limits)));
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(write_error)?;
    }
    out.flush().await.map_err(write_error)?;
    let actual = hex::encode(hasher.finalize());
    if actual != expected {
        return Err(Failure::Fatal(Error::DigestMismatch {
            expected: layer.digest.clone(),
            actual: format!("sha256:{actual}"),
        }));
    }
    Ok(bytes)
}

/// The registry's error codes, joined; their messages are the registry's text and never quoted.
fn registry_errors(errors: &[oci_client::errors::OciError]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .map(|e| {
            serde_json::to_string(&e.code)
                .map(|code| code.trim_matches('"').to_owned())
                .unwrap_or_else(|_| format!("{:?}", e.code))
        })
        .collect();
    parts.join(", ")
}

fn too_big(limits: &Limits) -> Error {
    Error::LimitExceeded {
        what: "download size",
        limit: limits.max_download_bytes,
        flag: "--max-download-bytes",
    }
}

/// Sorts a registry failure into the artifact's fault or the source's, transient or not;
/// `credentials` tells whether the request carried credentials from a Docker config.
fn classify(reference: &Reference, credentials: bool, error: OciDistributionError) -> Failure {
    let url = format!("oci://{reference}");
    let source = |reason: String| Error::HttpTransport {
        url: url.clone(),
        reason,
    };
    let refused = || {
        let reason = if credentials {
            format!(
                "the registry refused the credentials from the docker config (HTTP 401): check the entry for {}",
                reference.resolve_registry()
            )
        } else {
            "the registry refused access (HTTP 401): pass credentials with --docker-config"
                .to_owned()
        };
        Failure::Fatal(source(reason))
    };
    match error {
        OciDistributionError::RequestError(e) => {
            let reason = if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "cannot connect to the registry".to_owned()
            } else {
                format!("request failed: {}", e.without_url())
            };
            Failure::Transient(source(reason))
        }
        OciDistributionError::ServerError { code, .. } => {
            // The message is the response body: never quoted.
            let error = Error::HttpStatus { url, status: code };
            if code >= 500 || code == 429 || code == 408 {
                Failure::Transient(error)
            } else {
                Failure::Fatal(error)
            }
        }
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => refused(),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            let has = |wanted: &[OciErrorCode]| codes.iter().any(|code| wanted.contains(code));
            if has(&[
                OciErrorCode::ManifestUnknown,
                OciErrorCode::NameUnknown,
                OciErrorCode::NotFound,
                OciErrorCode::BlobUnknown,
            ]) {
                Failure::Fatal(source(format!(
                    "the registry has no such image ({}): check the repository, tag or digest",
                    registry_errors(&envelope.errors)
                )))
            } else if has(&[OciErrorCode::Unauthorized, OciErrorCode::Denied]) {
                refused()
            } else if has(&[OciErrorCode::Toomanyrequests]) {
                Failure::Transient(source(format!(
                    "the registry is rate limiting ({})",
                    registry_errors(&envelope.errors)
                )))
            } else {
                Failure::Fatal(source(format!(
                    "the registry answered: {}",
                    registry_errors(&envelope.errors)
                )))
            }
        }
        OciDistributionError::ImageManifestNotFoundError(_) => Failure::Fatal(Error::BadArchive {
            format: "oci image",
            reason: "no manifest for the platform: see --oci-platform".to_owned(),
        }),
        e @ (OciDistributionError::ManifestParsingError(_)
        | OciDistributionError::VersionedParsingError(_)
        | OciDistributionError::ManifestEncodingError(_)
        | OciDistributionError::UnsupportedSchemaVersionError(_)
        | OciDistributionError::UnsupportedMediaTypeError(_)
        | OciDistributionError::SpecViolationError(_)
        | OciDistributionError::DigestError(_)
        | OciDistributionError::JsonError(_)) => {
            if let OciDistributionError::DigestError(
                oci_client::errors::DigestError::VerificationError { expected, actual },
            ) = &e
            {
                return Failure::Fatal(Error::DigestMismatch {
                    expected: shorten(expected, 100),
                    actual: shorten(actual, 100),
                });
            }
            // Parser messages can quote the registry's answer: they go to the debug log only.
            tracing::debug!(error = %e, "the registry's manifest is invalid");
            Failure::Fatal(Error::BadArchive {
                format: "oci image",
                reason: "the manifest is not a valid OCI or Docker image manifest".to_owned(),
            })
        }
        other => {
            tracing::debug!(error = %other, "registry request failed");
            Failure::Fatal(source(
                "the registry's answer could not be used (not an OCI distribution API)".to_owned(),
            ))
        }
    }
}

#[derive(serde::Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, DockerAuth>,
}

#[derive(serde::Deserialize)]
struct DockerAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    registrytoken: Option<String>,
}

/// Credentials for `registry` from the Docker config, or anonymous.
fn registry_auth(oci: &OciConfig, registry: &str) -> Result<RegistryAuth> {
    let path = match &oci.docker_config {
        Some(path) => Some(path.clone()),
        None => std::env::var_os("DOCKER_CONFIG")
            .map(|dir| PathBuf::from(dir).join("config.json"))
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
            })
            .filter(|path| path.is_file()),
    };
    let Some(path) = path else {
        return Ok(RegistryAuth::Anonymous);
    };
    let text = std::fs::read(&path).map_err(|source| Error::SourceIo {
        path: path.clone(),
        source,
    })?;
    let config: DockerConfig = serde_json::from_slice(&text).map_err(|e| Error::SourceIo {
        path: path.clone(),
        source: std::io::Error::other(format!("not a Docker config JSON: {e}")),
    })?;
    let wanted = registry_key(registry);
    let Some(entry) = config
        .auths
        .iter()
        .find(|(key, _)| registry_key(key) == wanted)
        .map(|(_, entry)| entry)
    else {
        tracing::debug!(
            registry,
            "no credentials in the docker config, pulling anonymously"
        );
        return Ok(RegistryAuth::Anonymous);
    };
    if let Some(token) = &entry.registrytoken {
        return Ok(RegistryAuth::Bearer(token.clone()));
    }
    if let (Some(user), Some(password)) = (&entry.username, &entry.password) {
        return Ok(RegistryAuth::Basic(user.clone(), password.clone()));
    }
    if let Some(auth) = &entry.auth {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
            return Ok(RegistryAuth::Basic(user.to_owned(), password.to_owned()));
        }
        return Err(Error::SourceIo {
            path,
            source: std::io::Error::other(format!(
                "the auth entry for {registry} is not base64 of user:password"
            )),
        });
    }
    Ok(RegistryAuth::Anonymous)
}

/// A Docker config `auths` key reduced to the registry host, with Docker Hub's aliases merged.
fn registry_key(key: &str) -> String {
    let key = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_owned(),
        _ => host,
    }
}

/// Normalised components of a path inside an image layer (leading `/` and `./` dropped).
fn layer_path(raw: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut components = Vec::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                return Err(Error::unsafe_entry(
                    &display(raw),
                    "paths containing `..` are not allowed",
                ));
            }
            name => components.push(name.to_vec()),
        }
    }
    Ok(components)
}

const WHITEOUT: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";

/// Applies the layers in order and installs the `oci_dir` part of the result into `root`.
///
/// A first pass over the layers decides which entry provides each path once whiteouts and
/// replacements are taken into account; a second pass writes just those entries.
pub(crate) fn apply_layers(
    layers: &[PathBuf],
    root: &Path,
    oci_dir: &str,
    limits: &Limits,
) -> Result<Summary> {
    let prefix = layer_path(oci_dir.as_bytes())?;
    let mut plan: BTreeMap<Vec<Vec<u8>>, (usize, usize)> = BTreeMap::new();
    for (index, layer) in layers.iter().enumerate() {
        each_entry(layer, |position, path, entry| {
            let Some((last, parent)) = path.split_last() else {
                return Ok(());
            };
            if last.as_slice() == OPAQUE {
                plan.retain(|key, (from, _)| {
                    !(*from < index && key.len() > parent.len() && key.starts_with(parent))
                });
            } else if let Some(hidden) = last.strip_prefix(WHITEOUT) {
                let mut target = parent.to_vec();
                target.push(hidden.to_vec());
                plan.retain(|key, _| !key.starts_with(&target));
            } else if path.starts_with(&prefix) {
                // A directory merges with what lower layers had there; anything else replaces it.
                if !entry.header().entry_type().is_dir() {
                    plan.retain(|key, _| !(key.len() > path.len() && key.starts_with(path)));
                }
                plan.insert(path.to_vec(), (index, position));
            }
            Ok(())
        })?;
    }
    if !plan.keys().any(|key| key.len() > prefix.len()) {
        return Err(Error::BadArchive {
            format: "oci image",
            reason: format!(
                "the image has nothing in {oci_dir}: pass the agent's directory with --oci-dir"
            ),
        });
    }
    let packed: u64 = layers
        .iter()
        .map(|l| std::fs::metadata(l).map(|m| m.len()).unwrap_or(0))
        .sum();
    let mut ex = Extractor::new(root, limits, Origin::Archive("oci layer"), Some(packed));
    for (index, layer) in layers.iter().enumerate() {
        each_entry(layer, |position, path, entry| {
            if plan.get(path) != Some(&(index, position)) || path.len() <= prefix.len() {
                return Ok(());
            }
            let raw = path[prefix.len()..].join(&b'/');
            let name = display(&raw);
            let Some(components) = ex.entry_path(&raw)? else {
                return Ok(());
            };
            let kind = entry.header().entry_type();
            let mut link = entry.link_name_bytes().map(|t| t.into_owned());
            if kind == tar::EntryType::Symlink {
                link = link.map(|target| relative_symlink(&target, &prefix, &components));
            }
            if kind == tar::EntryType::Link {
                // Hard link targets name image paths; they must lie in the installed directory.
                let target = layer_path(link.as_deref().unwrap_or_default())?;
                if !target.starts_with(&prefix) {
                    return Err(Error::unsafe_entry(
                        &name,
                        format!("the hard link points outside {oci_dir}"),
                    ));
                }
                link = Some(target[prefix.len()..].join(&b'/'));
            }
            archive::apply_entry(&mut ex, entry, &name, &components, link)
        })?;
    }
    ex.finish()
}

/// Rewrites an absolute symlink target inside the installed directory (common in images, e.g.
/// `/app/bin/run -> /app/run.py`) as a relative one; other targets are left for the extractor to
/// judge.
fn relative_symlink(target: &[u8], prefix: &[Vec<u8>], link: &[Vec<u8>]) -> Vec<u8> {
    if target.first() != Some(&b'/') {
        return target.to_vec();
    }
    let Ok(absolute) = layer_path(target) else {
        return target.to_vec();
    };
    let Some(inside) = absolute.strip_prefix(prefix) else {
        return target.to_vec();
    };
    if inside.is_empty() {
        return target.to_vec();
    }
    let depth = link.len().saturating_sub(1);
    let mut relative: Vec<Vec<u8>> = vec![b"..".to_vec(); depth];
    relative.extend(inside.iter().cloned());
    relative.join(&b'/')
}

/// Calls `visit(position, path, entry)` for every real entry of one layer.
fn each_entry<F>(layer: &Path, mut visit: F) -> Result<()>
where
    F: FnMut(usize, &[Vec<u8>], &mut tar::Entry<'_, Box<dyn Read>>) -> Result<()>,
{
    let (reader, format): (Box<dyn Read>, Format) = archive::open_tar(layer)?;
    let bad = |e: std::io::Error| Error::BadArchive {
        format: format.name(),
        reason: format!("image layer: {e}"),
    };
    let mut archive = tar::Archive::new(reader);
    for (position, entry) in archive.entries().map_err(bad)?.enumerate() {
        let mut entry = entry.map_err(bad)?;
        if matches!(
            entry.header().entry_type(),
            tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        ) {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let path = layer_path(&raw)?;
        visit(position, &path, &mut entry)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_keys_match_registries() {
        let cases = [
            ("https://index.docker.io/v1/", "docker.io"),
            ("registry-1.docker.io", "docker.io"),
            ("ghcr.io", "ghcr.io"),
            ("https://GHCR.io", "ghcr.io"),
            ("127.0.0.1:5000", "127.0.0.1:5000"),
        ];
        for (key, want) in cases {
            assert_eq!(registry_key(key), want, "{key}");
        }
    }

    #[test]
    fn absolute_symlinks_inside_the_directory_become_relative() {
        let prefix = layer_path(b"/app").unwrap();
        let link = |path: &str| layer_path(path.as_bytes()).unwrap();
        let cases = [
            ("/app/run.py", "bin/run", "../run.py"),
            ("/app/lib/x.py", "x.py", "lib/x.py"),
            ("/usr/bin/python3", "python", "/usr/bin/python3"),
            ("/app", "self", "/app"),
            ("relative.py", "bin/r", "relative.py"),
        ];
        for (target, at, want) in cases {
            let got = relative_symlink(target.as_bytes(), &prefix, &link(at));
            assert_eq!(String::from_utf8(got).unwrap(), want, "{target} at {at}");
        }
    }

    #[test]
    fn registry_errors_are_sorted_by_fault() {
        use oci_client::errors::{OciEnvelope, OciError};
        let reference = parse_reference("127.0.0.1:5000/agents/pong:1").unwrap();
        let envelope = |code: OciErrorCode| OciDistributionError::RegistryError {
            envelope: OciEnvelope {
                errors: vec![OciError {
                    code,
                    message: "from the registry".to_owned(),
                    detail: serde_json::Value::Null,
                }],
            },
            url: "http://127.0.0.1:5000/v2/agents/pong/manifests/1".to_owned(),
        };
        let unauthorized = || OciDistributionError::UnauthorizedError {
            url: "http://127.0.0.1:5000/v2/".to_owned(),
        };
        let cases = [
            (
                envelope(OciErrorCode::ManifestUnknown),
                false,
                false,
                "no such image",
            ),
            (
                envelope(OciErrorCode::NameUnknown),
                false,
                false,
                "no such image",
            ),
            (
                envelope(OciErrorCode::Denied),
                false,
                false,
                "--docker-config",
            ),
            (
                envelope(OciErrorCode::Toomanyrequests),
                false,
                true,
                "rate limiting",
            ),
            (
                envelope(OciErrorCode::Unsupported),
                false,
                false,
                "the registry answered: UNSUPPORTED",
            ),
            (
                unauthorized(),
                false,
                false,
                "pass credentials with --docker-config",
            ),
            (unauthorized(), true, false, "refused the credentials"),
        ];
        for (error, credentials, transient, reason) in cases {
            let shown = format!("{error}");
            let (is_transient, error) = match classify(&reference, credentials, error) {
                Failure::Transient(e) => (true, e),
                Failure::Fatal(e) => (false, e),
            };
            assert_eq!(is_transient, transient, "{shown}");
            assert_eq!(error.exit_code(), 11, "{shown}");
            let text = error.to_string();
            assert!(text.contains(reason), "{shown}: {text}");
            assert!(
                text.contains("oci://127.0.0.1:5000/agents/pong:1"),
                "{text}"
            );
            assert!(
                !text.contains("from the registry"),
                "the registry's message is never quoted: {text}"
            );
        }
    }

    #[test]
    fn platforms_parse() {
        assert_eq!(
            platform(Some("linux/arm64/v8")).unwrap(),
            ("linux".into(), "arm64".into(), Some("v8".into()))
        );
        assert!(platform(Some("amd64")).is_err());
        assert_eq!(platform(None).unwrap().0, "linux");
    }
}
