//! Limits: entry count, unpacked size, download size, path length and compression ratio, each
//! refused as the artifact's fault (exit 10) with nothing written.

mod support;

use support::{Scratch, TarItem, ZipItem, gzip, tar, zip, zip_bomb};

fn empty_files(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("agent/f{i:06}")).collect()
}

#[test]
fn entry_count_just_above_the_limit_is_refused() {
    let names = empty_files(10);
    let items: Vec<TarItem<'_>> = names.iter().map(|n| TarItem::File(n, b"", 0o644)).collect();
    let bytes = gzip(&tar(&items));

    let scratch = Scratch::new();
    let artifact = scratch.artifact("many.tgz", &bytes);
    let before = scratch.snapshot();
    scratch
        .install(&artifact, &["--max-entries", "9"])
        .assert_code(10)
        .assert_reason_contains("entry count limit of 9");
    scratch.assert_untouched(&before);

    let scratch = Scratch::new();
    let artifact = scratch.artifact("many.tgz", &bytes);
    scratch
        .install(&artifact, &["--max-entries", "10"])
        .assert_code(0);
    assert_eq!(scratch.installed().len(), 10);
}

#[test]
fn entry_count_above_the_default_limit_is_refused() {
    let names = empty_files(100_001);
    let items: Vec<ZipItem<'_>> = names.iter().map(|n| ZipItem::File(n, b"")).collect();
    let scratch = Scratch::new();
    let artifact = scratch.artifact("many.zip", &zip(&items));
    let before = scratch.snapshot();
    scratch
        .install(&artifact, &[])
        .assert_code(10)
        .assert_reason_contains("--max-entries");
    scratch.assert_untouched(&before);
}

#[test]
fn a_highly_compressed_bomb_is_refused_by_ratio() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("bomb.zip", &zip_bomb(16 << 20));
    let before = scratch.snapshot();
    scratch
        .install(&artifact, &[])
        .assert_code(10)
        .assert_reason_contains("compression ratio");
    scratch.assert_untouched(&before);
}

#[test]
fn unpacked_size_above_the_limit_is_refused() {
    let scratch = Scratch::new();
    let data = vec![7u8; 300_000];
    let artifact = scratch.artifact(
        "big.tar",
        &tar(&[
            TarItem::File("a.bin", &data, 0o644),
            TarItem::File("b.bin", &data, 0o644),
        ]),
    );
    let before = scratch.snapshot();
    scratch
        .install(&artifact, &["--max-unpacked-bytes", "500000"])
        .assert_code(10)
        .assert_reason_contains("unpacked size");
    scratch.assert_untouched(&before);
}

#[test]
fn hardlink_copies_count_towards_the_unpacked_size() {
    let scratch = Scratch::new();
    let data = vec![1u8; 100_000];
    let artifact = scratch.artifact(
        "links.tar",
        &tar(&[
            TarItem::File("a.bin", &data, 0o644),
            TarItem::Hardlink("b.bin", "a.bin"),
            TarItem::Hardlink("c.bin", "a.bin"),
        ]),
    );
    let before = scratch.snapshot();
    scratch
        .install(&artifact, &["--max-unpacked-bytes", "250000"])
        .assert_code(10)
        .assert_reason_contains("unpacked size");
    scratch.assert_untouched(&before);
}

#[test]
fn an_artifact_above_the_download_limit_is_refused() {
    let scratch = Scratch::new();
    let artifact = scratch.artifact("agent.py", &vec![b'#'; 4096]);
    let before = scratch.snapshot();
    scratch
        .install(&artifact, &["--max-download-bytes", "1KiB"])
        .assert_code(10)
        .assert_reason_contains("download size");
    scratch.assert_untouched(&before);
}

#[test]
fn a_path_above_the_length_limit_is_refused() {
    let long = format!("agent/{}/agent.py", "d".repeat(150));
    let scratch = Scratch::new();
    let artifact = scratch.artifact("deep.tar", &tar(&[TarItem::File(&long, b"x", 0o644)]));
    let before = scratch.snapshot();
    scratch
        .install(&artifact, &["--max-path-len", "100"])
        .assert_code(10)
        .assert_reason_contains("path length");
    scratch.assert_untouched(&before);

    let scratch = Scratch::new();
    let artifact = scratch.artifact("deep.tar", &tar(&[TarItem::File(&long, b"x", 0o644)]));
    scratch.install(&artifact, &[]).assert_code(0);
}
