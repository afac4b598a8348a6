//! Hostile or broken agents through the executor: the fault is charged to the agent, the match still ends
//! with a result, and nothing escapes the work directory or outlives the match.

mod support;

use std::io::Write;

use proto::pb;
use support::{Executor, agent, example_agent, pong_request, test_agent};

/// A gzipped tar whose single entry climbs out of the destination.
fn traversal_tarball(path: &std::path::Path, entry: &str) {
    let file = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    let body = b"print('escaped')\n";
    let mut header = tar::Header::new_old();
    // Written by hand: the tar crate's path setters refuse `..`, which is exactly what this archive needs.
    let name = entry.as_bytes();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &body[..]).unwrap();
    builder
        .into_inner()
        .unwrap()
        .finish()
        .unwrap()
        .flush()
        .unwrap();
}

#[tokio::test]
async fn archive_path_traversal_is_the_agents_fault_and_writes_nothing_outside() {
    let executor = Executor::start(&[]);
    let dir = &executor.uploads;
    let archive = dir.path().join("evil.tar.gz");
    traversal_tarball(&archive, "../../../../escaped-agent.py");
    let request = pong_request(
        "traversal-1",
        agent("good", &example_agent("pong-python")),
        agent("evil", archive.to_str().unwrap()),
    );
    let response = executor.run_match(request).await;
    assert_eq!(
        response.status(),
        pb::MatchStatus::StatusError,
        "{response:?}"
    );
    assert!(
        response.error_message.contains("agent evil"),
        "{}",
        response.error_message
    );
    let evil = &response.agent_results[1];
    assert_eq!(evil.status(), pb::AgentStatus::Error);
    assert_eq!(evil.errors, 1);
    assert!(!evil.error_message.is_empty());
    // The other agent never ran, through no fault of its own, and its result says so.
    let good = &response.agent_results[0];
    assert_eq!(good.status(), pb::AgentStatus::NotStarted);
    assert_eq!(good.errors, 0);
    assert!(good.error_message.is_empty());
    // The entry would land at most four levels above the agent directory, inside or near the data dir.
    let work = executor.data_dir.path().join("work");
    for ancestor in [executor.data_dir.path(), &work, dir.path()] {
        assert!(!ancestor.join("escaped-agent.py").exists());
    }
    assert!(!std::path::Path::new("/escaped-agent.py").exists());
    assert!(!std::path::Path::new("/tmp/escaped-agent.py").exists());
    assert_eq!(executor.leftover_processes(), vec![]);
}

#[tokio::test]
async fn an_agent_that_crashes_loses_and_its_stderr_comes_back() {
    let executor = Executor::start(&[]);
    let request = pong_request(
        "crash-1",
        agent("crasher", &test_agent("crash-at-step-3")),
        agent("steady", &example_agent("pong-python")),
    );
    let response = executor.run_match(request).await;
    assert_eq!(
        response.status(),
        pb::MatchStatus::StatusSuccess,
        "{response:?}"
    );
    let crasher = &response.agent_results[0];
    assert_eq!(crasher.status(), pb::AgentStatus::Crashed, "{crasher:?}");
    assert!(crasher.errors >= 1);
    assert!(
        crasher.error_message.contains("step 3"),
        "{}",
        crasher.error_message
    );
    assert!(
        crasher.stderr_tail.contains("giving up now"),
        "{:?}",
        crasher.stderr_tail
    );
    assert_eq!(response.winner_agent_id, "steady");
    assert_eq!(response.agent_results[1].status(), pb::AgentStatus::Ok);
    assert_eq!(executor.leftover_processes(), vec![]);
}
