//! Supersession chains (spec §9.6): the connected set of memories linked by `superseded_by`,
//! walked both ways with a visited set and a hop bound (by the backend, in one operation),
//! ordered here.

use std::collections::HashMap;
use std::rc::Rc;

use super::Store;
use super::read::owned;
use crate::backend::Read;
use crate::error::Result;
use crate::model::{Memory, MemoryId, Timeline};

/// Maximum number of hops walked away from the starting memory.
pub const MAX_CHAIN_HOPS: usize = 50;

impl Store {
    /// The whole supersession chain containing memory `id` of `account`, ordered by
    /// `valid_from` (ties by `created_at`). Links to missing (hard-deleted) or foreign rows end
    /// the walk; at most [`MAX_CHAIN_HOPS`] hops are taken from `id`. Cost: O(chain length).
    pub fn timeline(&self, account: &str, id: MemoryId) -> Result<Timeline> {
        let snapshot = self.read(Some(account))?;
        let versions = chain_of(snapshot.as_ref(), account, id)?;
        if versions.is_empty() {
            // Not a row of the account: absent, or another account's.
            owned(snapshot.as_ref(), account, id)?;
        }
        let now = snapshot.now()?;
        Ok(Timeline {
            memory_id: id,
            versions,
            now,
        })
    }
}

/// The chain of `id` (a row of `account`), ordered.
fn chain_of(snapshot: &dyn Read, account: &str, id: MemoryId) -> Result<Vec<Memory>> {
    let mut chain = snapshot.chain(account, id, MAX_CHAIN_HOPS)?;
    chain.sort_by_key(|m| (m.valid_from, m.created_at, m.id));
    Ok(chain)
}

/// The chains of `ids` (rows of `account`) in one snapshot, each walked once: ids of a chain
/// already walked share its result.
pub(crate) fn chains(
    snapshot: &dyn Read,
    account: &str,
    ids: &[MemoryId],
) -> Result<Vec<Rc<Vec<Memory>>>> {
    let mut walked: HashMap<MemoryId, Rc<Vec<Memory>>> = HashMap::new();
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        if let Some(chain) = walked.get(&id) {
            out.push(chain.clone());
            continue;
        }
        let chain = Rc::new(chain_of(snapshot, account, id)?);
        for member in chain.iter() {
            walked.insert(member.id, chain.clone());
        }
        out.push(chain);
    }
    Ok(out)
}
