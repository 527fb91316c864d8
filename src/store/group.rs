//! Group commit: write requests that arrive while a commit is in flight share the next
//! transaction (one fsync for all of them), and each caller returns only after the commit that
//! holds its rows.
//!
//! Leader/follower, with no thread of its own: a caller queues its request; if no commit is
//! running it becomes the leader, takes everything queued, commits it and hands each caller
//! its outcome; otherwise it waits. A leader commits one group and steps down, so no caller
//! serves others' writes for longer than one extra commit.
//!
//! One queue for the whole store, or one per account ([`Grouping`], the backend's choice): redb runs one write
//! transaction at a time, so every request shares the next; PostgreSQL commits different
//! accounts' transactions in parallel (and on Citus an account's transaction stays on its
//! shard), so requests are grouped with those of the same account only.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::write::Prepared;
use crate::backend::Grouping;
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

pub(super) struct GroupCommit {
    grouping: Grouping,
    /// The queues by account ("" for all when grouping by store); a queue is removed when
    /// it is empty and no commit of it is running.
    queues: Mutex<HashMap<String, Queue>>,
    done: Condvar,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("grouping", &self.grouping)
            .finish_non_exhaustive()
    }
}

impl GroupCommit {
    pub(super) fn new(grouping: Grouping) -> Self {
        GroupCommit {
            grouping,
            queues: Mutex::default(),
            done: Condvar::new(),
        }
    }

    /// Requests waiting for the next commit (of every queue).
    pub(super) fn queued(&self) -> usize {
        self.queues.lock().values().map(|q| q.pending.len()).sum()
    }

    /// Queues a request and returns its outcome once committed. `commit` runs a whole group in
    /// one transaction and returns one outcome list per request, in order.
    pub(super) fn submit(
        &self,
        account: String,
        memories: Vec<Prepared>,
        commit: impl Fn(&[Request]) -> Result<Vec<Vec<WriteOutcome>>>,
    ) -> Result<Vec<WriteOutcome>> {
        let key = match self.grouping {
            Grouping::Store => String::new(),
            Grouping::Account => account.clone(),
        };
        let slot: Slot = Arc::default();
        let mut queues = self.queues.lock();
        queues
            .entry(key.clone())
            .or_default()
            .pending
            .push(Request {
                account,
                memories,
                slot: slot.clone(),
            });
        loop {
            if let Some(outcome) = slot.lock().take() {
                return outcome;
            }
            let queue = queues.get_mut(&key).expect("a queue holding a request");
            if queue.committing {
                self.done.wait(&mut queues);
                continue;
            }
            queue.committing = true;
            let group = std::mem::take(&mut queue.pending);
            parking_lot::MutexGuard::unlocked(&mut queues, || deliver(&group, commit(&group)));
            let queue = queues.get_mut(&key).expect("a committing queue stays");
            queue.committing = false;
            if queue.pending.is_empty() {
                queues.remove(&key);
            }
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
