//! Where an artifact comes from: parsing `--source` and showing it without credentials.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use common::text::shorten;
use url::Url;

use crate::error::{Error, Result};

/// One artifact source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A local directory or file (also what a `file://` URL names).
    Local(PathBuf),
    /// An `http://` or `https://` URL.
    Http(Url),
    /// An object in a cloud store: `s3://bucket/key`, `gs://bucket/key`, `az://container/key`.
    ObjectStore(Url),
    /// An OCI image reference (what follows `oci://`), e.g. `ghcr.io/team/agent:v3`.
    Oci(String),
}

impl Source {
    /// Parses `--source`: `http(s)://`, `s3://`, `gs://`, `az://`, `oci://`, `file://` or a
    /// local path.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidSource {
            source_text: redact_text(text),
            reason: reason.to_owned(),
        };
        if text.is_empty() {
            return Err(invalid("it is empty: pass a path or a URL"));
        }
        let Some((scheme, _)) = text.split_once("://") else {
            return Ok(Source::Local(PathBuf::from(text)));
        };
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "http" | "https" => {
                let url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(invalid("the URL has no host"));
                }
                Ok(Source::Http(url))
            }
            "file" => {
                let url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
                let path = url
                    .to_file_path()
                    .map_err(|()| invalid("a file:// URL needs an absolute local path"))?;
                Ok(Source::Local(path))
            }
            "oci" => {
                let image = &text["oci://".len()..];
                crate::oci::parse_reference(image).map_err(|reason| invalid(&reason))?;
                Ok(Source::Oci(image.to_owned()))
            }
            scheme if crate::object::SCHEMES.contains(&scheme) => {
                let url = Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(invalid("the URL names no bucket or container"));
                }
                if url.path().trim_matches('/').is_empty() {
                    return Err(invalid("the URL names no object"));
                }
                Ok(Source::ObjectStore(url))
            }
            _ => Err(Error::UnsupportedScheme {
                source_text: redact_text(text),
                scheme,
            }),
        }
    }

    /// The file name the artifact goes by, used to detect formats by name and to name a single
    /// non-archive file.
    pub fn file_name(&self) -> Option<String> {
        match self {
            Source::Local(path) => path.file_name().map(|n| n.to_string_lossy().into_owned()),
            Source::Http(url) | Source::ObjectStore(url) => url
                .path_segments()
                .and_then(|mut segments| segments.next_back())
                .filter(|name| !name.is_empty())
                .map(str::to_owned),
            Source::Oci(_) => None,
        }
    }

    /// The local path, for local sources.
    pub fn local_path(&self) -> Option<&Path> {
        match self {
            Source::Local(path) => Some(path),
            Source::Http(_) | Source::ObjectStore(_) | Source::Oci(_) => None,
        }
    }
}

impl FromStr for Source {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Source::parse(text)
    }
}

/// Shows the source with user info and query string removed, so that credentials (basic auth,
/// presigned URL signatures) never reach logs or result files.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Local(path) => f.write_str(&shorten(&path.display().to_string(), SHOWN_MAX)),
            Source::Http(url) | Source::ObjectStore(url) => f.write_str(&redact_url(url)),
            Source::Oci(image) => write!(f, "oci://{}", shorten(image, SHOWN_MAX)),
        }
    }
}

/// Longest URL or path quoted in a message.
const SHOWN_MAX: usize = 200;

/// A URL without user info, query or fragment, cut to 200 characters.
pub fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if shown.query().is_some() {
        shown.set_query(Some("REDACTED"));
    }
    shown.set_fragment(None);
    shorten(shown.as_str(), SHOWN_MAX)
}

/// Redacts a source text that may not even parse.
fn redact_text(text: &str) -> String {
    match Url::parse(text) {
        Ok(url) if text.contains("://") => redact_url(&url),
        _ if text.contains('@') || text.contains('?') => "<redacted>".to_owned(),
        _ => shorten(text, SHOWN_MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_by_scheme() {
        assert_eq!(
            Source::parse("/srv/agents/a.zip").unwrap(),
            Source::Local("/srv/agents/a.zip".into())
        );
        assert_eq!(
            Source::parse("relative/dir").unwrap(),
            Source::Local("relative/dir".into())
        );
        assert_eq!(
            Source::parse("file:///srv/a%20b.tgz").unwrap(),
            Source::Local("/srv/a b.tgz".into())
        );
        assert!(matches!(
            Source::parse("https://example.test/a.zip").unwrap(),
            Source::Http(_)
        ));
        assert!(matches!(
            Source::parse("s3://bucket/agents/a.zip").unwrap(),
            Source::ObjectStore(_)
        ));
        assert_eq!(
            Source::parse("oci://ghcr.io/team/agent:v3").unwrap(),
            Source::Oci("ghcr.io/team/agent:v3".to_owned())
        );
        assert!(matches!(
            Source::parse("oci://UPPER/Case"),
            Err(Error::InvalidSource { .. })
        ));
        assert!(matches!(
            Source::parse("gs://bucket/"),
            Err(Error::InvalidSource { .. })
        ));
        assert!(matches!(
            Source::parse("ftp://example.test/a.zip"),
            Err(Error::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            Source::parse("http://"),
            Err(Error::InvalidSource { .. })
        ));
        assert!(matches!(
            Source::parse(""),
            Err(Error::InvalidSource { .. })
        ));
    }

    #[test]
    fn display_hides_credentials() {
        let source = Source::parse("https://user:hunter2@example.test/a.zip?sig=secret").unwrap();
        let shown = source.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("user"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("example.test/a.zip"), "{shown}");
    }

    #[test]
    fn file_name_comes_from_path_or_url() {
        let name = |s: &str| Source::parse(s).unwrap().file_name();
        assert_eq!(name("/x/agent.py").as_deref(), Some("agent.py"));
        assert_eq!(name("http://h/a/b.tgz?x=1").as_deref(), Some("b.tgz"));
        assert_eq!(name("http://h/a/"), None);
    }
}
