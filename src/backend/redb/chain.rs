//! Supersession chains in redb: breadth-first over `superseded_by` (forward, in the versions)
//! and the `predecessors` table (backward), with a visited set and a hop bound.

use std::collections::{HashMap, VecDeque};

use redb::ReadableTable;

use super::encoding::{decode_pred_key, pred_key};
use super::rows::{InputFn, latest_version, load_row, render};
use crate::error::Result;
use crate::model::{Memory, MemoryId};

/// The rows reachable from `start` (a row of `account`) within `max_hops` hops.
pub(crate) fn walk<R, V, P>(
    rows: &R,
    versions: &V,
    preds: &P,
    inputs: InputFn<'_>,
    account: &str,
    start: MemoryId,
    max_hops: usize,
) -> Result<Vec<Memory>>
where
    R: ReadableTable<u128, &'static [u8]>,
    V: ReadableTable<&'static [u8], &'static [u8]>,
    P: ReadableTable<&'static [u8], ()>,
{
    let first = match load_row(rows, start)? {
        Some(row) if row.account == account => row,
        _ => return Ok(Vec::new()),
    };
    let mut found: HashMap<MemoryId, Memory> = HashMap::new();
    let version = latest_version(versions, start)?;
    found.insert(start, render(start, first, &version, inputs)?);
    let mut queue = VecDeque::from([(start, 0usize)]);
    while let Some((at, hops)) = queue.pop_front() {
        if hops == max_hops {
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
            let Some(row) = load_row(rows, next)? else {
                continue;
            };
            if row.account != account {
                continue;
            }
            let version = latest_version(versions, next)?;
            found.insert(next, render(next, row, &version, inputs)?);
            queue.push_back((next, hops + 1));
        }
    }
    Ok(found.into_values().collect())
}
