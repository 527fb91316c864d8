//! Write transactions on PostgreSQL: the account locks and stamp are taken by
//! `PgBackend::write_once`; this is what the engine writes inside.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Statement};
use uuid::Uuid;

use super::Session;
use super::read;
use super::sql::{self, pg, shape_code, tenant_key, tenants_param};
use crate::account::{Account, ApiKey, Settings, Usage};
use crate::backend::{Analyzed, Duplicate, Lookup, NewRow, Owned, Stored, Tenants, Version, Write};
use crate::error::{Error, Result};
use crate::model::{AuditEvent, MemoryId, ORIGINAL_MESSAGE_MAX_CHARS, truncate_chars};
use crate::time::Timestamp;

/// A write transaction (see `PgBackend::write_once`).
pub(crate) struct PgWrite<'s, 'b> {
    pub session: &'s Session<'b>,
    pub stamp: Timestamp,
    pub accounts_changed: bool,
    /// Shared inputs read by this transaction.
    pub inputs: read::InputCache,
    /// Shared inputs stored (or found stored) by this transaction: each is sent once.
    pub shared: HashSet<(String, String, [u8; 32])>,
}

impl Lookup for PgWrite<'_, '_> {
    fn now(&self) -> Result<Timestamp> {
        Ok(self.stamp)
    }

    fn fetch(&self, account: &str, id: MemoryId) -> Result<Owned<Stored>> {
        read::fetch(self.session, &self.inputs, account, id)
    }

    fn usage(&self, account: &str) -> Result<Option<Usage>> {
        read::usage(self.session, account)
    }

    fn account(&self, id: &str) -> Result<Option<Account>> {
        read::account(self.session, id)
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        read::accounts(self.session)
    }

    fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
        read::api_key(self.session, hash)
    }

    fn api_keys(&self) -> Result<Vec<([u8; 32], ApiKey)>> {
        read::api_keys(self.session)
    }

    fn settings(&self, key: Uuid) -> Result<Option<Settings>> {
        read::settings(self.session, key)
    }
}

/// The stored form of a duplicate fingerprint: its SHA-256 (a fixed-size index key).
fn fingerprint_key(fingerprint: &[u8]) -> [u8; 32] {
    Sha256::digest(fingerprint).into()
}

fn micros(t: Option<Timestamp>) -> Option<i64> {
    t.map(Timestamp::as_micros)
}

