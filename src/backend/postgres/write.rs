//! Write transactions on PostgreSQL: the account locks and stamp are taken by
//! `PgBackend::write_once`; this is what the engine writes inside.
//!
//! Statements whose results the engine does not need (a row and its index entries, usage,
//! events, versions, accounts, keys, settings) are deferred: they are sent together with the
//! next statement that needs an answer, or with the commit, in one round trip, in the order
//! they were made. So a single write costs three round trips (begin with its locks; usage
//! with the duplicate check; the row with the commit), fewer than the hand-written baseline's
//! four.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, Statement};
use uuid::Uuid;

use super::Session;
use super::read;
use super::sql::{self, shape_code, tenant_key, tenants_param};
use crate::account::{
    Account, ApiKey, OperatorCredential, SessionOwner, SessionRecord, Settings, Usage,
};
use crate::backend::{
    Analyzed, Duplicate, ImportedRow, Lookup, NewRow, Owned, Stored, Tenants, Version, Write,
};
use crate::error::{Error, Result};
use crate::model::{AuditEvent, MemoryId, ORIGINAL_MESSAGE_MAX_CHARS, truncate_chars};
use crate::time::Timestamp;

/// A parameter owned by a deferred statement.
type Param = Box<dyn ToSql + Sync + Send>;

/// A statement to send with the next round trip, and the number of rows it must affect
/// (`None`: any).
struct Deferred {
    statement: Statement,
    params: Vec<Param>,
    affects: Option<(u64, String)>,
}

/// A write transaction (see `PgBackend::write_once`).
pub(crate) struct PgWrite<'s, 'b> {
    pub session: &'s Session<'b>,
    pub stamp: Timestamp,
    pub accounts_changed: bool,
    /// Shared inputs read by this transaction.
    pub inputs: read::InputCache,
    /// Shared inputs stored (or found stored) by this transaction: each is sent once.
    pub shared: HashSet<(String, String, [u8; 32])>,
    pending: RefCell<Vec<Deferred>>,
}

impl<'s, 'b> PgWrite<'s, 'b> {
    pub(crate) fn new(session: &'s Session<'b>, stamp: Timestamp) -> Self {
        PgWrite {
            session,
            stamp,
            accounts_changed: false,
            inputs: Default::default(),
            shared: Default::default(),
            pending: RefCell::default(),
        }
    }

    fn defer(&self, statement: &str, params: Vec<Param>) -> Result<()> {
        self.defer_checked(statement, params, None)
    }

    fn defer_checked(
        &self,
        statement: &str,
        params: Vec<Param>,
        affects: Option<(u64, String)>,
    ) -> Result<()> {
        let statement = self.session.prepare(statement)?;
        self.pending.borrow_mut().push(Deferred {
            statement,
            params,
            affects,
        });
        Ok(())
    }

    /// Sends the deferred statements, then `then`'s, in one round trip; `then`'s result.
    pub(crate) fn flush_with<T, F>(&self, then: F) -> Result<T>
    where
        F: for<'c> AsyncFnOnce(&'c Client) -> Result<T, tokio_postgres::Error>,
    {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        let (counts, value) = self.session.run(async |client| {
            let client: &Client = client;
            let deferred = futures_util::future::try_join_all(pending.iter().map(|d| {
                let params: Vec<&(dyn ToSql + Sync)> =
                    d.params.iter().map(|p| p.as_ref() as _).collect();
                async move { client.execute(&d.statement, &params).await }
            }));
            tokio::try_join!(biased; deferred, then(client))
        })?;
        for (d, count) in pending.iter().zip(counts) {
            if let Some((expected, what)) = &d.affects
                && count != *expected
            {
                return Err(Error::Corrupted(what.clone()));
            }
        }
        Ok(value)
    }

    /// Sends the deferred statements (before a statement of the session's own, or the
    /// commit).
    pub(crate) fn flush(&self) -> Result<()> {
        self.flush_with(async |_| Ok(()))
    }

    fn query(
        &self,
        statement: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let prepared = self.session.prepare(statement)?;
        self.flush_with(async |client| client.query(&prepared, params).await)
    }
}

