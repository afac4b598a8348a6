//! Creating and changing objects: POST (name generation, server-set metadata, validation and
//! defaults), PUT of the main part or the status, and PATCH (merge, or server-side apply that
//! creates a missing object), with `resourceVersion` preconditions and `managedFields`.

use serde_json::{Value, json};

use super::{Part, PatchKind, PatchOptions, Store};
use crate::defaults;
use crate::error::ApiError;
use crate::kinds::Kind;
use crate::object::{finalizers, is_deleting, meta_str};
use crate::patch;
use crate::time::now_rfc3339;
use crate::validate;

/// Metadata the server owns: a PUT keeps the stored values.
const SERVER_METADATA: [&str; 7] = [
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
];

impl Store {
    /// Stores a new object (POST).
    pub(crate) fn create(
        &mut self,
        kind: Kind,
        ns: &str,
        mut object: Value,
    ) -> Result<Value, ApiError> {
        if !object.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        if !object.get("metadata").is_some_and(Value::is_object) {
            object["metadata"] = json!({});
        }
        let body_ns = meta_str(&object, "namespace");
        if !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(format!(
                "the namespace of the provided object ({body_ns}) does not match the namespace sent on the request ({ns})"
            )));
        }
        let uid = uuid::Uuid::new_v4().to_string();
        set_create_metadata(&mut object, kind, ns, &uid);
        if kind == Kind::Secret {
            defaults::fold_string_data(&mut object);
        }
        validate::validate(kind, &object)?;
        defaults::default_on_create(kind, &mut object, &uid);
        let name = meta_str(&object, "name").to_owned();
        let key = (kind, ns.to_owned(), name.clone());
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(kind, &name));
        }
        self.next_rv(&mut object);
        self.objects.insert(key, object.clone());
        self.emit(kind, ns, "ADDED", object.clone(), None);
        Ok(object)
    }

    /// Replaces an object (PUT), its main part or its status.
    pub(crate) fn update(
        &mut self,
        kind: Kind,
        ns: &str,
        name: &str,
        mut object: Value,
        part: Part,
    ) -> Result<Value, ApiError> {
        let old = self.get(kind, ns, name)?;
        check_replacement(kind, name, &old, &object)?;
        if kind == Kind::Secret {
            defaults::fold_string_data(&mut object);
        }
        let new = match part {
            Part::Status => {
                let mut new = old.clone();
                new["status"] = object.get("status").cloned().unwrap_or(json!({}));
                new
            }
            Part::Main => replaced_main(kind, &old, object)?,
        };
        // The last finalizer removed from an object being deleted lets it go.
        if is_deleting(&new) && finalizers(&new).is_empty() && !finalizers(&old).is_empty() {
            return Ok(self.remove(kind, ns, name, Some(new)));
        }
        self.replace_stored(kind, ns, name, new, old)
    }

    /// Applies a PATCH; returns the object and whether it was created (server-side apply).
    pub(crate) fn patch(
        &mut self,
        kind: Kind,
        ns: &str,
        name: &str,
        body: &Value,
        opts: PatchOptions<'_>,
    ) -> Result<(Value, bool), ApiError> {
        let PatchOptions { how, part, manager } = opts;
        if !body.is_object() {
            return Err(ApiError::bad_request("the patch must be a JSON object"));
        }
        let old = match self.get(kind, ns, name) {
            Ok(old) => old,
            Err(_) if how == PatchKind::Apply && part == Part::Main => {
                let object = applied_new(kind, name, body, manager)?;
                return self.create(kind, ns, object).map(|o| (o, true));
            }
            Err(e) => return Err(e),
        };
        if how == PatchKind::Apply && manager.is_none_or(str::is_empty) {
            return Err(ApiError::bad_request(
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        let mut new = old.clone();
        match how {
            PatchKind::Merge => patch::merge(&mut new, body),
            PatchKind::Apply => patch::apply(&mut new, body),
        }
        if let Some(m) = manager {
            let op = if how == PatchKind::Apply {
                "Apply"
            } else {
                "Update"
            };
            record_manager(&mut new, m, op, kind);
        }
        // A resourceVersion in the patch is a precondition; otherwise the patch applies to the
        // latest version.
        if meta_str(body, "resourceVersion").is_empty() {
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        }
        self.update(kind, ns, name, new, part).map(|o| (o, false))
    }
}

/// The name (generated from `generateName` when missing) and the metadata the server sets on
/// create.
fn set_create_metadata(object: &mut Value, kind: Kind, ns: &str, uid: &str) {
    if meta_str(object, "name").is_empty() {
        let prefix = meta_str(object, "generateName").to_owned();
        if !prefix.is_empty() {
            object["metadata"]["name"] = json!(format!("{prefix}{}", random_suffix()));
        }
    }
    let meta = &mut object["metadata"];
    meta["namespace"] = json!(ns);
    meta["uid"] = json!(uid);
    meta["creationTimestamp"] = json!(now_rfc3339());
    meta["generation"] = json!(1);
    if let Some(m) = meta.as_object_mut() {
        m.remove("deletionTimestamp");
        m.remove("deletionGracePeriodSeconds");
    }
    object["apiVersion"] = json!(kind.api_version());
    object["kind"] = json!(kind.name());
}

fn random_suffix() -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect()
}

/// A PUT body must be an object naming the same object at its current version, if any.
fn check_replacement(kind: Kind, name: &str, old: &Value, object: &Value) -> Result<(), ApiError> {
    if !object.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    let body_name = meta_str(object, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let wanted_rv = meta_str(object, "resourceVersion");
    if !wanted_rv.is_empty() && wanted_rv != meta_str(old, "resourceVersion") {
        return Err(ApiError::conflict(
            kind,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    Ok(())
}

/// The object a PUT of the main part stores: server metadata and the status kept, pod spec
/// defaults filled in, `generation` bumped when the spec changes, validated.
fn replaced_main(kind: Kind, old: &Value, mut object: Value) -> Result<Value, ApiError> {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    for field in SERVER_METADATA {
        match old["metadata"].get(field) {
            Some(v) => object["metadata"][field] = v.clone(),
            None => {
                if let Some(m) = object["metadata"].as_object_mut() {
                    m.remove(field);
                }
            }
        }
    }
    object["apiVersion"] = json!(kind.api_version());
    object["kind"] = json!(kind.name());
    if kind.has_status() {
        object["status"] = old.get("status").cloned().unwrap_or(json!({}));
    }
    let pod_spec = match kind {
        Kind::Pod => object.get_mut("spec"),
        Kind::Job => object.pointer_mut("/spec/template/spec"),
        _ => None,
    };
    if let Some(spec) = pod_spec {
        defaults::default_pod_spec(spec);
    }
    if object.get("spec") != old.get("spec") {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
        object["metadata"]["generation"] = json!(generation + 1);
    }
    validate::validate(kind, &object)?;
    validate::validate_update(kind, old, &object)?;
    Ok(object)
}

/// The object a server-side apply creates when none exists.
fn applied_new(
    kind: Kind,
    name: &str,
    body: &Value,
    manager: Option<&str>,
) -> Result<Value, ApiError> {
    let mut object = body.clone();
    let body_name = meta_str(&object, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(
            "the name in the body does not match the URL",
        ));
    }
    object["metadata"]["name"] = json!(name);
    record_manager(&mut object, manager.unwrap_or("unknown"), "Apply", kind);
    Ok(object)
}

/// Records a `managedFields` entry for `manager` (one per manager and operation).
fn record_manager(object: &mut Value, manager: &str, operation: &str, kind: Kind) {
    if !object.get("metadata").is_some_and(Value::is_object) {
        object["metadata"] = json!({});
    }
    let entry = json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": kind.api_version(),
        "time": now_rfc3339(),
        "fieldsType": "FieldsV1",
        "fieldsV1": {},
    });
    let fields = object["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
        .entry("managedFields")
        .or_insert(json!([]));
    if let Some(list) = fields.as_array_mut() {
        list.retain(|e| {
            e.get("manager").and_then(Value::as_str) != Some(manager)
                || e.get("operation").and_then(Value::as_str) != Some(operation)
        });
        list.push(entry);
    }
}
