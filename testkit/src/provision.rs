//! Third-party programs and Python packages the tests need, provisioned on first use so that
//! `cargo test --workspace` passes on a fresh Debian machine with only Rust and Python 3.
//!
//! A missing program is installed from its Debian package with `apt-get` when the tests run as root;
//! otherwise the test fails with the exact command to run. Python packages the system interpreter
//! lacks go into a virtualenv under the target directory, made once. Nothing is ever skipped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// A program that a Debian package provides.
pub struct DebianProgram {
    /// What the program is called in messages.
    pub name: &'static str,
    /// Environment variable that gives the program's path and bypasses the search.
    pub override_var: &'static str,
    /// Absolute paths, or names looked up on `PATH`, tried in order.
    pub candidates: &'static [&'static str],
    /// The Debian package to install when none of the candidates exists.
    pub package: &'static str,
}

/// The distribution registry, for agent images pulled by agent-init.
pub const DOCKER_REGISTRY: DebianProgram = DebianProgram {
    name: "docker-registry",
    override_var: "TESTKIT_DOCKER_REGISTRY",
    candidates: &["/usr/bin/docker-registry", "docker-registry"],
    package: "docker-registry",
};

/// Apache's `htpasswd`, which writes the bcrypt lines of a registry behind basic auth.
pub const HTPASSWD: DebianProgram = DebianProgram {
    name: "htpasswd",
    override_var: "TESTKIT_HTPASSWD",
    candidates: &["htpasswd"],
    package: "apache2-utils",
};

/// A headless browser for the replay viewer test.
pub const CHROMIUM: DebianProgram = DebianProgram {
    name: "chromium",
    override_var: "CHROMIUM",
    candidates: &["/usr/bin/chromium", "chromium"],
    package: "chromium",
};

/// Node.js, which runs the tests' reproductions of the RL Arena backend's and web app's replay reading.
pub const NODE: DebianProgram = DebianProgram {
    name: "node",
    override_var: "TESTKIT_NODE",
    candidates: &["/usr/bin/node", "node", "nodejs"],
    package: "nodejs",
};

/// The Python interpreter of the file server and the base of the test virtualenv.
pub const PYTHON3: DebianProgram = DebianProgram {
    name: "python3",
    override_var: "TESTKIT_PYTHON",
    candidates: &["python3"],
    package: "python3",
};

/// The Debian package that lets the system `python3` make virtualenvs (it brings `ensurepip`).
const PYTHON3_VENV: &str = "python3-venv";

/// Seconds `apt-get` waits for another package manager to release its lock.
const APT_LOCK_TIMEOUT_SEC: u32 = 600;

/// One installation at a time in this process: threads wanting the same package wait for the first.
static APT: Mutex<()> = Mutex::new(());

/// One change to the test virtualenv at a time in this process.
static VENV: Mutex<()> = Mutex::new(());

impl DebianProgram {
    /// The program's path: `$override_var`, else the first candidate found, else installed from
    /// its Debian package (as root) or a failed test that says what to install.
    #[track_caller]
    pub fn require(&self) -> PathBuf {
        if let Some(path) = std::env::var_os(self.override_var).filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "{}={} does not name a file; unset it or point it at {}",
                self.override_var,
                path.display(),
                self.name
            );
            return path;
        }
        if let Some(found) = self.find() {
            return found;
        }
        let _installing = lock(&APT);
        if let Some(found) = self.find() {
            return found;
        }
        let missing = format!(
            "{} is not installed (looked for {:?} and ${})",
            self.name, self.candidates, self.override_var
        );
        install_debian_package(
            self.package,
            &missing,
            &format!(", or set {} to its path", self.override_var),
        );
        self.find().unwrap_or_else(|| {
            panic!(
                "{missing}, and still not found after installing the Debian package {}",
                self.package
            )
        })
    }

    fn find(&self) -> Option<PathBuf> {
        self.candidates.iter().find_map(|candidate| {
            if candidate.contains('/') {
                Some(PathBuf::from(candidate)).filter(|path| path.is_file())
            } else {
                on_path(candidate)
            }
        })
    }
}

