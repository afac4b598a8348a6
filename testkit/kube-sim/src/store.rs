//! The object store: every object as JSON under (kind, namespace, name), one global
//! `resourceVersion` counter, a bounded history of watch events for resuming watches (older
//! versions are "compacted" and answer 410), and the write semantics of the API server
//! (uid, generateName, conflicts on stale versions, finalizers, propagation policies).
//!
//! This file holds the store, its reads and the primitive writes that bump the version and
//! emit watch events; `write` adds create, update and patch, `delete` adds deletion.

mod delete;
mod write;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use crate::error::ApiError;
use crate::kinds::Kind;
use crate::object::{owner_uids, uid};

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
/// sub-second precision lost: which pods a Job has counted, when Jobs started and finished, and
/// when a Job's pod creation last failed (it is retried after a back-off).
#[derive(Debug, Default)]
pub(crate) struct JobBook {
    pub(crate) counted: HashSet<String>,
    pub(crate) started: HashMap<String, Instant>,
    pub(crate) finished: HashMap<String, Instant>,
    pub(crate) create_failed: HashMap<String, Instant>,
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

    /// The key of the object with this uid.
    pub(crate) fn find_uid(&self, wanted: &str) -> Option<Key> {
        self.objects
            .iter()
            .find(|(_, v)| uid(v) == wanted)
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

    /// Writes `new` over `old` if they differ.
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

    /// Removes an object now and emits DELETED.
    fn remove(&mut self, kind: Kind, ns: &str, name: &str, last: Option<Value>) -> Value {
        let key = (kind, ns.to_owned(), name.to_owned());
        let stored = self.objects.remove(&key).unwrap_or(Value::Null);
        let mut object = last.unwrap_or(stored);
        self.next_rv(&mut object);
        let id = uid(&object).to_owned();
        self.jobs.started.remove(&id);
        self.jobs.finished.remove(&id);
        self.jobs.create_failed.remove(&id);
        self.emit(kind, ns, "DELETED", object.clone(), None);
        object
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
