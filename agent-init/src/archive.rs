//! Archive formats: detection by content and name, and readers for zip, tar, tar.gz and tar.zst
//! that feed the confined [`Extractor`].

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use tar::EntryType;

use crate::error::{Error, Result};
use crate::extract::{Extractor, Summary, display};

/// What an artifact file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Zip,
    Tar,
    TarGz,
    TarZst,
    /// Not an archive: installed as one file.
    Single,
}

impl Format {
    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::TarZst => "tar.zst",
            Format::Single => "single file",
        }
    }

    fn from_name(name: &str) -> Option<Format> {
        let name = name.to_ascii_lowercase();
        if name.ends_with(".zip") {
            Some(Format::Zip)
        } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(Format::TarGz)
        } else if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
            Some(Format::TarZst)
        } else if name.ends_with(".tar") {
            Some(Format::Tar)
        } else {
            None
        }
    }
}

/// Detects the format from the file's first bytes, falling back to its name. A file named like a
/// compressed archive whose content is not one is refused rather than installed as a plain file.
pub fn detect(path: &Path, name: Option<&str>) -> Result<Format> {
    let mut head = Vec::with_capacity(512);
    File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Format::TarGz);
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Ok(Format::TarZst);
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Ok(Format::Zip);
    }
    if head.get(257..262) == Some(b"ustar") {
        return Ok(Format::Tar);
    }
    match name.and_then(Format::from_name) {
        // Pre-POSIX tar files carry no magic, only a header checksum.
        Some(Format::Tar) if tar_checksum_ok(&head) => Ok(Format::Tar),
        Some(format) => Err(Error::BadArchive {
            format: format.name(),
            reason: format!(
                "the file is named like a {} archive but its content is not one (truncated, mislabelled, or an error page)",
                format.name()
            ),
        }),
        None => Ok(Format::Single),
    }
}

/// Whether `head` starts with a tar header whose checksum is right (the unsigned sum of the
/// header's bytes with the checksum field counted as spaces).
fn tar_checksum_ok(head: &[u8]) -> bool {
    let Some(header) = head.get(..512) else {
        return false;
    };
    let field = &header[148..156];
    let digits: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    let Ok(stored) = u32::from_str_radix(digits.trim(), 8) else {
        return false;
    };
    let sum: u32 = header
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(*b)
            }
        })
        .sum();
    sum == stored
}

/// Checks that a single file installed as Python source is text: UTF-8 without NUL bytes, and
/// not markup (no Python source starts with `<`, every HTML or XML page does).
pub(crate) fn check_python_source(path: &Path, name: &str) -> Result<()> {
    let refused = |reason: &'static str| Error::BadContent {
        name: common::text::shorten(name, 100),
        reason,
    };
    let mut file =
        File::open(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let mut buf = vec![0u8; 64 * 1024];
    let (mut carry, mut started) = (0, false);
    loop {
        let n = file
            .read(&mut buf[carry..])
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        let len = carry + n;
        let chunk = &buf[..len];
        if chunk.contains(&0) {
            return Err(refused(
                "a .py file must be Python source text, and it holds NUL bytes",
            ));
        }
        if !started {
            let text = chunk.strip_prefix(b"\xef\xbb\xbf").unwrap_or(chunk);
            if let Some(first) = text.iter().find(|b| !b.is_ascii_whitespace()) {
                if *first == b'<' {
                    return Err(refused(
                        "a .py file must be Python source text, and it looks like an HTML or XML page (an error page answered with 200?)",
                    ));
                }
                started = true;
            }
        }
        carry = match std::str::from_utf8(chunk) {
            Ok(_) => 0,
            // A character cut by the chunk's end: kept for the next read.
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..len, 0);
                len - valid
            }
            Err(_) => {
                return Err(refused(
                    "a .py file must be Python source text, and it is not UTF-8",
                ));
            }
        };
    }
    if carry != 0 {
        return Err(refused(
            "a .py file must be Python source text, and it is not UTF-8",
        ));
    }
    Ok(())
}

