//! Every supported format installs, detected by content as well as by name, with a single
//! top-level directory unwrapped.

mod support;

use support::{Scratch, TarItem, ZipItem, agent_files, agent_zip, gzip, tar, zip, zstd};

fn agent_tar() -> Vec<u8> {
    tar(&[
        TarItem::Dir("my-agent/"),
        TarItem::File(
            "my-agent/agent.py",
            b"def get_action(obs):\n    return 0\n",
            0o644,
        ),
        TarItem::Dir("my-agent/lib/"),
        TarItem::File("my-agent/lib/util.py", b"X = 1\n", 0o644),
    ])
}

#[test]
fn every_format_installs_the_agent_files_directly_in_dest() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("agent.zip", agent_zip(), "zip"),
        ("agent.tar", agent_tar(), "tar"),
        ("agent.tar.gz", gzip(&agent_tar()), "tar.gz"),
        ("agent.tgz", gzip(&agent_tar()), "tar.gz"),
        ("agent.tar.zst", zstd(&agent_tar()), "tar.zst"),
        // Detected by content even when the name says nothing.
        ("upload.bin", agent_zip(), "zip"),
        ("artifact", gzip(&agent_tar()), "tar.gz"),
        ("blob", zstd(&agent_tar()), "tar.zst"),
    ];
    for (name, bytes, format) in cases {
        let scratch = Scratch::new();
        let artifact = scratch.artifact(name, &bytes);
        let result = scratch.root().join("result");
        let out = scratch.install(&artifact, &["--result-file", result.to_str().unwrap()]);
        out.assert_code(0);
        assert_eq!(scratch.installed(), agent_files(), "{name}");
        let text = std::fs::read_to_string(scratch.dest().join("agent.py")).unwrap();
        assert!(text.contains("get_action"), "{name}");
        let summary = std::fs::read_to_string(&result).unwrap();
        assert!(summary.contains(format), "{name}: {summary}");
    }
}

#[test]
fn several_top_level_entries_are_installed_as_they_are() {
    let scratch = Scratch::new();
    let bytes = zip(&[
        ZipItem::File("agent.py", b"pass\n"),
        ZipItem::File("weights/model.bin", b"\x00\x01"),
    ]);
    let artifact = scratch.artifact("agent.zip", &bytes);
    scratch.install(&artifact, &[]).assert_code(0);
    let want: std::collections::BTreeSet<String> = ["agent.py", "weights", "weights/model.bin"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(scratch.installed(), want);
}

#[test]
fn a_single_top_level_file_is_not_unwrapped() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact(
        "agent.tar",
        &tar(&[TarItem::File("agent.py", b"pass\n", 0o644)]),
    );
    scratch.install(&artifact, &[]).assert_code(0);
    assert_eq!(
        std::fs::read(scratch.dest().join("agent.py")).unwrap(),
        b"pass\n"
    );
}

#[test]
fn executable_bits_are_kept_and_special_bits_dropped() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    let bytes = tar(&[
        TarItem::File("bot", b"#!/bin/sh\n", 0o4777),
        TarItem::File("data.txt", b"x", 0o666),
    ]);
    let artifact = scratch.artifact("agent.tar", &bytes);
    scratch.install(&artifact, &[]).assert_code(0);
    let mode = |name: &str| {
        std::fs::metadata(scratch.dest().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("bot"), 0o755);
    assert_eq!(mode("data.txt"), 0o644);
}

#[test]
fn internal_symlinks_are_kept() {
    let scratch = Scratch::new();
    let bytes = tar(&[
        TarItem::File("app/agent.py", b"pass\n", 0o644),
        TarItem::Symlink("app/main.py", "agent.py"),
        TarItem::Dir("app/data/"),
        TarItem::Symlink("app/data/up.py", "../agent.py"),
    ]);
    let artifact = scratch.artifact("agent.tar", &bytes);
    scratch.install(&artifact, &[]).assert_code(0);
    let dest = scratch.dest();
    assert_eq!(
        std::fs::read_link(dest.join("main.py")).unwrap().to_str(),
        Some("agent.py")
    );
    assert_eq!(std::fs::read(dest.join("data/up.py")).unwrap(), b"pass\n");
}

#[test]
fn a_name_claiming_an_archive_with_other_content_is_refused() {
    for name in ["agent.zip", "agent.tgz", "agent.tar.gz", "agent.tar.zst"] {
        let scratch = Scratch::new();
        let artifact = scratch.artifact(name, b"def get_action(obs):\n    return 0\n");
        let before = scratch.snapshot();
        scratch
            .install(&artifact, &[])
            .assert_code(10)
            .assert_reason_contains("archive is invalid");
        scratch.assert_untouched(&before);
    }
}