impl Lookup for PgWrite<'_, '_> {
    fn now(&self) -> Result<Timestamp> {
        Ok(self.stamp)
    }

    fn fetch(&self, account: &str, id: MemoryId) -> Result<Owned<Stored>> {
        self.flush()?;
        read::fetch(self.session, &self.inputs, account, id)
    }

    fn usage(&self, account: &str) -> Result<Option<Usage>> {
        self.flush()?;
        read::usage(self.session, account)
    }

    fn account(&self, id: &str) -> Result<Option<Account>> {
        self.flush()?;
        read::account(self.session, id)
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        self.flush()?;
        read::accounts(self.session)
    }

    fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
        self.flush()?;
        read::api_key(self.session, hash)
    }

    fn api_keys(&self) -> Result<Vec<([u8; 32], ApiKey)>> {
        self.flush()?;
        read::api_keys(self.session)
    }

    fn settings(&self, key: Uuid) -> Result<Option<Settings>> {
        self.flush()?;
        read::settings(self.session, key)
    }

    fn operator(&self) -> Result<Option<OperatorCredential>> {
        self.flush()?;
        read::operator(self.session)
    }

    fn session(&self, hash: &[u8; 32]) -> Result<Option<SessionRecord>> {
        self.flush()?;
        read::session(self.session, hash)
    }
}

/// The stored form of a duplicate fingerprint: its SHA-256 (a fixed-size index key).
fn fingerprint_key(fingerprint: &[u8]) -> [u8; 32] {
    Sha256::digest(fingerprint).into()
}

impl PgWrite<'_, '_> {
    /// [`Write::import_rows`] of the rows of one account: six statements whatever their
    /// number, deferred like the rest.
    fn import_account_rows(&mut self, account: &str, rows: &[&ImportedRow]) -> Result<()> {
        let n = rows.len();
        let mut m = ImportColumns::with_capacity(n);
        let (mut input_tenants, mut input_hashes, mut input_texts) = (vec![], vec![], vec![]);
        let (mut ev_ids, mut ev_ns, mut ev_kinds, mut ev_ats, mut ev_actors, mut ev_details) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let (mut p_tenants, mut p_terms, mut p_ids, mut p_tfs, mut p_lens) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut lexical: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let (mut v_tenants, mut v_ids, mut v_spaces, mut v_vectors) =
            (vec![], vec![], vec![], vec![]);
        for imported in rows {
            let row = &imported.row;
            let tenant = tenant_key(row.tenant.as_deref()).to_owned();
            let id = row.id.as_uuid();
            let (input, input_hash, message) = stored_input(row);
            if let Some(hash) = input_hash
                && self
                    .shared
                    .insert((row.account.clone(), tenant.clone(), hash))
            {
                input_tenants.push(tenant.clone());
                input_hashes.push(hash.to_vec());
                input_texts.push(row.original_input.to_string());
            }
            let latest = imported.latest();
            m.push(row, &tenant, input, input_hash, message, &latest)?;
            for (k, event) in (0i32..).zip(&imported.events) {
                ev_ids.push(id);
                ev_ns.push(k);
                ev_kinds.push(event.kind.as_str().to_owned());
                ev_ats.push(event.at.as_micros());
                ev_actors.push(event.by.clone());
                ev_details.push(super::read::event_details_json(&event.details)?);
            }
            if let Some(analyzed) = &row.lexical {
                for (term, tf) in &analyzed.terms {
                    p_tenants.push(tenant.clone());
                    p_terms.push(term.clone());
                    p_ids.push(id);
                    p_tfs.push(i32::try_from(*tf).unwrap_or(i32::MAX));
                    p_lens.push(i32::try_from(analyzed.len).unwrap_or(i32::MAX));
                }
                let counted = lexical.entry(tenant.clone()).or_default();
                counted.0 += 1;
                counted.1 += i64::from(analyzed.len);
            }
            if let Some((space, unit)) = &row.vector {
                v_tenants.push(tenant);
                v_ids.push(id);
                v_spaces.push(*space as i64);
                v_vectors.push(
                    unit.iter()
                        .flat_map(|x| x.to_le_bytes())
                        .collect::<Vec<u8>>(),
                );
            }
        }
        let account = || -> Param { Box::new(account.to_owned()) };
        if !input_hashes.is_empty() {
            self.defer(
                sql::IMPORT_INPUTS,
                vec![
                    account(),
                    Box::new(input_tenants),
                    Box::new(input_hashes),
                    Box::new(input_texts),
                ],
            )?;
        }
        let mut params = vec![account()];
        params.extend(m.into_params());
        self.defer_checked(
            sql::IMPORT_MEMORIES,
            params,
            Some((
                n as u64,
                format!("an import of {n} memories inserted another number"),
            )),
        )?;
        if !ev_ids.is_empty() {
            self.defer(
                sql::IMPORT_EVENTS,
                vec![
                    account(),
                    Box::new(ev_ids),
                    Box::new(ev_ns),
                    Box::new(ev_kinds),
                    Box::new(ev_ats),
                    Box::new(ev_actors),
                    Box::new(ev_details),
                ],
            )?;
        }
        if !p_ids.is_empty() {
            self.defer(
                sql::IMPORT_POSTINGS,
                vec![
                    account(),
                    Box::new(p_tenants),
                    Box::new(p_terms),
                    Box::new(p_ids),
                    Box::new(p_tfs),
                    Box::new(p_lens),
                ],
            )?;
        }
        if !lexical.is_empty() {
            let (tenants, counts): (Vec<String>, Vec<(i64, i64)>) = lexical.into_iter().unzip();
            let (rows, terms): (Vec<i64>, Vec<i64>) = counts.into_iter().unzip();
            self.defer(
                sql::IMPORT_LEXICAL,
                vec![
                    account(),
                    Box::new(tenants),
                    Box::new(rows),
                    Box::new(terms),
                ],
            )?;
        }
        if !v_ids.is_empty() {
            self.defer(
                sql::IMPORT_VECTORS,
                vec![
                    account(),
                    Box::new(v_tenants),
                    Box::new(v_ids),
                    Box::new(v_spaces),
                    Box::new(v_vectors),
                ],
            )?;
        }
        Ok(())
    }
}

