//! Recall of an approximate ranking against the exact one, shared by the vector benches.

use aurra::MemoryId;

/// Mean over questions of the fraction of the exact top k that the index's top k holds.
pub fn recall(exact: &[Vec<MemoryId>], indexed: &[Vec<MemoryId>]) -> f64 {
    let total: f64 = exact
        .iter()
        .zip(indexed)
        .map(|(e, i)| {
            let found = e.iter().filter(|id| i.contains(id)).count();
            found as f64 / e.len().max(1) as f64
        })
        .sum();
    total / exact.len().max(1) as f64
}
