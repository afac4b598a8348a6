//! The RL Arena backend's requests, made by a client generated from the backend's own copy of the contract
//! (`tests/fixtures/rl-arena-backend/executor.proto`, see its ORIGIN.md): a UUID `match_id`, agents with
//! `metadata.name`, `version` and an empty `docker_image`, `timeout_sec` 300, `record_replay`, and code given as
//! the backend stores uploads: `submissions/<uuid>_<unix>.py` relative to its storage directory (the
//! executor's first local code root here) and the absolute path of a `.zip`, both made by rl-arena's own
//! submission tools. The answers decode with the backend's message types.

mod support;

use support::rl_arena::{Submissions, python_with_rl_arena};
use support::{Executor, script_json, workspace};

#[test]
fn the_backends_requests_play_through_a_client_from_its_own_proto() {
    let grpc = testkit::python_with(&["grpc", "grpc_tools"], &["grpcio", "grpcio-tools"]);
    let rl_arena = python_with_rl_arena();
    let submissions = Submissions::make(&rl_arena);
    let storage = submissions.storage.path();
    let executor = Executor::start_in_dir(storage, &["--python", rl_arena.to_str().unwrap()]);
    assert!(
        submissions.py.starts_with("submissions/"),
        "{}",
        submissions.py
    );

    let agents = |first: (&str, String), second: (&str, String)| {
        serde_json::json!([
            {"id": first.0, "name": format!("{} agent", first.0), "code_url": first.1, "version": "1.0.0"},
            {"id": second.0, "name": format!("{} agent", second.0), "code_url": second.1, "version": "2"},
        ])
    };
    let matches = serde_json::json!([
        {"environment": "pong", "agents": agents(
            ("follower", submissions.py.clone()),
            ("tracker", submissions.path(&submissions.zip)),
        )},
        {"environment": "pong", "agents": agents(
            ("tracker", submissions.path(&submissions.zip)),
            ("follower", submissions.py.clone()),
        )},
    ]);
    let out = tempfile::tempdir().unwrap();
    let proto_dir = workspace().join("executor/tests/fixtures/rl-arena-backend");
    let doc = script_json(
        &grpc,
        "python/backend_client.py",
        &[
            proto_dir.as_os_str(),
            out.path().as_os_str(),
            executor.addr.as_ref(),
            matches.to_string().as_ref(),
        ],
    );

    assert_eq!(doc["health"]["healthy"], true, "{doc}");
    assert_eq!(doc["health"]["version"], env!("CARGO_PKG_VERSION"));
    let played = doc["matches"].as_array().expect("matches");
    assert_eq!(played.len(), 2);
    for (played, seats) in played
        .iter()
        .zip([["follower", "tracker"], ["tracker", "follower"]])
    {
        let id = played["request_match_id"].as_str().unwrap();
        let m = &played["response"];
        assert_eq!(m["match_id"], id, "{m}");
        assert_eq!(m["status"], "STATUS_SUCCESS", "{m}");
        assert_eq!(m["error_message"], "", "{m}");
        assert!(m["total_steps"].as_u64().unwrap() > 0, "{m}");
        assert!(m["execution_time_sec"].as_f64().unwrap() > 0.0, "{m}");
        let results = m["agent_results"].as_array().unwrap();
        let ids: Vec<&str> = results
            .iter()
            .map(|r| r["agent_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, seats, "{m}");
        for r in results {
            assert_eq!(r["errors"], 0, "{m}");
            assert_eq!(r["error_message"], "", "{m}");
        }
        let scores: Vec<f64> = results
            .iter()
            .map(|r| r["score"].as_f64().unwrap())
            .collect();
        let winner = m["winner_agent_id"].as_str().unwrap();
        match scores[0].partial_cmp(&scores[1]) {
            Some(std::cmp::Ordering::Greater) => assert_eq!(winner, seats[0]),
            Some(std::cmp::Ordering::Less) => assert_eq!(winner, seats[1]),
            _ => assert_eq!(winner, ""),
        }
        for (key, ext) in [("replay_url", "json"), ("replay_html_url", "html")] {
            let url = m[key].as_str().unwrap();
            assert!(url.ends_with(&format!("{id}.{ext}")), "{key}: {url}");
        }
    }
}
