//! Errors: [`ApiError`] is what the simulated API answers (a `metav1.Status` body), [`Error`] is
//! what the library's own calls fail with.

use serde_json::{Value, json};

use crate::kinds::Kind;

/// Failures of the simulator's library API (starting, writing a kubeconfig, child processes).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kube-sim: cannot bind {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("kube-sim: io error on {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("kube-sim: child process: {0}")]
    Child(String),
    #[error("kube-sim: {0}")]
    Api(#[from] ApiError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An API failure as the API server reports it: HTTP code, `reason` and message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// `details` of the Status (name, kind, causes), `null` when there are none.
    pub details: Value,
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason.to_owned(),
            message: message.into(),
            details: Value::Null,
        }
    }

    fn with_details(mut self, kind: Kind, name: &str) -> Self {
        self.details = json!({"name": name, "group": kind.group(), "kind": kind.plural()});
        self
    }

    pub(crate) fn not_found(kind: Kind, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", kind.qualified()),
        )
        .with_details(kind, name)
    }

    pub(crate) fn already_exists(kind: Kind, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", kind.qualified()),
        )
        .with_details(kind, name)
    }

    pub(crate) fn conflict(kind: Kind, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                kind.qualified()
            ),
        )
        .with_details(kind, name)
    }

    /// 422 with one cause per `(field, message)`.
    pub(crate) fn invalid(kind: Kind, name: &str, causes: &[(String, String)]) -> Self {
        let summary = causes
            .iter()
            .map(|(field, msg)| format!("{field}: {msg}"))
            .collect::<Vec<_>>()
            .join(", ");
        let what = match kind.group() {
            "" => kind.name().to_owned(),
            group => format!("{}.{group}", kind.name()),
        };
        let mut err = Self::new(
            422,
            "Invalid",
            format!("{what} \"{name}\" is invalid: {summary}"),
        )
        .with_details(kind, name);
        err.details["causes"] = causes
            .iter()
            .map(|(field, msg)| json!({"reason": "FieldValueInvalid", "message": msg, "field": field}))
            .collect();
        err
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub(crate) fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// The `metav1.Status` body.
    pub(crate) fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !self.details.is_null() {
            status["details"] = self.details.clone();
        }
        status
    }

    /// An error injected by a fault, with the reason the real server gives for that code.
    pub(crate) fn injected(code: u16) -> Self {
        let reason = match code {
            400 => "BadRequest",
            404 => "NotFound",
            409 => "Conflict",
            410 => "Expired",
            422 => "Invalid",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        let mut err = Self::new(code, reason, format!("kube-sim: injected {code} {reason}"));
        if code == 429 {
            err.details = json!({"retryAfterSeconds": 1});
        }
        err
    }
}
