//! Seats whose agents run in containers of their own, emulated with real processes: one `agent-shim run` per
//! seat, each under a uid of its own (when the tests run as root) with its own scratch root, connecting to the
//! orchestrator's socket for that seat (`run --seat-socket`); and [`Hosting`], which runs a test's match with
//! local seats or behind shims alike.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::{Arena, Run, agent_python, is_root};

/// The shim binary under test.
const SHIM: &str = env!("CARGO_BIN_EXE_agent-shim");
/// The first uid the shims run as when the tests run as root (seat N gets this plus N).
const SHIM_UID_BASE: u32 = 2_999_100;

/// One shim per seat of an arena, each in its own "container": its own uid (when the tests run as root), its
/// own scratch root, and a seat directory it shares with the orchestrator only.
pub struct Shims {
    pub children: Vec<Child>,
    sockets: Vec<PathBuf>,
}

impl Shims {
    /// Starts a shim for each agent of `arena`, in seat order.
    #[track_caller]
    pub fn start(arena: &Arena) -> Self {
        let mut children = Vec::new();
        let mut sockets = Vec::new();
        for (i, (_, dir)) in arena.agents.iter().enumerate() {
            let socket = seat_socket(arena, i);
            let seat = socket
                .parent()
                .expect("a seat socket is in its seat's directory");
            let scratch = container_dir(arena, i);
            for dir in [seat, &scratch] {
                std::fs::create_dir_all(dir).unwrap();
                // Like an emptyDir: anyone of the pod who mounts it may write there.
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
            }
            let mut command = if is_root() {
                let uid = SHIM_UID_BASE + i as u32 + 1;
                let mut command = Command::new("setpriv");
                command
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(SHIM);
                command
            } else {
                Command::new(SHIM)
            };
            command
                .args(["run", "--socket"])
                .arg(&socket)
                .arg("--app")
                .arg(dir)
                .arg("--python")
                .arg(agent_python())
                .arg("--scratch-root")
                .arg(&scratch)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .process_group(0);
            children.push(command.spawn().expect("starting agent-shim"));
            sockets.push(socket);
        }
        Self { children, sockets }
    }

    /// The orchestrator's `--seat-socket` argument.
    pub fn flag(&self) -> String {
        self.sockets
            .iter()
            .map(|s| s.display().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits for every shim; each must have ended with 0. Returns their logs.
    #[track_caller]
    pub fn finish(mut self) -> Vec<String> {
        self.children
            .drain(..)
            .map(|child| {
                let output = child.wait_with_output().unwrap();
                let log = String::from_utf8_lossy(&output.stderr).into_owned();
                assert!(
                    output.status.success(),
                    "agent-shim ended with {}:\n{log}",
                    output.status
                );
                log
            })
            .collect()
    }
}

impl Drop for Shims {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the arena's match with every seat behind a shim.
#[track_caller]
pub fn run_remote(arena: &Arena) -> (Run, Vec<String>) {
    let shims = Shims::start(arena);
    let run = arena.run(&["--seat-socket", &shims.flag()]);
    let logs = shims.finish();
    (run, logs)
}

/// The socket of seat `seat` (0-based) of `arena`'s match behind shims, in a directory of its own.
pub fn seat_socket(arena: &Arena, seat: usize) -> PathBuf {
    arena
        .dir
        .path()
        .join("seats")
        .join(format!("agent-{}", seat + 1))
        .join("seat.sock")
}

/// The scratch root of the "container" of seat `seat` (0-based) of `arena` (`agent-shim run --scratch-root`).
fn container_dir(arena: &Arena, seat: usize) -> PathBuf {
    arena
        .dir
        .path()
        .join("containers")
        .join(format!("agent-{}", seat + 1))
}

/// Where a test's agents run.
#[derive(Debug, Clone, Copy)]
pub enum Hosting {
    /// Child processes of the orchestrator.
    Local,
    /// Each behind a shim of its own, as in a container of its own.
    Shims,
}

impl Hosting {
    /// Runs `arena`'s match with its agents hosted so.
    #[track_caller]
    pub fn run(self, arena: &Arena) -> Run {
        match self {
            Hosting::Local => arena.run(&[]),
            Hosting::Shims => run_remote(arena).0,
        }
    }

    /// The scratch directory of agent `id` of `arena` (kept after the match).
    pub fn scratch_dir(self, arena: &Arena, id: &str) -> PathBuf {
        match self {
            Hosting::Local => arena.scratch_dir(id),
            Hosting::Shims => container_dir(arena, arena.seat(id)).join("agent"),
        }
    }
}

/// Makes test `$name` of body `$body(Hosting)` twice: `$name::local` and `$name::behind_shims`.
#[macro_export]
macro_rules! local_and_behind_shims {
    ($name:ident, $body:ident) => {
        mod $name {
            #[test]
            fn local() {
                super::$body(super::support::shims::Hosting::Local)
            }

            #[test]
            fn behind_shims() {
                super::$body(super::support::shims::Hosting::Shims)
            }
        }
    };
}
