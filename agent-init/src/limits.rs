//! Resource limits that bound what an untrusted artifact may cost to fetch and unpack.

use clap::Args;

/// Unpacked bytes below which the compression-ratio check does not apply: small archives of text
/// legitimately compress well.
pub const RATIO_FLOOR_BYTES: u64 = 1 << 20;

/// Limits on one artifact. Every limit exceeded is the artifact's fault (exit 10).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits")]
pub struct Limits {
    /// Largest artifact to download or read, in bytes (suffixes K, M, G, KiB, MiB, GiB accepted).
    #[arg(long, env = "AGENT_INIT_MAX_DOWNLOAD_BYTES", default_value = "512MiB", value_parser = parse_size)]
    pub max_download_bytes: u64,

    /// Largest total size of the installed files, in bytes (same suffixes).
    #[arg(long, env = "AGENT_INIT_MAX_UNPACKED_BYTES", default_value = "2GiB", value_parser = parse_size)]
    pub max_unpacked_bytes: u64,

    /// Most entries (files, directories, links) an archive or directory may hold.
    #[arg(long, env = "AGENT_INIT_MAX_ENTRIES", default_value_t = 100_000)]
    pub max_entries: u64,

    /// Longest path of one entry inside the artifact, in bytes.
    #[arg(long, env = "AGENT_INIT_MAX_PATH_LEN", default_value_t = 1024)]
    pub max_path_len: usize,

    /// Highest compression ratio (unpacked bytes / archive bytes) before an archive is refused as
    /// a decompression bomb; archives unpacking to less than 1 MiB are exempt.
    #[arg(long, env = "AGENT_INIT_MAX_RATIO", default_value_t = 200)]
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_download_bytes: 512 << 20,
            max_unpacked_bytes: 2 << 30,
            max_entries: 100_000,
            max_path_len: 1024,
            max_ratio: 200,
        }
    }
}

/// Parses a byte size such as `1048576`, `512MiB`, `2G` or `64k`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("size {text:?} is invalid: expected a number such as 512MiB"))?;
    let multiplier: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "size suffix {other:?} is unknown: use K, M, G, KiB, MiB or GiB"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_and_without_suffix() {
        let cases = [
            ("0", Some(0)),
            ("1048576", Some(1 << 20)),
            ("512MiB", Some(512 << 20)),
            ("2GiB", Some(2 << 30)),
            ("64k", Some(64_000)),
            ("3 M", Some(3_000_000)),
            ("lots", None),
            ("12parsecs", None),
            ("99999999999999999999GiB", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text).ok(), want, "{text}");
        }
    }
}
