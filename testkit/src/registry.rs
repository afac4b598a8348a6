//! Debian's `docker-registry` (the distribution registry, `docker-registry serve CONFIG`) on a free
//! loopback port with filesystem storage in a private temp dir, optionally behind htpasswd basic
//! auth, plus the Docker config JSON that carries its credentials.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use base64::Engine;

use crate::oci::Pusher;
use crate::process::{ServerProcess, start_on_free_port};
use crate::provision::{DOCKER_REGISTRY, HTPASSWD};

/// A running registry; killed when dropped (or when the test binary exits).
pub struct Registry {
    _process: ServerProcess,
    port: u16,
    credentials: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// A registry that lets anyone push and pull.
    pub fn start() -> Self {
        Self::launch(None)
    }

    /// A registry that demands HTTP basic auth as `user`:`password` (htpasswd, bcrypt).
    pub fn start_with_basic_auth(user: &str, password: &str) -> Self {
        Self::launch(Some((user.to_owned(), password.to_owned())))
    }

    fn launch(credentials: Option<(String, String)>) -> Self {
        let program = DOCKER_REGISTRY.require();
        let dir = tempfile::tempdir().expect("temp dir for the registry");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("create registry storage");
        let auth = match &credentials {
            Some((user, password)) => {
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, bcrypt_line(user, password)).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: testkit\n    path: {}\n",
                    htpasswd.display()
                )
            }
            None => String::new(),
        };
        let log = dir.path().join("registry.log");
        let config_dir = dir.path().to_path_buf();
        let (process, port) = start_on_free_port(
            "docker-registry",
            &program,
            &log,
            |port| {
                let config = config_dir.join(format!("config-{port}.yml"));
                let text = format!(
                    "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
                    storage.display()
                );
                std::fs::write(&config, text).expect("write registry config");
                vec![OsString::from("serve"), config.into_os_string()]
            },
            |port| {
                crate::http::get(&format!("http://127.0.0.1:{port}/v2/"))
                    .is_ok_and(|r| r.status == 200 || r.status == 401)
            },
        );
        Registry {
            _process: process,
            port,
            credentials,
            _dir: dir,
        }
    }

    /// `127.0.0.1:PORT`, the registry part of image references and `--oci-plain-http`'s value.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A pusher with this registry's credentials.
    pub fn pusher(&self) -> Pusher {
        Pusher::new(
            &self.host(),
            self.credentials
                .as_ref()
                .map(|(user, password)| (user.as_str(), password.as_str())),
        )
    }

    /// Writes a Docker config JSON granting `user`:`password` on this registry to `path`.
    pub fn write_docker_config(&self, path: &Path, user: &str, password: &str) {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let config = serde_json::json!({ "auths": { self.host(): { "auth": auth } } });
        std::fs::write(path, config.to_string())
            .unwrap_or_else(|e| panic!("write docker config {}: {e}", path.display()));
    }
}

/// One htpasswd line with a bcrypt hash, from Apache's `htpasswd -B`.
fn bcrypt_line(user: &str, password: &str) -> String {
    let output = Command::new(HTPASSWD.require())
        .args(["-nbB", user, password])
        .output()
        .expect("run htpasswd");
    assert!(
        output.status.success(),
        "htpasswd -nbB failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("htpasswd prints text")
}
