//! Inserting memories: validation and defaults, text analysis, embedding and the duplicate
//! fingerprint before the transaction; inside it, duplicate suppression among live rows and
//! the insert.

use std::sync::Arc;

use super::Store;
use super::accounts::count_write;
use crate::backend::{NewRow, Write};
use crate::embed::embed_units;
use crate::error::{Error, Result};
use crate::model::{MemoryId, NewMemory, ORIGINAL_MESSAGE_MAX_CHARS, WriteOutcome, truncate_chars};
use crate::time::Timestamp;

impl Store {
    /// Writes one memory for `account` (durably, before returning).
    ///
    /// Returns [`WriteOutcome::Duplicate`] without writing when a live memory of the same
    /// tenant has the same fingerprint (spec §9.3).
    pub fn write(&self, account: &str, memory: NewMemory) -> Result<WriteOutcome> {
        let mut outcomes = self.write_batch(account, vec![memory])?;
        Ok(outcomes.remove(0))
    }

    /// Writes several memories in one transaction: all are stored, or (on error) none.
    /// Outcomes are in input order; later items are checked for duplicates against earlier
    /// ones.
    ///
    /// Concurrent calls are group-committed: calls that arrive while a commit is in flight
    /// share the next transaction (and its one fsync), and each returns once that commit is
    /// durable. Each call counts as one write request in the account's [`crate::Usage`].
    pub fn write_batch(
        &self,
        account: &str,
        memories: Vec<NewMemory>,
    ) -> Result<Vec<WriteOutcome>> {
        validate_account(account)?;
        for m in &memories {
            validate_new(m)?;
        }
        let prepared = self.prepare(account, memories)?;
        self.inner
            .group
            .submit(account.to_owned(), prepared, |group| {
                let mut accounts: Vec<&str> = group.iter().map(|r| r.account.as_str()).collect();
                accounts.sort_unstable();
                accounts.dedup();
                self.transact_requests(group.len(), &accounts, |w| {
                    let now = w.now()?;
                    group
                        .iter()
                        .map(|request| {
                            count_write(w, &request.account, now)?;
                            request.memories.iter().map(|p| insert(w, now, p)).collect()
                        })
                        .collect()
                })
            })
    }

    /// Writes `memories` for `account` in one transaction, as [`Store::write_batch`] does
    /// (the same validation, defaults, embedding and duplicate rule, all stored or none), but
    /// outside the group commit and without counting a write request in the account's usage:
    /// a bulk load by the operator (`aurra import --facts`), not an agent's request.
    pub fn load_facts(&self, account: &str, memories: Vec<NewMemory>) -> Result<Vec<WriteOutcome>> {
        validate_account(account)?;
        for m in &memories {
            validate_new(m)?;
        }
        let prepared = self.prepare(account, memories)?;
        self.transact_requests(1, &[account], |w| {
            let now = w.now()?;
            prepared.iter().map(|p| insert(w, now, p)).collect()
        })
    }

    /// Applies the defaults, analyses the text for the lexical index, computes the duplicate
    /// fingerprint and (with an embedder) the vector: everything that needs no transaction,
    /// done before one opens, so no writer waits on the network.
    fn prepare(&self, account: &str, memories: Vec<NewMemory>) -> Result<Vec<Prepared>> {
        let vectors = match &self.inner.embedder {
            Some(embedder) => {
                let texts: Vec<&str> = memories.iter().map(|m| m.decision.as_str()).collect();
                embed_units(embedder.as_ref(), &texts)?
            }
            None => vec![None; memories.len()],
        };
        let tag = self.inner.embedder_tag;
        Ok(memories
            .into_iter()
            .zip(vectors)
            .map(|(m, vector)| {
                let NewMemory {
                    tenant,
                    decision,
                    summary,
                    topic,
                    importance_score,
                    source,
                    channel,
                    session_id,
                    original_message,
                    original_input,
                    conversation,
                    external_id,
                    valid_from,
                    recorded_at,
                    extraction,
                    shape,
                } = m;
                let channel = channel.unwrap_or_else(|| source.clone());
                let fingerprint =
                    crate::dedup::fingerprint(&source, &channel, &decision, external_id.as_deref());
                let lexical = self
                    .inner
                    .lexical_index
                    .then(|| self.inner.analyzer.analyze(&decision));
                let shared_input = conversation.is_some();
                let original_message = original_message
                    .or_else(|| conversation.as_deref().map(str::to_owned))
                    .unwrap_or_else(|| decision.clone());
                let original_input: Arc<str> = match (conversation, original_input) {
                    (Some(conversation), _) => conversation,
                    (None, Some(input)) => input.into(),
                    (None, None) => original_message.as_str().into(),
                };
                Prepared {
                    valid_from,
                    recorded_at,
                    row: NewRow {
                        // Both set in the transaction (the id is generated afresh in every
                        // run of a re-run transaction).
                        id: MemoryId::from_u128(0),
                        created_at: Timestamp::MIN,
                        captured_at: Timestamp::MIN,
                        valid_from: Timestamp::MIN,
                        account: account.to_owned(),
                        tenant,
                        summary: summary.unwrap_or_else(|| decision.clone()),
                        decision,
                        topic,
                        importance_score: importance_score.clamp(1, 10) as u8,
                        source,
                        channel,
                        session_id,
                        original_message: truncate_chars(
                            &original_message,
                            ORIGINAL_MESSAGE_MAX_CHARS,
                        ),
                        original_input,
                        shared_input,
                        external_id,
                        extraction,
                        shape,
                        fingerprint,
                        lexical,
                        vector: vector.map(|v| (tag, v)),
                    },
                }
            })
            .collect())
    }

