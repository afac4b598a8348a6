//! Local paths confined to roots. A path names something local only when, made absolute with its `..`
//! removed and its links resolved, it lies strictly below one of the roots. A path outside is answered the same
//! whether it exists or not, so the answer cannot be used to probe the file system; only a path inside a root
//! may be reported as missing or unreadable. The executor checks a request's path with [`locate`] and
//! `agent-init` checks again with it before it opens anything.

use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Where a path lies with respect to the roots.
#[derive(Debug)]
pub enum Located {
    /// Strictly below a root, at this real path (links resolved).
    Below(PathBuf),
    /// Inside a root but not resolvable (missing or unreadable), for this reason.
    Unreadable(io::Error),
    /// Outside every root, or a root itself.
    Outside,
}

/// Where `path` lies among `roots`, which must be real paths (absolute, links resolved). A relative `path` is
/// taken relative to the current directory.
pub fn locate(path: &Path, roots: &[PathBuf]) -> Located {
    if roots.is_empty() {
        return Located::Outside;
    }
    let Ok(absolute) = absolute(path) else {
        return Located::Outside;
    };
    match resolve_existing(&absolute) {
        (resolved, Some(error)) if within(&resolved, roots) => Located::Unreadable(error),
        (_, Some(_)) => Located::Outside,
        (resolved, None) if below(&resolved, roots) => Located::Below(resolved),
        (_, None) => Located::Outside,
    }
}

/// Whether `path` is one of `roots` or lies below one.
pub fn within(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|root| path.starts_with(root))
}

/// Whether `path` lies strictly below one of `roots`.
pub fn below(path: &Path, roots: &[PathBuf]) -> bool {
    roots
        .iter()
        .any(|root| path.starts_with(root) && path != root)
}

/// Whether one of two real paths contains the other (or they are the same).
pub fn overlap(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// `path` made absolute with its `.` and `..` removed (lexically, before any link is resolved).
pub fn absolute(path: &Path) -> io::Result<PathBuf> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut out = PathBuf::from("/");
    for component in joined.components() {
        match component {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

/// The real path of `path`, or of its deepest ancestor that resolves, with the error that stopped the full
/// path from resolving.
pub fn resolve_existing(path: &Path) -> (PathBuf, Option<io::Error>) {
    let mut candidate = path.to_path_buf();
    let mut first_error = None;
    loop {
        match std::fs::canonicalize(&candidate) {
            Ok(real) => return (real, first_error),
            Err(error) => {
                first_error.get_or_insert(error);
                if !candidate.pop() {
                    return (candidate, first_error);
                }
            }
        }
    }
}

/// Where `path` is, or will be once created: its deepest existing ancestor resolved, the rest appended.
pub fn resolve_lenient(path: &Path) -> io::Result<PathBuf> {
    let mut existing = absolute(path)?;
    let mut missing: Vec<OsString> = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            return Ok(missing
                .iter()
                .rev()
                .fold(real, |path, name| path.join(name)));
        }
        match existing.file_name() {
            Some(name) => {
                missing.push(name.to_os_string());
                existing.pop();
            }
            None => return Ok(existing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_absolute_lexically() {
        let cases = [
            ("/srv/agents/a.zip", "/srv/agents/a.zip"),
            ("/srv/agents/../../etc/shadow", "/etc/shadow"),
            ("/srv/./agents//x/../a.zip", "/srv/agents/a.zip"),
            ("/../../..", "/"),
        ];
        for (given, want) in cases {
            assert_eq!(
                absolute(Path::new(given)).unwrap(),
                Path::new(want),
                "{given}"
            );
        }
        let relative = absolute(Path::new("a/../b")).unwrap();
        assert_eq!(relative, std::env::current_dir().unwrap().join("b"));
    }

    #[test]
    fn paths_are_located_below_roots_only() {
        let base = tempfile::tempdir().unwrap();
        let base = base.path().canonicalize().unwrap();
        let root = base.join("root");
        std::fs::create_dir_all(root.join("dir")).unwrap();
        std::fs::write(root.join("dir/agent.py"), "").unwrap();
        std::fs::write(base.join("outside.py"), "").unwrap();
        std::os::unix::fs::symlink(base.join("outside.py"), root.join("link.py")).unwrap();
        std::os::unix::fs::symlink(root.join("dir/agent.py"), base.join("in.py")).unwrap();
        let roots = [root.clone()];
        let below = |p: &Path| match locate(p, &roots) {
            Located::Below(real) => Some(real),
            _ => None,
        };
        assert_eq!(below(&root.join("dir")), Some(root.join("dir")));
        assert_eq!(
            below(&root.join("dir/../dir/agent.py")),
            Some(root.join("dir/agent.py"))
        );
        assert_eq!(
            below(&base.join("in.py")),
            Some(root.join("dir/agent.py")),
            "a link from outside into a root names what it points to"
        );
        for outside in [
            root.clone(),
            base.join("outside.py"),
            root.join("link.py"),
            root.join("../outside.py"),
            base.join("missing.py"),
            PathBuf::from("/nonexistent/agent.py"),
        ] {
            assert!(
                matches!(locate(&outside, &roots), Located::Outside),
                "{}",
                outside.display()
            );
        }
        assert!(matches!(
            locate(&root.join("missing.py"), &roots),
            Located::Unreadable(e) if e.kind() == io::ErrorKind::NotFound
        ));
        assert!(matches!(
            locate(&root.join("dir/agent.py"), &[]),
            Located::Outside
        ));
    }

    #[test]
    fn lenient_resolution_keeps_what_does_not_exist_yet() {
        let base = tempfile::tempdir().unwrap();
        let real = base.path().canonicalize().unwrap();
        std::os::unix::fs::symlink(&real, real.join("alias")).unwrap();
        assert_eq!(
            resolve_lenient(&real.join("alias/data/../new/dir")).unwrap(),
            real.join("new/dir")
        );
        assert!(overlap(&real.join("a"), &real.join("a/b")));
        assert!(overlap(&real.join("a"), &real.join("a")));
        assert!(!overlap(&real.join("a"), &real.join("ab")));
    }
}
