//! Supersession chains (spec §9.6): the connected set of memories linked by `superseded_by`,
//! walked both ways breadth-first with a visited set and a hop bound.

use std::collections::{HashMap, VecDeque};

use super::Store;
use super::rows::{latest_version, load_row, owned_row, render};
use super::tables::*;
use crate::encoding::{decode_pred_key, pred_key};
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
        let versions = txn.open_table(VERSIONS)?;
        let preds = txn.open_table(PREDECESSORS)?;
        let start = owned_row(&rows, id, account)?;
        let now = self.read_now(&txn)?;
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
        chain.sort_by(|a, b| {
            (a.valid_from, a.created_at, a.id).cmp(&(b.valid_from, b.created_at, b.id))
        });
        Ok(Timeline {
            memory_id: id,
            versions: chain,
            now,
        })
    }
}
