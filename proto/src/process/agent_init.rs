//! `agent-init`: installs one agent artifact into a directory. The command line ([`Install`]), the value of
//! `--allow-hosts` ([`AllowEntry`]) and the exit codes ([`Exit`]).

use std::ffi::OsString;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use ipnet::IpNet;

use super::{comma_list, flag_value};

/// `agent-init --source SOURCE --dest DIR [--result-file FILE] [--sha256 HEX] --allow-hosts=.. --local-roots=..`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    /// What to install: a local path, a `file://` URL, or a remote URL (`http(s)://`, `s3://`, `oci://` ...).
    pub source: String,
    /// The directory to install into; it must not exist or be empty.
    pub dest: PathBuf,
    /// Where the one-line outcome (the failure reason, or what was installed) is written.
    pub result_file: Option<PathBuf>,
    /// The artifact's expected SHA-256 (64 hex digits).
    pub sha256: Option<String>,
    /// Where the source may come from.
    pub access: Access,
}

/// Where a source may come from besides public internet addresses. Both flags are always given, empty or not,
/// so that `agent-init` follows its caller and not `AGENT_INIT_*` variables it happens to inherit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Hosts that `http(s)://` and `oci://` sources may reach besides public addresses (`--allow-hosts`).
    pub allow_hosts: Vec<AllowEntry>,
    /// Directories strictly below which local sources may lie (`--local-roots`); none refuses local sources.
    /// A root must not contain a comma (the flag takes a comma-separated list).
    pub local_roots: Vec<PathBuf>,
}

impl Install {
    /// The arguments after the program name.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "--source".into(),
            self.source.clone().into(),
            "--dest".into(),
            self.dest.clone().into(),
        ];
        if let Some(file) = &self.result_file {
            args.extend(["--result-file".into(), file.clone().into()]);
        }
        if let Some(digest) = &self.sha256 {
            args.extend(["--sha256".into(), digest.clone().into()]);
        }
        args.extend(self.access.args());
        args
    }
}

impl Access {
    /// `--allow-hosts=..` and `--local-roots=..`, both always present.
    pub fn args(&self) -> [OsString; 2] {
        let hosts = comma_list(self.allow_hosts.iter().map(ToString::to_string));
        let roots = comma_list(&self.local_roots);
        [
            flag_value("--allow-hosts", hosts),
            flag_value("--local-roots", roots),
        ]
    }
}

/// One `--allow-hosts` entry: a host name, or an address or CIDR range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowEntry {
    /// A host name (lowercase, without a trailing dot): every address it resolves to is allowed.
    Name(String),
    /// An address range; a single address is a /32 or /128.
    Net(IpNet),
}

impl FromStr for AllowEntry {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(AllowEntry::Net(net.trunc()));
        }
        if let Ok(ip) = text
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(AllowEntry::Net(IpNet::from(ip.to_canonical())));
        }
        let name = normalize_host_name(text);
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if valid {
            Ok(AllowEntry::Name(name))
        } else {
            Err(format!(
                "{text:?} is not a host name, an IP address or a CIDR range (e.g. artifacts.internal, 10.0.0.5, 10.1.0.0/16)"
            ))
        }
    }
}

impl fmt::Display for AllowEntry {
    /// The entry as `--allow-hosts` takes it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowEntry::Name(name) => f.write_str(name),
            AllowEntry::Net(net) => write!(f, "{net}"),
        }
    }
}

/// A host name as entries and URLs are compared: trimmed, without a trailing dot, lowercase.
pub fn normalize_host_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// How `agent-init` exits; the code tells whose fault a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The agent is installed (`0`).
    Installed,
    /// A usage error: a bad flag, source or digest syntax (`2`).
    Usage,
    /// The artifact is bad or refused: the agent's fault (`10`).
    BadArtifact,
    /// The source could not be reached or read: the infrastructure's fault (`11`).
    Unreachable,
    /// Installing failed on this side, such as a destination that cannot be written (`12`).
    Internal,
}

impl Exit {
    /// Every exit, in code order.
    pub const ALL: [Exit; 5] = [
        Exit::Installed,
        Exit::Usage,
        Exit::BadArtifact,
        Exit::Unreachable,
        Exit::Internal,
    ];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Installed => 0,
            Exit::Usage => 2,
            Exit::BadArtifact => 10,
            Exit::Unreachable => 11,
            Exit::Internal => 12,
        }
    }

    /// The exit with this code, if it is one of `agent-init`'s.
    pub fn from_code(code: i32) -> Option<Self> {
        super::exit_with(&Self::ALL, code, Self::code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_every_field_and_always_the_access_flags() {
        let bare = Install {
            source: "https://agents.example/a.zip".into(),
            dest: "/agents/agent-1".into(),
            result_file: None,
            sha256: None,
            access: Access::default(),
        };
        assert_eq!(
            bare.args(),
            [
                "--source",
                "https://agents.example/a.zip",
                "--dest",
                "/agents/agent-1",
                "--allow-hosts=",
                "--local-roots=",
            ]
        );
        let full = Install {
            result_file: Some("/dev/termination-log".into()),
            sha256: Some("ab".repeat(32)),
            access: Access {
                allow_hosts: vec![
                    "Artifacts.Internal.".parse().unwrap(),
                    "10.8.0.0/16".parse().unwrap(),
                ],
                local_roots: vec!["/srv/uploads".into(), "/srv/more".into()],
            },
            ..bare
        };
        assert_eq!(
            full.args()[4..],
            [
                "--result-file",
                "/dev/termination-log",
                "--sha256",
                &"ab".repeat(32),
                "--allow-hosts=artifacts.internal,10.8.0.0/16",
                "--local-roots=/srv/uploads,/srv/more",
            ]
        );
    }

    #[test]
    fn allow_entries_read_back_what_they_print() {
        let cases = [
            ("artifacts.internal", Some("artifacts.internal")),
            ("Artifacts.Internal.", Some("artifacts.internal")),
            ("10.0.0.5", Some("10.0.0.5/32")),
            ("[::1]", Some("::1/128")),
            ("10.1.2.3/16", Some("10.1.0.0/16")),
            ("::ffff:127.0.0.1", Some("127.0.0.1/32")),
            ("", None),
            ("a..b", None),
            ("a b", None),
            ("10.0.0.0/33", None),
        ];
        for (text, want) in cases {
            let entry = text.parse::<AllowEntry>().ok();
            assert_eq!(
                entry.as_ref().map(ToString::to_string).as_deref(),
                want,
                "{text:?}"
            );
            if let Some(entry) = entry {
                assert_eq!(entry.to_string().parse::<AllowEntry>(), Ok(entry));
            }
        }
    }

    #[test]
    fn exit_codes_are_distinct_and_found_by_code() {
        for exit in Exit::ALL {
            assert_eq!(Exit::from_code(i32::from(exit.code())), Some(exit));
        }
        assert_eq!(Exit::BadArtifact.code(), 10);
        assert_eq!(Exit::Unreachable.code(), 11);
        assert_eq!(Exit::from_code(1), None);
        assert_eq!(Exit::from_code(-1), None);
    }
}
