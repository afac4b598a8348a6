//! The contracts between the workspace's processes that are not messages: the command lines the executor starts
//! `agent-init` and `orchestrator` with, the values their flags take and what their exit codes mean, as types.
//! Both backends and `ValidateAgent` build their command lines here, and each binary's tests parse what these
//! builders produce with the binary's own parser, so a flag cannot change on one side only.
//!
//! - [`agent_init`]: `agent-init` (install one agent), its access flags and exit codes.
//! - [`orchestrator`]: `orchestrator run` and `orchestrator check-agent` (with its report), and exit codes.

use std::ffi::{OsStr, OsString};

pub mod agent_init;
pub mod orchestrator;

/// Where Kubernetes reads a container's termination message from: the default result file of `agent-init` and
/// the result file the executor gives the orchestrator in a match pod.
pub const TERMINATION_LOG: &str = "/dev/termination-log";

/// `--flag=VALUE` as one argument, so that an empty value stays a value.
fn flag_value(flag: &str, value: impl AsRef<OsStr>) -> OsString {
    let mut arg = OsString::from(flag);
    arg.push("=");
    arg.push(value);
    arg
}

/// Items joined with commas, the form of a list flag.
fn comma_list<I, S>(items: I) -> OsString
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut list = OsString::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            list.push(",");
        }
        list.push(item);
    }
    list
}

/// The one of `exits` whose code (`code_of`) is `code`.
fn exit_with<T: Copy>(exits: &[T], code: i32, code_of: fn(T) -> u8) -> Option<T> {
    exits
        .iter()
        .copied()
        .find(|exit| i32::from(code_of(*exit)) == code)
}

/// Arguments as text, for places that take only UTF-8 (a Kubernetes container's `args`); a part that is not
/// UTF-8 is converted lossily.
pub fn utf8_args(args: Vec<OsString>) -> Vec<String> {
    args.into_iter()
        .map(|arg| {
            arg.into_string()
                .unwrap_or_else(|arg| arg.to_string_lossy().into_owned())
        })
        .collect()
}
