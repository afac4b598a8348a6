//! Replays are whole or said to be missing: a long episode whose replay is larger than what a report stream
//! may carry (lowered here with the test-only setting) keeps its complete replay, the orchestrator's own file,
//! with the digest of exactly the stored bytes; a request whose replay could not fit is refused when it
//! arrives, naming the limit; the executor streams replays to their readers instead of holding them in memory.

mod support;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use proto::pb;
use support::{Executor, agent, peak_memory, reset_peak_memory, rps_request, stored_replay};
use tonic::Code;

#[tokio::test]
async fn a_replay_larger_than_a_report_stream_may_carry_is_kept_whole() {
    let executor = Executor::start(&["--test-report-replay-cap-bytes", "65536"]);
    let result = executor.run_match(rps_request("long-rps", 20_000)).await;
    assert_eq!(
        result.status(),
        pb::MatchStatus::StatusSuccess,
        "{result:?}"
    );
    assert_eq!(result.error_message, "");
    assert_eq!(result.replay_error, "");
    assert_eq!(result.total_steps, 19_999);
    let (json, replay) = stored_replay(&result);
    assert!(json.len() > 50 * 65536, "{} bytes", json.len());
    assert_eq!(replay.frames.len(), 19_999);
    let path = result.replay_url.strip_prefix("file://").unwrap();
    let orchestrator = Path::new(env!("CARGO_BIN_EXE_executor")).with_file_name("orchestrator");
    let verified = Command::new(orchestrator)
        .arg("verify")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let html = std::fs::read_to_string(
        result
            .replay_html_url
            .strip_prefix("file://")
            .expect("viewer stored"),
    )
    .unwrap();
    assert!(html.contains("\"match_id\":\"long-rps\""));
    assert!(html.trim_end().ends_with("</html>"), "the viewer is whole");
}

#[tokio::test]
async fn a_request_whose_replay_cannot_fit_is_refused_naming_the_limit() {
    let executor = Executor::start(&["--max-replay-bytes", "1000000"]);
    let mut client = executor.client().await;
    let status = client
        .run_match(rps_request("too-long", 20_000))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("record_replay: the replay of up to 19999 steps of rps could take"),
        "{}",
        status.message()
    );
    assert!(
        status
            .message()
            .contains("over this executor's replay limit of 1000000 bytes (max-replay-bytes)"),
        "{}",
        status.message()
    );
    // The same match without a replay is taken.
    let mut without = rps_request("too-long", 2_000);
    without.record_replay = false;
    let result = client.run_match(without).await.unwrap().into_inner();
    assert_eq!(
        result.status(),
        pb::MatchStatus::StatusSuccess,
        "{result:?}"
    );
    assert_eq!(result.replay_url, "");
    assert_eq!(result.replay_error, "");
    // With the default limit, the longest rps episode with a replay is refused.
    let executor = Executor::start(&[]);
    let status = executor
        .client()
        .await
        .run_match(rps_request("longest", 1_000_000))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("replay limit of 268435456 bytes"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn a_match_that_never_played_says_why_it_has_no_replay() {
    let executor = Executor::start(&[]);
    let junk = executor.uploads.path().join("junk.zip");
    std::fs::write(&junk, b"this is not an archive").unwrap();
    let mut request = rps_request("no-replay", 100);
    request.agents[1] = agent("junk", junk.to_str().unwrap());
    let result = executor.run_match(request).await;
    assert_eq!(result.status(), pb::MatchStatus::StatusError, "{result:?}");
    assert_eq!(result.replay_url, "");
    assert_eq!(result.replay_error, "the match ended before it was played");
}

#[tokio::test]
async fn replays_are_streamed_to_their_readers() {
    let executor = Executor::start(&[]);
    // A 64 MiB viewer in the file store, as the executor keeps them.
    const SIZE: usize = 64 * 1024 * 1024;
    let replays = executor.data_dir.path().join("replays");
    std::fs::create_dir_all(&replays).unwrap();
    let mut file = std::fs::File::create(replays.join("big-1.html")).unwrap();
    let block = vec![b'x'; 1024 * 1024];
    for _ in 0..SIZE / block.len() {
        file.write_all(&block).unwrap();
    }
    drop(file);

    reset_peak_memory(executor.pid());
    let host = executor.http.trim_start_matches("http://").to_string();
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let host = host.clone();
            std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(&host).unwrap();
                write!(
                    stream,
                    "GET /replays/big-1.html HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                )
                .unwrap();
                let mut received = 0usize;
                let mut head = Vec::new();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = stream.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    if head.len() < 4096 {
                        head.extend_from_slice(&buf[..n.min(4096)]);
                    }
                    received += n;
                }
                (String::from_utf8_lossy(&head).to_string(), received)
            })
        })
        .collect();
    for reader in readers {
        let (head, received) = reader.join().unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head:.200}");
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("content-length: {SIZE}")),
            "{head:.300}"
        );
        assert!(received > SIZE, "{received} bytes");
    }
    let peak = peak_memory(executor.pid());
    assert!(
        peak < SIZE as u64,
        "the executor's resident memory peaked at {peak} bytes serving eight readers a {SIZE}-byte replay"
    );
}
