//! `--help` documents every source, limit and exit code.

mod support;

#[test]
fn help_documents_sources_limits_and_exit_codes() {
    let out = support::run(["--help"]);
    out.assert_code(0);
    for needle in [
        "--source",
        "--dest",
        "--result-file",
        "--sha256",
        "file://",
        "https://",
        "s3://",
        "gs://",
        "az://",
        "oci://",
        "--oci-dir",
        "--oci-platform",
        "--docker-config",
        ".tar.zst",
        "--max-download-bytes",
        "--max-unpacked-bytes",
        "--max-entries",
        "--max-path-len",
        "--max-ratio",
        "--retries",
        "--connect-timeout-secs",
        "AGENT_INIT_SOURCE",
        "AGENT_INIT_MAX_ENTRIES",
        "--allow-hosts",
        "AGENT_INIT_ALLOW_HOSTS",
        "--local-roots",
        "AGENT_INIT_LOCAL_ROOTS",
        "metadata",
        "/dev/termination-log",
        "10  the artifact is bad",
        "11  the source is unreachable",
        "12  internal failure",
    ] {
        assert!(
            out.stdout.contains(needle),
            "--help lacks {needle:?}:\n{}",
            out.stdout
        );
    }
}

#[test]
fn a_missing_flag_is_a_usage_error() {
    support::run(["--dest", "/nonexistent/agent"]).assert_code(2);
}
