//! Reads: list in every temporal mode, get by id, audit log.

use super::Store;
use super::write::{validate_account, validate_tenant};
use crate::backend::{Listing, Lookup, Owned, Scope, Stored, Tenants};
use crate::error::{Error, Result};
use crate::model::{
    AuditEvent, EXTRACTOR_ACTOR, EventDetails, EventKind, ListCursor, ListQuery, ListResult,
    Memory, MemoryId,
};
use crate::temporal;
use crate::time::Timestamp;

impl Store {
    /// Lists memories of `account` per `query`, newest first (spec §3.7, §5.2).
    pub fn list(&self, account: &str, query: &ListQuery) -> Result<ListResult> {
        validate_account(account)?;
        validate_tenant(query.tenant.as_deref())?;
        let snapshot = self.read(Some(account))?;
        let now = snapshot.now()?;
        let reference = temporal::reference_instant(&query.mode, now);
        if query.limit == 0 {
            return Ok(ListResult {
                memories: Vec::new(),
                now: reference,
                next: None,
            });
        }
        let listing = Listing {
            scope: scope(account, query.tenant.as_deref(), query.all_tenants),
            mode: query.mode,
            now,
            source: query.source.as_deref(),
            session: query.session_id.as_deref(),
            limit: query.limit,
            before: query.before,
        };
        let mode = query.mode;
        // The rule is the pure one, whatever the backend pruned on the way.
        let memories = snapshot.list(&listing, &|m| temporal::selects(&mode, m, now))?;
        let next = (memories.len() >= query.limit)
            .then(|| memories.last().map(ListCursor::after))
            .flatten();
        Ok(ListResult {
            memories,
            now: reference,
            next,
        })
    }

    /// One memory of `account` in its latest state: `NotFound` if absent (or hard-deleted),
    /// `Forbidden` if it belongs to another account.
    pub fn get(&self, account: &str, id: MemoryId) -> Result<Memory> {
        Ok(owned(self.read(Some(account))?.as_ref(), account, id)?.memory)
    }

    /// The read-side "now" (the clock, never before the last commit).
    pub fn now(&self) -> Result<Timestamp> {
        self.read(None)?.now()
    }

    /// The memory (latest state) and its append-only audit log, oldest event first.
    pub fn audit(&self, account: &str, id: MemoryId) -> Result<(Memory, Vec<AuditEvent>)> {
        let snapshot = self.read(Some(account))?;
        let stored = owned(snapshot.as_ref(), account, id)?;
        let mut log = creation_events(&stored).to_vec();
        log.extend(snapshot.events(account, id)?);
        Ok((stored.memory, log))
    }
}

/// The scope of a read: one tenant, or every tenant of the account.
pub(crate) fn scope<'a>(account: &'a str, tenant: Option<&'a str>, all: bool) -> Scope<'a> {
    Scope {
        account,
        tenants: if all {
            Tenants::All
        } else {
            Tenants::One(tenant)
        },
    }
}

/// Row `id` of `account`: `NotFound` if absent, `Forbidden` if another account's.
pub(crate) fn owned(lookup: &dyn Lookup, account: &str, id: MemoryId) -> Result<Stored> {
    match lookup.fetch(account, id)? {
        Owned::Mine(stored) => Ok(stored),
        Owned::Foreign => Err(Error::Forbidden(id)),
        Owned::Absent => Err(Error::NotFound(id)),
    }
}

/// The two events every row starts with (`created`, `memory.created`). They follow from the
/// row itself, so backends derive them rather than store them.
fn creation_events(row: &Stored) -> [AuditEvent; 2] {
    let m = &row.memory;
    [
        AuditEvent {
            kind: EventKind::Created,
            at: m.created_at,
            by: EXTRACTOR_ACTOR.to_owned(),
            details: EventDetails::None,
        },
        AuditEvent {
            kind: EventKind::MemoryCreated,
            at: m.created_at,
            by: m.account.clone(),
            details: EventDetails::Created {
                shape: row.shape,
                topic: m.topic.clone(),
                source: m.source.clone(),
                tenant: m.tenant.clone(),
            },
        },
    ]
}
