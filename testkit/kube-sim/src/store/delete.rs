//! Deleting objects: preconditions, propagation policies (Orphan strips ownerReferences,
//! Foreground holds the owner with a finalizer), graceful pod termination, finalizers, and
//! finishing a deletion that waited.

use serde_json::{Value, json};

use super::{DeleteOptions, FOREGROUND, Key, Store};
use crate::error::ApiError;
use crate::kinds::Kind;
use crate::object::{finalizers, is_deleting, meta_str, pod_finished, uid};
use crate::time::now_rfc3339;

impl Store {
    /// Handles a DELETE: preconditions, propagation policy, graceful pod termination and
    /// finalizers. Returns the object as it is after the call.
    pub(crate) fn delete(
        &mut self,
        kind: Kind,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let old = self.get(kind, ns, name)?;
        check_preconditions(kind, name, &old, opts)?;
        let policy = opts
            .propagation
            .clone()
            .unwrap_or_else(|| kind.default_propagation().to_owned());
        if !matches!(policy.as_str(), "Orphan" | "Background" | "Foreground") {
            return Err(ApiError::bad_request(format!(
                "unknown propagationPolicy {policy:?}"
            )));
        }
        let force = opts.grace_seconds == Some(0);
        if is_deleting(&old) {
            if force && kind == Kind::Pod {
                return Ok(self.remove(kind, ns, name, None));
            }
            return Ok(old);
        }
        if policy == "Orphan" {
            self.orphan_dependents(uid(&old))?;
        }
        match held_for_deletion(kind, &old, &policy, opts, force) {
            Some(new) => self.replace_stored(kind, ns, name, new, old),
            None => Ok(self.remove(kind, ns, name, None)),
        }
    }

    /// Finishes a deletion that was waiting (a pod whose containers are gone, an owner whose
    /// dependents are gone): drops `finalizer` if given and removes the object when no
    /// finalizers remain.
    pub(crate) fn finish_deletion(&mut self, key: &Key, finalizer: Option<&str>) {
        let Some(old) = self.objects.get(key).cloned() else {
            return;
        };
        let mut new = old.clone();
        if let Some(fin) = finalizer {
            let rest: Vec<String> = finalizers(&old).into_iter().filter(|f| f != fin).collect();
            new["metadata"]["finalizers"] = json!(rest);
        }
        if finalizers(&new).is_empty() {
            self.remove(key.0, &key.1, &key.2, Some(new));
        } else if new != old {
            // Only our own finalizer changed; the object stays for the others.
            let _ = self.replace_stored(key.0, &key.1, &key.2, new, old);
        }
    }

    /// Strips the owner's references from its dependents.
    fn orphan_dependents(&mut self, owner: &str) -> Result<(), ApiError> {
        for key in self.dependents(owner) {
            if let Some(dep) = self.objects.get(&key).cloned() {
                let mut new = dep.clone();
                if let Some(refs) = new
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(owner));
                }
                self.replace_stored(key.0, &key.1, &key.2, new, dep)?;
            }
        }
        Ok(())
    }
}

/// The `uid` and `resourceVersion` preconditions of a DELETE.
fn check_preconditions(
    kind: Kind,
    name: &str,
    old: &Value,
    opts: &DeleteOptions,
) -> Result<(), ApiError> {
    if opts
        .precondition_uid
        .as_deref()
        .is_some_and(|u| u != uid(old))
    {
        return Err(ApiError::conflict(
            kind,
            name,
            "Precondition failed: UID in precondition does not match the UID in record",
        ));
    }
    if opts
        .precondition_rv
        .as_deref()
        .is_some_and(|rv| rv != meta_str(old, "resourceVersion"))
    {
        return Err(ApiError::conflict(
            kind,
            name,
            "Precondition failed: ResourceVersion in precondition does not match the ResourceVersion in record",
        ));
    }
    Ok(())
}

/// The object marked for deletion when something holds it (finalizers, a foreground deletion,
/// a running pod's grace period); `None` when it can go at once.
fn held_for_deletion(
    kind: Kind,
    old: &Value,
    policy: &str,
    opts: &DeleteOptions,
    force: bool,
) -> Option<Value> {
    let mut new = old.clone();
    let mut keep = !finalizers(old).is_empty();
    // Pods have no dependents here; their graceful termination is the wait.
    if policy == "Foreground" && kind != Kind::Pod {
        let mut f = finalizers(old);
        if !f.iter().any(|f| f == FOREGROUND) {
            f.push(FOREGROUND.to_owned());
        }
        new["metadata"]["finalizers"] = json!(f);
        keep = true;
    }
    if kind == Kind::Pod && !pod_finished(old) && !force {
        let grace = opts.grace_seconds.unwrap_or_else(|| {
            old.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30)
        });
        new["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        keep = true;
    }
    if !keep {
        return None;
    }
    new["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
    if new["metadata"].get("deletionGracePeriodSeconds").is_none() {
        new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
    }
    Some(new)
}
