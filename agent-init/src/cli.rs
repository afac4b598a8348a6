//! The command line: flags (each also read from `AGENT_INIT_*`), the run, and the result file.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::{Args, Parser};
use common::text::shorten;
use proto::process::agent_init::Exit;

use crate::destination::{AllowEntry, Destinations};
use crate::error::Error;
use crate::http::HttpConfig;
use crate::install::{self, Installed, Options};
use crate::limits::Limits;
use crate::oci::OciConfig;
use crate::source::Source;

/// Where Kubernetes reads a container's termination message from (the default result file).
pub use proto::process::TERMINATION_LOG;

/// Fetches one agent artifact and installs it into a directory, atomically and safely.
///
/// Sources:
///   /path/to/dir           a local directory, copied (symlinks pointing outside are refused)
///   /path/to/file          a local archive or single file
///   file:///path           the same as a local path
///                          (local sources only below a --local-roots directory; none by default)
///   http://... https://... downloaded (rustls), with timeouts, bounded redirects and retries;
///                          public addresses only unless allowed with --allow-hosts
///   s3://BUCKET/KEY        S3 or S3-compatible (MinIO: AWS_ENDPOINT, AWS_ALLOW_HTTP=true)
///   gs://BUCKET/KEY        Google Cloud Storage
///   az://CONTAINER/KEY     Azure Blob Storage (also azure://, abfs://, abfss://)
///   oci://REGISTRY/REPO:TAG or oci://REGISTRY/REPO@sha256:DIGEST
///                          an OCI image: linux/amd64 or linux/arm64 picked from an index, layers
///                          applied in order (whiteouts included), --oci-dir (default /app)
///                          installed; registry, token service and blob redirects: public
///                          addresses only unless allowed with --allow-hosts
///
/// Destinations: every connection an http(s):// or oci:// source makes, redirects included, is
/// checked on the address it really connects to (names are resolved once and the connection
/// uses exactly the checked addresses). Refused unless allowed with --allow-hosts: loopback,
/// private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local and cloud metadata (169.254/16,
/// fe80::/10, metadata.google.internal ...), CGNAT (100.64/10), unspecified, broadcast,
/// multicast, reserved, documentation and benchmarking ranges, and IPv4-mapped, IPv4-compatible,
/// 6to4 and NAT64 forms of those. Proxies from the environment (HTTP_PROXY ...) are not used.
/// A refusal reads the same whether or not anything listens there.
///
/// Object stores take credentials from the store's standard chain in the environment: AWS_*
/// (keys, region, web identity, instance metadata), GOOGLE_APPLICATION_CREDENTIALS or the metadata
/// server, AZURE_STORAGE_* or managed identity. The HTTP timeouts and retries apply to them too.
/// Their endpoints come from that environment, not from the source, so --allow-hosts does not
/// apply to them; what a source can read is bounded by the credentials given.
///
/// Formats, detected by content as well as by name: .zip, .tar, .tar.gz/.tgz, .tar.zst/.tzst, or a
/// single file. A single `.py` file is installed as DIR/agent.py and must be UTF-8 text without
/// NUL bytes (an HTML page is refused); another single file keeps its name. A file named like
/// an archive must be one. An archive whose entries all sit in one top-level directory is
/// unwrapped, so DIR holds the agent's files directly.
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
    after_help = exit_help()
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
    pub access: Access,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub http: HttpConfig,

    #[command(flatten)]
    pub oci: OciConfig,
}

/// Where sources may come from; everything not listed is refused.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Access")]
pub struct Access {
    /// Hosts that http(s):// and oci:// sources may reach besides public internet addresses,
    /// comma-separated: host names (any address they resolve to is then allowed), IP addresses or
    /// CIDR ranges, e.g. artifacts.arena.svc.cluster.local,10.8.0.0/16. An entry opens every port
    /// of that host. Repeatable; an empty value means none. Default: none.
    #[arg(long, env = "AGENT_INIT_ALLOW_HOSTS", value_name = "NAME|IP|CIDR,...")]
    pub allow_hosts: Vec<List<AllowEntry>>,

