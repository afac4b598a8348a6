//! The object store: every object as JSON under (kind, namespace, name), one global
//! `resourceVersion` counter, a bounded history of watch events for resuming watches (older
//! versions are "compacted" and answer 410), and the write semantics of the API server
//! (uid, generateName, conflicts on stale versions, finalizers, propagation policies).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use crate::error::ApiError;
use crate::kinds::Kind;
use crate::object::{finalizers, is_deleting, meta_str, owner_uids, pod_finished, uid};
use crate::patch;
use crate::time::now_rfc3339;
use crate::validate;

/// Where an object lives.
pub(crate) type Key = (Kind, String, String);

/// Finalizer that holds an owner until its dependents are gone (foreground deletion).
pub(crate) const FOREGROUND: &str = "foregroundDeletion";

/// One change, as watches see it.
#[derive(Debug)]
pub(crate) struct WatchItem {
    pub(crate) rv: u64,
    pub(crate) kind: Kind,
    pub(crate) namespace: String,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub(crate) event: &'static str,
    pub(crate) object: Value,
    /// The object before a modification, so selector watches can turn a change that leaves the
    /// selection into `DELETED` and one that enters it into `ADDED`.
    pub(crate) old: Option<Value>,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// Everything but `status` (for kinds that have a status subresource).
    Main,
    /// Only `status`.
    Status,
}

/// How a PATCH body is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    /// `application/merge-patch+json` and `application/strategic-merge-patch+json`.
    Merge,
    /// `application/apply-patch+yaml` (server-side apply; creates a missing object).
    Apply,
}

/// How a PATCH applies and who sends it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PatchOptions<'a> {
    pub(crate) how: PatchKind,
    pub(crate) part: Part,
    /// `fieldManager`, required for apply.
    pub(crate) manager: Option<&'a str>,
}

/// What a DELETE asks for.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    pub(crate) propagation: Option<String>,
    pub(crate) grace_seconds: Option<i64>,
    pub(crate) precondition_uid: Option<String>,
    pub(crate) precondition_rv: Option<String>,
}

/// Controller bookkeeping that the real cluster keeps in finalizers and timestamps with
/// sub-second precision lost: which pods a Job has counted, when Jobs started and finished.
#[derive(Debug, Default)]
pub(crate) struct JobBook {
    pub(crate) counted: HashSet<String>,
    pub(crate) started: HashMap<String, Instant>,
    pub(crate) finished: HashMap<String, Instant>,
}

pub(crate) struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Arc<WatchItem>>,
    /// Watches from a version below this are gone (410).
    compacted: u64,
    history_limit: usize,
    tx: broadcast::Sender<Arc<WatchItem>>,
    changed: watch::Sender<u64>,
    pub(crate) jobs: JobBook,
}

fn random_suffix() -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| CHARS[rand::random_range(0..CHARS.len())] as char)
        .collect()
}

impl Store {
    pub(crate) fn new(history_limit: usize, changed: watch::Sender<u64>) -> Self {
        let (tx, _) = broadcast::channel(4096);
        Store {
            rv: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 0,
            history_limit: history_limit.max(1),
            tx,
            changed,
            jobs: JobBook::default(),
        }
    }

    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<WatchItem>> {
        self.tx.subscribe()
    }

    /// Drops the whole watch history: every version up to now becomes "too old" (410).
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// The changes after `rv`, or 410 when they were compacted away.
    pub(crate) fn history_since(&self, rv: u64) -> Result<Vec<Arc<WatchItem>>, ApiError> {
        if rv < self.compacted {
            return Err(ApiError::gone(format!(
                "too old resource version: {rv} ({})",
                self.compacted
            )));
        }
        Ok(self.history.iter().filter(|i| i.rv > rv).cloned().collect())
    }

    /// Whether a list at exactly `rv` can be served (only the current version can).
    pub(crate) fn check_exact(&self, rv: u64) -> Result<(), ApiError> {
        if rv == self.rv {
            Ok(())
        } else if rv < self.rv {
            Err(ApiError::gone(format!(
                "too old resource version: {rv} ({})",
                self.rv
            )))
        } else {
            Err(ApiError::new(
                504,
                "Timeout",
                format!("Too large resource version: {rv}, current: {}", self.rv),
            ))
        }
    }

