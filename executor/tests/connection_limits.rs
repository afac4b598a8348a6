//! Connections that hostile or careless clients hold open cannot take the executor's file descriptors or
//! starve health checks: thousands of idle sockets against an executor with few open files, handshakes and
//! requests that never complete, idle keep-alive connections (HTTP and gRPC), and a cap full of busy
//! connections on either listener where health checks still answer.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use proto::pb::{self, match_update::Update};
use support::{Executor, cancel, health_check, long_pong};
use tokio_stream::StreamExt;
use tonic::Code;

/// Lets this test process open as many sockets as its hard limit allows.
fn raise_open_files() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    hard
}

/// `count` connections to `addr` that never send a byte.
fn idle_sockets(addr: &str, count: usize) -> Vec<TcpStream> {
    let addr = addr.trim_start_matches("http://");
    (0..count)
        .map(|i| TcpStream::connect(addr).unwrap_or_else(|e| panic!("socket {i}: {e}")))
        .collect()
}

/// Reads until the executor closes the connection; fails the test when it stays open for `within`.
#[track_caller]
fn assert_closed_by_the_executor(socket: &mut TcpStream, within: Duration) {
    socket.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match socket.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("the connection is still open: {e}"),
        }
    }
}

/// Files the process has open.
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[tokio::test]
async fn thousands_of_idle_sockets_take_neither_every_file_nor_health() {
    assert!(raise_open_files() >= 6000, "the test needs 6000 open files");
    // 1024 open files: the caps are lowered to fit (537 gRPC, 134 HTTP connections).
    let executor = Executor::start_with_open_files(1024, &[]);
    let log = executor.log.lock().unwrap().clone();
    assert!(
        log.contains("\"max_grpc_connections\":537")
            && log.contains("\"max_http_connections\":134"),
        "{log}"
    );
    let _grpc_idle = idle_sockets(&executor.addr, 3000);
    let _http_idle = idle_sockets(&executor.http, 2000);

    // Health answers on both listeners, and so does the rest of the API.
    let mut client = executor.client().await;
    assert!(health_check(&mut client).await.healthy);
    let channel = tonic::transport::Channel::from_shared(executor.addr.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut standard = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = standard
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serving.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    let (status, body) = executor.http_get("/healthz");
    assert_eq!((status, body.as_slice()), (200, &b"ok\n"[..]));
    assert!(
        client
            .list_environments(pb::ListEnvironmentsRequest {})
            .await
            .is_ok()
    );

    // The executor stayed within its file limit: idle sockets made room for new ones instead.
    assert!(executor.metric(r#"rl_arena_executor_connections{listener="grpc"}"#) <= 537.0 + 16.0);
    assert!(executor.metric(r#"rl_arena_executor_connections{listener="http"}"#) <= 134.0 + 16.0);
    assert!(
        executor.metric(
            r#"rl_arena_executor_connections_closed_total{listener="grpc",reason="evicted"}"#
        ) >= 2000.0
    );
    assert!(open_files(executor.pid()) < 1024);
    let log = executor.log.lock().unwrap().clone();
    assert!(!log.contains("accepting a connection failed"), "{log}");
}

#[tokio::test]
async fn connections_that_never_complete_a_request_are_closed() {
    let executor = Executor::start(&["--connection-first-request-timeout-ms", "300"]);
    let mut silent = idle_sockets(&executor.addr, 100);
    silent.extend(idle_sockets(&executor.http, 100));
    // A request trickled and never finished, on each listener.
    let http = executor.http.trim_start_matches("http://");
    let mut slow_http = TcpStream::connect(http).unwrap();
    slow_http.write_all(b"GET /heal").unwrap();
    let grpc = executor.addr.trim_start_matches("http://");
    let mut slow_grpc = TcpStream::connect(grpc).unwrap();
    slow_grpc
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .unwrap();
    for socket in silent.iter_mut().chain([&mut slow_http, &mut slow_grpc]) {
        assert_closed_by_the_executor(socket, Duration::from_secs(30));
    }
    for listener in ["grpc", "http"] {
        let closed = executor.metric(&format!(
            r#"rl_arena_executor_connections_closed_total{{listener="{listener}",reason="first_request_timeout"}}"#
        ));
        assert!(closed >= 101.0, "{listener}: {closed}");
    }
}

#[tokio::test]
async fn idle_connections_are_closed_but_long_requests_keep_theirs() {
    let executor = Executor::start(&["--connection-idle-timeout-ms", "300"]);
    // A keep-alive connection that made one request and then sat idle.
    let http = executor.http.trim_start_matches("http://");
    let mut kept_alive = TcpStream::connect(http).unwrap();
    write!(kept_alive, "GET /healthz HTTP/1.1\r\nHost: {http}\r\n\r\n").unwrap();
    let mut response = [0u8; 1024];
    let n = kept_alive.read(&mut response).unwrap();
    assert!(response[..n].starts_with(b"HTTP/1.1 200"));
    assert_closed_by_the_executor(&mut kept_alive, Duration::from_secs(30));

    // A match far longer than the idle timeout, answered on the connection that asked for it.
    let request = pb::MatchRequest {
        environment_config_json: r#"{"max_steps": 40, "winning_score": 1000}"#.into(),
        ..long_pong("idle-long")
    };
    let result = executor.run_match(request).await;
    assert_eq!(
        result.status(),
        pb::MatchStatus::StatusSuccess,
        "{result:?}"
    );
    assert_eq!(result.total_steps, 40);
    assert!(
        executor.metric(
            r#"rl_arena_executor_connections_closed_total{listener="http",reason="idle_timeout"}"#
        ) >= 1.0
    );
}

#[tokio::test]
async fn at_a_cap_of_busy_connections_health_checks_still_answer() {
    // Three: the orchestrator's report stream and two watches.
    let executor = Executor::start(&["--max-grpc-connections", "3"]);
    let request = long_pong("busy-cap");
    // Two client connections, each with a watch in flight for the whole match.
    let mut first = executor.client().await;
    first.submit_match(request).await.unwrap();
    let mut second = executor.client().await;
    let mut watches = Vec::new();
    for client in [&mut first, &mut second] {
        let mut watch = client
            .watch_match(pb::WatchMatchRequest {
                match_id: "busy-cap".into(),
            })
            .await
            .unwrap()
            .into_inner();
        // Wait until the watch is served: the request is in flight.
        let update = watch.next().await.unwrap().unwrap();
        assert!(matches!(update.update, Some(Update::Snapshot(_))));
        watches.push(watch);
    }
    // Frames arrive: the orchestrator's report stream holds the third connection.
    loop {
        match watches[0].next().await.unwrap().unwrap().update {
            Some(Update::Frame(_)) => break,
            Some(Update::Finished(r)) => panic!("finished early: {r:?}"),
            _ => {}
        }
    }

    // A third connection joins the health reserve: health answers, other calls are told to come back.
    let mut third = executor.client().await;
    let health = health_check(&mut third).await;
    assert!(health.healthy);
    assert_eq!(health.active_matches, 1);
    let refused = third
        .get_match(pb::GetMatchRequest {
            match_id: "busy-cap".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("connection limit"),
        "{}",
        refused.message()
    );

    // The watches go on.
    for watch in &mut watches {
        assert!(watch.next().await.unwrap().is_ok());
    }
    let info = cancel(&mut first, "busy-cap").await;
    assert_eq!(
        info.result.unwrap().status(),
        pb::MatchStatus::StatusCancelled
    );
}

#[tokio::test]
async fn at_a_cap_of_busy_http_connections_healthz_still_answers() {
    let executor = Executor::start(&["--max-http-connections", "2"]);
    // A 64 MiB file in the replay store, far more than socket buffers hold.
    let replays = executor.data_dir.path().join("replays");
    std::fs::create_dir_all(&replays).unwrap();
    std::fs::write(replays.join("big-1.html"), vec![b'x'; 64 * 1024 * 1024]).unwrap();
    // Two downloads whose readers stop after the status line: their requests stay in flight.
    let host = executor.http.trim_start_matches("http://").to_string();
    let _busy: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut socket = TcpStream::connect(&host).unwrap();
            write!(
                socket,
                "GET /replays/big-1.html HTTP/1.1\r\nHost: {host}\r\n\r\n"
            )
            .unwrap();
            let mut head = [0u8; 12];
            socket.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 200");
            socket
        })
        .collect();

    // New connections join the health reserve: health answers, the rest is told to come back.
    let (status, body) = executor.http_get("/healthz");
    assert_eq!((status, body.as_slice()), (200, &b"ok\n"[..]));
    let (status, _) = executor.http_get("/readyz");
    assert_eq!(status, 200);
    let (status, _) = executor.http_get("/metrics");
    assert_eq!(status, 503);
    // gRPC has its own connections.
    assert!(health_check(&mut executor.client().await).await.healthy);
}

#[tokio::test]
async fn an_idle_grpc_connection_is_closed() {
    let executor = Executor::start(&["--connection-idle-timeout-ms", "300"]);
    let mut client = executor.client().await;
    assert!(health_check(&mut client).await.healthy);
    // The client's connection, idle after its request, is closed by the executor.
    support::eventually("the idle gRPC connection is closed", 600, || {
        let closed = executor.metric(
            r#"rl_arena_executor_connections_closed_total{listener="grpc",reason="idle_timeout"}"#,
        );
        async move { closed >= 1.0 }
    })
    .await;
    // A client reconnects and is served.
    assert!(
        executor
            .client()
            .await
            .health_check(pb::HealthCheckRequest {})
            .await
            .is_ok()
    );
}