/// The columns of [`sql::IMPORT_MEMORIES`] after the account, an array each.
struct ImportColumns {
    ids: Vec<Uuid>,
    tenants: Vec<String>,
    decisions: Vec<String>,
    summaries: Vec<String>,
    topics: Vec<String>,
    importances: Vec<i16>,
    sources: Vec<String>,
    channels: Vec<String>,
    sessions: Vec<Option<String>>,
    messages: Vec<Option<String>>,
    inputs: Vec<Option<String>>,
    external_ids: Vec<Option<String>>,
    captured: Vec<i64>,
    created: Vec<i64>,
    valid_from: Vec<i64>,
    extractions: Vec<Option<serde_json::Value>>,
    shapes: Vec<i16>,
    fingerprints: Vec<Vec<u8>>,
    input_hashes: Vec<Option<Vec<u8>>>,
    valid_to: Vec<Option<i64>>,
    valid_to_set_at: Vec<Option<i64>>,
    superseded_by: Vec<Option<Uuid>>,
    tx_end: Vec<Option<i64>>,
}

impl ImportColumns {
    fn with_capacity(n: usize) -> Self {
        ImportColumns {
            ids: Vec::with_capacity(n),
            tenants: Vec::with_capacity(n),
            decisions: Vec::with_capacity(n),
            summaries: Vec::with_capacity(n),
            topics: Vec::with_capacity(n),
            importances: Vec::with_capacity(n),
            sources: Vec::with_capacity(n),
            channels: Vec::with_capacity(n),
            sessions: Vec::with_capacity(n),
            messages: Vec::with_capacity(n),
            inputs: Vec::with_capacity(n),
            external_ids: Vec::with_capacity(n),
            captured: Vec::with_capacity(n),
            created: Vec::with_capacity(n),
            valid_from: Vec::with_capacity(n),
            extractions: Vec::with_capacity(n),
            shapes: Vec::with_capacity(n),
            fingerprints: Vec::with_capacity(n),
            input_hashes: Vec::with_capacity(n),
            valid_to: Vec::with_capacity(n),
            valid_to_set_at: Vec::with_capacity(n),
            superseded_by: Vec::with_capacity(n),
            tx_end: Vec::with_capacity(n),
        }
    }

