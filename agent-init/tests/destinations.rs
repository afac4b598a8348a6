//! `http://` sources reach only public addresses unless the operator allows a host with
//! `--allow-hosts`: loopback, private and metadata destinations are refused by IP literal, by a
//! name resolving to them and on every redirect hop, before anything is sent, with one message
//! whether or not something listens there; proxies from the environment are not used.

mod support;

use support::{Outcome, Reply, Scratch, TestServer, agent_files, agent_zip};

/// Runs agent-init on `url` with fast retries, the environment's proxies cleared, plus `extra`.
async fn fetch(scratch: &Scratch, url: &str, extra: &[&str]) -> Outcome {
    fetch_env(scratch, url, extra, &[]).await
}

async fn fetch_env(scratch: &Scratch, url: &str, extra: &[&str], env: &[(&str, &str)]) -> Outcome {
    let args = [&["--retries", "1", "--retry-backoff-ms", "1"], extra].concat();
    scratch.fetch(url, &args, env).await
}

/// Asserts a refusal of `host`: the artifact's fault, nothing installed.
#[track_caller]
fn assert_refused(out: &Outcome, host: &str) {
    out.assert_code(10)
        .assert_reason_contains(&format!("destination {host} is refused"))
        .assert_reason_contains("--allow-hosts");
}