/// Inserts a row's postings and counts it in its tenant's statistics.
pub(crate) async fn index_row(
    client: &impl GenericClient,
    insert: &Statement,
    count: &Statement,
    account: &str,
    tenant: &str,
    id: Uuid,
    analyzed: &Analyzed,
) -> Result<()> {
    let terms: Vec<&str> = analyzed.terms.iter().map(|(t, _)| t.as_str()).collect();
    let tfs: Vec<i32> = analyzed
        .terms
        .iter()
        .map(|(_, tf)| i32::try_from(*tf).unwrap_or(i32::MAX))
        .collect();
    let len = i32::try_from(analyzed.len).unwrap_or(i32::MAX);
    let len64 = i64::from(analyzed.len);
    let postings: [&(dyn ToSql + Sync); 6] = [&account, &tenant, &id, &terms, &len, &tfs];
    let counted: [&(dyn ToSql + Sync); 3] = [&account, &tenant, &len64];
    tokio::try_join!(
        client.execute(insert, &postings),
        client.execute(count, &counted),
    )
    .map_err(pg)?;
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
            .session
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
        let session = self.session;
        let tenant = tenant_key(row.tenant.as_deref());
        let id = row.id.as_uuid();
        let extraction = row
            .extraction
            .as_ref()
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| Error::InvalidArgument(format!("extraction metadata: {e}")))?;
        let fingerprint = fingerprint_key(&row.fingerprint);
        let importance = i16::from(row.importance_score);
        // A shared input: stored once per tenant, referred to by its hash; the row keeps its
        // original message only when it is not the input's first characters.
        let (input, input_hash, message): (Option<&str>, Option<[u8; 32]>, Option<&str>) =
            if row.shared_input {
                let hash: [u8; 32] = Sha256::digest(row.original_input.as_bytes()).into();
                let derived = truncate_chars(&row.original_input, ORIGINAL_MESSAGE_MAX_CHARS);
                let message =
                    (row.original_message != derived).then_some(row.original_message.as_str());
                (None, Some(hash), message)
            } else {
                (
                    Some(&*row.original_input),
                    None,
                    Some(row.original_message.as_str()),
                )
            };
        let new_input = input_hash.filter(|hash| {
            self.shared
                .insert((row.account.clone(), tenant.to_owned(), *hash))
        });
        let shape = shape_code(row.shape);
        let (captured, created, valid_from) = (
            row.captured_at.as_micros(),
            row.created_at.as_micros(),
            row.valid_from.as_micros(),
        );
        session.backend().block_on(async {
            let client = session.client();
            let memory = client
                .prepare_cached(sql::INSERT_MEMORY)
                .await
                .map_err(pg)?;
            let postings = client
                .prepare_cached(sql::INSERT_POSTINGS)
                .await
                .map_err(pg)?;
            let count = client
                .prepare_cached(sql::COUNT_LEXICAL)
                .await
                .map_err(pg)?;
            let vector = client
                .prepare_cached(sql::INSERT_VECTOR)
                .await
                .map_err(pg)?;
            let input_statement = client.prepare_cached(sql::INSERT_INPUT).await.map_err(pg)?;
            let fingerprint = fingerprint.as_slice();
            let hash = input_hash.as_ref().map(|h| h.as_slice());
            let params: [&(dyn ToSql + Sync); 20] = [
                &row.account,
                &id,
                &tenant,
                &row.decision,
                &row.summary,
                &row.topic,
                &importance,
                &row.source,
                &row.channel,
                &row.session_id,
                &message,
                &input,
                &row.external_id,
                &captured,
                &created,
                &valid_from,
                &extraction,
                &shape,
                &fingerprint,
                &hash,
            ];
            let store_input = async {
                match &new_input {
                    Some(h) => {
                        let text: &str = &row.original_input;
                        let params: [&(dyn ToSql + Sync); 4] =
                            [&row.account, &tenant, &h.as_slice(), &text];
                        client
                            .execute(&input_statement, &params)
                            .await
                            .map_err(pg)?;
                        Ok(())
                    }
                    None => Ok(()),
                }
            };
            let insert_memory = client.execute(&memory, &params);
            let index = async {
                match &row.lexical {
                    Some(analyzed) => {
                        let client: &tokio_postgres::Client = client;
                        index_row(
                            client,
                            &postings,
                            &count,
                            &row.account,
                            tenant,
                            id,
                            analyzed,
                        )
                        .await
                    }
                    None => Ok(()),
                }
            };
            let store_vector = async {
                match &row.vector {
                    Some((space, unit)) => {
                        let bytes: Vec<u8> = unit.iter().flat_map(|x| x.to_le_bytes()).collect();
                        let space = *space as i64;
                        let params: [&(dyn ToSql + Sync); 4] = [&row.account, &id, &space, &bytes];
                        client.execute(&vector, &params).await.map_err(pg)?;
                        Ok(())
                    }
                    None => Ok(()),
                }
            };
            // One round trip: the row first, its index entries after it.
            let (_, _, _, _) = tokio::try_join!(
                biased;
                store_input,
                async { insert_memory.await.map_err(pg) },
                index,
                store_vector,
            )?;
            Ok(())
        })
    }

    fn append_version(
        &mut self,
        account: &str,
        id: MemoryId,
        previous: &Version,
        next: &Version,
    ) -> Result<()> {
        let changed = self.session.execute(
            sql::APPEND_VERSION,
            &[
                &account,
                &id.as_uuid(),
                &micros(next.valid_to),
                &micros(next.valid_to_set_at),
                &next.superseded_by.map(|s| s.as_uuid()),
                &micros(next.transaction_time_end),
                &micros(previous.valid_to),
                &micros(previous.valid_to_set_at),
                &previous.superseded_by.map(|s| s.as_uuid()),
                &micros(previous.transaction_time_end),
            ],
        )?;
        if changed != 1 {
            return Err(Error::Corrupted(format!(
                "memory {id} is not in the version its supersession was planned on"
            )));
        }
        Ok(())
    }

    fn append_event(&mut self, account: &str, id: MemoryId, event: &AuditEvent) -> Result<()> {
        let details = serde_json::to_value(&event.details)
            .map_err(|e| Error::InvalidArgument(format!("event details: {e}")))?;
        self.session.execute(
            sql::APPEND_EVENT,
            &[
                &account,
                &id.as_uuid(),
                &event.kind.as_str(),
                &event.at.as_micros(),
                &event.by,
                &details,
            ],
        )?;
        Ok(())
    }

    fn delete(&mut self, account: &str, tenants: Tenants<'_>) -> Result<u64> {
        let tenant = tenants_param(&tenants);
        let deleted: Vec<Uuid> = self
            .session
            .query(sql::DELETE_MEMORIES, &[&account, &tenant])?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let session = self.session;
        session.backend().block_on(async {
            let client = session.client();
            let events = client
                .prepare_cached(sql::DELETE_EVENTS)
                .await
                .map_err(pg)?;
            let postings = client
                .prepare_cached(sql::DELETE_POSTINGS)
                .await
                .map_err(pg)?;
            let stats = client
                .prepare_cached(sql::DELETE_LEXICAL_STATS)
                .await
                .map_err(pg)?;
            let vectors = client
                .prepare_cached(sql::DELETE_VECTORS)
                .await
                .map_err(pg)?;
            let inputs = client
                .prepare_cached(sql::DELETE_INPUTS)
                .await
                .map_err(pg)?;
            let by_id: [&(dyn ToSql + Sync); 2] = [&account, &deleted];
            let by_tenant: [&(dyn ToSql + Sync); 2] = [&account, &tenant];
            tokio::try_join!(
                client.execute(&events, &by_id),
                client.execute(&postings, &by_tenant),
                client.execute(&stats, &by_tenant),
                client.execute(&vectors, &by_tenant),
                client.execute(&inputs, &by_tenant),
            )
            .map_err(pg)
        })?;
        Ok(deleted.len() as u64)
    }

    fn put_vector(&mut self, account: &str, id: MemoryId, tag: u64, unit: &[f32]) -> Result<bool> {
        let bytes: Vec<u8> = unit.iter().flat_map(|x| x.to_le_bytes()).collect();
        let stored = self.session.execute(
            sql::INSERT_VECTOR,
            &[&account, &id.as_uuid(), &(tag as i64), &bytes],
        )?;
        Ok(stored == 1)
    }

    fn put_usage(&mut self, account: &str, usage: &Usage) -> Result<()> {
        self.session.execute(
            sql::PUT_USAGE,
            &[
                &account,
                &usage.period_start.as_micros(),
                &i64::try_from(usage.writes_used).unwrap_or(i64::MAX),
                &micros(usage.grace_started_at),
            ],
        )?;
        Ok(())
    }

    fn put_account(&mut self, account: &Account) -> Result<()> {
        self.session.execute(
            sql::PUT_ACCOUNT,
            &[
                &account.id,
                &account.org_id,
                &account.created_at.as_micros(),
            ],
        )?;
        Ok(())
    }

    fn put_api_key(&mut self, hash: &[u8; 32], key: &ApiKey) -> Result<()> {
        self.session.execute(
            sql::PUT_API_KEY,
            &[
                &hash.as_slice(),
                &key.id,
                &key.account,
                &key.shown_prefix,
                &key.label,
                &key.created_at.as_micros(),
                &micros(key.revoked_at),
            ],
        )?;
        Ok(())
    }

    fn put_settings(&mut self, key: Uuid, settings: &Settings) -> Result<()> {
        let value = serde_json::to_value(settings)
            .map_err(|e| Error::InvalidArgument(format!("settings: {e}")))?;
        self.session.execute(sql::PUT_SETTINGS, &[&key, &value])?;
        Ok(())
    }

    fn accounts_changed(&mut self) {
        self.accounts_changed = true;
    }
}
