//! Connection limits on real loopback sockets: eviction at the cap, the health reserve, timeouts, and caps that
//! fit the open-file limit.

use tokio::io::AsyncReadExt;

use super::*;

fn limits(max: usize) -> ConnectionLimits {
    ConnectionLimits {
        max,
        first_request: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    }
}

/// A listener on loopback and its connections.
async fn listening(max: usize) -> (Arc<Connections>, TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Connections::new("grpc", limits(max), Arc::new(Metrics::new()));
    (connections, listener, addr)
}

/// Connects a client and accepts it: (client, server side).
async fn connect(
    connections: &Arc<Connections>,
    listener: &TcpListener,
    addr: SocketAddr,
) -> (TcpStream, Guarded) {
    let client = TcpStream::connect(addr).await.unwrap();
    let (guarded, _) = connections.accept(listener).await;
    (client, guarded)
}

/// Whether the executor's side of the connection was closed by the limits.
async fn is_closed(guarded: &mut Guarded) -> bool {
    let mut buf = [0u8; 1];
    // The client sends nothing: an open connection's read would wait, a closed one fails at once.
    tokio::time::timeout(Duration::from_secs(5), guarded.read(&mut buf))
        .await
        .is_ok_and(|read| read.is_err())
}

#[tokio::test]
async fn at_the_cap_the_oldest_silent_connection_makes_room() {
    let (connections, listener, addr) = listening(2).await;
    let (_c1, mut first) = connect(&connections, &listener, addr).await;
    let (_c2, mut second) = connect(&connections, &listener, addr).await;
    let _busy = second.conn().request();
    assert_eq!(connections.count(), 2);
    let (_c3, mut third) = connect(&connections, &listener, addr).await;
    assert!(is_closed(&mut first).await, "the oldest silent one goes");
    assert!(!third.conn().health_only());
    assert_eq!(connections.count(), 2);
    drop(first);
    assert_eq!(connections.count(), 2);
    let _ = (&mut second, &mut third);
}

#[tokio::test]
async fn with_every_connection_busy_new_ones_join_the_health_reserve_then_are_refused() {
    let (connections, listener, addr) = listening(1).await;
    let (_c1, busy) = connect(&connections, &listener, addr).await;
    let _request = busy.conn().request();
    let mut reserve = Vec::new();
    for _ in 0..HEALTH_RESERVE {
        let (client, guarded) = connect(&connections, &listener, addr).await;
        assert!(guarded.conn().health_only());
        reserve.push((client, guarded));
    }
    assert_eq!(connections.count(), 1 + HEALTH_RESERVE);
    // The next one is closed at once: accept goes on to the one after it.
    let mut refused = TcpStream::connect(addr).await.unwrap();
    let _next_client = TcpStream::connect(addr).await.unwrap();
    let accepting = {
        let connections = Arc::clone(&connections);
        tokio::spawn(async move {
            let _kept = connections.accept(&listener).await;
        })
    };
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), refused.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the refused connection is closed: {read:?}"
    );
    accepting.abort();
}

#[tokio::test]
async fn an_idle_connection_makes_room_when_none_is_silent() {
    let (connections, listener, addr) = listening(2).await;
    let (_c1, mut first) = connect(&connections, &listener, addr).await;
    let (_c2, second) = connect(&connections, &listener, addr).await;
    drop(first.conn().request());
    let _busy = second.conn().request();
    let (_c3, third) = connect(&connections, &listener, addr).await;
    assert!(is_closed(&mut first).await, "the idle one goes");
    assert!(!third.conn().health_only());
}

#[tokio::test]
async fn connections_past_their_timeouts_expire() {
    let (connections, listener, addr) = listening(8).await;
    let (_c1, silent) = connect(&connections, &listener, addr).await;
    let (_c2, idle) = connect(&connections, &listener, addr).await;
    let (_c3, busy) = connect(&connections, &listener, addr).await;
    drop(idle.conn().request());
    let _request = busy.conn().request();
    let limits = limits(8);
    let now = Instant::now();
    for conn in [silent.conn(), idle.conn(), busy.conn()] {
        assert_eq!(conn.expired(now, &limits), None);
    }
    let later = now + Duration::from_secs(11);
    assert_eq!(
        silent.conn().expired(later, &limits),
        Some("first_request_timeout")
    );
    assert_eq!(idle.conn().expired(later, &limits), None);
    let much_later = now + Duration::from_secs(3600);
    assert_eq!(
        idle.conn().expired(much_later, &limits),
        Some("idle_timeout")
    );
    assert_eq!(
        busy.conn().expired(much_later, &limits),
        None,
        "a request in flight, however long, keeps its connection"
    );
}

#[test]
fn caps_fit_the_open_file_limit() {
    // (soft limit, grpc cap, http cap, matches) -> (grpc cap, http cap)
    let cases = [
        ((1 << 20, 4096, 1024, 4), (4096, 1024)),
        ((1024, 4096, 1024, 4), (537, 134)),
        ((6000, 4096, 1024, 4), (4096, 1024)),
        ((300, 4096, 1024, 4), (1, 1)),
    ];
    for ((soft, grpc, http, matches), want) in cases {
        let budget = fit(soft, grpc, http, matches);
        assert_eq!((budget.grpc_max, budget.http_max), want, "{soft}");
        let others = FILES_BASE + FILES_PER_MATCH * matches as u64 + 2 * HEALTH_RESERVE as u64;
        if soft > others {
            assert!((budget.grpc_max + budget.http_max) as u64 + others <= soft);
        }
    }
}

#[tokio::test]
async fn connections_do_not_wait_for_delayed_acks() {
    let (connections, listener, addr) = listening(4).await;
    let (_client, accepted) = connect(&connections, &listener, addr).await;
    assert!(accepted.io.nodelay().unwrap());
}