#[tokio::test]
async fn loopback_private_and_metadata_literals_are_refused_before_connecting() {
    let server = TestServer::start(|_, _| Reply::Ok(agent_zip())).await;
    let port = server.addr.port();
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let cases = [
        (format!("http://127.0.0.1:{port}/a.zip"), "127.0.0.1"),
        (format!("http://127.1:{port}/a.zip"), "127.0.0.1"),
        (format!("http://2130706433:{port}/a.zip"), "127.0.0.1"),
        (format!("http://0x7f.0.0.1:{port}/a.zip"), "127.0.0.1"),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/a.zip"),
            "[::ffff:7f00:1]",
        ),
        (format!("http://[::1]:{port}/a.zip"), "[::1]"),
        (format!("http://0.0.0.0:{port}/a.zip"), "0.0.0.0"),
        (format!("http://[::]:{port}/a.zip"), "[::]"),
        ("http://10.0.0.1/a.zip".to_owned(), "10.0.0.1"),
        ("http://172.16.5.4/a.zip".to_owned(), "172.16.5.4"),
        ("http://192.168.1.1/a.zip".to_owned(), "192.168.1.1"),
        ("http://100.64.0.1/a.zip".to_owned(), "100.64.0.1"),
        (
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "169.254.169.254",
        ),
        ("http://[fd00:ec2::254]/a.zip".to_owned(), "[fd00:ec2::254]"),
        ("http://[fe80::1]/a.zip".to_owned(), "[fe80::1]"),
        ("http://255.255.255.255/a.zip".to_owned(), "255.255.255.255"),
        ("http://224.0.0.1/a.zip".to_owned(), "224.0.0.1"),
        (
            "http://metadata.google.internal/computeMetadata/v1/".to_owned(),
            "metadata.google.internal",
        ),
    ];
    for (url, host) in &cases {
        let out = fetch(&scratch, url, &[]).await;
        assert_refused(&out, host);
        scratch.assert_untouched(&before);
    }
    assert_eq!(
        server.hits(),
        0,
        "nothing was sent to a refused destination"
    );
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_unless_allowed_by_name() {
    let server = TestServer::start(|_, _| Reply::Ok(agent_zip())).await;
    let url = format!("http://localhost:{}/a.zip", server.addr.port());
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let out = fetch(&scratch, &url, &[]).await;
    assert_refused(&out, "localhost");
    scratch.assert_untouched(&before);
    assert_eq!(server.hits(), 0);

    fetch(&scratch, &url, &["--allow-hosts", "localhost"])
        .await
        .assert_code(0);
    assert_eq!(scratch.installed(), agent_files());
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn allowances_come_from_the_environment_too() {
    let server = TestServer::start(|_, _| Reply::Ok(agent_zip())).await;
    let scratch = Scratch::new();
    fetch_env(
        &scratch,
        &server.url("/a.zip"),
        &[],
        &[("AGENT_INIT_ALLOW_HOSTS", "artifacts.internal,127.0.0.0/8")],
    )
    .await
    .assert_code(0);
    assert_eq!(scratch.installed(), agent_files());
}

#[tokio::test]
async fn a_bad_allowance_is_a_usage_error() {
    let scratch = Scratch::new();
    fetch(
        &scratch,
        "http://example.test/a.zip",
        &["--allow-hosts", "10.0.0.0/33"],
    )
    .await
    .assert_code(2);
}

#[tokio::test]
async fn a_redirect_to_an_address_not_allowed_is_refused() {
    let target = TestServer::start_at("127.0.0.2", |_, _| Reply::Ok(agent_zip())).await;
    let location = format!("http://{}/a.zip", target.addr);
    let first = TestServer::start(move |_, _| Reply::Redirect(location.clone())).await;
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let out = fetch(
        &scratch,
        &first.url("/a.zip"),
        &["--allow-hosts", "127.0.0.1"],
    )
    .await;
    assert_refused(&out, "127.0.0.2");
    scratch.assert_untouched(&before);
    assert_eq!(first.hits(), 1, "a refusal is not retried");
    assert_eq!(target.hits(), 0, "the redirect was not followed");

    fetch(
        &scratch,
        &first.url("/a.zip"),
        &["--allow-hosts", "127.0.0.1,127.0.0.2"],
    )
    .await
    .assert_code(0);
    assert_eq!(scratch.installed(), agent_files());
    assert_eq!(target.hits(), 1);
}

#[tokio::test]
async fn a_name_allowance_does_not_extend_to_a_literal_a_redirect_names() {
    let target = TestServer::start(|_, _| Reply::Ok(agent_zip())).await;
    let location = target.url("/a.zip");
    let first = TestServer::start(move |_, _| Reply::Redirect(location.clone())).await;
    let url = format!("http://localhost:{}/a.zip", first.addr.port());
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let out = fetch(&scratch, &url, &["--allow-hosts", "localhost"]).await;
    assert_refused(&out, "127.0.0.1");
    scratch.assert_untouched(&before);
    assert_eq!(first.hits(), 1);
    assert_eq!(target.hits(), 0);
}

#[tokio::test]
async fn a_redirect_to_a_name_resolving_to_loopback_is_refused() {
    let target = TestServer::start(|_, _| Reply::Ok(agent_zip())).await;
    let location = format!("http://localhost:{}/a.zip", target.addr.port());
    let first =
        TestServer::start_at("127.0.0.2", move |_, _| Reply::Redirect(location.clone())).await;
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let out = fetch(
        &scratch,
        &first.url("/a.zip"),
        &["--allow-hosts", "127.0.0.2"],
    )
    .await;
    assert_refused(&out, "localhost");
    scratch.assert_untouched(&before);
    assert_eq!(first.hits(), 1);
    assert_eq!(target.hits(), 0);
}

#[tokio::test]
async fn refusals_read_the_same_whether_or_not_a_port_is_open() {
    let open = TestServer::start(|_, _| Reply::Status(404)).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let scratch = Scratch::new();
    let open_out = fetch(&scratch, &open.url("/a.zip"), &[]).await;
    let closed_out = fetch(&scratch, &format!("http://127.0.0.1:{closed}/a.zip"), &[]).await;
    assert_refused(&open_out, "127.0.0.1");
    assert_eq!(open_out.code, closed_out.code);
    assert_eq!(open_out.reason(), closed_out.reason());
    assert_eq!(open.hits(), 0);

    // The same through a redirect from an allowed server.
    let to_open = open.url("/a.zip");
    let to_closed = format!("http://127.0.0.1:{closed}/a.zip");
    let first = TestServer::start_at("127.0.0.2", move |_, path| {
        Reply::Redirect(if path == "/open" {
            to_open.clone()
        } else {
            to_closed.clone()
        })
    })
    .await;
    let allow = ["--allow-hosts", "127.0.0.2"];
    let via_open = fetch(&scratch, &first.url("/open"), &allow).await;
    let via_closed = fetch(&scratch, &first.url("/closed"), &allow).await;
    assert_refused(&via_open, "127.0.0.1");
    assert_eq!(via_open.code, via_closed.code);
    assert_eq!(via_open.reason(), via_closed.reason());
    assert_eq!(open.hits(), 0);
}

#[tokio::test]
async fn proxies_from_the_environment_are_not_used() {
    let proxy = TestServer::start(|_, _| Reply::Ok(agent_zip())).await;
    let server = TestServer::start(|_, _| Reply::Ok(agent_zip())).await;
    let proxy_url = proxy.url("");
    let env = [
        ("HTTP_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
        ("NO_PROXY", ""),
    ];
    let scratch = Scratch::new();
    let refused = fetch_env(
        &scratch,
        &format!("http://localhost:{}/a.zip", server.addr.port()),
        &[],
        &env,
    )
    .await;
    assert_refused(&refused, "localhost");

    fetch_env(
        &scratch,
        &server.url("/a.zip"),
        &["--allow-hosts", "127.0.0.1"],
        &env,
    )
    .await
    .assert_code(0);
    assert_eq!(server.hits(), 1, "the download went straight to the server");
    assert_eq!(proxy.hits(), 0, "the environment's proxy was never asked");
}

#[tokio::test]
async fn an_error_status_never_quotes_the_body() {
    let server = TestServer::start(|_, _| Reply::Custom {
        status: 500,
        headers: vec![],
        body: b"secret-metrics-line 42".to_vec(),
    })
    .await;
    let scratch = Scratch::new();
    let result = scratch.root().join("result");
    let out = fetch(
        &scratch,
        &server.url("/metrics.zip"),
        &[
            "--allow-hosts",
            "127.0.0.1",
            "--result-file",
            result.to_str().unwrap(),
        ],
    )
    .await;
    out.assert_code(11)
        .assert_reason_contains("HTTP status 500");
    let written = std::fs::read_to_string(&result).unwrap();
    assert!(!out.stderr.contains("secret-metrics"), "{}", out.stderr);
    assert!(!written.contains("secret-metrics"), "{written}");
}

#[tokio::test]
async fn long_urls_are_cut_in_messages() {
    let server = TestServer::start(|_, _| Reply::Status(404)).await;
    let long = "x".repeat(5000);
    let scratch = Scratch::new();
    let out = fetch(
        &scratch,
        &server.url(&format!("/{long}.zip")),
        &["--allow-hosts", "127.0.0.1"],
    )
    .await;
    out.assert_code(11)
        .assert_reason_contains("HTTP status 404");
    assert!(
        out.reason().len() < 600,
        "the reason quotes too much: {} bytes",
        out.reason().len()
    );
}
