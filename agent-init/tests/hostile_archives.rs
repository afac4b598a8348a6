//! A table of hostile archives: each is refused as the artifact's fault (exit 10) and nothing is
//! written anywhere, inside or outside the destination.

mod support;

use support::{Scratch, TarItem, ZipItem, agent_zip, gzip, tar, zip};

/// Builds the hostile archive; gets the scratch's absolute `outside/` directory.
type Build = fn(&str) -> (&'static str, Vec<u8>);

#[test]
fn hostile_archives_are_refused_and_nothing_is_written() {
    let cases: Vec<(&str, Build, &str)> = vec![
        (
            "zip slip with ../",
            |_| ("a.zip", zip(&[ZipItem::File("../outside/evil.py", b"x")])),
            "`..`",
        ),
        (
            "zip slip with backslashes",
            |_| ("a.zip", zip(&[ZipItem::File("..\\outside\\evil.py", b"x")])),
            "`..`",
        ),
        (
            "zip with an absolute path",
            |outside| {
                let name: &'static str = Box::leak(format!("{outside}/evil.py").into_boxed_str());
                ("a.zip", zip(&[ZipItem::File(name, b"x")]))
            },
            "absolute",
        ),
        (
            "zip symlink pointing out",
            |_| ("a.zip", zip(&[ZipItem::Symlink("link", "../../outside")])),
            "outside the destination",
        ),
        (
            "tar with ../",
            |_| {
                (
                    "a.tar",
                    tar(&[TarItem::File("agent/../../outside/evil.py", b"x", 0o644)]),
                )
            },
            "`..`",
        ),
        (
            "tar.gz with an absolute path",
            |outside| {
                let name: &'static str = Box::leak(format!("{outside}/evil.py").into_boxed_str());
                ("a.tgz", gzip(&tar(&[TarItem::File(name, b"x", 0o644)])))
            },
            "absolute",
        ),
        (
            "tar symlink out then a file through it",
            |_| {
                let bytes = tar(&[
                    TarItem::Symlink("link", "../../outside"),
                    TarItem::File("link/evil.py", b"x", 0o644),
                ]);
                ("a.tar", bytes)
            },
            "symlink",
        ),
        (
            "tar absolute symlink then a file through it",
            |outside| {
                let target: &'static str = Box::leak(outside.to_owned().into_boxed_str());
                let bytes = tar(&[
                    TarItem::Symlink("link", target),
                    TarItem::File("link/evil.py", b"x", 0o644),
                ]);
                ("a.tar", bytes)
            },
            "outside the destination",
        ),
        (
            "tar inner symlink then a file through it",
            |_| {
                let bytes = tar(&[
                    TarItem::Dir("sub/"),
                    TarItem::Symlink("link", "sub"),
                    TarItem::File("link/evil.py", b"x", 0o644),
                ]);
                ("a.tar", bytes)
            },
            "goes through a symlink",
        ),
        (
            "tar symlink chain escaping through another symlink",
            |_| {
                let bytes = tar(&[
                    TarItem::Dir("d/"),
                    TarItem::Symlink("esc", "d/up/.."),
                    TarItem::Symlink("d/up", ".."),
                ]);
                ("a.tar", bytes)
            },
            "another symlink",
        ),
        (
            "tar hardlink out",
            |_| {
                (
                    "a.tar",
                    tar(&[TarItem::Hardlink("passwd", "../../outside/sentinel.txt")]),
                )
            },
            "hard link",
        ),
        (
            "tar absolute hardlink",
            |_| ("a.tar", tar(&[TarItem::Hardlink("passwd", "/etc/passwd")])),
            "hard link",
        ),
        (
            "tar character device",
            |_| ("a.tar", tar(&[TarItem::CharDevice("null")])),
            "character device",
        ),
        (
            "unwrapped directory with a symlink above it",
            |_| {
                let bytes = tar(&[
                    TarItem::File("top/agent.py", b"x", 0o644),
                    TarItem::Symlink("top/up", "../top/agent.py"),
                ]);
                ("a.tar", bytes)
            },
            "points above it",
        ),
        (
            "truncated zip",
            |_| {
                let bytes = agent_zip();
                ("a.zip", bytes[..bytes.len() / 2].to_vec())
            },
            "archive is invalid",
        ),
        (
            "truncated tar.gz",
            |_| {
                let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
                let bytes = gzip(&tar(&[TarItem::File("agent/data.bin", &big, 0o644)]));
                ("a.tar.gz", bytes[..bytes.len() / 2].to_vec())
            },
            "archive is invalid",
        ),
    ];
    for (label, build, reason) in cases {
        let scratch = Scratch::new();
        let outside = scratch.outside();
        let (name, bytes) = build(outside.to_str().unwrap());
        let artifact = scratch.artifact(name, &bytes);
        let before = scratch.snapshot();
        let out = scratch.install(&artifact, &[]);
        assert_eq!(out.code, 10, "{label}: stderr:\n{}", out.stderr);
        assert!(
            out.reason().contains(reason),
            "{label}: reason {:?} does not mention {reason:?}",
            out.reason()
        );
        scratch.assert_untouched(&before);
        assert!(!scratch.outside().join("evil.py").exists(), "{label}");
    }
}