    /// Directories below which local sources (a path or file://) may lie, comma-separated. The
    /// source is resolved (symlinks, `..`) before the check, must lie strictly below a root, and
    /// is read without following links. A path outside gets the same refusal whether or not it
    /// exists. Repeatable; an empty value means none. Default: none, so local sources are refused.
    #[arg(long, env = "AGENT_INIT_LOCAL_ROOTS", value_name = "DIR,...")]
    pub local_roots: Vec<List<PathBuf>>,
}

impl Access {
    /// The destinations `--allow-hosts` opens.
    pub fn destinations(&self) -> Destinations {
        let entries: Vec<AllowEntry> = self.allow_hosts.iter().flat_map(|l| l.0.clone()).collect();
        Destinations::new(&entries)
    }

    /// The directories `--local-roots` names.
    pub fn local_roots(&self) -> Vec<PathBuf> {
        self.local_roots.iter().flat_map(|l| l.0.clone()).collect()
    }
}

/// A comma-separated list given to one flag; empty items are skipped, so an empty value (e.g. an
/// environment variable set to "") means none.
#[derive(Debug, Clone, Default)]
pub struct List<T>(pub Vec<T>);

impl<T> FromStr for List<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| item.parse().map_err(|e: T::Err| e.to_string()))
            .collect::<Result<Vec<T>, String>>()
            .map(List)
    }
}

/// The exit codes section of `--help`, with the process contract's codes.
fn exit_help() -> String {
    let line = |exit: Exit, text: &str| format!("  {:<3} {text}\n", exit.code());
    [
        "Exit codes:\n".to_string(),
        line(Exit::Installed, "installed"),
        line(Exit::Usage, "usage error (bad flag, source or digest syntax)"),
        line(
            Exit::BadArtifact,
            "the artifact is bad: invalid or truncated archive, unsafe entry, limit exceeded, sha256 mismatch,\n      \
             refused destination (--allow-hosts) or local path (--local-roots)",
        ),
        line(
            Exit::Unreachable,
            "the source is unreachable or unreadable: missing path, connection refused, HTTP error status",
        ),
        line(Exit::Internal, "internal failure: the destination cannot be written"),
        "\nOn failure one line `agent-init: <reason>` goes to stderr and the reason to the result file.".to_string(),
    ]
    .concat()
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

    /// How log lines look: plain text (no colour codes), or JSON.
    pub fn log_lines(&self) -> common::telemetry::Format {
        if self.log_json {
            common::telemetry::Format::Json { flatten: false }
        } else {
            common::telemetry::Format::Text {
                compact: false,
                plain: true,
            }
        }
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
                Exit::Installed.code(),
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
        destinations: cli.access.destinations(),
        local_roots: cli.access.local_roots(),
    };
    tracing::info!(source = %source, dest = %cli.dest.display(), "installing agent");
    let installed = install::install(&source, &cli.dest, &options).await?;
    Ok((source, installed))
}

/// Longest failure reason written out.
const REASON_MAX: usize = 1000;

fn one_line(text: &str) -> String {
    shorten(
        &text.split_whitespace().collect::<Vec<_>>().join(" "),
        REASON_MAX,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_skip_empty_items() {
        let cases = [
            ("", Some(vec![])),
            (" , ,", Some(vec![])),
            ("a.internal", Some(vec!["a.internal"])),
            (
                "a.internal,,10.0.0.0/8,",
                Some(vec!["a.internal", "10.0.0.0/8"]),
            ),
            ("a.internal,10.0.0.0/33", None),
        ];
        for (text, want) in cases {
            let got = text.parse::<List<AllowEntry>>().ok();
            let want = want.map(|items| {
                items
                    .into_iter()
                    .map(|item| item.parse::<AllowEntry>().unwrap())
                    .collect::<Vec<_>>()
            });
            assert_eq!(got.map(|list| list.0), want, "{text:?}");
        }
        let roots: List<PathBuf> = "/srv/a, /srv/b,".parse().unwrap();
        assert_eq!(roots.0, [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]);
    }
}
