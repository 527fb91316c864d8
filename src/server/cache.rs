//! In-memory caches of authenticated keys and per-key settings, so that a request needs no
//! store read before its own work. Every change to keys or settings, by this process or
//! another on the same database, changes [`Store::accounts_generation`] (at once on redb,
//! which one process opens; within the PostgreSQL backend's poll interval otherwise): a
//! cache filled at another generation is dropped whole. Unknown keys are never cached, so a
//! key created anywhere works at once.

use std::collections::HashMap;

use parking_lot::RwLock;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{ApiKey, Settings, Store};

#[derive(Default)]
struct State {
    generation: u64,
    /// Live keys by the SHA-256 of their secret (secrets themselves are never kept). Only
    /// successful lookups are cached, so unknown keys cannot grow it.
    keys: HashMap<[u8; 32], ApiKey>,
    settings: HashMap<Uuid, Settings>,
}

#[derive(Default)]
pub(crate) struct Caches {
    state: RwLock<State>,
}

/// What a lookup needs to remember to fill the cache after a store read.
pub(crate) struct Miss<K> {
    generation: u64,
    key: K,
}

impl Caches {
    fn current(&self, store: &Store) -> parking_lot::RwLockReadGuard<'_, State> {
        let generation = store.accounts_generation();
        {
            let state = self.state.read();
            if state.generation == generation {
                return state;
            }
        }
        let mut state = self.state.write();
        if state.generation != generation {
            *state = State {
                generation,
                ..State::default()
            };
        }
        parking_lot::RwLockWriteGuard::downgrade(state)
    }

    /// The cached key for `secret`, or what to pass to [`Caches::fill_key`] after asking the
    /// store.
    pub fn key(&self, store: &Store, secret: &str) -> Result<ApiKey, Miss<[u8; 32]>> {
        let hash: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let state = self.current(store);
        match state.keys.get(&hash) {
            Some(key) => Ok(key.clone()),
            None => Err(Miss {
                generation: state.generation,
                key: hash,
            }),
        }
    }

    pub fn fill_key(&self, miss: Miss<[u8; 32]>, key: &ApiKey) {
        let mut state = self.state.write();
        // A change since the lookup began may have revoked it: do not cache then.
        if state.generation == miss.generation {
            state.keys.insert(miss.key, key.clone());
        }
    }

    pub fn settings(&self, store: &Store, key: Uuid) -> Result<Settings, Miss<Uuid>> {
        let state = self.current(store);
        match state.settings.get(&key) {
            Some(settings) => Ok(settings.clone()),
            None => Err(Miss {
                generation: state.generation,
                key,
            }),
        }
    }

    pub fn fill_settings(&self, miss: Miss<Uuid>, settings: &Settings) {
        let mut state = self.state.write();
        if state.generation == miss.generation {
            state.settings.insert(miss.key, settings.clone());
        }
    }
}
