//! A fixed pool of threads for store reads.
//!
//! Reads are short CPU work on redb's cache (tens of microseconds), occasionally a disk read.
//! tokio's blocking pool would grow one thread per concurrent request; with 64 clients on two
//! cores that is 64 runnable threads and millisecond scheduling tails. A pool sized to the
//! machine queues reads in user space instead, first come first served. Writes keep using
//! the blocking pool: they spend their time asleep in group commit, waiting for an fsync.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use hyper::StatusCode;

use super::errors::ApiError;

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct ReaderPool {
    jobs: Sender<Job>,
}

impl ReaderPool {
    /// A pool of `threads` reader threads (at least one).
    pub fn new(threads: usize) -> Self {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("aurra-reader-{i}"))
                .spawn(move || worker(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a reader thread");
            }
        }
        ReaderPool { jobs: tx }
    }

    /// Runs `f` on a reader thread and waits for its result without blocking the runtime.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> crate::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        let sent = self.jobs.send(job).is_ok();
        let unavailable = || {
            tracing::error!("reader pool unavailable");
            ApiError::detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        };
        if !sent {
            return Err(unavailable());
        }
        match rx.await {
            Ok(result) => result.map_err(ApiError::from),
            // The job panicked (a bug): the request fails, the pool keeps its other threads.
            Err(_) => Err(unavailable()),
        }
    }
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return; // The pool was dropped.
        };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            tracing::error!("a store read panicked");
        }
    }
}
