//! The Python interpreter of the tests' Python agents: one with NumPy that every user can run, since agents
//! run under dedicated uids when the orchestrator is root, and the orchestrator itself runs under an
//! unprivileged uid in some tests.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The interpreter: the first system Python with NumPy that every user can run, else a virtual environment
/// under `target/` made from a system Python every user can run and filled with NumPy from PyPI (once;
/// a lock file keeps concurrent test binaries from building it twice).
pub fn agent_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(find_or_build).clone()
}

fn find_or_build() -> PathBuf {
    let candidates: Vec<PathBuf> = [real_executable("python3")]
        .into_iter()
        .flatten()
        .chain(["/usr/bin/python3", "/usr/local/bin/python3"].map(PathBuf::from))
        .filter(|p| everyone_can_run(p))
        .collect();
    if let Some(python) = candidates.iter().find(|p| imports(p, "numpy")) {
        return python.clone();
    }
    let base = candidates.first().unwrap_or_else(|| {
        panic!("no Python interpreter every user can run; install python3 under /usr")
    });
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let target = std::path::absolute(target).unwrap();
    std::fs::create_dir_all(&target).unwrap();
    let lock = std::fs::File::create(target.join("agents-venv.lock")).unwrap();
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("locking the agents' venv: {e}"));
    let venv = target.join("agents-venv");
    let python = venv.join("bin/python");
    if !imports(&python, "numpy") {
        println!(
            "no system Python with NumPy that every user can run: installing NumPy into {}",
            venv.display()
        );
        let made = Command::new(base)
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .unwrap();
        assert!(made.success(), "{} -m venv failed", base.display());
        let pip = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "numpy"])
            .status()
            .unwrap();
        assert!(pip.success(), "pip install numpy failed");
    }
    assert!(
        everyone_can_run(&python) && imports(&python, "numpy"),
        "{} must run for every user and import NumPy",
        python.display()
    );
    python
}

/// The real executable of the interpreter named `name` (`sys.executable`), when it runs.
fn real_executable(name: &str) -> Option<PathBuf> {
    let out = Command::new(name)
        .args(["-c", "import sys; sys.stdout.write(sys.executable)"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).into_owned()))
}

fn imports(python: &Path, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether every user can reach `path` (every directory on the way to it and to the file it links to
/// searchable by others) and run it.
pub fn everyone_can_run(path: &Path) -> bool {
    let Ok(real) = path.canonicalize() else {
        return false;
    };
    let others = |p: &Path, bits: u32| {
        std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & bits == bits)
    };
    let Ok(given) = std::path::absolute(path) else {
        return false;
    };
    [given, real.clone()]
        .iter()
        .all(|p| p.ancestors().skip(1).all(|dir| others(dir, 0o001)))
        && others(&real, 0o005)
}