    fn push(
        &mut self,
        row: &NewRow,
        tenant: &str,
        input: Option<String>,
        input_hash: Option<[u8; 32]>,
        message: Option<String>,
        latest: &Version,
    ) -> Result<()> {
        self.ids.push(row.id.as_uuid());
        self.tenants.push(tenant.to_owned());
        self.decisions.push(row.decision.clone());
        self.summaries.push(row.summary.clone());
        self.topics.push(row.topic.clone());
        self.importances.push(i16::from(row.importance_score));
        self.sources.push(row.source.clone());
        self.channels.push(row.channel.clone());
        self.sessions.push(row.session_id.clone());
        self.messages.push(message);
        self.inputs.push(input);
        self.external_ids.push(row.external_id.clone());
        self.captured.push(row.captured_at.as_micros());
        self.created.push(row.created_at.as_micros());
        self.valid_from.push(row.valid_from.as_micros());
        self.extractions.push(extraction_json(row)?);
        self.shapes.push(shape_code(row.shape));
        self.fingerprints
            .push(fingerprint_key(&row.fingerprint).to_vec());
        self.input_hashes.push(input_hash.map(|h| h.to_vec()));
        self.valid_to.push(micros(latest.valid_to));
        self.valid_to_set_at.push(micros(latest.valid_to_set_at));
        self.superseded_by
            .push(latest.superseded_by.map(|s| s.as_uuid()));
        self.tx_end.push(micros(latest.transaction_time_end));
        Ok(())
    }

    /// `$2` … `$24` of [`sql::IMPORT_MEMORIES`].
    fn into_params(self) -> Vec<Param> {
        vec![
            Box::new(self.ids),
            Box::new(self.tenants),
            Box::new(self.decisions),
            Box::new(self.summaries),
            Box::new(self.topics),
            Box::new(self.importances),
            Box::new(self.sources),
            Box::new(self.channels),
            Box::new(self.sessions),
            Box::new(self.messages),
            Box::new(self.inputs),
            Box::new(self.external_ids),
            Box::new(self.captured),
            Box::new(self.created),
            Box::new(self.valid_from),
            Box::new(self.extractions),
            Box::new(self.shapes),
            Box::new(self.fingerprints),
            Box::new(self.input_hashes),
            Box::new(self.valid_to),
            Box::new(self.valid_to_set_at),
            Box::new(self.superseded_by),
            Box::new(self.tx_end),
        ]
    }
}

/// A row's extraction metadata as stored (JSON).
fn extraction_json(row: &NewRow) -> Result<Option<serde_json::Value>> {
    row.extraction
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| Error::InvalidArgument(format!("extraction metadata: {e}")))
}

/// How a row keeps its input: `(original_input, input_hash, original_message)`. A shared
/// input is stored once per tenant and referred to by its hash; the row keeps its original
/// message only when it is not the input's first characters.
fn stored_input(row: &NewRow) -> (Option<String>, Option<[u8; 32]>, Option<String>) {
    if row.shared_input {
        let hash: [u8; 32] = Sha256::digest(row.original_input.as_bytes()).into();
        let derived = truncate_chars(&row.original_input, ORIGINAL_MESSAGE_MAX_CHARS);
        let message = (row.original_message != derived).then(|| row.original_message.clone());
        (None, Some(hash), message)
    } else {
        (
            Some(row.original_input.to_string()),
            None,
            Some(row.original_message.clone()),
        )
    }
}

/// A period's days as PostgreSQL keeps them: all 31.
fn by_day(days: &[u64]) -> Vec<i64> {
    let mut stored: Vec<i64> = days
        .iter()
        .map(|&n| i64::try_from(n).unwrap_or(i64::MAX))
        .collect();
    stored.resize(31, 0);
    stored
}

