//! Logging set-up for every binary: `tracing` filtered by `RUST_LOG` (default `info`), lines on stderr so that
//! stdout stays free for what a command prints, as text for people or JSON for collectors.

use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text lines for people: `compact` leaves out the span context, `plain` never writes colour codes.
    Text { compact: bool, plain: bool },
    /// JSON lines for collectors: `flatten` puts an event's fields at the top level instead of under `fields`.
    Json { flatten: bool },
}

/// Installs the global subscriber; `Err` when one is installed already.
pub fn init(format: Format) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        Format::Json { flatten } => builder.json().flatten_event(flatten).try_init(),
        Format::Text { compact, plain } => {
            // Without `plain`, colours are the library's default (off where `NO_COLOR` is set).
            let builder = if plain {
                builder.with_ansi(false)
            } else {
                builder
            };
            if compact {
                builder.compact().try_init()
            } else {
                builder.try_init()
            }
        }
    }
}