/// A Python interpreter that imports every one of `modules`: the system one ([`PYTHON3`]) when it
/// does, else the test virtualenv under the target directory, to which `packages` (pip
/// requirement specifiers) are added from PyPI when it does not import them yet.
#[track_caller]
pub fn python_with(modules: &[&str], packages: &[&str]) -> PathBuf {
    let system = PYTHON3.require();
    if imports(&system, modules) {
        return system;
    }
    let _changing = lock(&VENV);
    let venv = target_dir().join("test-venv");
    let python = venv.join("bin/python");
    if imports(&python, modules) {
        return python;
    }
    if !imports(&python, &["pip"]) {
        make_venv(&system, &venv);
    }
    announce(&format!(
        "{} cannot import {modules:?}: installing {packages:?} from PyPI into {}",
        system.display(),
        venv.display()
    ));
    let pip = run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(packages));
    assert!(
        pip.status.success(),
        "pip install {packages:?} into {} failed ({}):\n{}",
        venv.display(),
        pip.status,
        text(&pip)
    );
    assert!(
        imports(&python, modules),
        "{} still cannot import {modules:?} after pip install {packages:?}",
        python.display()
    );
    python
}

/// Makes (or remakes, when it is broken) the virtualenv `venv` from `system`, first installing
/// Debian's `python3-venv` when the interpreter has no `ensurepip`.
#[track_caller]
fn make_venv(system: &Path, venv: &Path) {
    if !imports(system, &["venv", "ensurepip"]) {
        let _installing = lock(&APT);
        if !imports(system, &["venv", "ensurepip"]) {
            install_debian_package(
                PYTHON3_VENV,
                &format!(
                    "{} cannot make virtualenvs (no venv or ensurepip module)",
                    system.display()
                ),
                "",
            );
        }
    }
    let made = run(Command::new(system)
        .args(["-m", "venv", "--clear"])
        .arg(venv));
    assert!(
        made.status.success(),
        "{} -m venv {} failed ({}):\n{}",
        system.display(),
        venv.display(),
        made.status,
        text(&made)
    );
}

/// Installs `package` with `apt-get` when running as root on a system that has it; otherwise fails
/// the test with `missing` and the command to run (`alternative` is appended to the advice).
/// Callers hold [`APT`] and have checked that the package is still needed.
#[track_caller]
fn install_debian_package(package: &str, missing: &str, alternative: &str) {
    let Some(apt_get) = on_path("apt-get") else {
        panic!(
            "{missing}; install it (Debian package {package}) with your system's package \
             manager{alternative}"
        );
    };
    if !is_root() {
        panic!(
            "{missing}; install it with `sudo apt-get install -y {package}`{alternative} \
             (run as root, the tests install it themselves)"
        );
    }
    announce(&format!(
        "{missing}: installing the Debian package {package} with apt-get"
    ));
    // A fresh machine has no package lists yet, and old lists may name versions the mirror no
    // longer has.
    apt(&apt_get, &["update"], missing);
    apt(
        &apt_get,
        &["install", "-y", "--no-install-recommends", package],
        missing,
    );
}

/// Runs `apt-get -qq ARGS` without questions, waiting for a package manager that holds the lock.
#[track_caller]
fn apt(apt_get: &Path, args: &[&str], missing: &str) {
    let output = run(Command::new(apt_get)
        .args(["-qq", "-o"])
        .arg(format!("DPkg::Lock::Timeout={APT_LOCK_TIMEOUT_SEC}"))
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive"));
    assert!(
        output.status.success(),
        "{missing}, and `apt-get {}` failed ({}):\n{}",
        args.join(" "),
        output.status,
        text(&output)
    );
}

/// Whether `python` runs and imports every one of `modules`.
fn imports(python: &Path, modules: &[&str]) -> bool {
    Command::new(python)
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether the process runs as root (effective uid 0, from `/proc/self/status`).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// The profile directory of the running test binary (`target/debug` for
/// `target/debug/deps/NAME-HASH`), which holds what the tests install.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe.parent().expect("the test binary's directory");
    match dir.file_name() {
        Some(name) if name == "deps" => dir.parent().unwrap_or(dir).to_path_buf(),
        _ => dir.to_path_buf(),
    }
}

/// Runs a command to completion with its output captured; fails the test when it cannot start.
#[track_caller]
fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", command.get_program()))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Tells the person waiting why a test pauses: written to the real stderr, which the test harness
/// does not capture.
fn announce(message: &str) {
    let _ = writeln!(std::io::stderr(), "testkit: {message}");
}

fn lock(mutex: &Mutex<()>) -> MutexGuard<'_, ()> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The first file named `program` in a `PATH` directory.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}
