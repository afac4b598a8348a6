//! moto's S3-compatible server (`python3 -m moto.server`) on a free loopback port, with buckets
//! and objects created through boto3 (which moto brings), the real S3 client.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::process::{ServerProcess, start_on_free_port};

/// The region the test clients sign for.
pub const REGION: &str = "us-east-1";
/// Test credentials; moto accepts any, the clients still sign with them.
pub const ACCESS_KEY_ID: &str = "testkit-access-key";
pub const SECRET_ACCESS_KEY: &str = "testkit-secret-key";

/// Creates buckets and uploads objects (body on stdin) with boto3.
const CLIENT: &str = r#"
import sys, boto3
endpoint, op, bucket = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=sys.argv[4],
                  aws_access_key_id=sys.argv[5], aws_secret_access_key=sys.argv[6])
if op == "bucket":
    s3.create_bucket(Bucket=bucket)
else:
    s3.put_object(Bucket=bucket, Key=op, Body=sys.stdin.buffer.read())
"#;

/// A running moto server; killed when dropped (or when the test binary exits).
pub struct Moto {
    process: ServerProcess,
    port: u16,
    python: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    /// Starts moto on a free port and waits until it answers S3 requests. moto comes from the
    /// system Python or, when that lacks it, the test virtualenv.
    pub fn start() -> Self {
        let python =
            crate::provision::python_with(&["moto.server", "boto3", "flask"], &["moto[server]"]);
        let dir = tempfile::tempdir().expect("temp dir for moto");
        let log = dir.path().join("moto.log");
        let (process, port) = start_on_free_port(
            "moto server",
            &python,
            &log,
            |port| {
                [
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ]
                .iter()
                .map(OsString::from)
                .collect()
            },
            |port| {
                crate::http::get(&format!("http://127.0.0.1:{port}/"))
                    .is_ok_and(|r| r.status == 200)
            },
        );
        Moto {
            process,
            port,
            python,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment an `object_store` S3 client needs to reach this server.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", self.endpoint().as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
            ("AWS_REGION", REGION),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        self.client("bucket", bucket, b"");
    }

    /// Uploads `data` as `s3://bucket/key`; returns that URL.
    pub fn put_object(&self, bucket: &str, key: &str, data: &[u8]) -> String {
        assert!(
            key != "bucket",
            "the key `bucket` is reserved by this helper"
        );
        self.client(key, bucket, data);
        format!("s3://{bucket}/{key}")
    }

    fn client(&self, op: &str, bucket: &str, stdin: &[u8]) {
        let mut child = Command::new(&self.python)
            .arg("-c")
            .arg(CLIENT)
            .args([
                &self.endpoint(),
                op,
                bucket,
                REGION,
                ACCESS_KEY_ID,
                SECRET_ACCESS_KEY,
            ])
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_CONFIG_FILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the boto3 client");
        if let Some(mut input) = child.stdin.take() {
            input
                .write_all(stdin)
                .expect("send the object to the boto3 client");
        }
        let output = child.wait_with_output().expect("wait for the boto3 client");
        assert!(
            output.status.success(),
            "boto3 {op} on bucket {bucket} failed: {}\nmoto log:\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.process.log_tail()
        );
    }
}
