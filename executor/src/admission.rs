//! Admission control: at most N matches run at once and at most M wait for a slot; beyond that a request is
//! refused at once with a retry hint.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// Shared admission state of one executor.
#[derive(Debug)]
pub(crate) struct Admission {
    slots: Arc<Semaphore>,
    max_running: usize,
    max_queued: usize,
    queued: AtomicUsize,
    closed: AtomicBool,
}

/// A place in the queue; becomes a [`Slot`] when one frees. Dropping it leaves the queue.
#[derive(Debug)]
pub(crate) struct Reservation {
    admission: Arc<Admission>,
    permit: Option<OwnedSemaphorePermit>,
    queued: bool,
}

/// A running match's slot; released on drop.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    pub(crate) fn new(max_running: usize, max_queued: usize) -> Arc<Self> {
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(max_running)),
            max_running,
            max_queued,
            queued: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// Matches holding a slot now.
    pub(crate) fn running(&self) -> usize {
        self.max_running - self.slots.available_permits()
    }

    /// Matches waiting for a slot now.
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Stops admitting; requests from now on get [`Error::ShuttingDown`].
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Takes a slot if one is free, else a place in the queue, else refuses.
    pub(crate) fn reserve(self: &Arc<Self>) -> Result<Reservation> {
        if self.is_closed() {
            return Err(Error::ShuttingDown);
        }
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(Reservation {
                admission: Arc::clone(self),
                permit: Some(permit),
                queued: false,
            });
        }
        let queued = self.queued.fetch_add(1, Ordering::SeqCst);
        if queued >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Exhausted {
                running: self.running(),
                queued,
                max_running: self.max_running,
                max_queued: self.max_queued,
            });
        }
        Ok(Reservation {
            admission: Arc::clone(self),
            permit: None,
            queued: true,
        })
    }
}

impl Reservation {
    /// Waits for a slot.
    pub(crate) async fn acquire(mut self) -> Result<Slot> {
        let permit = match self.permit.take() {
            Some(permit) => permit,
            None => Arc::clone(&self.admission.slots)
                .acquire_owned()
                .await
                .map_err(|_| Error::ShuttingDown)?,
        };
        Ok(Slot { _permit: permit })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.queued {
            self.admission.queued.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_queue_is_exhausted() {
        let admission = Admission::new(1, 1);
        let running = admission.reserve().unwrap().acquire().await.unwrap();
        assert_eq!(admission.running(), 1);
        let waiting = admission.reserve().unwrap();
        assert_eq!(admission.queued(), 1);
        let err = admission.reserve().unwrap_err();
        assert!(
            matches!(
                err,
                Error::Exhausted {
                    running: 1,
                    queued: 1,
                    ..
                }
            ),
            "{err}"
        );
        drop(running);
        let slot = waiting.acquire().await.unwrap();
        assert_eq!(admission.queued(), 0);
        assert_eq!(admission.running(), 1);
        drop(slot);
        assert_eq!(admission.running(), 0);
    }

    #[tokio::test]
    async fn leaving_the_queue_frees_the_place() {
        let admission = Admission::new(1, 1);
        let _running = admission.reserve().unwrap().acquire().await.unwrap();
        drop(admission.reserve().unwrap());
        assert_eq!(admission.queued(), 0);
        assert!(admission.reserve().is_ok());
    }

    #[tokio::test]
    async fn closed_admission_refuses() {
        let admission = Admission::new(1, 1);
        admission.close();
        assert!(matches!(admission.reserve(), Err(Error::ShuttingDown)));
    }
}
