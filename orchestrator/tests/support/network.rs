//! The listeners a hostile network agent (`agents/hostile/network`) aims at: TCP, UDP and IPv6 on loopback
//! and an abstract Unix socket, all non-blocking, and the check that nothing reached any of them.

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// What every network agent must be denied, as its stderr names it (`net <what>: denied`).
pub const DENIED: [&str; 5] = ["tcp", "udp", "tcp6", "abstract-unix", "packet"];

/// Listeners of the test that an agent must not reach.
pub struct Listeners {
    tcp: TcpListener,
    udp: UdpSocket,
    tcp6: Option<TcpListener>,
    name: String,
    unix: UnixListener,
}

impl Listeners {
    /// Binds every listener on loopback (IPv6 where the machine has it).
    pub fn bind() -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_nonblocking(true).unwrap();
        let tcp6 = TcpListener::bind("[::1]:0").ok();
        if let Some(listener) = &tcp6 {
            listener.set_nonblocking(true).unwrap();
        } else {
            println!("no IPv6 loopback on this machine: the agent's IPv6 attempt has no listener");
        }
        // One name per listener set: the tests of one binary run at once.
        static SETS: AtomicUsize = AtomicUsize::new(0);
        let set = SETS.fetch_add(1, Ordering::Relaxed);
        let name = format!("rl-arena-hostile-{}-{set}", std::process::id());
        let unix =
            UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        unix.set_nonblocking(true).unwrap();
        Self {
            tcp,
            udp,
            tcp6,
            name,
            unix,
        }
    }

    /// Writes the agent's `targets` file into `agent_dir`: these listeners, and the pathname Unix sockets
    /// `unix` it shall try as well.
    pub fn write_targets(&self, agent_dir: &Path, unix: &[PathBuf]) {
        let unix: Vec<String> = unix.iter().map(|p| p.display().to_string()).collect();
        std::fs::write(
            agent_dir.join("targets"),
            format!(
                "tcp={}\nudp={}\ntcp6={}\nabstract={}\nunix={}\n",
                self.tcp.local_addr().unwrap().port(),
                self.udp.local_addr().unwrap().port(),
                self.tcp6
                    .as_ref()
                    .map_or(1, |l| l.local_addr().unwrap().port()),
                self.name,
                unix.join(","),
            ),
        )
        .unwrap();
    }

    /// Checks that nothing connected to or arrived at any listener.
    #[track_caller]
    pub fn assert_nothing_reached(&self) {
        assert!(self.tcp.accept().is_err(), "nothing connected over TCP");
        assert!(
            self.udp.recv(&mut [0u8; 64]).is_err(),
            "nothing arrived over UDP"
        );
        if let Some(listener) = &self.tcp6 {
            assert!(listener.accept().is_err(), "nothing connected over IPv6");
        }
        match self.unix.accept() {
            Ok((mut stream, _)) => {
                let mut got = String::new();
                let _ = stream.read_to_string(&mut got);
                panic!("the agent reached the abstract socket: {got:?}");
            }
            Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::WouldBlock),
        }
    }
}
