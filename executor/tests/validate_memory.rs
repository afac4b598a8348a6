//! `ValidateAgent` reads submitted code with the agent's limits: a zip of about 12 MB holding a 25 MB `agent.py`
//! whose syntax tree takes gigabytes is reported as too large for the agent's memory limit, and no process of the
//! validation used much more than that limit. Alone in its file, so that the test process's children are this
//! test's only.

mod support;

use std::io::Write;

use proto::pb;
use support::Executor;

/// The agent memory limit of this test, in MiB.
const MEMORY_MB: u64 = 256;

#[tokio::test]
async fn a_huge_python_agent_is_checked_within_the_agent_memory_limit() {
    // Pseudo-random numbers, so that the zip stays within agent-init's compression ratio limit.
    let mut state: u64 = 7;
    let mut numbers = String::with_capacity(26_000_000);
    while numbers.len() < 25_000_000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        numbers.push_str(&format!("{},", state >> 40));
    }
    let source = format!(
        "x = [{numbers}]
def act(o):
    return 1
"
    );
    let mut zip = std::io::Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut zip);
        writer
            .start_file("agent.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(source.as_bytes()).unwrap();
        writer.finish().unwrap();
    }
    let mut executor = Executor::start(&["--agent-memory-mb", &MEMORY_MB.to_string()]);
    let report = executor
        .client()
        .await
        .validate_agent(pb::ValidationRequest {
            agent_id: "huge".into(),
            code_zip: zip.into_inner(),
            environment: "pong".into(),
        })
        .await
        .expect("validate")
        .into_inner();
    assert!(!report.valid, "{report:?}");
    assert_eq!(report.errors.len(), 1, "{report:?}");
    assert!(
        report.errors[0].contains("agent.py") && report.errors[0].contains("memory limit"),
        "{report:?}"
    );
    // Every process of the validation has been waited for once the executor is.
    executor.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(executor.wait().success());
    let children =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let peak_kib = u64::try_from(children.max_rss()).unwrap();
    assert!(
        peak_kib < 4 * MEMORY_MB * 1024,
        "a process of the validation reached {peak_kib} KiB"
    );
}