    /// How many write requests are queued for the next group commit (for tests).
    #[doc(hidden)]
    pub fn queued_writes(&self) -> usize {
        self.inner.group.queued()
    }
}

/// A memory ready for the write transaction: its row with every default applied except
/// those that depend on the transaction's time.
#[derive(Clone)]
pub(super) struct Prepared {
    row: NewRow,
    valid_from: Option<Timestamp>,
    recorded_at: Option<Timestamp>,
}

/// Inserts `p` unless a live row of its tenant has its fingerprint (spec §9.3): live means
/// not superseded and not expired at `now`. Rows found dead on the way are forgotten.
fn insert(w: &mut dyn Write, now: Timestamp, p: &Prepared) -> Result<WriteOutcome> {
    let base = &p.row;
    let tenant = base.tenant.as_deref();
    let mut dead = Vec::new();
    let mut live = None;
    for candidate in w.duplicates(&base.account, tenant, &base.fingerprint)? {
        let expired = candidate.valid_to.is_some_and(|end| end <= now);
        if candidate.superseded_by.is_none() && !expired {
            live = Some(candidate.id);
            break;
        }
        dead.push(candidate.id);
    }
    if !dead.is_empty() {
        w.forget_duplicates(&base.account, tenant, &base.fingerprint, &dead)?;
    }
    if let Some(existing) = live {
        return Ok(WriteOutcome::Duplicate { existing });
    }
    let row = NewRow {
        id: MemoryId::generate(),
        created_at: now,
        captured_at: p.recorded_at.unwrap_or(now),
        valid_from: p.valid_from.or(p.recorded_at).unwrap_or(now),
        ..base.clone()
    };
    w.insert(&row)?;
    Ok(WriteOutcome::Saved(Box::new(row.into_memory())))
}

pub(crate) fn validate_account(account: &str) -> Result<()> {
    if account.is_empty() {
        return Err(Error::InvalidArgument("account must not be empty".into()));
    }
    Ok(())
}

pub(crate) fn validate_tenant(tenant: Option<&str>) -> Result<()> {
    if tenant.is_some_and(str::is_empty) {
        return Err(Error::InvalidArgument(
            "tenant must not be empty (use none for the default tenant)".into(),
        ));
    }
    no_nul("tenant", tenant)
}

pub(crate) fn validate_source(source: &str) -> Result<()> {
    if source.is_empty() {
        return Err(Error::InvalidArgument("source must not be empty".into()));
    }
    Ok(())
}

/// Text never holds U+0000: PostgreSQL cannot store it, so neither backend takes it.
pub(crate) fn no_nul(what: &str, text: Option<&str>) -> Result<()> {
    if text.is_some_and(|t| t.contains('\0')) {
        return Err(Error::InvalidArgument(format!(
            "{what} must not contain NUL (\\u0000) characters"
        )));
    }
    Ok(())
}

pub(crate) fn validate_new(m: &NewMemory) -> Result<()> {
    validate_tenant(m.tenant.as_deref())?;
    for (what, text) in [
        ("decision", Some(m.decision.as_str())),
        ("summary", m.summary.as_deref()),
        ("topic", Some(m.topic.as_str())),
        ("source", Some(m.source.as_str())),
        ("channel", m.channel.as_deref()),
        ("session_id", m.session_id.as_deref()),
        ("original_message", m.original_message.as_deref()),
        ("original_input", m.original_input.as_deref()),
        ("conversation", m.conversation.as_deref()),
        ("external_id", m.external_id.as_deref()),
    ] {
        no_nul(what, text)?;
    }
    if m.decision.trim().is_empty() {
        return Err(Error::InvalidArgument("decision must not be empty".into()));
    }
    validate_source(&m.source)?;
    if m.conversation.is_some() && m.original_input.is_some() {
        return Err(Error::InvalidArgument(
            "a memory has either a conversation or an original_input, not both".into(),
        ));
    }
    Ok(())
}
