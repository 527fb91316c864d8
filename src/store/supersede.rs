//! Level 1 supersession and expiry (spec §7.1): append a new version, never rewrite one.

use std::collections::HashSet;

use super::Store;
use super::rows::{latest_version, load_row, owned_row, summary_of};
use super::tables::*;
use super::tree;
use redb::{ReadableTable, Table};

use crate::encoding::{
    VersionRecord, decode_event_key, dedup_entry, encode_event, encode_version, event_key,
    pred_key, version_key,
};
use crate::error::{Error, Result};
use crate::model::{
    AuditEvent, Classification, EventDetails, EventKind, MemoryId, Supersede, SupersedeOutcome,
};
use crate::time::Timestamp;

impl Store {
    /// Supersedes or expires memory `id` of `account` (spec §7.1); `actor` is recorded as the
    /// audit event's `by`.
    ///
    /// - `superseded_by` only: `valid_to` = now (or the end already recorded), and the store
    ///   stops believing the row (`transaction_time_end` = now).
    /// - `valid_to` only: an expiry; the row stays believed.
    /// - both: replacement with an explicit end.
    ///
    /// Errors: `InvalidArgument` when both are absent or `valid_to < valid_from`; `NotFound` /
    /// `Forbidden` for the target or the replacement; `Conflict` for a self-reference, a
    /// cycle, or a change that differs from what is already recorded. Repeating an identical
    /// call succeeds with `changed == false` and writes nothing.
    pub fn supersede(
        &self,
        account: &str,
        id: MemoryId,
        request: Supersede,
        actor: &str,
    ) -> Result<SupersedeOutcome> {
        if request.superseded_by.is_none() && request.valid_to.is_none() {
            return Err(Error::InvalidArgument(
                "Must provide superseded_by or valid_to".into(),
            ));
        }
        self.transact(|txn, now| {
            let planned = plan(txn, now, account, id, request)?;
            if planned.outcome.changed {
                record(
                    txn,
                    now,
                    id,
                    &planned.row,
                    &planned.next,
                    &planned.current,
                    actor,
                )?;
            }
            Ok(planned.outcome)
        })
    }

    /// Records a Level 2 run (spec §9.4) in one transaction: a `memory.classified` event on
    /// each judged candidate (by [`CLASSIFIER_ACTOR`]) and, when `apply` names a candidate, its
    /// supersession by `new` with Level 1's checks. The candidate may have changed since it
    /// was classified: if the checks refuse (already superseded by another row, deleted, ...)
    /// nothing is superseded and the events say `applied: false`. Returns the supersession
    /// when one was applied. Candidates that no longer exist get no event.
    pub fn record_level2(
        &self,
        account: &str,
        new: MemoryId,
        model: &str,
        classifications: &[Classification],
        apply: Option<MemoryId>,
    ) -> Result<Option<SupersedeOutcome>> {
        self.transact(|txn, now| {
            let request = Supersede {
                superseded_by: Some(new),
                valid_to: None,
            };
            let planned = match apply {
                Some(old) if old != new => match plan(txn, now, account, old, request) {
                    Ok(p) if p.outcome.changed => Some(p),
                    Ok(_) => None,
                    Err(
                        Error::Conflict(_)
                        | Error::NotFound(_)
                        | Error::Forbidden(_)
                        | Error::InvalidArgument(_),
                    ) => None,
                    Err(e) => return Err(e),
                },
                _ => None,
            };
            {
                let rows = txn.open_table(ROWS)?;
                let mut events = txn.open_table(EVENTS)?;
                for c in classifications {
                    match load_row(&rows, c.candidate)? {
                        Some(row) if row.account == account => {}
                        _ => continue,
                    }
                    let applied = planned.is_some() && apply == Some(c.candidate);
                    append_event(
                        &mut events,
                        c.candidate,
                        &AuditEvent {
                            kind: EventKind::MemoryClassified,
                            at: now,
                            by: CLASSIFIER_ACTOR.to_owned(),
                            details: EventDetails::Classified {
                                verdict: c.verdict.clone(),
                                confidence: c.confidence,
                                model: model.to_owned(),
                                new_memory_id: new,
                                applied,
                                reasoning: c.reasoning.clone(),
                            },
                        },
                    )?;
                }
            }
            match (planned, apply) {
                (Some(p), Some(old)) => {
                    record(txn, now, old, &p.row, &p.next, &p.current, CLASSIFIER_ACTOR)?;
                    Ok(Some(p.outcome))
                }
                _ => Ok(None),
            }
        })
    }
}

/// The `by` of Level 2's audit events.
pub const CLASSIFIER_ACTOR: &str = "aurra-classifier";

/// A validated supersession, not yet written.
struct Planned {
    row: crate::encoding::RowRecord,
    current: VersionRecord,
    next: VersionRecord,
    outcome: SupersedeOutcome,
}

