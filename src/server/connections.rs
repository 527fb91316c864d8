//! The server's open connections: a cap, and who makes room when it is reached.
//!
//! Every accepted connection takes a slot. At the cap, the oldest connection with no
//! request in flight — idle between keep-alive requests, or stalled before its headers are
//! complete — is told to close, and the new one is served: a flood of half-open connections
//! therefore cannot lock out real clients, it only evicts itself. When every slot has a
//! request in flight the new connection gets a `503` with `Connection: close` at once.
//! Shutdown tells every connection to finish its request and close, and waits for them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// One connection's slot.
pub(crate) struct Slot {
    /// Requests in flight on it (hyper serves one at a time on HTTP/1.1).
    busy: AtomicUsize,
    /// Set when the connection must close (evicted, or shutting down).
    closing: AtomicBool,
    wake: Notify,
}

impl Slot {
    /// Resolves once the connection has been told to close.
    pub async fn closing(&self) {
        loop {
            let notified = self.wake.notified();
            if self.closing.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// No request in flight.
    pub fn is_idle(&self) -> bool {
        self.busy.load(Ordering::Acquire) == 0
    }

    /// Marks a request in flight until the returned guard drops.
    pub fn request(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.wake.notify_waiters();
    }
}

/// A request in flight.
pub(crate) struct Busy(Arc<Slot>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The registry of open connections.
pub(crate) struct Connections {
    max: usize,
    next_id: AtomicU64,
    /// Connections that count against the cap, oldest first (ids are increasing). An
    /// evicted connection leaves at once; it is still counted in `open` until it closes.
    live: Mutex<BTreeMap<u64, Arc<Slot>>>,
    open: AtomicUsize,
    evicted: AtomicU64,
    refused: AtomicU64,
    all_closed: Notify,
}

/// A connection's place in the registry; dropping it frees the place.
pub(crate) struct Admitted {
    id: u64,
    pub slot: Arc<Slot>,
    registry: Arc<Connections>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.registry.live.lock().remove(&self.id);
        if self.registry.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.registry.all_closed.notify_waiters();
        }
    }
}

impl Connections {
    /// A registry admitting at most `max` live connections (at least 1).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Connections {
            max: max.max(1),
            next_id: AtomicU64::new(0),
            live: Mutex::new(BTreeMap::new()),
            open: AtomicUsize::new(0),
            evicted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            all_closed: Notify::new(),
        })
    }

    /// A slot for a new connection, evicting the oldest connection without a request in
    /// flight when the cap is reached; `None` when every live connection is busy.
    pub fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut live = self.live.lock();
        if live.len() >= self.max {
            let victim = live
                .iter()
                .find(|(_, slot)| slot.is_idle())
                .map(|(id, _)| *id);
            let Some(victim) = victim else {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return None;
            };
            if let Some(slot) = live.remove(&victim) {
                slot.close();
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            busy: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            wake: Notify::new(),
        });
        live.insert(id, slot.clone());
        self.open.fetch_add(1, Ordering::AcqRel);
        Some(Admitted {
            id,
            slot,
            registry: self.clone(),
        })
    }

    /// Tells every connection to close after its request in flight, and waits until all
    /// have.
    pub async fn shutdown(&self) {
        for slot in self.live.lock().values() {
            slot.close();
        }
        loop {
            let notified = self.all_closed.notified();
            if self.open.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Connections open now (evicted ones still closing included).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Connections evicted to make room, and refused because every slot was busy, since
    /// start.
    pub fn evicted_and_refused(&self) -> (u64, u64) {
        (
            self.evicted.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }
}

/// What a connection refused at the cap is sent before it is closed.
pub(crate) const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: application/json\r\n\
Retry-After: 1\r\n\
Connection: close\r\n\
Content-Length: 58\r\n\r\n\
{\"detail\":\"Too many open connections; retry in a moment.\"}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_response() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(json["detail"].as_str().unwrap().contains("retry"));
    }

    #[test]
    fn at_the_cap_the_oldest_idle_connection_makes_room_and_busy_ones_never_do() {
        let registry = Connections::new(2);
        let first = registry.admit().expect("first");
        let second = registry.admit().expect("second");
        let _busy = second.slot.request();
        let third = registry.admit().expect("the idle first one makes room");
        assert!(first.slot.closing.load(Ordering::Acquire));
        assert!(!second.slot.closing.load(Ordering::Acquire));
        assert_eq!(registry.open(), 3, "the evicted one counts until it closes");
        drop(first);
        let _busy_third = third.slot.request();
        assert!(registry.admit().is_none(), "every live slot is busy");
        assert_eq!(registry.evicted_and_refused(), (1, 1));
        drop(_busy_third);
        assert!(registry.admit().is_some());
    }
}
