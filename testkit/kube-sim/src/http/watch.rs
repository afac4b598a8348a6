//! Watches: newline-delimited events from a snapshot or a resumed version, selector-aware
//! (`ADDED` on entering the selection, `DELETED` on leaving it), with bookmarks, a timeout, and
//! an end on API restart or shutdown.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

use super::request::{Filter, Query, Route};
use super::response::{error_response, stream_response};
use crate::error::ApiError;
use crate::kinds::Kind;
use crate::shared::{Shared, stopped};
use crate::store::{Store, WatchItem};

fn event_line(event: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": event, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn bookmark(kind: Kind, rv: u64, initial_end: bool) -> Value {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": kind.name(), "apiVersion": kind.api_version(), "metadata": metadata})
}

/// What a change looks like through a selector: entering it is ADDED, leaving it is DELETED.
fn visible(filter: &Filter, item: &WatchItem) -> Option<(&'static str, Value)> {
    if !filter.in_scope(item) {
        return None;
    }
    let now = filter.matches(&item.object);
    let before = item.old.as_ref().is_some_and(|o| filter.matches(o));
    match (item.event, before, now) {
        ("MODIFIED", false, true) => Some(("ADDED", item.object.clone())),
        ("MODIFIED", true, false) => Some(("DELETED", item.object.clone())),
        ("MODIFIED", false, false) => None,
        (event, _, true) => Some((event, item.object.clone())),
        _ => None,
    }
}

/// What a watch asks for.
struct Params {
    filter: Filter,
    kind: Kind,
    namespace: Option<String>,
    /// Periodic `BOOKMARK` events, and one after the initial events when those are asked for.
    bookmarks: bool,
    /// Start from the current objects even when a version is given.
    initial_events: bool,
    timeout: Duration,
    /// The version to resume after; `None` starts from the current objects.
    since: Option<u64>,
}

impl Params {
    fn parse(route: &Route, query: &Query) -> Result<Params, ApiError> {
        if route.name.is_some() {
            return Err(ApiError::bad_request(
                "watch a collection with a fieldSelector metadata.name=NAME",
            ));
        }
        let filter = Filter::from_query(route, query)?;
        let flag = |name: &str| query.get(name).is_some_and(|v| v == "true");
        let timeout = query
            .get("timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(1800));
        let since = query
            .get("resourceVersion")
            .filter(|v| !v.is_empty() && *v != "0")
            .map(|v| v.parse::<u64>())
            .transpose()
            .map_err(|_| ApiError::bad_request("resourceVersion must be a number"))?;
        Ok(Params {
            filter,
            kind: route.kind,
            namespace: route.namespace.clone(),
            bookmarks: flag("allowWatchBookmarks"),
            initial_events: flag("sendInitialEvents"),
            timeout,
            since,
        })
    }
}

type Sender = mpsc::Sender<Result<Bytes, Infallible>>;

pub(crate) async fn watch(shared: Arc<Shared>, route: Route, query: &Query) -> Response {
    let params = match Params::parse(&route, query) {
        Ok(params) => params,
        Err(e) => return error_response(&e),
    };
    let (tx, rx) = mpsc::channel(256);
    // Snapshot and subscription under one lock: nothing falls between them.
    let (initial, events, start_rv) = {
        let store = shared.store();
        let events = store.subscribe();
        let start_rv = store.rv();
        match initial_lines(&store, &params, start_rv) {
            Ok(lines) => (lines, events, start_rv),
            Err(e) => {
                let _ = tx.try_send(Ok(event_line("ERROR", &e.to_status())));
                drop(tx);
                return stream_response(rx);
            }
        }
    };
    let feed = Feed {
        tx,
        events,
        epoch: shared.api_epoch.subscribe(),
        shutdown: shared.shutdown.subscribe(),
        interval: shared.config.bookmark_interval,
        last_rv: start_rv,
        params,
    };
    tokio::spawn(feed.run(initial));
    stream_response(rx)
}

/// The events a watch starts with: the changes after its version, or the current objects
/// (then a bookmark when asked for); 410 when the version was compacted away.
fn initial_lines(store: &Store, params: &Params, start_rv: u64) -> Result<Vec<Bytes>, ApiError> {
    let mut lines = Vec::new();
    match params.since {
        Some(rv) if !params.initial_events => {
            for item in store.history_since(rv)? {
                if let Some((event, object)) = visible(&params.filter, &item) {
                    lines.push(event_line(event, &object));
                }
            }
        }
        _ => {
            for object in store.list(params.kind, params.namespace.as_deref()) {
                if params.filter.matches(object) {
                    lines.push(event_line("ADDED", object));
                }
            }
            if params.initial_events && params.bookmarks {
                let mark = bookmark(params.kind, start_rv, true);
                lines.push(event_line("BOOKMARK", &mark));
            }
        }
    }
    Ok(lines)
}

/// A watch's stream after its initial events.
struct Feed {
    tx: Sender,
    events: broadcast::Receiver<Arc<WatchItem>>,
    /// Changes on an API restart, which ends every watch.
    epoch: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    interval: Duration,
    /// The last version sent; older changes in the subscription are skipped.
    last_rv: u64,
    params: Params,
}

impl Feed {
    async fn run(mut self, initial: Vec<Bytes>) {
        for line in initial {
            if self.tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(self.params.timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(self.interval);
        ticker.tick().await;
        loop {
            let line = tokio::select! {
                received = self.events.recv() => match received {
                    Ok(item) => match self.change(&item) {
                        Some(line) => line,
                        None => continue,
                    },
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let status = ApiError::gone("kube-sim: watch fell behind; relist").to_status();
                        let _ = self.tx.send(Ok(event_line("ERROR", &status))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if self.params.bookmarks => {
                    event_line("BOOKMARK", &bookmark(self.params.kind, self.last_rv, false))
                }
                _ = &mut deadline => return,
                _ = self.epoch.changed() => return,
                _ = stopped(&mut self.shutdown) => return,
                _ = self.tx.closed() => return,
            };
            if self.tx.send(Ok(line)).await.is_err() {
                return;
            }
        }
    }

    /// The line for a change this watch has not sent and can see.
    fn change(&mut self, item: &WatchItem) -> Option<Bytes> {
        if item.rv <= self.last_rv {
            return None;
        }
        self.last_rv = item.rv;
        let (event, object) = visible(&self.params.filter, item)?;
        Some(event_line(event, &object))
    }
}
