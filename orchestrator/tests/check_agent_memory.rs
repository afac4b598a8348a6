//! A huge Python agent (25 MB of source whose syntax tree takes gigabytes) is read within the agent's memory
//! limit: `check-agent` reports that it cannot be read, and no process it started used much more than the limit.
//! Alone in its file, so that the test process's children are this test's only.

mod support;

/// The agent memory limit of this test, in MiB.
const MEMORY_MB: u64 = 256;

#[test]
fn a_huge_python_agent_is_read_within_the_agent_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "x = [{}]\ndef act(o):\n    return 1\n",
        "0,".repeat(12_500_000)
    );
    assert!(source.len() > 25_000_000);
    std::fs::write(dir.path().join("agent.py"), source).unwrap();
    let report = support::check_agent(dir.path(), MEMORY_MB, 60_000);
    assert_eq!(report.errors.len(), 1, "{report:?}");
    assert!(
        report.errors[0].contains("agent.py:") && report.errors[0].contains("memory limit"),
        "{report:?}"
    );
    assert!(report.isolation.applied.iter().any(|l| l == "rlimits"));
    // The largest resident set of any process this test waited for (the orchestrator, and the Python check it
    // waited for): the limit plus the interpreter, not the gigabytes the tree takes unbounded.
    let children =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let peak_kib = u64::try_from(children.max_rss()).unwrap();
    assert!(
        peak_kib < 2 * MEMORY_MB * 1024,
        "a process of the check reached {peak_kib} KiB"
    );
}
