//! Local sources (a path or `file://`), allowed only strictly below a directory the operator lists
//! with `--local-roots` (none by default: no local sources).
//!
//! The path is made absolute, its `..` removed, and its symlinks resolved; the result must lie
//! below a root. It is then opened without following a final link and checked once more on what
//! the kernel opened (`/proc/self/fd`), so a path changed between the check and the open is
//! refused. From there everything is read through file descriptors: a directory tree is walked
//! with `openat` and `O_NOFOLLOW`, links inside it are copied as links for the extractor to judge
//! (never followed), and an entry swapped during the walk is refused. A path outside the roots
//! gets the same refusal whether or not it exists.

use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use common::roots;
use common::text::shorten;
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{Mode, SFlag, fstatat};

use crate::error::{Error, Result};
use crate::extract::Extractor;

/// An opened local source.
pub(crate) enum Opened {
    Dir(File),
    File(File, Metadata),
}

/// Opens `path` if it lies strictly below one of `roots`.
pub(crate) fn open(path: &Path, roots: &[PathBuf]) -> Result<Opened> {
    let refused = || Error::LocalRefused {
        path: shorten(&path.display().to_string(), 200),
    };
    let real_roots: Vec<PathBuf> = roots
        .iter()
        .filter_map(|root| match std::fs::canonicalize(root) {
            Ok(real) => Some(real),
            Err(error) => {
                tracing::warn!(root = %root.display(), %error, "a local root cannot be resolved, ignored");
                None
            }
        })
        .collect();
    let resolved = match roots::locate(path, &real_roots) {
        roots::Located::Below(resolved) => resolved,
        // Only what lies inside a root may be reported as missing or unreadable.
        roots::Located::Unreadable(source) => {
            return Err(Error::SourceIo {
                path: path.to_path_buf(),
                source,
            });
        }
        roots::Located::Outside => return Err(refused()),
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).bits())
        .open(&resolved)
        .map_err(|source| match source.raw_os_error() {
            Some(code) if code == Errno::ELOOP as i32 => refused(),
            _ => Error::SourceIo {
                path: path.to_path_buf(),
                source,
            },
        })?;
    let opened = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_err(|e| Error::io("checking which file was opened (/proc/self/fd)", e))?;
    if !roots::below(&opened, &real_roots) {
        tracing::warn!(path = %path.display(), "a local source changed while it was opened");
        return Err(refused());
    }
    let meta = file.metadata().map_err(|source| Error::SourceIo {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        Ok(Opened::Dir(file))
    } else if meta.is_file() {
        Ok(Opened::File(file, meta))
    } else {
        Err(Error::SourceKind {
            path: path.to_path_buf(),
            kind: "special file",
        })
    }
}

/// Feeds every entry below the opened directory `dir` to the extractor, in name order, without
/// following any link; `shown` names the directory in errors and `prefix` is its place in the
/// installed tree.
pub(crate) fn copy_tree(
    dir: &File,
    shown: &Path,
    prefix: &[Vec<u8>],
    extractor: &mut Extractor<'_>,
) -> Result<()> {
    let unreadable = |source: std::io::Error| Error::SourceIo {
        path: shown.to_path_buf(),
        source,
    };
    let listing = dir.try_clone().map_err(unreadable)?;
    let mut listing = Dir::from_fd(OwnedFd::from(listing)).map_err(|e| unreadable(e.into()))?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let entry = entry.map_err(|e| unreadable(e.into()))?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    names.sort();
    for name in names {
        let mut components = prefix.to_vec();
        components.push(name.clone());
        let raw = components.join(&b'/');
        let entry = String::from_utf8_lossy(&raw).into_owned();
        let Some(components) = extractor.entry_path(&raw)? else {
            continue;
        };
        let name = OsStr::from_bytes(&name);
        let path = shown.join(name);
        let unreadable = |source: std::io::Error| Error::SourceIo {
            path: path.clone(),
            source,
        };
        let changed = |errno: Errno| match errno {
            Errno::ELOOP | Errno::ENOTDIR | Errno::ENXIO => {
                Error::unsafe_entry(&entry, "the entry changed while it was copied")
            }
            other => unreadable(other.into()),
        };
        let stat = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(changed)?;
        let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
        if kind == SFlag::S_IFDIR {
            let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let child = File::from(openat(dir, name, flags, Mode::empty()).map_err(changed)?);
            extractor.dir(&entry, &components)?;
            copy_tree(&child, &path, &components, extractor)?;
        } else if kind == SFlag::S_IFREG {
            let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
            let mut file = File::from(openat(dir, name, flags, Mode::empty()).map_err(changed)?);
            let meta = file.metadata().map_err(unreadable)?;
            if !meta.is_file() {
                return Err(changed(Errno::ENXIO));
            }
            extractor.file(&entry, &components, meta.mode() & 0o111 != 0, &mut file)?;
        } else if kind == SFlag::S_IFLNK {
            let target = readlinkat(dir, name).map_err(changed)?;
            extractor.symlink(&entry, &components, target.as_bytes())?;
        } else {
            return Err(Error::unsafe_entry(
                &entry,
                "device, fifo and socket files are not allowed",
            ));
        }
    }
    Ok(())
}
