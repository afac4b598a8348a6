//! The library entry points the executor calls in-process.

mod support;

use agent_init::{Fault, Limits, Options, Source};
use support::{Scratch, ZipItem, agent_files, agent_zip, zip};

#[test]
fn install_archive_file_unpacks_a_zip() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("upload", &agent_zip());
    let installed =
        agent_init::install_archive_file(&artifact, &scratch.dest(), &Limits::default()).unwrap();
    assert_eq!(installed.format, "zip");
    assert_eq!(installed.files, 2);
    assert_eq!(scratch.installed(), agent_files());
}

#[test]
fn install_archive_file_reports_a_zip_slip_as_the_artifacts_fault() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("upload", &zip(&[ZipItem::File("../evil.py", b"x")]));
    let before = scratch.snapshot();
    let error = agent_init::install_archive_file(&artifact, &scratch.dest(), &Limits::default())
        .unwrap_err();
    assert_eq!(error.fault(), Fault::Artifact);
    assert_eq!(error.exit_code(), 10);
    scratch.assert_untouched(&before);
}

#[test]
fn install_archive_file_refuses_a_non_archive() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("upload", b"def get_action(obs): return 0\n");
    let error = agent_init::install_archive_file(&artifact, &scratch.dest(), &Limits::default())
        .unwrap_err();
    assert_eq!(error.fault(), Fault::Artifact);
}

#[tokio::test]
async fn install_takes_a_parsed_source() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("agent.zip", &agent_zip());
    let source: Source = artifact.to_str().unwrap().parse().unwrap();
    let options = Options {
        local_roots: vec![scratch.root().to_path_buf()],
        ..Options::default()
    };
    let installed = agent_init::install(&source, &scratch.dest(), &options)
        .await
        .unwrap();
    assert_eq!(installed.dest, scratch.dest());
    assert_eq!(scratch.installed(), agent_files());
}
