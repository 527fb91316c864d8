//! Group commit: write requests that arrive while a commit is in flight share the next
//! transaction (one fsync for all of them), and each caller returns only after the commit that
//! holds its rows.
//!
//! Leader/follower, with no thread of its own: a caller queues its request; if no commit is
//! running it becomes the leader, takes everything queued, commits it and hands each caller
//! its outcome; otherwise it waits. A leader commits one group and steps down, so no caller
//! serves others' writes for longer than one extra commit.

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::write::Prepared;
use crate::error::Result;
use crate::model::WriteOutcome;

/// The outcome a leader leaves for one queued request.
type Slot = Arc<Mutex<Option<Result<Vec<WriteOutcome>>>>>;

/// One queued write request.
pub(super) struct Request {
    pub account: String,
    pub memories: Vec<Prepared>,
    slot: Slot,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Request>,
    committing: bool,
}

#[derive(Default)]
pub(super) struct GroupCommit {
    queue: Mutex<Queue>,
    done: Condvar,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Requests waiting for the next commit.
    pub(super) fn queued(&self) -> usize {
        self.queue.lock().pending.len()
    }

    /// Queues a request and returns its outcome once committed. `commit` runs a whole group in
    /// one transaction and returns one outcome list per request, in order.
    pub(super) fn submit(
        &self,
        account: String,
        memories: Vec<Prepared>,
        commit: impl Fn(&[Request]) -> Result<Vec<Vec<WriteOutcome>>>,
    ) -> Result<Vec<WriteOutcome>> {
        let slot: Slot = Arc::default();
        let mut queue = self.queue.lock();
        queue.pending.push(Request {
            account,
            memories,
            slot: slot.clone(),
        });
        loop {
            if let Some(outcome) = slot.lock().take() {
                return outcome;
            }
            if queue.committing {
                self.done.wait(&mut queue);
                continue;
            }
            queue.committing = true;
            let group = std::mem::take(&mut queue.pending);
            parking_lot::MutexGuard::unlocked(&mut queue, || deliver(&group, commit(&group)));
            queue.committing = false;
            self.done.notify_all();
        }
    }
}

fn deliver(group: &[Request], outcome: Result<Vec<Vec<WriteOutcome>>>) {
    match outcome {
        Ok(outcomes) => {
            for (request, outcome) in group.iter().zip(outcomes) {
                *request.slot.lock() = Some(Ok(outcome));
            }
        }
        Err(e) => {
            for request in group {
                *request.slot.lock() = Some(Err(e.replicate()));
            }
        }
    }
}
