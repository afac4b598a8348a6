//! The shared view of the cluster: one watcher per kind (Jobs, Pods) selecting the executor's label, and one
//! of the Jobs' `FailedCreate` events (a ResourceQuota or admission refusing a match pod shows nowhere else),
//! each feeding a reflector store. Every change wakes the waiters of the match it concerns (a `watch` channel
//! per match id); nothing polls the API. A failed watch backs off and re-lists.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::meta::{MANAGED_BY, MANAGED_BY_LABEL, MATCH_ID_LABEL};

/// Jobs and pods of the executor's matches, kept current by two watches.
#[derive(Debug)]
pub struct Tracker {
    namespace: String,
    jobs: Store<Job>,
    pods: Store<Pod>,
    /// `FailedCreate` events of Jobs (of any Job: events carry no labels).
    failed_creates: Store<Event>,
    wakers: Arc<Wakers>,
    /// Becomes true once both stores hold their first full list.
    ready: watch::Receiver<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Who to wake on an event; shared with the watch tasks.
#[derive(Debug)]
struct Wakers {
    /// Per match id: bumped whenever its Job or pod changes.
    by_match: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// Bumped on every event (and on every re-list), for the reconciler.
    any: watch::Sender<u64>,
}

impl Tracker {
    /// Starts the two watches in `namespace`.
    pub fn start(client: Client, namespace: &str) -> Arc<Self> {
        let (jobs, jobs_writer) = reflector::store::<Job>();
        let (pods, pods_writer) = reflector::store::<Pod>();
        let (failed_creates, events_writer) = reflector::store::<Event>();
        let wakers = Arc::new(Wakers {
            by_match: Mutex::new(HashMap::new()),
            any: watch::channel(0).0,
        });
        {
            let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY}");
            let config = watcher::Config::default().labels(&selector);
            let job_stream = reflector::reflector(
                jobs_writer,
                watcher::watcher(
                    Api::<Job>::namespaced(client.clone(), namespace),
                    config.clone(),
                )
                .default_backoff(),
            );
            let pod_stream = reflector::reflector(
                pods_writer,
                watcher::watcher(Api::<Pod>::namespaced(client.clone(), namespace), config)
                    .default_backoff(),
            );
            let event_stream = reflector::reflector(
                events_writer,
                watcher::watcher(
                    Api::<Event>::namespaced(client, namespace),
                    watcher::Config::default().fields(FAILED_CREATE_SELECTOR),
                )
                .default_backoff(),
            );
            // An event names its Job, whose label names the match.
            let job_names = jobs.clone();
            let match_of_event = move |e: &Event| {
                let name = e.involved_object.name.as_deref()?;
                let ns = e.involved_object.namespace.as_deref().unwrap_or_default();
                let job = job_names.get(&ObjectRef::new(name).within(ns))?;
                job.labels().get(MATCH_ID_LABEL).cloned()
            };
            // A store's readiness wakes only the task that polled it last, so exactly one task waits for it
            // and tells every other waiter through a watch channel.
            let (ready_tx, ready) = watch::channel(false);
            let (jobs_ready, pods_ready) = (jobs.clone(), pods.clone());
            let tasks = vec![
                tokio::spawn(feed(job_stream, Arc::clone(&wakers), "jobs", match_label)),
                tokio::spawn(feed(pod_stream, Arc::clone(&wakers), "pods", match_label)),
                tokio::spawn(feed(
                    event_stream,
                    Arc::clone(&wakers),
                    "events",
                    match_of_event,
                )),
                tokio::spawn(async move {
                    if jobs_ready.wait_until_ready().await.is_ok()
                        && pods_ready.wait_until_ready().await.is_ok()
                    {
                        let _ = ready_tx.send(true);
                    }
                }),
            ];
            Arc::new(Self {
                namespace: namespace.to_string(),
                jobs,
                pods,
                failed_creates,
                wakers,
                ready,
                tasks,
            })
        }
    }

    /// Waits until both stores hold their first full list. Any number of tasks may wait at once.
    pub async fn ready(&self) {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|listed| *listed).await;
    }

    /// A channel that changes whenever the match's Job or pod does.
    pub(super) fn subscribe(&self, match_id: &str) -> watch::Receiver<u64> {
        self.wakers
            .lock()
            .entry(match_id.to_string())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// A channel that changes on every event.
    pub(super) fn subscribe_all(&self) -> watch::Receiver<u64> {
        self.wakers.any.subscribe()
    }

    /// The Job named `name`, as last seen.
    pub fn job(&self, name: &str) -> Option<Arc<Job>> {
        self.jobs.get(&ObjectRef::new(name).within(&self.namespace))
    }

    /// Every managed Job, as last seen.
    pub(super) fn jobs(&self) -> Vec<Arc<Job>> {
        self.jobs.state()
    }

    /// The pods of a match, as last seen.
    pub(super) fn pods(&self, match_id: &str) -> Vec<Arc<Pod>> {
        self.pods
            .state()
            .into_iter()
            .filter(|p| p.labels().get(MATCH_ID_LABEL).map(String::as_str) == Some(match_id))
            .collect()
    }
}

impl Tracker {
    /// The `FailedCreate` events of a Job, as last seen (only those of this Job, not of an earlier one of
    /// the same name).
    pub(super) fn failed_creates(&self, job: &Job) -> Vec<Arc<Event>> {
        let Some(uid) = job.metadata.uid.as_deref() else {
            return Vec::new();
        };
        self.failed_creates
            .state()
            .into_iter()
            .filter(|e| e.involved_object.uid.as_deref() == Some(uid))
            .collect()
    }
}

/// The events the third watch selects.
const FAILED_CREATE_SELECTOR: &str = "involvedObject.kind=Job,reason=FailedCreate";

/// The match of a Job or pod: its label.
fn match_label<K: Resource>(o: &K) -> Option<String> {
    o.meta().labels.as_ref()?.get(MATCH_ID_LABEL).cloned()
}

impl Wakers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<u64>>> {
        self.by_match.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self, match_id: Option<&str>) {
        let mut wakers = self.lock();
        match match_id {
            Some(id) => {
                if let Some(tx) = wakers.get(id) {
                    if tx.receiver_count() == 0 {
                        wakers.remove(id);
                    } else {
                        tx.send_modify(|n| *n += 1);
                    }
                }
            }
            None => {
                wakers.retain(|_, tx| tx.receiver_count() > 0);
                for tx in wakers.values() {
                    tx.send_modify(|n| *n += 1);
                }
            }
        }
        drop(wakers);
        self.any.send_modify(|n| *n += 1);
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Drives one watch and wakes the waiters of what changed. Errors are logged; the watcher backs off and
/// lists again (a `410 Gone` included).
async fn feed<K, S>(
    stream: S,
    wakers: Arc<Wakers>,
    kind: &'static str,
    match_of: impl Fn(&K) -> Option<String>,
) where
    K: Resource + Clone + 'static,
    S: futures_util::Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    use watcher::Event as Change;
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Change::Apply(o) | Change::Delete(o) | Change::InitApply(o)) => {
                // An object of no known match wakes nobody in particular.
                if let Some(id) = match_of(&o) {
                    wakers.wake(Some(&id));
                } else {
                    wakers.any.send_modify(|n| *n += 1);
                }
            }
            Ok(Change::InitDone) => {
                tracing::debug!(kind, "watch listed");
                wakers.wake(None);
            }
            Ok(Change::Init) => {}
            Err(e) => {
                tracing::warn!(kind, error = %e, "watch failed; backing off and listing again");
            }
        }
    }
}
