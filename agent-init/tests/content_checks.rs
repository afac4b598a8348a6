//! A download is installed only if it is what its name claims: a `.py` file must be Python source
//! text, a file named like an archive must be one (an HTML error page served with 200 is
//! neither), and no refusal quotes the body.

mod support;

use support::{Outcome, Reply, Scratch, TarItem, TestServer, gzip, tar};

/// A marker that must never reach a message.
const SECRET: &str = "internal-secret-7f3a";

fn html_page() -> Vec<u8> {
    format!("<!DOCTYPE html>\n<html><body><h1>Service</h1><p>{SECRET}</p></body></html>\n")
        .into_bytes()
}

/// Serves `body` with 200 at every path and fetches `path` with loopback allowed.
async fn serve_and_fetch(scratch: &Scratch, path: &str, body: Vec<u8>) -> Outcome {
    let server = TestServer::start(move |_, _| Reply::Ok(body.clone())).await;
    let url = server.url(path);
    scratch
        .fetch(&url, &["--allow-hosts", "127.0.0.1", "--retries", "0"], &[])
        .await
}

#[track_caller]
fn assert_refused_quietly(out: &Outcome, reason: &str) {
    out.assert_code(10).assert_reason_contains(reason);
    assert!(
        !out.stderr.contains(SECRET),
        "the body leaked into stderr: {}",
        out.stderr
    );
}

#[tokio::test]
async fn an_html_page_is_not_python_source() {
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let out = serve_and_fetch(&scratch, "/bots/agent.py", html_page()).await;
    assert_refused_quietly(&out, "looks like an HTML or XML page");
    scratch.assert_untouched(&before);

    let indented = format!("\u{feff}\n   <html>{SECRET}</html>").into_bytes();
    let out = serve_and_fetch(&scratch, "/bots/agent.py", indented).await;
    assert_refused_quietly(&out, "looks like an HTML or XML page");
    scratch.assert_untouched(&before);
}

#[tokio::test]
async fn a_py_file_with_nul_bytes_or_invalid_utf8_is_refused() {
    let scratch = Scratch::new();
    let before = scratch.snapshot();
    let mut with_nul = format!("x = '{SECRET}'\n").into_bytes();
    with_nul.extend_from_slice(b"\0\0\0binary");
    let out = serve_and_fetch(&scratch, "/agent.py", with_nul).await;
    assert_refused_quietly(&out, "NUL bytes");
    scratch.assert_untouched(&before);

    let mut latin1 = format!("# {SECRET}\n").into_bytes();
    latin1.extend_from_slice(b"name = '\xe9t\xe9'\n");
    let out = serve_and_fetch(&scratch, "/agent.py", latin1).await;
    assert_refused_quietly(&out, "not UTF-8");
    scratch.assert_untouched(&before);

    let mut cut = b"s = '".to_vec();
    cut.extend_from_slice(&"\u{20ac}".as_bytes()[..2]);
    let out = serve_and_fetch(&scratch, "/agent.py", cut).await;
    assert_refused_quietly(&out, "not UTF-8");
    scratch.assert_untouched(&before);
}

#[tokio::test]
async fn python_source_text_is_installed() {
    let scratch = Scratch::new();
    // Multi-byte characters across the reader's 64 KiB chunks, and a BOM.
    let mut source = "\u{feff}# coding: utf-8\n".to_owned();
    while source.len() < 200_000 {
        source.push_str("greeting = 'héllo wörld €'\n");
    }
    let out = serve_and_fetch(&scratch, "/agent.py", source.clone().into_bytes()).await;
    out.assert_code(0);
    assert_eq!(
        std::fs::read_to_string(scratch.dest().join("agent.py")).unwrap(),
        source
    );
}

#[tokio::test]
async fn an_html_page_named_like_an_archive_is_refused() {
    for name in ["/a.zip", "/a.tar.gz", "/a.tgz", "/a.tar.zst", "/a.tar"] {
        let scratch = Scratch::new();
        let before = scratch.snapshot();
        let out = serve_and_fetch(&scratch, name, html_page()).await;
        assert_refused_quietly(&out, "its content is not one");
        scratch.assert_untouched(&before);
    }
}

#[tokio::test]
async fn a_tar_without_magic_needs_a_valid_header_checksum() {
    // A pre-POSIX header: the tar magic cleared, the checksum recomputed.
    let mut v7 = tar(&[TarItem::File("agent.py", b"pass\n", 0o644)]);
    v7[257..265].fill(0);
    let sum: u32 = v7[..512]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    v7[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let scratch = Scratch::new();
    serve_and_fetch(&scratch, "/old.tar", v7.clone())
        .await
        .assert_code(0);
    assert_eq!(
        std::fs::read(scratch.dest().join("agent.py")).unwrap(),
        b"pass\n"
    );

    let mut broken = v7;
    broken[0] ^= 1;
    let scratch = Scratch::new();
    let out = serve_and_fetch(&scratch, "/old.tar", broken).await;
    assert_refused_quietly(&out, "its content is not one");
}

#[tokio::test]
async fn archives_are_still_detected_by_content_whatever_their_name() {
    let archive = gzip(&tar(&[TarItem::File("agent.py", b"pass\n", 0o644)]));
    let scratch = Scratch::new();
    serve_and_fetch(&scratch, "/download", archive)
        .await
        .assert_code(0);
    assert!(scratch.dest().join("agent.py").is_file());
}

#[test]
fn a_local_py_file_must_be_text_too() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("bot.py", b"print('x')\0\0");
    let before = scratch.snapshot();
    scratch
        .install(&artifact, &[])
        .assert_code(10)
        .assert_reason_contains("NUL bytes");
    scratch.assert_untouched(&before);
}
