//! Agent submissions made with the `rl-arena` package's own tools, and the interpreter that has the package.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::workspace;

/// The `rl-arena` package and the versions of its dependencies that the golden-fixture scripts pin
/// (`envs/tests/fixtures/pong/record.py`) and the orchestrator image installs.
pub const RL_ARENA_PINS: [&str; 4] = [
    "rl-arena==0.1.2",
    "numpy==2.4.6",
    "gymnasium==1.4.0",
    "pyyaml==6.0.4",
];

/// A Python interpreter with [`RL_ARENA_PINS`] installed.
pub fn python_with_rl_arena() -> PathBuf {
    testkit::python_with(
        &["rl_arena.submission", "numpy", "gymnasium", "yaml"],
        &RL_ARENA_PINS,
    )
}

/// A backend storage directory holding one `.py` and one `.zip` submission made by rl-arena's tools.
pub struct Submissions {
    pub storage: tempfile::TempDir,
    /// `submissions/<uuid>_<unix>.py`, relative to the storage directory.
    pub py: String,
    /// `submissions/<uuid>_<unix>.zip` with `agent.py` and `models/paddle.json`.
    pub zip: String,
}

impl Submissions {
    #[track_caller]
    pub fn make(python: &Path) -> Self {
        let storage = tempfile::tempdir().unwrap();
        let output = Command::new(python)
            .arg(workspace().join("executor/tests/python/rl_arena_submissions.py"))
            .arg(storage.path())
            .output()
            .expect("run the submission maker");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "making submissions failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let last = stdout.lines().last().unwrap_or_default();
        let made: serde_json::Value = serde_json::from_str(last).expect("the maker's last line");
        let text = |key: &str| made[key].as_str().expect("a stored path").to_string();
        let (py, zip) = (text("py"), text("zip"));
        let module = std::fs::read_to_string(storage.path().join(&py)).unwrap();
        assert!(
            module.contains("from rl_arena.core.agent import Agent")
                && module.contains("def create_agent() -> Agent:"),
            "the template is the package's own: {module}"
        );
        Self { storage, py, zip }
    }

    /// The absolute path of a stored submission.
    pub fn path(&self, stored: &str) -> String {
        self.storage.path().join(stored).display().to_string()
    }
}
