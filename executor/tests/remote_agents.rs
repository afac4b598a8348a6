//! Matches whose agents come from real remote sources: a tarball on a loopback HTTP server, an OCI image
//! in a real registry (`docker-registry`) and an object in a real S3-compatible server (moto), fetched by
//! `agent-init` as the executor runs it.

mod support;

use std::path::Path;

use proto::pb;
use sha2::Digest;
use support::{Executor, example_agent, pong_request};
use testkit::{FileServer, Moto, Registry, Tar, zip_dir};

fn code_agent(id: &str, code_url: &str) -> pb::AgentData {
    support::agent(id, code_url)
}

fn image_agent(id: &str, image: &str) -> pb::AgentData {
    pb::AgentData {
        agent_id: id.into(),
        docker_image: image.into(),
        ..Default::default()
    }
}

/// The match succeeded, both agents played without faults and the stored replay matches its digest.
#[track_caller]
fn assert_played(executor: &Executor, response: &pb::MatchResponse, ids: [&str; 2]) {
    assert_eq!(
        response.status(),
        pb::MatchStatus::StatusSuccess,
        "{response:?}"
    );
    let played: Vec<&str> = response
        .agent_results
        .iter()
        .map(|a| a.agent_id.as_str())
        .collect();
    assert_eq!(played, ids);
    for agent in &response.agent_results {
        assert_eq!(agent.status(), pb::AgentStatus::Ok, "{agent:?}");
        assert_eq!(agent.errors, 0, "{agent:?}");
    }
    assert!(response.total_steps > 0);
    let json_path = response
        .replay_url
        .strip_prefix("file://")
        .expect("replay stored as a file");
    let json = std::fs::read(json_path).expect("stored replay");
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&json)),
        response.replay_sha256
    );
    let replay: proto::replay::Replay = serde_json::from_slice(&json).expect("replay parses");
    assert_eq!(replay.agents, ids);
    assert_eq!(replay.frames.len() as u32, response.total_steps);
    assert_eq!(executor.leftover_processes(), vec![]);
}

#[tokio::test]
async fn pong_between_an_http_tarball_and_an_oci_image() {
    let files = FileServer::start();
    let tarball = Tar::new()
        .tree("pong-python", Path::new(&example_agent("pong-python")))
        .into_tar_gz();
    let code_url = files.put("agents/pong-python.tar.gz", &tarball);

    let registry = Registry::start();
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    let base = Tar::new()
        .dir("etc")
        .file("etc/hostname", b"agent\n", 0o644)
        .into_tar();
    let app = Tar::new()
        .tree("app", Path::new(&example_agent("random-python")))
        .into_tar();
    registry
        .pusher()
        .image("agents/random", Some("1"), arch, &[base, app]);
    let image = format!("{}/agents/random:1", registry.host());

    // The file server and the registry listen on loopback, which agent-init reaches only when allowed.
    let executor = Executor::start_with(
        tempfile::tempdir().expect("data dir"),
        &["--agent-source-allow-hosts", "127.0.0.1"],
        &[("AGENT_INIT_OCI_PLAIN_HTTP", &registry.host())],
    );
    let mut client = executor.client().await;
    let request = pong_request(
        "remote-http-oci-1",
        code_agent("tarball", &code_url),
        image_agent("image", &image),
    );
    let response = client
        .run_match(request)
        .await
        .expect("run match")
        .into_inner();
    assert_played(&executor, &response, ["tarball", "image"]);
}

#[tokio::test]
async fn pong_with_an_agent_from_an_s3_bucket() {
    let moto = Moto::start();
    moto.create_bucket("match-agents");
    let archive = zip_dir("", Path::new(&example_agent("pong-python")));
    let code_url = moto.put_object("match-agents", "teams/7/pong.zip", &archive);

    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let executor = Executor::start_with(tempfile::tempdir().expect("data dir"), &[], &env);
    let mut client = executor.client().await;
    let request = pong_request(
        "remote-s3-1",
        code_agent("bucket", &code_url),
        code_agent("local", &example_agent("random-python")),
    );
    let response = client
        .run_match(request)
        .await
        .expect("run match")
        .into_inner();
    assert_played(&executor, &response, ["bucket", "local"]);
}
