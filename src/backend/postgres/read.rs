//! Read snapshots on PostgreSQL, and the lookups shared with write transactions.
//!
//! A snapshot of an account is a READ COMMITTED transaction that first takes the account's
//! shared advisory lock and reads its clock (one round trip; see `clock.rs`). A snapshot of
//! the global tables only (accounts, keys, settings) is a plain connection.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::sql::{self, ListParam, tenants_param, ts};
use super::{PgBackend, Session};
use crate::account::{
    Account, ApiKey, OperatorCredential, SessionOwner, SessionRecord, Settings, Usage,
};
use crate::backend::{
    Listing, Lookup, Neighbour, Owned, Posting, Read, RowHistory, Scope, ScopePostings, Stored,
};
use crate::error::{Error, Result};
use crate::model::{AuditEvent, EventDetails, EventKind, Memory, MemoryId};
use crate::time::Timestamp;

/// The shared inputs read so far by a snapshot or transaction, by hash: the facts of one
/// conversation share one copy of it.
pub(crate) type InputCache = RefCell<HashMap<Vec<u8>, Arc<str>>>;

/// A read snapshot.
pub(crate) struct PgRead<'b> {
    session: Session<'b>,
    inputs: InputCache,
    now: OnceCell<Timestamp>,
}

impl<'b> PgRead<'b> {
    pub(crate) fn open(backend: &'b PgBackend, account: Option<&str>) -> Result<Self> {
        let session = backend.session()?;
        if let Some(account) = account {
            session.open_snapshot(account);
        }
        Ok(PgRead {
            session,
            inputs: RefCell::default(),
            now: OnceCell::new(),
        })
    }
}

impl Lookup for PgRead<'_> {
    fn now(&self) -> Result<Timestamp> {
        if let Some(now) = self.now.get() {
            return Ok(*now);
        }
        let backend = self.session.backend();
        let (last, database) = match self.session.clock()? {
            Some(clock) => clock,
            None => match backend.clock {
                Some(_) => (None, 0),
                None => {
                    let rows = self.session.query(sql::CLOCK, &[])?;
                    (None, first(&rows)?.get(0))
                }
            },
        };
        let now = backend.floors.read_now(backend.clock_or(database), last);
        Ok(*self.now.get_or_init(|| Timestamp::from_micros(now)))
    }

    fn fetch(&self, account: &str, id: MemoryId) -> Result<Owned<Stored>> {
        fetch(&self.session, &self.inputs, account, id)
    }

    fn usage(&self, account: &str) -> Result<Option<Usage>> {
        usage(&self.session, account)
    }

    fn account(&self, id: &str) -> Result<Option<Account>> {
        account(&self.session, id)
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        accounts(&self.session)
    }

    fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
        api_key(&self.session, hash)
    }

    fn api_keys(&self) -> Result<Vec<([u8; 32], ApiKey)>> {
        api_keys(&self.session)
    }

    fn settings(&self, key: Uuid) -> Result<Option<Settings>> {
        settings(&self.session, key)
    }

    fn operator(&self) -> Result<Option<OperatorCredential>> {
        operator(&self.session)
    }

    fn session(&self, hash: &[u8; 32]) -> Result<Option<SessionRecord>> {
        session(&self.session, hash)
    }
}

impl super::super::Inventory for PgRead<'_> {
    fn memory_accounts(&self) -> Result<Vec<String>> {
        Ok(self
            .session
            .query(sql::MEMORY_ACCOUNTS, &[])?
            .iter()
            .map(|row| row.get(0))
            .collect())
    }

    fn tenants_of(&self, account: &str) -> Result<Vec<Option<String>>> {
        Ok(self
            .session
            .query(sql::TENANTS_OF, &[&account])?
            .iter()
            .map(|row| sql::tenant_of(row.get(0)))
            .collect())
    }

    fn owners(&self, ids: &[MemoryId]) -> Result<Vec<(MemoryId, String)>> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(MemoryId::as_uuid).collect();
        Ok(self
            .session
            .query(sql::OWNERS, &[&ids])?
            .iter()
            .map(|row| (MemoryId::from_uuid(row.get(0)), row.get(1)))
            .collect())
    }

    fn rows_ascending(
        &self,
        account: &str,
        tenant: Option<&str>,
        after: Option<crate::model::ListCursor>,
        limit: usize,
    ) -> Result<Vec<MemoryId>> {
        let (created, id) = match after {
            Some(c) => (Some(c.created_at.as_micros()), Some(c.id.as_uuid())),
            None => (None, None),
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(self
            .session
            .query(
                sql::ROWS_ASCENDING,
                &[&account, &sql::tenant_key(tenant), &created, &id, &limit],
            )?
            .iter()
            .map(|row| MemoryId::from_uuid(row.get(0)))
            .collect())
    }
}

