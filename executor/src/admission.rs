//! Admission control: at most N matches run at once, at most M wait for a slot, and one match id is never
//! played twice at the same time.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// Shared admission state of one executor.
#[derive(Debug)]
pub struct Admission {
    slots: Arc<Semaphore>,
    max_running: usize,
    max_queued: usize,
    queued: AtomicUsize,
    /// Ids of admitted matches (running or waiting), so a second request for the same id is refused.
    ids: Mutex<HashSet<String>>,
    closed: AtomicBool,
}

/// Proof of admission; releases the slot and the id when dropped.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    match_id: String,
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    pub fn new(max_running: usize, max_queued: usize) -> Arc<Self> {
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(max_running)),
            max_running,
            max_queued,
            queued: AtomicUsize::new(0),
            ids: Mutex::new(HashSet::new()),
            closed: AtomicBool::new(false),
        })
    }

    /// Matches holding a slot now.
    pub fn running(&self) -> usize {
        self.max_running - self.slots.available_permits()
    }

    /// Stops admitting; requests from now on get [`Error::ShuttingDown`].
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Admits a match, waiting for a slot when all are busy and the queue has room.
    pub async fn admit(self: &Arc<Self>, match_id: &str) -> Result<Ticket> {
        if self.is_closed() {
            return Err(Error::ShuttingDown);
        }
        if !self.lock_ids().insert(match_id.to_string()) {
            return Err(Error::AlreadyRunning(match_id.to_string()));
        }
        let release_id = IdGuard {
            admission: self,
            match_id,
        };
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let queued = self.queued.fetch_add(1, Ordering::SeqCst);
                let _unqueue = QueueGuard(&self.queued);
                if queued >= self.max_queued {
                    return Err(Error::Exhausted {
                        running: self.running(),
                        queued,
                        max_running: self.max_running,
                        max_queued: self.max_queued,
                    });
                }
                Arc::clone(&self.slots)
                    .acquire_owned()
                    .await
                    .map_err(|_| Error::ShuttingDown)?
            }
        };
        std::mem::forget(release_id);
        Ok(Ticket {
            admission: Arc::clone(self),
            match_id: match_id.to_string(),
            _permit: permit,
        })
    }

    fn lock_ids(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.lock_ids().remove(&self.match_id);
    }
}

/// Releases a match id when admission fails part way.
struct IdGuard<'a> {
    admission: &'a Admission,
    match_id: &'a str,
}

impl Drop for IdGuard<'_> {
    fn drop(&mut self) {
        self.admission.lock_ids().remove(self.match_id);
    }
}

struct QueueGuard<'a>(&'a AtomicUsize);

impl Drop for QueueGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_id_twice_is_refused_until_released() {
        let admission = Admission::new(2, 2);
        let ticket = admission.admit("m1").await.unwrap();
        assert!(matches!(
            admission.admit("m1").await,
            Err(Error::AlreadyRunning(_))
        ));
        assert_eq!(admission.running(), 1);
        drop(ticket);
        assert_eq!(admission.running(), 0);
        assert!(admission.admit("m1").await.is_ok());
    }

    #[tokio::test]
    async fn full_queue_is_exhausted_and_releases_the_id() {
        let admission = Admission::new(1, 0);
        let _running = admission.admit("a").await.unwrap();
        let err = admission.admit("b").await.unwrap_err();
        assert!(matches!(err, Error::Exhausted { running: 1, .. }), "{err}");
        // The refused id is free again.
        assert!(!admission.lock_ids().contains("b"));
    }

    #[tokio::test]
    async fn queued_match_gets_the_slot_when_it_frees() {
        let admission = Admission::new(1, 1);
        let first = admission.admit("a").await.unwrap();
        let waiting = tokio::spawn({
            let admission = Arc::clone(&admission);
            async move { admission.admit("b").await.map(|t| t.match_id.clone()) }
        });
        tokio::task::yield_now().await;
        drop(first);
        assert_eq!(waiting.await.unwrap().unwrap(), "b");
    }

    #[tokio::test]
    async fn closed_admission_refuses() {
        let admission = Admission::new(1, 1);
        admission.close();
        assert!(matches!(
            admission.admit("a").await,
            Err(Error::ShuttingDown)
        ));
    }
}