/// Unpacks an archive file into the extractor's root.
pub(crate) fn unpack(path: &Path, format: Format, extractor: Extractor<'_>) -> Result<Summary> {
    let file = File::open(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let bad = |e: io::Error| Error::BadArchive {
        format: format.name(),
        reason: e.to_string(),
    };
    match format {
        Format::Zip => unpack_zip(file, extractor),
        Format::Tar => unpack_tar(BufReader::new(file), format, extractor),
        Format::TarGz => unpack_tar(
            flate2::read::MultiGzDecoder::new(BufReader::new(file)),
            format,
            extractor,
        ),
        Format::TarZst => {
            let decoder = ruzstd::decoding::StreamingDecoder::new(BufReader::new(file))
                .map_err(|e| bad(io::Error::other(e.to_string())))?;
            unpack_tar(decoder, format, extractor)
        }
        Format::Single => Err(Error::BadArchive {
            format: format.name(),
            reason: "not an archive".to_owned(),
        }),
    }
}

fn unpack_tar<R: Read>(reader: R, format: Format, mut ex: Extractor<'_>) -> Result<Summary> {
    let bad = |e: io::Error| Error::BadArchive {
        format: format.name(),
        reason: e.to_string(),
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = entry.path_bytes().into_owned();
        let name = display(&raw);
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            continue;
        }
        let Some(path) = ex.entry_path(&raw)? else {
            continue;
        };
        let link = entry.link_name_bytes().map(|t| t.into_owned());
        apply_entry(&mut ex, &mut entry, &name, &path, link)?;
    }
    // Read what follows the end-of-archive blocks so that a compressed stream's trailer (and
    // its checksum) is verified; bounded because it is padding.
    let mut rest = archive.into_inner().take(1 << 20);
    io::copy(&mut rest, &mut io::sink()).map_err(bad)?;
    ex.finish()
}

/// Writes one tar entry (already counted and validated) through the extractor; `link` is the
/// link target, for links.
pub(crate) fn apply_entry<R: Read>(
    ex: &mut Extractor<'_>,
    entry: &mut tar::Entry<'_, R>,
    name: &str,
    path: &[Vec<u8>],
    link: Option<Vec<u8>>,
) -> Result<()> {
    let kind = entry.header().entry_type();
    match kind {
        EntryType::Regular | EntryType::Continuous => {
            let mode = entry.header().mode().unwrap_or(0o644);
            ex.file(name, path, mode & 0o111 != 0, entry)
        }
        EntryType::Directory => ex.dir(name, path),
        EntryType::Symlink | EntryType::Link => {
            let target = link.ok_or_else(|| Error::unsafe_entry(name, "the link has no target"))?;
            if kind == EntryType::Symlink {
                ex.symlink(name, path, &target)
            } else {
                ex.hardlink(name, path, &target)
            }
        }
        other => Err(Error::unsafe_entry(
            name,
            format!("{} entries are not allowed", tar_kind(other)),
        )),
    }
}

/// Opens a tar stream that may be gzip or zstd compressed, detected by content.
pub(crate) fn open_tar(path: &Path) -> Result<(Box<dyn Read>, Format)> {
    let format = match detect(path, None)? {
        Format::TarGz => Format::TarGz,
        Format::TarZst => Format::TarZst,
        _ => Format::Tar,
    };
    let file = File::open(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let reader: Box<dyn Read> = match format {
        Format::TarGz => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
        Format::TarZst => Box::new(
            ruzstd::decoding::StreamingDecoder::new(BufReader::new(file)).map_err(|e| {
                Error::BadArchive {
                    format: format.name(),
                    reason: e.to_string(),
                }
            })?,
        ),
        _ => Box::new(BufReader::new(file)),
    };
    Ok((reader, format))
}

fn tar_kind(kind: EntryType) -> &'static str {
    match kind {
        EntryType::Char => "character device",
        EntryType::Block => "block device",
        EntryType::Fifo => "fifo",
        EntryType::GNUSparse => "sparse file",
        _ => "special",
    }
}

const S_IFMT: u32 = 0o170000;
const S_IFLNK: u32 = 0o120000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;

fn unpack_zip(file: File, mut ex: Extractor<'_>) -> Result<Summary> {
    let bad = |e: zip::result::ZipError| Error::BadArchive {
        format: "zip",
        reason: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(bad)?;
    ex.check_entry_count(archive.len() as u64)?;
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(bad)?;
        // Zip names use `/`; some tools write `\`, which must not smuggle in `..\..\`.
        let raw: Vec<u8> = entry
            .name_raw()
            .iter()
            .map(|b| if *b == b'\\' { b'/' } else { *b })
            .collect();
        let name = display(&raw);
        let Some(path) = ex.entry_path(&raw)? else {
            continue;
        };
        let mode = entry.unix_mode().unwrap_or(0);
        let file_type = mode & S_IFMT;
        if file_type == S_IFLNK {
            let mut target = Vec::new();
            (&mut entry)
                .take(4097)
                .read_to_end(&mut target)
                .map_err(|e| Error::BadArchive {
                    format: "zip",
                    reason: e.to_string(),
                })?;
            ex.symlink(&name, &path, &target)?;
        } else if entry.is_dir() || file_type == S_IFDIR {
            ex.dir(&name, &path)?;
        } else if file_type == 0 || file_type == S_IFREG {
            ex.file(&name, &path, mode & 0o111 != 0, &mut entry)?;
        } else {
            return Err(Error::unsafe_entry(
                &name,
                "device, fifo and socket entries are not allowed",
            ));
        }
    }
    ex.finish()
}
