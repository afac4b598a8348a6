//! `http://` sources against a scripted server on loopback: success, error statuses, retries on
//! transient failures only, redirects, truncated and stalled bodies, and credentials kept quiet.

mod support;

use support::{Outcome, Reply, Scratch, TestServer, agent_files, agent_zip, sha256_hex};

/// Runs agent-init against `url` with fast retries, loopback allowed (`--allow-hosts
/// 127.0.0.1`, where the test servers listen), plus `extra` flags.
async fn fetch(scratch: &Scratch, url: &str, extra: &[&str]) -> Outcome {
    let args = [
        &["--allow-hosts", "127.0.0.1", "--retry-backoff-ms", "1"],
        extra,
    ]
    .concat();
    scratch.fetch(url, &args, &[]).await
}

#[tokio::test]
async fn a_zip_is_downloaded_and_installed() {
    let server = TestServer::start(|_, _| Reply::Ok(agent_zip())).await;
    let scratch = Scratch::new();
    fetch(&scratch, &server.url("/agents/a1.zip"), &[])
        .await
        .assert_code(0);
    assert_eq!(scratch.installed(), agent_files());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_single_python_file_is_installed_as_agent_py() {
    let server = TestServer::start(|_, _| Reply::Ok(b"def act(o):\n    return 0\n".to_vec())).await;
    let scratch = Scratch::new();
    fetch(&scratch, &server.url("/bots/mybot.py"), &[])
        .await
        .assert_code(0);
    assert_eq!(
        std::fs::read(scratch.dest().join("agent.py")).unwrap(),
        b"def act(o):\n    return 0\n"
    );
}

#[tokio::test]
async fn not_found_fails_at_once_naming_status_and_url() {
    let server = TestServer::start(|_, _| Reply::Status(404)).await;
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let url = server.url("/missing.zip");
    fetch(&scratch, &url, &[])
        .await
        .assert_code(11)
        .assert_reason_contains("HTTP status 404")
        .assert_reason_contains(&url);
    assert_eq!(server.hits(), 1, "a 404 must not be retried");
    scratch.assert_untouched(&before);
}

#[tokio::test]
async fn a_server_error_then_success_is_retried() {
    let server = TestServer::start(|n, _| {
        if n == 0 {
            Reply::Status(500)
        } else {
            Reply::Ok(agent_zip())
        }
    })
    .await;
    let scratch = Scratch::new();
    fetch(&scratch, &server.url("/a.zip"), &[])
        .await
        .assert_code(0);
    assert_eq!(server.hits(), 2);
    assert_eq!(scratch.installed(), agent_files());
}

#[tokio::test]
async fn persistent_server_errors_fail_after_the_retries() {
    let server = TestServer::start(|_, _| Reply::Status(503)).await;
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    fetch(&scratch, &server.url("/a.zip"), &["--retries", "2"])
        .await
        .assert_code(11)
        .assert_reason_contains("HTTP status 503");
    assert_eq!(server.hits(), 3);
    scratch.assert_untouched(&before);
}

#[tokio::test]
async fn a_redirect_is_followed() {
    let server = TestServer::start(|_, path| {
        if path == "/old.zip" {
            Reply::Redirect("/new.zip".to_owned())
        } else {
            Reply::Ok(agent_zip())
        }
    })
    .await;
    let scratch = Scratch::new();
    fetch(&scratch, &server.url("/old.zip"), &[])
        .await
        .assert_code(0);
    assert_eq!(scratch.installed(), agent_files());
}

#[tokio::test]
async fn a_redirect_loop_is_bounded() {
    let server = TestServer::start(|_, path| {
        let next = if path == "/a" { "/b" } else { "/a" };
        Reply::Redirect(next.to_owned())
    })
    .await;
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    fetch(&scratch, &server.url("/a"), &["--max-redirects", "3"])
        .await
        .assert_code(11)
        .assert_reason_contains("too many redirects");
    assert_eq!(server.hits(), 4, "the first request and three redirects");
    scratch.assert_untouched(&before);
}

#[tokio::test]
async fn a_body_cut_short_is_retried() {
    let zip = agent_zip();
    let server = TestServer::start(move |n, _| {
        if n == 0 {
            Reply::Truncated {
                declared: zip.len(),
                body: zip[..10].to_vec(),
            }
        } else {
            Reply::Ok(zip.clone())
        }
    })
    .await;
    let scratch = Scratch::new();
    fetch(&scratch, &server.url("/a.zip"), &[])
        .await
        .assert_code(0);
    assert_eq!(server.hits(), 2);
    assert_eq!(scratch.installed(), agent_files());
}

#[tokio::test]
async fn a_wrong_content_length_every_time_is_unreadable() {
    let server = TestServer::start(|_, _| Reply::Truncated {
        declared: 5000,
        body: vec![b'x'; 100],
    })
    .await;
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    fetch(&scratch, &server.url("/a.zip"), &["--retries", "1"])
        .await
        .assert_code(11)
        .assert_reason_contains("reading the body after 100 bytes");
    assert_eq!(server.hits(), 2);
    scratch.assert_untouched(&before);
}

#[tokio::test]
async fn a_stalled_body_times_out_and_is_retried() {
    let zip = agent_zip();
    let server = TestServer::start(move |n, _| {
        if n == 0 {
            Reply::Stall {
                declared: zip.len(),
                body: zip[..20].to_vec(),
            }
        } else {
            Reply::Ok(zip.clone())
        }
    })
    .await;
    let scratch = Scratch::new();
    fetch(
        &scratch,
        &server.url("/a.zip"),
        &["--read-timeout-secs", "1"],
    )
    .await
    .assert_code(0);
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_stalled_body_without_retries_is_unreachable() {
    let server = TestServer::start(|_, _| Reply::Stall {
        declared: 1000,
        body: vec![0; 10],
    })
    .await;
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    fetch(
        &scratch,
        &server.url("/a.zip"),
        &["--read-timeout-secs", "1", "--retries", "0"],
    )
    .await
    .assert_code(11)
    .assert_reason_contains("timed out");
    scratch.assert_untouched(&before);
}

#[tokio::test]
async fn a_refused_connection_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let scratch = Scratch::new();
    fetch(
        &scratch,
        &format!("http://{addr}/a.zip"),
        &["--retries", "1"],
    )
    .await
    .assert_code(11)
    .assert_reason_contains("cannot connect");
}

#[tokio::test]
async fn credentials_are_sent_but_never_shown() {
    let server = TestServer::start(|_, _| Reply::Status(403)).await;
    let scratch = Scratch::new();
    let url = format!("http://bot:hunter2@{}/a.zip?token=s3cret", server.addr);
    let result = scratch.root().join("result");
    let out = fetch(&scratch, &url, &["--result-file", result.to_str().unwrap()]).await;
    out.assert_code(11)
        .assert_reason_contains("HTTP status 403");
    assert_eq!(server.hits(), 1, "a 403 must not be retried");
    let request = server.requests().remove(0).to_ascii_lowercase();
    assert!(request.contains("authorization: basic"), "{request}");
    let written = std::fs::read_to_string(&result).unwrap();
    for secret in ["hunter2", "s3cret"] {
        assert!(
            !out.stderr.contains(secret),
            "stderr leaks {secret}: {}",
            out.stderr
        );
        assert!(
            !written.contains(secret),
            "result file leaks {secret}: {written}"
        );
    }
}

#[tokio::test]
async fn a_declared_size_above_the_limit_is_refused() {
    let server = TestServer::start(|_, _| Reply::Ok(vec![b'#'; 8192])).await;
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    fetch(
        &scratch,
        &server.url("/big.py"),
        &["--max-download-bytes", "4096"],
    )
    .await
    .assert_code(10)
    .assert_reason_contains("download size");
    scratch.assert_untouched(&before);
}

#[tokio::test]
async fn the_digest_of_a_download_is_checked() {
    let server = TestServer::start(|_, _| Reply::Ok(agent_zip())).await;
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let wrong = sha256_hex(b"other");
    fetch(&scratch, &server.url("/a.zip"), &["--sha256", &wrong])
        .await
        .assert_code(10)
        .assert_reason_contains("sha256 mismatch");
    scratch.assert_untouched(&before);

    let right = sha256_hex(&agent_zip());
    fetch(&scratch, &server.url("/a.zip"), &["--sha256", &right])
        .await
        .assert_code(0);
    assert_eq!(scratch.installed(), agent_files());
}