    pub(crate) fn get(&self, kind: Kind, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&(kind, ns.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(kind, name))
    }

    pub(crate) fn try_get(&self, kind: Kind, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(kind, ns.to_owned(), name.to_owned()))
    }

    /// Objects of a kind, in one namespace or all, sorted by namespace and name.
    pub(crate) fn list(&self, kind: Kind, ns: Option<&str>) -> Vec<&Value> {
        self.objects
            .iter()
            .filter(|((k, n, _), _)| *k == kind && ns.is_none_or(|ns| ns == n))
            .map(|(_, v)| v)
            .collect()
    }

    /// Keys of every object, for controllers that walk the store.
    pub(crate) fn keys(&self, kind: Option<Kind>) -> Vec<Key> {
        self.objects
            .keys()
            .filter(|(k, _, _)| kind.is_none_or(|kind| *k == kind))
            .cloned()
            .collect()
    }

    pub(crate) fn by_key(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    pub(crate) fn find_uid(&self, uid: &str) -> Option<Key> {
        self.objects
            .iter()
            .find(|(_, v)| crate::object::uid(v) == uid)
            .map(|(k, _)| k.clone())
    }

    /// Objects whose ownerReferences name `owner_uid`.
    pub(crate) fn dependents(&self, owner_uid: &str) -> Vec<Key> {
        self.objects
            .iter()
            .filter(|(_, v)| owner_uids(v).iter().any(|u| u == owner_uid))
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn emit(
        &mut self,
        kind: Kind,
        ns: &str,
        event: &'static str,
        object: Value,
        old: Option<Value>,
    ) {
        let item = Arc::new(WatchItem {
            rv: self.rv,
            kind,
            namespace: ns.to_owned(),
            event,
            object,
            old,
        });
        self.history.push_back(item.clone());
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.compacted = dropped.rv;
            }
        }
        // No receiver is fine: nobody is watching.
        let _ = self.tx.send(item);
        self.changed.send_modify(|g| *g += 1);
    }

    fn next_rv(&mut self, object: &mut Value) {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
    }

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
        if meta_str(&object, "name").is_empty() {
            let prefix = meta_str(&object, "generateName").to_owned();
            if !prefix.is_empty() {
                object["metadata"]["name"] = json!(format!("{prefix}{}", random_suffix()));
            }
        }
        let uid = uuid::Uuid::new_v4().to_string();
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
        if kind == Kind::Secret {
            validate::fold_string_data(&mut object);
        }
        validate::validate(kind, &object)?;
        validate::default_on_create(kind, &mut object, &uid);
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
        if !object.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        let body_name = meta_str(&object, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let wanted_rv = meta_str(&object, "resourceVersion");
        if !wanted_rv.is_empty() && wanted_rv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict(
                kind,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        if kind == Kind::Secret {
            validate::fold_string_data(&mut object);
        }
        let new = match part {
            Part::Status => {
                let mut new = old.clone();
                new["status"] = object.get("status").cloned().unwrap_or(json!({}));
                new
            }
            Part::Main => {
                if !object.get("metadata").is_some_and(Value::is_object) {
                    object["metadata"] = json!({});
                }
                for field in [
                    "name",
                    "namespace",
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                ] {
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
                if kind == Kind::Pod || kind == Kind::Job {
                    if let Some(spec) = object.get_mut("spec") {
                        if kind == Kind::Pod {
                            validate::default_pod_spec(spec);
                        } else if let Some(t) = spec.pointer_mut("/template/spec") {
                            validate::default_pod_spec(t);
                        }
                    }
                }
                if object.get("spec") != old.get("spec") {
                    let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
                    object["metadata"]["generation"] = json!(generation + 1);
                }
                validate::validate(kind, &object)?;
                object
            }
        };
        // The last finalizer removed from an object being deleted lets it go.
        if is_deleting(&new) && finalizers(&new).is_empty() && !finalizers(&old).is_empty() {
            return Ok(self.remove(kind, ns, name, Some(new)));
        }
        self.replace_stored(kind, ns, name, new, old)
    }

    /// Writes `new` over `old` if they differ; removes the object when it is being deleted and
    /// has no finalizers left.
    fn replace_stored(
        &mut self,
        kind: Kind,
        ns: &str,
        name: &str,
        mut new: Value,
        old: Value,
    ) -> Result<Value, ApiError> {
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if new == old {
            return Ok(old);
        }
        self.next_rv(&mut new);
        self.objects
            .insert((kind, ns.to_owned(), name.to_owned()), new.clone());
        self.emit(kind, ns, "MODIFIED", new.clone(), Some(old));
        Ok(new)
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
            Err(e) if how == PatchKind::Apply && part == Part::Main => {
                let mut object = body.clone();
                let body_name = meta_str(&object, "name");
                if !body_name.is_empty() && body_name != name {
                    return Err(ApiError::bad_request(
                        "the name in the body does not match the URL",
                    ));
                }
                object["metadata"]["name"] = json!(name);
                record_manager(&mut object, manager.unwrap_or("unknown"), "Apply", kind);
                let _ = e;
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

    /// Removes an object now and emits DELETED.
    fn remove(&mut self, kind: Kind, ns: &str, name: &str, last: Option<Value>) -> Value {
        let key = (kind, ns.to_owned(), name.to_owned());
        let stored = self.objects.remove(&key).unwrap_or(Value::Null);
        let mut object = last.unwrap_or(stored);
        self.next_rv(&mut object);
        let id = uid(&object).to_owned();
        self.jobs.started.remove(&id);
        self.jobs.finished.remove(&id);
        self.emit(kind, ns, "DELETED", object.clone(), None);
        object
    }

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
        if opts
            .precondition_uid
            .as_deref()
            .is_some_and(|u| u != uid(&old))
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
            .is_some_and(|rv| rv != meta_str(&old, "resourceVersion"))
        {
            return Err(ApiError::conflict(
                kind,
                name,
                "Precondition failed: ResourceVersion in precondition does not match the ResourceVersion in record",
            ));
        }
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
            let owner = uid(&old).to_owned();
            for key in self.dependents(&owner) {
                if let Some(dep) = self.objects.get(&key).cloned() {
                    let mut new = dep.clone();
                    if let Some(refs) = new
                        .pointer_mut("/metadata/ownerReferences")
                        .and_then(Value::as_array_mut)
                    {
                        refs.retain(|r| {
                            r.get("uid").and_then(Value::as_str) != Some(owner.as_str())
                        });
                    }
                    self.replace_stored(key.0, &key.1, &key.2, new, dep)?;
                }
            }
        }
        let mut new = old.clone();
        let mut keep = !finalizers(&old).is_empty();
        // Pods have no dependents here; their graceful termination is the wait.
        if policy == "Foreground" && kind != Kind::Pod {
            let mut f = finalizers(&old);
            if !f.iter().any(|f| f == FOREGROUND) {
                f.push(FOREGROUND.to_owned());
            }
            new["metadata"]["finalizers"] = json!(f);
            keep = true;
        }
        if kind == Kind::Pod && !pod_finished(&old) && !force {
            let grace = opts.grace_seconds.unwrap_or_else(|| {
                old.pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(30)
            });
            new["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            keep = true;
        }
        if keep {
            new["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            if new["metadata"].get("deletionGracePeriodSeconds").is_none() {
                new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            }
            return self.replace_stored(kind, ns, name, new, old);
        }
        Ok(self.remove(kind, ns, name, None))
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

    /// Lets a controller change an object in place (status included); no-op changes are not
    /// written.
    pub(crate) fn mutate(
        &mut self,
        key: &Key,
        change: impl FnOnce(&mut Value),
    ) -> Result<Value, ApiError> {
        let old = self
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(key.0, &key.2))?;
        let mut new = old.clone();
        change(&mut new);
        self.replace_stored(key.0, &key.1, &key.2, new, old)
    }
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