/// Level 1's checks (spec §7.1) for superseding `id` with `request`, and the version it
/// would write. Writes nothing.
fn plan(
    txn: &redb::WriteTransaction,
    now: Timestamp,
    account: &str,
    id: MemoryId,
    request: Supersede,
) -> Result<Planned> {
    if request.superseded_by == Some(id) {
        return Err(Error::Conflict("a memory cannot supersede itself".into()));
    }
    let rows = txn.open_table(ROWS)?;
    let versions = txn.open_table(VERSIONS)?;
    let row = owned_row(&rows, id, account)?;
    let current = latest_version(&versions, id)?;
    if let Some(replacement) = request.superseded_by {
        owned_row(&rows, replacement, account)?;
        // A cycle: the replacement's own chain already leads back to the target.
        let mut seen = HashSet::new();
        let mut next = Some(replacement);
        while let Some(step) = next {
            if step == id {
                return Err(Error::Conflict(
                    "superseding would create a cycle in the chain".into(),
                ));
            }
            if !seen.insert(step) || load_row(&rows, step)?.is_none() {
                break;
            }
            next = latest_version(&versions, step)?.superseded_by;
        }
    }
    let superseded_by = match (current.superseded_by, request.superseded_by) {
        (Some(old), Some(new)) if old != new => {
            return Err(Error::Conflict("memory already superseded".into()));
        }
        (Some(old), _) => Some(old),
        (None, new) => new,
    };
    let valid_to = match (current.valid_to, request.valid_to) {
        (Some(old), Some(new)) if old != new => {
            return Err(Error::Conflict(format!(
                "memory already has valid_to {old}"
            )));
        }
        (Some(old), _) => old,
        (None, Some(new)) => new,
        // The fact ends now, or where it starts if that is later (an empty interval).
        (None, None) => now.max(row.valid_from),
    };
    if valid_to < row.valid_from {
        return Err(Error::InvalidArgument(format!(
            "valid_to {valid_to} is earlier than valid_from {}",
            row.valid_from
        )));
    }
    let next = VersionRecord {
        valid_to: Some(valid_to),
        valid_to_set_at: current.valid_to_set_at.or(Some(now)),
        superseded_by,
        transaction_time_end: current.transaction_time_end.or(superseded_by.map(|_| now)),
    };
    let outcome = SupersedeOutcome {
        memory_id: id,
        superseded_by,
        valid_to,
        changed: next != current,
    };
    Ok(Planned {
        row,
        current,
        next,
        outcome,
    })
}

/// Writes the new version, re-summarises the row in its trees, links the predecessor, drops
/// the duplicate fingerprint of a row that is no longer live, and logs the event.
fn record(
    txn: &redb::WriteTransaction,
    now: Timestamp,
    id: MemoryId,
    row: &crate::encoding::RowRecord,
    next: &VersionRecord,
    previous: &VersionRecord,
    actor: &str,
) -> Result<()> {
    txn.open_table(VERSIONS)?.insert(
        version_key(id, now).as_slice(),
        encode_version(next).as_slice(),
    )?;
    let summary = summary_of(row, next);
    {
        let mut nodes = txn.open_table(TREE_NODES)?;
        for pos in &row.positions {
            tree::update(&mut nodes, pos.tree, pos.seq, summary, id)?;
        }
    }
    let newly_superseded = previous.superseded_by.is_none() && next.superseded_by.is_some();
    if let (true, Some(successor)) = (newly_superseded, next.superseded_by) {
        txn.open_table(PREDECESSORS)?
            .insert(pred_key(successor, id).as_slice(), ())?;
    }
    {
        if next.superseded_by.is_some() {
            txn.open_table(DEDUP)?
                .remove(dedup_entry(&row.fingerprint(), id).as_slice())?;
        }
    }
    let (kind, details) = match next.superseded_by {
        Some(_) => (
            EventKind::MemorySuperseded,
            EventDetails::Superseded {
                superseded_by: next.superseded_by,
                valid_to: next.valid_to.unwrap_or(now),
            },
        ),
        None => (
            EventKind::MemoryExpired,
            EventDetails::Expired {
                valid_to: next.valid_to.unwrap_or(now),
            },
        ),
    };
    append_event(
        &mut txn.open_table(EVENTS)?,
        id,
        &AuditEvent {
            kind,
            at: now,
            by: actor.to_owned(),
            details,
        },
    )
}

/// Appends `event` to the audit log of `id`, after its last stored event.
fn append_event(
    events: &mut Table<&'static [u8], &'static [u8]>,
    id: MemoryId,
    event: &AuditEvent,
) -> Result<()> {
    let lo = event_key(id, 0);
    let hi = event_key(id, u32::MAX);
    let next = match events.range(lo.as_slice()..=hi.as_slice())?.next_back() {
        None => 0,
        Some(entry) => decode_event_key(entry?.0.value())?.1 + 1,
    };
    events.insert(
        event_key(id, next).as_slice(),
        encode_event(event).as_slice(),
    )?;
    Ok(())
}
