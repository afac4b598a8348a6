//! Where agents may come from, as the operator allows it: the local code roots (resolved once at start and kept
//! apart from the executor's own files) under which a request's local `code_url` must lie, and the hosts
//! `agent-init` may reach besides public internet addresses. The executor checks a request's path here for a
//! clear `INVALID_ARGUMENT`; `agent-init` gets the same roots and hosts and enforces them again when it fetches.

use std::path::{Path, PathBuf};

use common::roots::{self, Located};
use proto::process::agent_init::{Access, AllowEntry};

use crate::config::ExecutorArgs;
use crate::error::{Error, Result};

/// The operator's allowances for agent sources.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgentSources {
    /// Real paths of the local code roots, in the configured order (the first one anchors relative paths).
    roots: Vec<PathBuf>,
    /// Hosts `agent-init` may reach besides public internet addresses.
    allow_hosts: Vec<AllowEntry>,
}

/// Where a request's local code lies.
#[derive(Debug)]
pub(crate) enum LocalCode {
    /// Strictly below a root, at this real path.
    Found(PathBuf),
    /// Inside a root but unreadable (missing, for example).
    Unreadable(std::io::Error),
    /// Outside every root, whether or not it exists.
    Refused,
}

impl AgentSources {
    /// Resolves the configured roots. A root that does not resolve to a directory, or that overlaps the data
    /// directory or a `file://` store (either containing the other), is a configuration error: local code
    /// must never reach the executor's own files (work directories with their tokens, results, replays).
    pub(crate) async fn resolve(settings: &ExecutorArgs) -> Result<Self> {
        let configured = settings.agent_sources.roots();
        let data_dir = settings.data_dir.clone();
        let store = settings.store_url.clone();
        let roots = tokio::task::spawn_blocking(move || real_roots(&configured, &data_dir, store))
            .await
            .map_err(|e| Error::Internal(format!("resolving the local code roots: {e}")))??;
        let allow_hosts = settings
            .agent_sources
            .allow_hosts()
            .iter()
            .map(|entry| {
                entry
                    .parse()
                    .map_err(|e| Error::InvalidConfig(format!("agent-source-allow-hosts: {e}")))
            })
            .collect::<Result<_>>()?;
        Ok(Self { roots, allow_hosts })
    }

    /// Only `roots` (real directories) allow local code, and no host beyond public addresses: what
    /// `ValidateAgent` gives `agent-init` for the archive it wrote itself.
    pub(crate) fn only(roots: Vec<PathBuf>) -> Self {
        Self {
            roots,
            allow_hosts: Vec::new(),
        }
    }

    /// Where a request's local path lies; a relative path is taken relative to the first root.
    pub(crate) async fn locate(&self, path: &Path) -> Result<LocalCode> {
        let path = match self.roots.first() {
            Some(first) if path.is_relative() => first.join(path),
            None if path.is_relative() => return Ok(LocalCode::Refused),
            _ => path.to_path_buf(),
        };
        let roots = self.roots.clone();
        tokio::task::spawn_blocking(move || match roots::locate(&path, &roots) {
            Located::Below(real) => LocalCode::Found(real),
            Located::Unreadable(error) => LocalCode::Unreadable(error),
            Located::Outside => LocalCode::Refused,
        })
        .await
        .map_err(|e| Error::Internal(format!("locating local code: {e}")))
    }

    /// What `agent-init` is told: these roots (`--local-roots`) and hosts (`--allow-hosts`).
    pub(crate) fn access(&self) -> Access {
        Access {
            allow_hosts: self.allow_hosts.clone(),
            local_roots: self.roots.clone(),
        }
    }
}

