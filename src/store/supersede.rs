//! Level 1 supersession and expiry (spec §7.1): append a new version, never rewrite one.

use std::collections::HashSet;

use super::Store;
use super::read::owned;
use crate::backend::{Owned, Stored, Version, Write};
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
    /// A `valid_to` before the memory's `valid_from` (the fact ended before it was recorded
    /// as starting) is stored as `valid_from`, an empty validity interval; the audit event
    /// keeps the requested value ([`EventDetails::requested_valid_to`]).
    ///
    /// Errors: `InvalidArgument` when both are absent; `NotFound` /
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
        self.transact(&[account], |w| {
            let now = w.now()?;
            let planned = plan(w, now, account, id, request.clone())?;
            if planned.outcome.changed {
                record(w, now, account, id, &planned, actor)?;
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
        self.transact(&[account], |w| {
            let now = w.now()?;
            let request = Supersede {
                superseded_by: Some(new),
                valid_to: None,
            };
            let planned = match apply {
                Some(old) if old != new => match plan(w, now, account, old, request) {
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
            for c in classifications {
                if !matches!(w.fetch(account, c.candidate)?, Owned::Mine(_)) {
                    continue;
                }
                let applied = planned.is_some() && apply == Some(c.candidate);
                w.append_event(
                    account,
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
            match (planned, apply) {
                (Some(p), Some(old)) => {
                    record(w, now, account, old, &p, CLASSIFIER_ACTOR)?;
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
    current: Version,
    next: Version,
    /// The requested end, when it was before `valid_from` and so not stored.
    requested_valid_to: Option<Timestamp>,
    outcome: SupersedeOutcome,
}

/// Level 1's checks (spec §7.1) for superseding `id` with `request`, and the version it
/// would write. Writes nothing.
fn plan(
    w: &dyn Write,
    now: Timestamp,
    account: &str,
    id: MemoryId,
    request: Supersede,
) -> Result<Planned> {
    // An unknown or foreign target is that (404/403), before any rule about the request.
    let target: Stored = owned(w, account, id)?;
    if request.superseded_by == Some(id) {
        return Err(Error::Conflict("a memory cannot supersede itself".into()));
    }
    let current = target.version();
    if let Some(replacement) = request.superseded_by {
        owned(w, account, replacement)?;
        // A cycle: the replacement's own chain already leads back to the target.
        let mut seen = HashSet::new();
        let mut next = Some(replacement);
        while let Some(step) = next {
            if step == id {
                return Err(Error::Conflict(
                    "superseding would create a cycle in the chain".into(),
                ));
            }
            let Owned::Mine(row) = w.fetch(account, step)? else {
                break;
            };
            if !seen.insert(step) {
                break;
            }
            next = row.memory.superseded_by;
        }
    }
    let superseded_by = match (current.superseded_by, request.superseded_by) {
        (Some(old), Some(new)) if old != new => {
            return Err(Error::Conflict("memory already superseded".into()));
        }
        (Some(old), _) => Some(old),
        (None, new) => new,
    };
    let valid_from = target.memory.valid_from;
    // An end before the start is an empty interval: it is stored as the start, and the
    // requested value goes to the audit event.
    let requested_valid_to = request.valid_to.filter(|end| *end < valid_from);
    let valid_to = match (
        current.valid_to,
        request.valid_to.map(|end| end.max(valid_from)),
    ) {
        (Some(old), Some(new)) if old != new => {
            return Err(Error::Conflict(format!(
                "memory already has valid_to {old}"
            )));
        }
        (Some(old), _) => old,
        (None, Some(new)) => new,
        // The fact ends now, or where it starts if that is later (an empty interval).
        (None, None) => now.max(valid_from),
    };
    let next = Version {
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
        current,
        next,
        requested_valid_to,
        outcome,
    })
}

/// Appends the new version (the backend re-indexes the row and links the predecessor) and
/// logs the event.
fn record(
    w: &mut dyn Write,
    now: Timestamp,
    account: &str,
    id: MemoryId,
    planned: &Planned,
    actor: &str,
) -> Result<()> {
    let next = &planned.next;
    w.append_version(account, id, &planned.current, next, now)?;
    let (kind, details) = match next.superseded_by {
        Some(_) => (
            EventKind::MemorySuperseded,
            EventDetails::Superseded {
                superseded_by: next.superseded_by,
                valid_to: next.valid_to.unwrap_or(now),
                requested_valid_to: planned.requested_valid_to,
            },
        ),
        None => (
            EventKind::MemoryExpired,
            EventDetails::Expired {
                valid_to: next.valid_to.unwrap_or(now),
                requested_valid_to: planned.requested_valid_to,
            },
        ),
    };
    w.append_event(
        account,
        id,
        &AuditEvent {
            kind,
            at: now,
            by: actor.to_owned(),
            details,
        },
    )
}