impl Read for PgRead<'_> {
    fn list(&self, listing: &Listing<'_>, keep: &dyn Fn(&Memory) -> bool) -> Result<Vec<Memory>> {
        let at = listing.mode.transaction_instant();
        let mut out = Vec::new();
        let mut cursor: Option<(i64, Uuid)> = listing
            .before
            .map(|c| (c.created_at.as_micros(), c.id.as_uuid()));
        // The statement selects exactly what the mode selects, so the first page normally
        // completes the list; `keep` is the engine's rule, applied all the same.
        while out.len() < listing.limit {
            let page = listing.limit - out.len();
            let (statement, order) = sql::list(listing, cursor.is_some());
            let values: Vec<Box<dyn ToSql + Sync>> = order
                .iter()
                .map(|param| -> Box<dyn ToSql + Sync> {
                    match param {
                        ListParam::Account => Box::new(listing.scope.account.to_owned()),
                        ListParam::Tenant => {
                            Box::new(tenants_param(&listing.scope.tenants).map(str::to_owned))
                        }
                        ListParam::Source => Box::new(listing.source.map(str::to_owned)),
                        ListParam::Session => Box::new(listing.session.map(str::to_owned)),
                        ListParam::Instant(t) => Box::new(t.as_micros()),
                        ListParam::CursorCreated => Box::new(cursor.map(|c| c.0)),
                        ListParam::CursorId => Box::new(cursor.map(|c| c.1)),
                        ListParam::Limit => Box::new(i64::try_from(page).unwrap_or(i64::MAX)),
                    }
                })
                .collect();
            let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
            let rows = self.session.query(&statement, &params)?;
            let full = rows.len() == page;
            if let Some(last) = rows.last() {
                cursor = Some((last.get(14), last.get(0)));
            }
            for stored in decode(
                &self.session,
                &self.inputs,
                listing.scope.account,
                &rows,
                at,
            )?
            .into_iter()
            .flatten()
            {
                if keep(&stored.memory) {
                    out.push(stored.memory);
                }
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    fn rows_at(
        &self,
        account: &str,
        ids: &[MemoryId],
        at: Option<Timestamp>,
    ) -> Result<Vec<Option<Memory>>> {
        let uuids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let rows = self.session.query(sql::ROWS_BY_ID, &[&account, &uuids])?;
        let decoded = decode(&self.session, &self.inputs, account, &rows, at)?;
        let mut by_id: HashMap<Uuid, Option<Stored>> =
            rows.iter().map(|row| row.get(0)).zip(decoded).collect();
        ids.iter()
            .map(|id| {
                let stored = by_id
                    .remove(&id.as_uuid())
                    .ok_or_else(|| Error::Corrupted(format!("index names missing memory {id}")))?;
                Ok(stored.map(|s| s.memory))
            })
            .collect()
    }

    fn events(&self, account: &str, id: MemoryId) -> Result<Vec<AuditEvent>> {
        self.session
            .query(sql::EVENTS, &[&account, &id.as_uuid()])?
            .iter()
            .map(event)
            .collect()
    }

    fn chain(&self, account: &str, start: MemoryId, max_hops: usize) -> Result<Vec<Memory>> {
        let hops = i32::try_from(max_hops).unwrap_or(i32::MAX);
        let rows = self
            .session
            .query(sql::CHAIN, &[&account, &start.as_uuid(), &hops])?;
        let chain: Vec<Memory> = decode(&self.session, &self.inputs, account, &rows, None)?
            .into_iter()
            .flatten()
            .map(|s| s.memory)
            .collect();
        Ok(chain)
    }

    fn postings(&self, scope: &Scope<'_>, terms: &[String]) -> Result<Vec<ScopePostings>> {
        let tenant = tenants_param(&scope.tenants);
        let (stats, postings) = (
            self.session.prepare(sql::LEXICAL_STATS)?,
            self.session.prepare(sql::POSTINGS)?,
        );
        let (stats, postings) = self.session.run(async |client| {
            let by_tenant: [&(dyn ToSql + Sync); 2] = [&scope.account, &tenant];
            let by_term: [&(dyn ToSql + Sync); 3] = [&scope.account, &tenant, &terms];
            tokio::try_join!(
                client.query(&stats, &by_tenant),
                client.query(&postings, &by_term),
            )
        })?;
        let position: HashMap<&str, usize> = terms
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        let mut by_tenant: HashMap<String, Vec<Vec<Posting>>> = HashMap::new();
        for row in &postings {
            let term: String = row.get(1);
            let Some(&i) = position.get(term.as_str()) else {
                continue;
            };
            let lists = by_tenant
                .entry(row.get(0))
                .or_insert_with(|| vec![Vec::new(); terms.len()]);
            lists[i].push(Posting {
                id: MemoryId::from_uuid(row.get(2)),
                tf: u32::try_from(row.get::<_, i32>(3)).unwrap_or(0),
                len: u32::try_from(row.get::<_, i32>(4)).unwrap_or(0),
            });
        }
        Ok(stats
            .iter()
            .map(|row| {
                let tenant: String = row.get(0);
                ScopePostings {
                    rows: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
                    terms: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
                    per_term: by_tenant
                        .remove(&tenant)
                        .unwrap_or_else(|| vec![Vec::new(); terms.len()]),
                }
            })
            .collect())
    }

    fn session_neighbours(
        &self,
        account: &str,
        ids: &[MemoryId],
        window: u64,
    ) -> Result<Vec<Neighbour>> {
        let uuids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let window = i64::try_from(window).unwrap_or(i64::MAX);
        Ok(self
            .session
            .query(sql::SESSION_NEIGHBOURS, &[&account, &uuids, &window])?
            .iter()
            .map(|row| Neighbour {
                of: MemoryId::from_uuid(row.get(0)),
                id: MemoryId::from_uuid(row.get(1)),
                distance: u64::try_from(row.get::<_, i64>(2)).unwrap_or(u64::MAX),
            })
            .collect())
    }

    fn vectors(
        &self,
        scope: &Scope<'_>,
        tag: u64,
        visit: &mut dyn FnMut(MemoryId, &[u8]) -> ControlFlow<()>,
    ) -> Result<()> {
        let tenant = tenants_param(&scope.tenants);
        let rows = self
            .session
            .query(sql::VECTORS, &[&scope.account, &tenant, &(tag as i64)])?;
        for row in &rows {
            let bytes: &[u8] = row.get(1);
            if visit(MemoryId::from_uuid(row.get(0)), bytes).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn vector(&self, account: &str, id: MemoryId, tag: u64) -> Result<Option<Vec<f32>>> {
        let rows = self
            .session
            .query(sql::VECTOR, &[&account, &id.as_uuid(), &(tag as i64)])?;
        Ok(rows.first().map(|row| components(row.get(0))))
    }

    fn row_vector(&self, account: &str, id: MemoryId) -> Result<Option<(u64, Vec<f32>)>> {
        let rows = self
            .session
            .query(sql::ROW_VECTOR, &[&account, &id.as_uuid()])?;
        Ok(rows.first().map(space_and_vector))
    }

    fn histories(&self, account: &str, ids: &[MemoryId]) -> Result<Vec<Option<RowHistory>>> {
        let uuids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let rows = self.session.query(sql::ROWS_BY_ID, &[&account, &uuids])?;
        let decoded = decode(&self.session, &self.inputs, account, &rows, None)?;
        let mut stored: HashMap<Uuid, Stored> = rows
            .iter()
            .map(|row| row.get(0))
            .zip(decoded)
            .filter_map(|(id, s)| Some((id, s?)))
            .collect();
        let mut events: HashMap<Uuid, Vec<AuditEvent>> = HashMap::new();
        for row in self.session.query(sql::EVENTS_OF, &[&account, &uuids])? {
            events.entry(row.get(4)).or_default().push(event(&row)?);
        }
        let mut vectors: HashMap<Uuid, (u64, Vec<f32>)> = self
            .session
            .query(sql::ROW_VECTORS, &[&account, &uuids])?
            .iter()
            .map(|row| (row.get(2), space_and_vector(row)))
            .collect();
        Ok(uuids
            .iter()
            .map(|id| {
                stored.remove(id).map(|stored| RowHistory {
                    stored,
                    events: events.remove(id).unwrap_or_default(),
                    vector: vectors.remove(id),
                })
            })
            .collect())
    }
}

/// An audit event from its columns (`kind, at, actor, details`).
fn event(row: &tokio_postgres::Row) -> Result<AuditEvent> {
    let kind: String = row.get(0);
    let details: serde_json::Value = row.get(3);
    Ok(AuditEvent {
        kind: event_kind(&kind)?,
        at: Timestamp::from_micros(row.get(1)),
        by: row.get(2),
        details: event_details(details)?,
    })
}

/// A vector's space tag and components from its columns (`space, vector`).
fn space_and_vector(row: &tokio_postgres::Row) -> (u64, Vec<f32>) {
    (row.get::<_, i64>(0) as u64, components(row.get(1)))
}

fn components(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn first(rows: &[tokio_postgres::Row]) -> Result<&tokio_postgres::Row> {
    rows.first()
        .ok_or_else(|| Error::Corrupted("a statement returned no row".into()))
}

/// Rows of [`sql::MEMORY_COLUMNS`] in their state at `at`, with the shared inputs they
/// refer to (read in one statement, those not in `cache` yet).
pub(crate) fn decode(
    session: &Session<'_>,
    cache: &InputCache,
    account: &str,
    rows: &[tokio_postgres::Row],
    at: Option<Timestamp>,
) -> Result<Vec<Option<Stored>>> {
    let mut missing: Vec<Vec<u8>> = Vec::new();
    for row in rows {
        if let Some(hash) = sql::input_hash(row)?
            && !cache.borrow().contains_key(&hash)
            && !missing.contains(&hash)
        {
            missing.push(hash);
        }
    }
    if !missing.is_empty() {
        let found = session.query(sql::INPUTS, &[&account, &missing])?;
        let mut cache = cache.borrow_mut();
        for row in found {
            let text: String = row.get(1);
            cache.insert(row.get(0), text.into());
        }
    }
    let cache = cache.borrow();
    rows.iter()
        .map(|row| sql::memory(row, at, &cache))
        .collect()
}

pub(crate) fn fetch(
    session: &Session<'_>,
    cache: &InputCache,
    account: &str,
    id: MemoryId,
) -> Result<Owned<Stored>> {
    let rows = session.query(sql::FETCH, &[&account, &id.as_uuid()])?;
    if !rows.is_empty() {
        let stored = decode(session, cache, account, &rows, None)?
            .pop()
            .flatten();
        return stored
            .map(Owned::Mine)
            .ok_or_else(|| Error::Corrupted(format!("memory {id} without its state")));
    }
    Ok(
        match session
            .query(sql::EXISTS_ANYWHERE, &[&id.as_uuid()])?
            .first()
        {
            Some(_) => Owned::Foreign,
            None => Owned::Absent,
        },
    )
}

pub(crate) fn usage(session: &Session<'_>, account: &str) -> Result<Option<Usage>> {
    Ok(session
        .query(sql::USAGE, &[&account])?
        .first()
        .map(|row| Usage {
            period_start: Timestamp::from_micros(row.get(0)),
            writes_used: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
            grace_started_at: ts(row.get(2)),
            writes_by_day: days(row.get(3)),
        }))
}

/// A period's days as stored (31 of them) without the trailing days that have no writes.
fn days(stored: Vec<i64>) -> Vec<u64> {
    let mut days: Vec<u64> = stored
        .into_iter()
        .map(|n| u64::try_from(n).unwrap_or(0))
        .collect();
    while days.last() == Some(&0) {
        days.pop();
    }
    days
}

fn account_of(row: &tokio_postgres::Row) -> Account {
    Account {
        id: row.get(0),
        org_id: row.get(1),
        created_at: Timestamp::from_micros(row.get(2)),
        plan: crate::AccountPlan {
            tier: row.get(3),
            writes_limit: row
                .get::<_, Option<i64>>(4)
                .map(|n| u64::try_from(n).unwrap_or(0)),
        },
    }
}

pub(crate) fn account(session: &Session<'_>, id: &str) -> Result<Option<Account>> {
    Ok(session.query(sql::ACCOUNT, &[&id])?.first().map(account_of))
}

pub(crate) fn accounts(session: &Session<'_>) -> Result<Vec<Account>> {
    Ok(session
        .query(sql::ACCOUNTS, &[])?
        .iter()
        .map(account_of)
        .collect())
}

fn api_key_of(row: &tokio_postgres::Row) -> Result<([u8; 32], ApiKey)> {
    let hash: &[u8] = row.get(0);
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| Error::Corrupted("API key hash is not 32 bytes".into()))?;
    Ok((
        hash,
        ApiKey {
            id: row.get(1),
            account: row.get(2),
            shown_prefix: row.get(3),
            label: row.get(4),
            created_at: Timestamp::from_micros(row.get(5)),
            revoked_at: ts(row.get(6)),
        },
    ))
}

pub(crate) fn api_key(session: &Session<'_>, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
    session
        .query(sql::API_KEY, &[&hash.as_slice()])?
        .first()
        .map(|row| Ok(api_key_of(row)?.1))
        .transpose()
}

pub(crate) fn api_keys(session: &Session<'_>) -> Result<Vec<([u8; 32], ApiKey)>> {
    session
        .query(sql::API_KEYS, &[])?
        .iter()
        .map(api_key_of)
        .collect()
}

pub(crate) fn session(session: &Session<'_>, hash: &[u8; 32]) -> Result<Option<SessionRecord>> {
    session
        .query(sql::SESSION, &[&hash.as_slice()])?
        .first()
        .map(|row| {
            let owner = match (row.get::<_, Option<Uuid>>(0), row.get::<_, Option<i64>>(1)) {
                (Some(key), None) => SessionOwner::Key(key),
                (None, Some(at)) => SessionOwner::Operator(Timestamp::from_micros(at)),
                _ => return Err(Error::Corrupted("a session without one owner".into())),
            };
            Ok(SessionRecord {
                owner,
                csrf: row.get(2),
                created_at: Timestamp::from_micros(row.get(3)),
                expires_at: Timestamp::from_micros(row.get(4)),
            })
        })
        .transpose()
}

pub(crate) fn operator(session: &Session<'_>) -> Result<Option<OperatorCredential>> {
    session
        .query(sql::OPERATOR, &[])?
        .first()
        .map(|row| {
            let hash: Vec<u8> = row.get(0);
            Ok(OperatorCredential {
                hash: hash.try_into().map_err(|_| {
                    Error::Corrupted("operator credential hash is not 32 bytes".into())
                })?,
                created_at: Timestamp::from_micros(row.get(1)),
            })
        })
        .transpose()
}

pub(crate) fn settings(session: &Session<'_>, key: Uuid) -> Result<Option<Settings>> {
    session
        .query(sql::SETTINGS, &[&key])?
        .first()
        .map(|row| {
            serde_json::from_value(row.get(0))
                .map_err(|e| Error::Corrupted(format!("settings record: {e}")))
        })
        .transpose()
}

/// An event kind by its wire name.
fn event_kind(name: &str) -> Result<EventKind> {
    [
        EventKind::Created,
        EventKind::MemoryCreated,
        EventKind::MemorySuperseded,
        EventKind::MemoryExpired,
        EventKind::MemoryClassified,
    ]
    .into_iter()
    .find(|k| k.as_str() == name)
    .ok_or_else(|| Error::Corrupted(format!("unknown event kind {name:?}")))
}

/// The key of a requested end of validity (`EventDetails::requested_valid_to`, which serde
/// skips) inside the variant's object of an event's `details`, in microseconds.
const REQUESTED_VALID_TO: &str = "requested_valid_to_micros";

/// An event's `details` column: the details' serde JSON (`{"Variant": {...}}`), with the
/// requested end of validity in the variant's object when there is one.
pub(super) fn event_details_json(details: &EventDetails) -> Result<serde_json::Value> {
    let mut json = serde_json::to_value(details)
        .map_err(|e| Error::InvalidArgument(format!("event details: {e}")))?;
    if let Some(requested) = details.requested_valid_to()
        && let Some(variant) = variant_object(&mut json)
    {
        variant.insert(REQUESTED_VALID_TO.into(), requested.as_micros().into());
    }
    Ok(json)
}

/// Reads what [`event_details_json`] wrote (and the details of older rows, which have no
/// requested end).
fn event_details(mut json: serde_json::Value) -> Result<EventDetails> {
    let requested = match variant_object(&mut json).map(|v| v.remove(REQUESTED_VALID_TO)) {
        Some(Some(micros)) => Some(Timestamp::from_micros(micros.as_i64().ok_or_else(
            || Error::Corrupted(format!("event details: {REQUESTED_VALID_TO} {micros}")),
        )?)),
        _ => None,
    };
    let mut details = serde_json::from_value::<EventDetails>(json)
        .map_err(|e| Error::Corrupted(format!("event details: {e}")))?;
    details.set_requested_valid_to(requested);
    Ok(details)
}

fn variant_object(
    json: &mut serde_json::Value,
) -> Option<&mut serde_json::Map<String, serde_json::Value>> {
    json.as_object_mut()?.values_mut().next()?.as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_kind_reads_back_by_its_name() {
        for kind in [
            EventKind::Created,
            EventKind::MemoryCreated,
            EventKind::MemorySuperseded,
            EventKind::MemoryExpired,
            EventKind::MemoryClassified,
        ] {
            assert_eq!(event_kind(kind.as_str()).unwrap(), kind);
        }
        assert!(event_kind("memory.teleported").is_err());
    }
}