fn micros(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_micros)
}

/// The parameters of a row's postings and of its tenant's count.
fn index_params(
    account: &str,
    tenant: &str,
    id: Uuid,
    analyzed: &Analyzed,
) -> (Vec<Param>, Vec<Param>) {
    let terms: Vec<String> = analyzed.terms.iter().map(|(t, _)| t.clone()).collect();
    let tfs: Vec<i32> = analyzed
        .terms
        .iter()
        .map(|(_, tf)| i32::try_from(*tf).unwrap_or(i32::MAX))
        .collect();
    let len = i32::try_from(analyzed.len).unwrap_or(i32::MAX);
    (
        vec![
            Box::new(account.to_owned()),
            Box::new(tenant.to_owned()),
            Box::new(id),
            Box::new(terms),
            Box::new(len),
            Box::new(tfs),
        ],
        vec![
            Box::new(account.to_owned()),
            Box::new(tenant.to_owned()),
            Box::new(i64::from(analyzed.len)),
        ],
    )
}

/// Inserts a row's postings and counts it in its tenant's statistics (the lexical rebuild).
pub(crate) async fn index_row(
    client: &impl GenericClient,
    insert: &Statement,
    count: &Statement,
    account: &str,
    tenant: &str,
    id: Uuid,
    analyzed: &Analyzed,
) -> Result<(), tokio_postgres::Error> {
    let (postings, counted) = index_params(account, tenant, id, analyzed);
    let postings: Vec<&(dyn ToSql + Sync)> = postings.iter().map(|p| p.as_ref() as _).collect();
    let counted: Vec<&(dyn ToSql + Sync)> = counted.iter().map(|p| p.as_ref() as _).collect();
    tokio::try_join!(
        client.execute(insert, &postings),
        client.execute(count, &counted)
    )?;
    Ok(())
}

impl Write for PgWrite<'_, '_> {
    fn duplicates(
        &mut self,
        account: &str,
        tenant: Option<&str>,
        fingerprint: &[u8],
    ) -> Result<Vec<Duplicate>> {
        let key = fingerprint_key(fingerprint);
        Ok(self
            .query(
                sql::DUPLICATES,
                &[&account, &tenant_key(tenant), &key.as_slice()],
            )?
            .iter()
            .map(|row| Duplicate {
                id: MemoryId::from_uuid(row.get(0)),
                valid_to: sql::ts(row.get(1)),
                superseded_by: row.get::<_, Option<Uuid>>(2).map(MemoryId::from_uuid),
            })
            .collect())
    }

    fn forget_duplicates(
        &mut self,
        _account: &str,
        _tenant: Option<&str>,
        _fingerprint: &[u8],
        _dead: &[MemoryId],
    ) -> Result<()> {
        // The fingerprint index holds only rows not superseded; an expired row stays in it
        // (it is one row per fact that ended without a replacement) and is skipped.
        Ok(())
    }

