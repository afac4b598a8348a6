//! The resource kinds the simulator serves and how their API paths, list kinds and defaults map.

use serde_json::Value;

/// One served resource type. All of them are namespaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Pod,
    Secret,
    ConfigMap,
    Event,
    Job,
}

impl Kind {
    /// Every served kind, for discovery documents.
    pub(crate) const ALL: [Kind; 5] = [
        Kind::Pod,
        Kind::Secret,
        Kind::ConfigMap,
        Kind::Event,
        Kind::Job,
    ];

    /// The kind for an API group (`""` for core) and a plural resource name.
    pub(crate) fn from_path(group: &str, plural: &str) -> Option<Kind> {
        match (group, plural) {
            ("", "pods") => Some(Kind::Pod),
            ("", "secrets") => Some(Kind::Secret),
            ("", "configmaps") => Some(Kind::ConfigMap),
            ("", "events") => Some(Kind::Event),
            ("batch", "jobs") => Some(Kind::Job),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
            Kind::Event => "Event",
            Kind::Job => "Job",
        }
    }

    pub(crate) fn plural(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::Secret => "secrets",
            Kind::ConfigMap => "configmaps",
            Kind::Event => "events",
            Kind::Job => "jobs",
        }
    }

    pub(crate) fn group(self) -> &'static str {
        match self {
            Kind::Job => "batch",
            _ => "",
        }
    }

    pub(crate) fn api_version(self) -> &'static str {
        match self {
            Kind::Job => "batch/v1",
            _ => "v1",
        }
    }

    /// `jobs.batch` or `pods`: how the API names the resource in messages.
    pub(crate) fn qualified(self) -> String {
        match self.group() {
            "" => self.plural().to_owned(),
            group => format!("{}.{group}", self.plural()),
        }
    }

    /// Kinds whose `status` is only written through the `/status` subresource.
    pub(crate) fn has_status(self) -> bool {
        matches!(self, Kind::Pod | Kind::Job)
    }

    /// The propagation policy used when a delete names none. Jobs keep the legacy
    /// `Orphan` default of `batch/v1`, as the real API server does.
    pub(crate) fn default_propagation(self) -> &'static str {
        match self {
            Kind::Job => "Orphan",
            _ => "Background",
        }
    }

    /// The `apiVersion`/`kind` pair of a list of this kind.
    pub(crate) fn list_header(self) -> Value {
        serde_json::json!({
            "apiVersion": self.api_version(),
            "kind": format!("{}List", self.name()),
        })
    }
}
