//! Backfilling embeddings: `Store::embed_missing` gives a vector to every memory that has
//! none of the configured embedder's space.

use crate::embed::embed_units;
use crate::error::{Error, Result};

impl super::Store {
    /// Embeds every memory that has no vector of the configured embedder's space: rows
    /// written before embeddings were configured, or with another model. Works in batches
    /// of `batch` rows: each batch is read in one snapshot, embedded with no transaction
    /// open, and its vectors written in one transaction (rows hard-deleted meanwhile are
    /// skipped). Safe to interrupt and run again, and alongside other writes. `progress` is
    /// called with the running count after each batch. Returns how many rows were embedded.
    ///
    /// Errors: `InvalidArgument` without an embedder (or with `batch == 0`); `Unavailable`
    /// when the embedding service fails (the batches before it are kept).
    pub fn embed_missing(&self, batch: usize, mut progress: impl FnMut(usize)) -> Result<usize> {
        let Some(embedder) = self.inner.embedder.clone() else {
            return Err(Error::InvalidArgument(
                "embed_missing needs an embedder (StoreOptions::embedder)".into(),
            ));
        };
        if batch == 0 {
            return Err(Error::InvalidArgument("batch must be at least 1".into()));
        }
        let tag = self.inner.embedder_tag;
        let mut after = None;
        let mut done = 0;
        loop {
            let pending = self.inner.backend.unembedded(after, tag, batch)?;
            if pending.rows.is_empty() {
                return Ok(done);
            }
            let texts: Vec<&str> = pending.rows.iter().map(|(_, _, t)| t.as_str()).collect();
            let embedded = embed_units(embedder.as_ref(), &texts)?;
            let mut accounts: Vec<&str> = pending.rows.iter().map(|(a, _, _)| a.as_str()).collect();
            accounts.sort_unstable();
            accounts.dedup();
            let written = self.transact(&accounts, |w| {
                let mut written = 0;
                for ((account, id, _), vector) in pending.rows.iter().zip(&embedded) {
                    // A zero vector has no direction: the row stays keyword-only. A row
                    // hard-deleted since the snapshot has nothing to attach the vector to.
                    if let Some(unit) = vector
                        && w.put_vector(account, *id, tag, unit)?
                    {
                        written += 1;
                    }
                }
                Ok(written)
            })?;
            done += written;
            progress(done);
            after = pending.last;
        }
    }
}
