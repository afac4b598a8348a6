//! Logging: one `init` for the binary, `info` by default, `RUST_LOG` to change it, pretty or JSON lines on
//! stderr (stdout stays free for callers).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::{Error, Result};

/// Installs the global subscriber; call once at the start of `main`.
pub fn init(format: LogFormat) -> Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.with_ansi(false).try_init(),
    };
    installed.map_err(|e| Error::Telemetry(e.to_string()))
}