    fn insert(&mut self, row: &NewRow) -> Result<()> {
        let tenant = tenant_key(row.tenant.as_deref()).to_owned();
        let id = row.id.as_uuid();
        let extraction = extraction_json(row)?;
        let (input, input_hash, message) = stored_input(row);
        if let Some(hash) = input_hash
            && self
                .shared
                .insert((row.account.clone(), tenant.clone(), hash))
        {
            self.defer(
                sql::INSERT_INPUT,
                vec![
                    Box::new(row.account.clone()),
                    Box::new(tenant.clone()),
                    Box::new(hash.to_vec()),
                    Box::new(row.original_input.to_string()),
                ],
            )?;
        }
        self.defer(
            sql::INSERT_MEMORY,
            vec![
                Box::new(row.account.clone()),
                Box::new(id),
                Box::new(tenant.clone()),
                Box::new(row.decision.clone()),
                Box::new(row.summary.clone()),
                Box::new(row.topic.clone()),
                Box::new(i16::from(row.importance_score)),
                Box::new(row.source.clone()),
                Box::new(row.channel.clone()),
                Box::new(row.session_id.clone()),
                Box::new(message),
                Box::new(input),
                Box::new(row.external_id.clone()),
                Box::new(row.captured_at.as_micros()),
                Box::new(row.created_at.as_micros()),
                Box::new(row.valid_from.as_micros()),
                Box::new(extraction),
                Box::new(shape_code(row.shape)),
                Box::new(fingerprint_key(&row.fingerprint).to_vec()),
                Box::new(input_hash.map(|h| h.to_vec())),
            ],
        )?;
        if let Some(analyzed) = &row.lexical {
            let (postings, counted) = index_params(&row.account, &tenant, id, analyzed);
            self.defer(sql::INSERT_POSTINGS, postings)?;
            self.defer(sql::COUNT_LEXICAL, counted)?;
        }
        if let Some((space, unit)) = &row.vector {
            let bytes: Vec<u8> = unit.iter().flat_map(|x| x.to_le_bytes()).collect();
            self.defer(
                sql::INSERT_VECTOR,
                vec![
                    Box::new(row.account.clone()),
                    Box::new(id),
                    Box::new(*space as i64),
                    Box::new(bytes),
                ],
            )?;
        }
        Ok(())
    }

    fn import_rows(&mut self, rows: &[ImportedRow]) -> Result<()> {
        // Each account's rows in one statement per table (an import's batch is one
        // account's), their latest versions written with them.
        let mut by_account: BTreeMap<&str, Vec<&ImportedRow>> = BTreeMap::new();
        for r in rows {
            by_account.entry(&r.row.account).or_default().push(r);
        }
        for (account, rows) in by_account {
            self.import_account_rows(account, &rows)?;
        }
        Ok(())
    }

    fn append_version(
        &mut self,
        account: &str,
        id: MemoryId,
        previous: &Version,
        next: &Version,
        _at: Timestamp,
    ) -> Result<()> {
        // The version columns carry their own times (`valid_to_set_at`, `tx_end`).
        self.defer_checked(
            sql::APPEND_VERSION,
            vec![
                Box::new(account.to_owned()),
                Box::new(id.as_uuid()),
                Box::new(micros(next.valid_to)),
                Box::new(micros(next.valid_to_set_at)),
                Box::new(next.superseded_by.map(|s| s.as_uuid())),
                Box::new(micros(next.transaction_time_end)),
                Box::new(micros(previous.valid_to)),
                Box::new(micros(previous.valid_to_set_at)),
                Box::new(previous.superseded_by.map(|s| s.as_uuid())),
                Box::new(micros(previous.transaction_time_end)),
            ],
            Some((
                1,
                format!("memory {id} is not in the version its supersession was planned on"),
            )),
        )
    }

    fn append_event(&mut self, account: &str, id: MemoryId, event: &AuditEvent) -> Result<()> {
        let details = super::read::event_details_json(&event.details)?;
        self.defer(
            sql::APPEND_EVENT,
            vec![
                Box::new(account.to_owned()),
                Box::new(id.as_uuid()),
                Box::new(event.kind.as_str()),
                Box::new(event.at.as_micros()),
                Box::new(event.by.clone()),
                Box::new(details),
            ],
        )
    }

    fn delete(&mut self, account: &str, tenants: Tenants<'_>) -> Result<u64> {
        let tenant = tenants_param(&tenants);
        let deleted: Vec<Uuid> = self
            .query(sql::DELETE_MEMORIES, &[&account, &tenant])?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let count = deleted.len() as u64;
        let tenant = tenant.map(str::to_owned);
        self.defer(
            sql::DELETE_EVENTS,
            vec![Box::new(account.to_owned()), Box::new(deleted)],
        )?;
        for statement in [
            sql::DELETE_POSTINGS,
            sql::DELETE_LEXICAL_STATS,
            sql::DELETE_VECTORS,
            sql::DELETE_INPUTS,
        ] {
            self.defer(
                statement,
                vec![Box::new(account.to_owned()), Box::new(tenant.clone())],
            )?;
        }
        Ok(count)
    }

