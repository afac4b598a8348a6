//! The `agent-init` binary: parses flags, starts logging and runs one install.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    die_with_parent();
    let cli = agent_init::cli::Cli::parse();
    // Nothing installs a subscriber before this, so it cannot fail.
    let _ = common::telemetry::init(cli.log_lines());
    ExitCode::from(agent_init::cli::run(cli).await)
}

/// Asks for SIGKILL when the process that started this one dies: an install nobody waits for any more (its
/// executor was killed) stops instead of finishing on its own. A parent that died before the request took
/// effect counts as dead.
fn die_with_parent() {
    let parent = nix::unistd::getppid();
    if nix::sys::prctl::set_pdeathsig(Some(nix::sys::signal::Signal::SIGKILL)).is_ok()
        && nix::unistd::getppid() != parent
    {
        std::process::exit(12);
    }
}
