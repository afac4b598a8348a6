//! `s3://` sources against a real S3-compatible server: moto, started once for this test binary on
//! a free loopback port, with objects uploaded by boto3 and fetched by the real `agent-init`.

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use support::{Outcome, Scratch};
use testkit::{Moto, Tar, sha256_hex, zip_dir};

/// One moto server for the whole binary; it dies with the binary.
fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(Moto::start)
}

fn pong_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/agents/pong-python")
}

/// Runs agent-init on `source` with moto's endpoint and credentials in its environment.
async fn fetch(scratch: &Scratch, source: &str, extra: &[&str]) -> Outcome {
    let args = [&["--retries", "1", "--retry-backoff-ms", "1"], extra].concat();
    let env = moto().env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    scratch.fetch(source, &args, &env).await
}

/// The installed agent is byte for byte the example it was packed from.
#[track_caller]
fn assert_installed_pong(scratch: &Scratch) {
    assert_eq!(
        scratch.installed().into_iter().collect::<Vec<_>>(),
        ["agent.py"]
    );
    assert_eq!(
        std::fs::read(scratch.dest().join("agent.py")).expect("installed agent.py"),
        std::fs::read(pong_python().join("agent.py")).expect("example agent.py"),
    );
}

#[tokio::test]
async fn a_tar_gz_agent_installs_from_a_bucket() {
    let moto = moto();
    moto.create_bucket("tgz-agents");
    let archive = Tar::new().tree("pong-python", &pong_python()).into_tar_gz();
    let source = moto.put_object("tgz-agents", "team-1/pong.tar.gz", &archive);
    let scratch = Scratch::new();
    fetch(&scratch, &source, &[]).await.assert_code(0);
    assert_installed_pong(&scratch);
}

#[tokio::test]
async fn a_zip_agent_installs_from_a_bucket() {
    let moto = moto();
    moto.create_bucket("zip-agents");
    let source = moto.put_object(
        "zip-agents",
        "team-2/pong.zip",
        &zip_dir("", &pong_python()),
    );
    let scratch = Scratch::new();
    fetch(&scratch, &source, &[]).await.assert_code(0);
    assert_installed_pong(&scratch);
}

#[tokio::test]
async fn a_missing_key_or_bucket_is_the_source_fault() {
    let moto = moto();
    moto.create_bucket("sparse-agents");
    for source in [
        "s3://sparse-agents/team-3/absent.zip",
        "s3://no-such-bucket/team-3/agent.zip",
    ] {
        let scratch = Scratch::new();
        let before = scratch.snapshot();
        fetch(&scratch, source, &[])
            .await
            .assert_code(11)
            .assert_reason_contains(source);
        scratch.assert_untouched(&before);
    }
}

#[tokio::test]
async fn the_digest_of_a_bucket_object_is_checked() {
    let moto = moto();
    moto.create_bucket("pinned-agents");
    let archive = Tar::new().tree("", &pong_python()).into_tar_gz();
    let source = moto.put_object("pinned-agents", "team-4/pong.tgz", &archive);
    let digest = sha256_hex(&archive);

    let wrong = sha256_hex(b"another agent");
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    fetch(&scratch, &source, &["--sha256", &wrong])
        .await
        .assert_code(10)
        .assert_reason_contains(&format!("expected {wrong}, got {digest}"));
    scratch.assert_untouched(&before);

    let scratch = Scratch::new();
    fetch(
        &scratch,
        &source,
        &["--sha256", &format!("sha256:{digest}")],
    )
    .await
    .assert_code(0);
    assert_installed_pong(&scratch);
}