    fn put_vector(&mut self, account: &str, id: MemoryId, tag: u64, unit: &[f32]) -> Result<bool> {
        let bytes: Vec<u8> = unit.iter().flat_map(|x| x.to_le_bytes()).collect();
        let prepared = self.session.prepare(sql::INSERT_VECTOR)?;
        let stored = self.flush_with(async |client| {
            client
                .execute(&prepared, &[&account, &id.as_uuid(), &(tag as i64), &bytes])
                .await
        })?;
        Ok(stored == 1)
    }

    fn put_usage(&mut self, account: &str, usage: &Usage) -> Result<()> {
        self.defer(
            sql::PUT_USAGE,
            vec![
                Box::new(account.to_owned()),
                Box::new(usage.period_start.as_micros()),
                Box::new(i64::try_from(usage.writes_used).unwrap_or(i64::MAX)),
                Box::new(micros(usage.grace_started_at)),
                Box::new(by_day(&usage.writes_by_day)),
            ],
        )
    }

    fn count_write(&mut self, account: &str, now: Timestamp) -> Result<()> {
        let period_start = crate::month_start(now);
        // 1-based, as PostgreSQL's arrays are.
        let day = crate::account::day_of_period(period_start, now) as i32 + 1;
        self.defer(
            sql::COUNT_WRITE,
            vec![
                Box::new(account.to_owned()),
                Box::new(period_start.as_micros()),
                Box::new(day),
            ],
        )
    }

    fn put_account(&mut self, account: &Account) -> Result<()> {
        self.defer(
            sql::PUT_ACCOUNT,
            vec![
                Box::new(account.id.clone()),
                Box::new(account.org_id),
                Box::new(account.created_at.as_micros()),
                Box::new(account.plan.tier.clone()),
                Box::new(
                    account
                        .plan
                        .writes_limit
                        .map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
                ),
            ],
        )
    }

    fn put_api_key(&mut self, hash: &[u8; 32], key: &ApiKey) -> Result<()> {
        self.defer(
            sql::PUT_API_KEY,
            vec![
                Box::new(hash.to_vec()),
                Box::new(key.id),
                Box::new(key.account.clone()),
                Box::new(key.shown_prefix.clone()),
                Box::new(key.label.clone()),
                Box::new(key.created_at.as_micros()),
                Box::new(micros(key.revoked_at)),
            ],
        )
    }

    fn put_settings(&mut self, key: Uuid, settings: &Settings) -> Result<()> {
        let value = serde_json::to_value(settings)
            .map_err(|e| Error::InvalidArgument(format!("settings: {e}")))?;
        self.defer(sql::PUT_SETTINGS, vec![Box::new(key), Box::new(value)])
    }

    fn put_operator(&mut self, credential: &OperatorCredential) -> Result<()> {
        self.defer(
            sql::PUT_OPERATOR,
            vec![
                Box::new(credential.hash.to_vec()),
                Box::new(credential.created_at.as_micros()),
            ],
        )
    }

    fn put_session(&mut self, hash: &[u8; 32], session: &SessionRecord) -> Result<()> {
        let (key, operator) = match session.owner {
            SessionOwner::Key(key) => (Some(key), None),
            SessionOwner::Operator(at) => (None, Some(at.as_micros())),
        };
        self.defer(
            sql::PUT_SESSION,
            vec![
                Box::new(hash.to_vec()),
                Box::new(key),
                Box::new(operator),
                Box::new(session.csrf.clone()),
                Box::new(session.created_at.as_micros()),
                Box::new(session.expires_at.as_micros()),
            ],
        )
    }

    fn delete_session(&mut self, hash: &[u8; 32]) -> Result<()> {
        self.defer(sql::DELETE_SESSION, vec![Box::new(hash.to_vec())])
    }

    fn prune_sessions(&mut self, now: Timestamp, keep: usize) -> Result<()> {
        self.defer(
            sql::PRUNE_SESSIONS,
            vec![
                Box::new(now.as_micros()),
                Box::new(i64::try_from(keep).unwrap_or(i64::MAX)),
            ],
        )
    }

    fn accounts_changed(&mut self) {
        self.accounts_changed = true;
    }
}
