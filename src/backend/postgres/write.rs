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
use std::collections::HashSet;

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
use crate::backend::{Analyzed, Duplicate, Lookup, NewRow, Owned, Stored, Tenants, Version, Write};
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
        let extraction = row
            .extraction
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| Error::InvalidArgument(format!("extraction metadata: {e}")))?;
        // A shared input: stored once per tenant, referred to by its hash; the row keeps its
        // original message only when it is not the input's first characters.
        let (input, input_hash, message) = if row.shared_input {
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
        };
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
