//! Supersession chains (spec §9.6): the connected set of memories linked by `superseded_by`,
//! walked both ways breadth-first with a visited set and a hop bound.

use std::collections::{HashMap, VecDeque};

use redb::ReadTransaction;

use super::Store;
use super::rows::{latest_version, load_row, owned_row, render};
use super::tables::*;
use crate::encoding::{RowRecord, decode_pred_key, pred_key};
use crate::error::Result;
use crate::model::{Memory, MemoryId, Timeline};

/// Maximum number of hops walked away from the starting memory.
pub const MAX_CHAIN_HOPS: usize = 50;

impl Store {
    /// The whole supersession chain containing memory `id` of `account`, ordered by
    /// `valid_from` (ties by `created_at`). Links to missing (hard-deleted) or foreign rows end
    /// the walk; at most [`MAX_CHAIN_HOPS`] hops are taken from `id`. Cost: O(chain length).
    pub fn timeline(&self, account: &str, id: MemoryId) -> Result<Timeline> {
        let txn = self.begin_read()?;
        let rows = txn.open_table(ROWS)?;
        let start = owned_row(&rows, id, account)?;
        let now = self.read_now(&txn)?;
        Ok(Timeline {
            memory_id: id,
            versions: walk_chain(&txn, account, id, start)?,
            now,
        })
    }
}

/// The chains of `ids` (rows of `account`) in one snapshot, each walked once: ids of a chain
/// already walked share its result. Missing or foreign ids get an empty chain.
pub(crate) fn chains(
    txn: &ReadTransaction,
    account: &str,
    ids: &[MemoryId],
) -> Result<Vec<std::rc::Rc<Vec<Memory>>>> {
    let rows = txn.open_table(ROWS)?;
    let mut walked: HashMap<MemoryId, std::rc::Rc<Vec<Memory>>> = HashMap::new();
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        if let Some(chain) = walked.get(&id) {
            out.push(chain.clone());
            continue;
        }
        let chain = match load_row(&rows, id)? {
            Some(row) if row.account == account => {
                std::rc::Rc::new(walk_chain(txn, account, id, row)?)
            }
            _ => std::rc::Rc::default(),
        };
        for member in chain.iter() {
            walked.insert(member.id, chain.clone());
        }
        out.push(chain);
    }
    Ok(out)
}

/// Walks the chain of `id` (whose row is `start`) breadth-first both ways.
fn walk_chain(
    txn: &ReadTransaction,
    account: &str,
    id: MemoryId,
    start: RowRecord,
) -> Result<Vec<Memory>> {
    let rows = txn.open_table(ROWS)?;
    let versions = txn.open_table(VERSIONS)?;
    let preds = txn.open_table(PREDECESSORS)?;
    let mut found: HashMap<MemoryId, Memory> = HashMap::new();
    let version = latest_version(&versions, id)?;
    found.insert(id, render(id, start, &version));
    let mut queue = VecDeque::from([(id, 0usize)]);
    while let Some((at, hops)) = queue.pop_front() {
        if hops == MAX_CHAIN_HOPS {
            continue;
        }
        let mut neighbours: Vec<MemoryId> = Vec::new();
        neighbours.extend(found[&at].superseded_by);
        let (lo, hi) = (
            pred_key(at, MemoryId::from_u128(0)),
            pred_key(at, MemoryId::from_u128(u128::MAX)),
        );
        for entry in preds.range(lo.as_slice()..=hi.as_slice())? {
            neighbours.push(decode_pred_key(entry?.0.value())?.1);
        }
        for next in neighbours {
            if found.contains_key(&next) {
                continue;
            }
            let Some(row) = load_row(&rows, next)? else {
                continue;
            };
            if row.account != account {
                continue;
            }
            let version = latest_version(&versions, next)?;
            found.insert(next, render(next, row, &version));
            queue.push_back((next, hops + 1));
        }
    }
    let mut chain: Vec<Memory> = found.into_values().collect();
    chain.sort_by_key(|m| (m.valid_from, m.created_at, m.id));
    Ok(chain)
}
