//! The command line: flags (each also read from `AGENT_INIT_*`), the run, and the result file.

use std::path::{Path, PathBuf};

use clap::Parser;

use crate::error::Error;
use crate::http::HttpConfig;
use crate::install::{self, Installed, Options};
use crate::limits::Limits;
use crate::oci::OciConfig;
use crate::source::Source;

/// Where Kubernetes reads a container's termination message from.
pub const TERMINATION_LOG: &str = "/dev/termination-log";

/// Fetches one agent artifact and installs it into a directory, atomically and safely.
///
/// Sources:
///   /path/to/dir           a local directory, copied (symlinks pointing outside are refused)
///   /path/to/file          a local archive or single file
///   file:///path           the same as a local path
///   http://... https://... downloaded (rustls), with timeouts, bounded redirects and retries
///   s3://BUCKET/KEY        S3 or S3-compatible (MinIO: AWS_ENDPOINT, AWS_ALLOW_HTTP=true)
///   gs://BUCKET/KEY        Google Cloud Storage
///   az://CONTAINER/KEY     Azure Blob Storage (also azure://, abfs://, abfss://)
///   oci://REGISTRY/REPO:TAG or oci://REGISTRY/REPO@sha256:DIGEST
///                          an OCI image: linux/amd64 or linux/arm64 picked from an index, layers
///                          applied in order (whiteouts included), --oci-dir (default /app) installed
///
/// Object stores take credentials from the store's standard chain in the environment: AWS_*
/// (keys, region, web identity, instance metadata), GOOGLE_APPLICATION_CREDENTIALS or the metadata
/// server, AZURE_STORAGE_* or managed identity. The HTTP timeouts and retries apply to them too.
///
/// Formats, detected by content as well as by name: .zip, .tar, .tar.gz/.tgz, .tar.zst/.tzst, or a
/// single file. A single `.py` file is installed as DIR/agent.py; another single file keeps its
/// name. An archive whose entries all sit in one top-level directory is unwrapped, so DIR holds the
/// agent's files directly.
///
/// Safety: nothing is written outside DIR. Absolute paths, `..`, paths through symlinks, symlinks
/// and hard links pointing out, and device or fifo entries are refused; setuid, setgid, sticky and
/// write-for-others bits are dropped. DIR must not exist or be empty; the agent is unpacked beside
/// it and renamed into place only when everything succeeded.
#[derive(Debug, Parser)]
#[command(
    name = "agent-init",
    version,
    verbatim_doc_comment,
    after_help = "Exit codes:\n  0   installed\n  2   usage error (bad flag, source or digest syntax)\n  10  the artifact is bad: invalid or truncated archive, unsafe entry, limit exceeded, sha256 mismatch\n  11  the source is unreachable or unreadable: missing path, connection refused, HTTP error status\n  12  internal failure: the destination cannot be written\n\nOn failure one line `agent-init: <reason>` goes to stderr and the reason to the result file."
)]
pub struct Cli {
    /// Artifact to install: a local directory or file, or a file://, http(s)://, s3://, gs://,
    /// az:// or oci:// URL.
    #[arg(long, env = "AGENT_INIT_SOURCE")]
    pub source: String,

    /// Directory to install into; must not exist or be empty.
    #[arg(long, env = "AGENT_INIT_DEST")]
    pub dest: PathBuf,

    /// File that receives the outcome in one line (the failure reason, or what was installed).
    /// Defaults to /dev/termination-log when that file exists.
    #[arg(long, env = "AGENT_INIT_RESULT_FILE")]
    pub result_file: Option<PathBuf>,

    /// Expected SHA-256 of the artifact file (64 hex digits, optionally prefixed `sha256:`),
    /// checked before anything is installed.
    #[arg(long, env = "AGENT_INIT_SHA256")]
    pub sha256: Option<String>,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "AGENT_INIT_LOG_JSON")]
    pub log_json: bool,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub http: HttpConfig,

    #[command(flatten)]
    pub oci: OciConfig,
}

impl Cli {
    /// The result file: the flag, else the termination log when it exists.
    pub fn result_path(&self) -> Option<PathBuf> {
        self.result_file.clone().or_else(|| {
            Path::new(TERMINATION_LOG)
                .exists()
                .then(|| PathBuf::from(TERMINATION_LOG))
        })
    }
}

/// Runs one install and reports it; returns the process exit code.
pub async fn run(cli: Cli) -> u8 {
    let result_path = cli.result_path();
    let outcome = install_from_cli(&cli).await;
    let (code, line) = match &outcome {
        Ok((source, installed)) => {
            tracing::info!(
                source = %source,
                dest = %installed.dest.display(),
                format = installed.format,
                files = installed.files,
                bytes = installed.bytes,
                "installed agent"
            );
            (
                0,
                format!(
                    "installed {} files ({} bytes, {}) from {} into {}",
                    installed.files,
                    installed.bytes,
                    installed.format,
                    source,
                    installed.dest.display()
                ),
            )
        }
        Err(error) => {
            let reason = one_line(&error.to_string());
            eprintln!("agent-init: {reason}");
            (error.exit_code(), reason)
        }
    };
    if let Some(path) = result_path {
        if let Err(error) = std::fs::write(&path, format!("{line}\n")) {
            tracing::warn!(path = %path.display(), %error, "cannot write the result file");
        }
    }
    code
}

async fn install_from_cli(cli: &Cli) -> Result<(Source, Installed), Error> {
    let source = Source::parse(&cli.source)?;
    let options = Options {
        limits: cli.limits.clone(),
        sha256: cli.sha256.clone(),
        http: cli.http.clone(),
        oci: cli.oci.clone(),
    };
    tracing::info!(source = %source, dest = %cli.dest.display(), "installing agent");
    let installed = install::install(&source, &cli.dest, &options).await?;
    Ok((source, installed))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
