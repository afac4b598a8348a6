//! A hostile agent that fills the disk: one file is capped by the file-size limit, its own directory and
//! `/tmp` are read-only, and a scratch directory grown past its limit disqualifies it; as a local child and
//! behind a shim alike.

mod support;

use proto::outcome::AgentStatus;
use serde_json::json;
use support::shims::Hosting;
use support::{Arena, hostile, test_agent};

local_and_behind_shims!(disk_filler_is_capped_and_disqualified, disk_filler);

fn disk_filler(hosting: Hosting) {
    // Writing the files takes a while on a loaded machine: the step limit is generous so that the disk rules,
    // not the clock, decide this case.
    let arena = Arena::pong()
        .limit("step_ms", json!(30_000))
        .limit("scratch_mb", json!(8))
        .agent("filler", &hostile("disk-fill"))
        .agent("steady", &test_agent("steady"));
    let run = hosting.run(&arena);

    run.assert_hostile_lost("filler", "steady", AgentStatus::Disqualified);
    let filler = run.agent("filler");
    println!("{}", filler.stderr_tail);
    assert!(
        filler
            .error_message
            .starts_with("step 1: disqualified: the scratch directory holds"),
        "{filler:?}"
    );
    let scratch = hosting.scratch_dir(&arena, "filler");
    if run.has_layer("filler", "rlimits") {
        assert!(
            filler.stderr_tail.contains("disk huge: denied"),
            "{}",
            filler.stderr_tail
        );
        let huge = std::fs::metadata(scratch.join("huge")).unwrap().len();
        assert!(huge <= 8 << 20, "one file is capped at scratch_mb: {huge}");
    }
    if run.has_layer("filler", "landlock_fs") {
        assert!(filler.stderr_tail.contains("disk agent-dir: denied"));
        assert!(filler.stderr_tail.contains("disk tmp: denied"));
        assert!(!arena.agent_dir("filler").join("junk").exists());
    }
}
