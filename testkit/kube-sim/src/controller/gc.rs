//! The garbage collector: objects whose owners are all gone, or are being deleted in the
//! foreground, are deleted; a foreground-deleted owner goes once its dependents are gone.

use serde_json::Value;

use crate::object::{has_finalizer, is_deleting, owner_uids, uid};
use crate::store::{DeleteOptions, FOREGROUND, Key, Store};

pub(crate) fn collect_garbage(store: &mut Store) {
    for key in store.keys(None) {
        if store.by_key(&key).is_some_and(|o| orphaned(store, o)) {
            tracing::debug!(kind = key.0.name(), name = %key.2, "kube-sim: garbage collecting");
            let opts = DeleteOptions {
                propagation: Some("Background".to_owned()),
                ..DeleteOptions::default()
            };
            let _ = store.delete(key.0, &key.1, &key.2, &opts);
        }
    }
    for key in store.keys(None) {
        let done = store
            .by_key(&key)
            .is_some_and(|o| waits_for_dependents(o) && store.dependents(uid(o)).is_empty());
        if done {
            store.finish_deletion(&key, Some(FOREGROUND));
        }
    }
}

/// Whether an owned object has lost all its owners or has one being deleted in the foreground.
fn orphaned(store: &Store, object: &Value) -> bool {
    let owners = owner_uids(object);
    if owners.is_empty() || is_deleting(object) {
        return false;
    }
    let found: Vec<Option<Key>> = owners.iter().map(|u| store.find_uid(u)).collect();
    let all_gone = found.iter().all(Option::is_none);
    let owner_foreground = found
        .iter()
        .flatten()
        .any(|k| store.by_key(k).is_some_and(waits_for_dependents));
    all_gone || owner_foreground
}

/// A foreground deletion in progress.
fn waits_for_dependents(object: &Value) -> bool {
    is_deleting(object) && has_finalizer(object, FOREGROUND)
}