/// The real paths of `configured`, checked against the executor's own directories.
fn real_roots(
    configured: &[PathBuf],
    data_dir: &Path,
    store: Option<String>,
) -> Result<Vec<PathBuf>> {
    let bad = |msg: String| Error::InvalidConfig(format!("local-code-roots: {msg}"));
    let mut own = vec![(
        "data directory",
        roots::resolve_lenient(data_dir).map_err(Error::io("resolving the data directory"))?,
    )];
    if let Some(dir) = store
        .as_deref()
        .and_then(|url| url::Url::parse(url).ok())
        .filter(|url| url.scheme() == "file")
        .and_then(|url| url.to_file_path().ok())
    {
        own.push((
            "file:// store",
            roots::resolve_lenient(&dir).map_err(Error::io("resolving the store directory"))?,
        ));
    }
    let mut real = Vec::new();
    for root in configured {
        let resolved = std::fs::canonicalize(root).map_err(|e| {
            bad(format!(
                "{} cannot be resolved ({e}); give existing directories",
                root.display()
            ))
        })?;
        if !resolved.is_dir() {
            return Err(bad(format!("{} is not a directory", root.display())));
        }
        if resolved.to_str().is_none_or(|text| text.contains(',')) {
            return Err(bad(format!(
                "{} resolves to a path that is not UTF-8 or holds a comma; agent-init takes roots as a \
                 comma-separated list",
                root.display()
            )));
        }
        if let Some((what, dir)) = own.iter().find(|(_, dir)| roots::overlap(&resolved, dir)) {
            return Err(bad(format!(
                "{} and the {what} {} overlap; local code must never reach the executor's own files: keep \
                 the roots and the {what} apart",
                resolved.display(),
                dir.display()
            )));
        }
        real.push(resolved);
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_must_exist_and_stay_apart_from_the_executors_files() {
        let base = tempfile::tempdir().unwrap();
        let base = base.path().canonicalize().unwrap();
        for dir in ["uploads", "data", "data/inner", "store"] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
        }
        let store = Some(format!("file://{}", base.join("store").display()));
        let ok = real_roots(&[base.join("uploads")], &base.join("data"), store.clone()).unwrap();
        assert_eq!(ok, [base.join("uploads")]);
        let cases = [
            (base.join("data"), "overlap"),
            (base.clone(), "overlap"),
            (base.join("data/inner"), "overlap"),
            (base.join("store"), "file:// store"),
            (base.join("missing"), "cannot be resolved"),
        ];
        for (root, want) in cases {
            let err = real_roots(
                std::slice::from_ref(&root),
                &base.join("data"),
                store.clone(),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains(want), "{}: {err}", root.display());
        }
        // A data directory that does not exist yet is where it will be created.
        let err = real_roots(std::slice::from_ref(&base), &base.join("new/data"), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("data directory"), "{err}");
    }

    #[tokio::test]
    async fn allowed_hosts_are_checked_at_start_and_passed_on_as_entries() {
        let settings = |hosts: &str| match crate::config::parse_from([
            "executor",
            "serve",
            "--agent-source-allow-hosts",
            hosts,
        ])
        .unwrap()
        .command
        {
            crate::config::Command::Serve(args) => args.executor,
            other => panic!("parsed serve, got {other:?}"),
        };
        let sources = AgentSources::resolve(&settings("Artifacts.Internal,10.8.0.0/16"))
            .await
            .unwrap();
        let access = sources.access();
        assert_eq!(
            access.allow_hosts,
            [
                AllowEntry::Name("artifacts.internal".into()),
                "10.8.0.0/16".parse().unwrap()
            ]
        );
        assert!(access.local_roots.is_empty());
        let err = AgentSources::resolve(&settings("artifacts.internal,not a host!"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("agent-source-allow-hosts: \"not a host!\" is not a host name"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn relative_paths_resolve_against_the_first_root() {
        let base = tempfile::tempdir().unwrap();
        let base = base.path().canonicalize().unwrap();
        let (first, second) = (base.join("first"), base.join("second"));
        for dir in [&first, &second] {
            std::fs::create_dir_all(dir.join("submissions")).unwrap();
        }
        std::fs::write(first.join("submissions/a.py"), "").unwrap();
        std::fs::write(second.join("submissions/b.py"), "").unwrap();
        let sources = AgentSources::only(vec![first.clone(), second.clone()]);
        assert!(matches!(
            sources.locate(Path::new("submissions/a.py")).await.unwrap(),
            LocalCode::Found(p) if p == first.join("submissions/a.py")
        ));
        assert!(matches!(
            sources.locate(Path::new("submissions/b.py")).await.unwrap(),
            LocalCode::Unreadable(_)
        ));
        assert!(matches!(
            sources
                .locate(&second.join("submissions/b.py"))
                .await
                .unwrap(),
            LocalCode::Found(_)
        ));
        assert!(matches!(
            sources
                .locate(Path::new("../second/submissions/b.py"))
                .await
                .unwrap(),
            LocalCode::Found(_)
        ));
        assert!(matches!(
            sources.locate(Path::new("../../etc/passwd")).await.unwrap(),
            LocalCode::Refused
        ));
        assert!(matches!(
            AgentSources::default()
                .locate(Path::new("submissions/a.py"))
                .await
                .unwrap(),
            LocalCode::Refused
        ));
    }
}
