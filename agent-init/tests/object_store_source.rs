//! `s3://` sources against an S3-compatible endpoint on loopback (configured the way MinIO is:
//! `AWS_ENDPOINT` plus `AWS_ALLOW_HTTP`), with credentials from the environment.

mod support;

use support::{Outcome, Reply, Scratch, TestServer, agent_files, agent_zip};

const SECRET: &str = "minio-secret-key-123";

async fn fetch(scratch: &Scratch, server: &TestServer, source: &str) -> Outcome {
    let endpoint = server.url("");
    scratch
        .fetch(
            source,
            &["--retries", "1", "--retry-backoff-ms", "1"],
            &[
                ("AWS_ENDPOINT", &endpoint),
                ("AWS_ALLOW_HTTP", "true"),
                ("AWS_ACCESS_KEY_ID", "minio"),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
                ("AWS_REGION", "us-east-1"),
            ],
        )
        .await
}

#[tokio::test]
async fn an_s3_object_is_downloaded_with_signed_requests() {
    let server = TestServer::start(|_, path| {
        if path == "/agents-bucket/team-7/agent.zip" {
            Reply::Object(agent_zip())
        } else {
            Reply::Status(404)
        }
    })
    .await;
    let scratch = Scratch::new();
    let out = fetch(&scratch, &server, "s3://agents-bucket/team-7/agent.zip").await;
    out.assert_code(0);
    assert_eq!(scratch.installed(), agent_files());
    let request = server.requests().remove(0).to_ascii_lowercase();
    assert!(
        request.contains("authorization: aws4-hmac-sha256"),
        "{request}"
    );
    assert!(
        !request.contains(SECRET),
        "the secret key itself is never sent"
    );
}

#[tokio::test]
async fn a_missing_object_is_unreachable() {
    let server = TestServer::start(|_, _| Reply::Status(404)).await;
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let out = fetch(&scratch, &server, "s3://agents-bucket/nope.zip").await;
    out.assert_code(11)
        .assert_reason_contains("s3://agents-bucket/nope.zip")
        .assert_reason_contains("does not exist");
    assert!(!out.stderr.contains(SECRET));
    scratch.assert_untouched(&before);
}

#[tokio::test]
async fn a_server_error_then_success_is_retried() {
    let server = TestServer::start(|n, _| {
        if n == 0 {
            Reply::Status(503)
        } else {
            Reply::Object(agent_zip())
        }
    })
    .await;
    let scratch = Scratch::new();
    fetch(&scratch, &server, "s3://agents-bucket/agent.zip")
        .await
        .assert_code(0);
    assert_eq!(server.hits(), 2);
    assert_eq!(scratch.installed(), agent_files());
}
