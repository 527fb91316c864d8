//! Export: every record of a scope streamed as [`ExportRecord`]s (see `crate::export`).

use super::Store;
use super::write::{validate_account, validate_tenant};
use crate::backend::{Read, RowHistory, Tenants};
use crate::error::{Error, Result};
use crate::export::{
    EXPORT_FORMAT, EXPORT_FORMAT_VERSION, ExportHeader, ExportRecord, ExportTotals,
    ExportedAccount, ExportedEvent, ExportedKey, ExportedMemory, ExportedOperator, ExportedUsage,
    ExportedVector, hex,
};
use crate::model::{ListCursor, MemoryId};

/// Rows read per page of an export: memory stays flat whatever the store's size.
const PAGE: usize = 512;

/// What to export.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportScope {
    /// One account; `None`: the whole store (accounts, keys, settings, usage, the operator
    /// credential, and every account's memories).
    pub account: Option<String>,
    /// With `account`: one tenant (`Some(None)` is the default tenant); `None`: every tenant.
    pub tenant: Option<Option<String>>,
}

impl Store {
    /// Streams the export of `scope` to `sink`, a record at a time, and returns the totals
    /// (also its last record). Memories come account by account, tenant by tenant, each
    /// tenant's oldest first. Each account is read in one snapshot: the records of an
    /// account are consistent with each other (on PostgreSQL its writers wait for the
    /// account's snapshot to end). Stops at the first error of `sink`.
    pub fn export(
        &self,
        scope: &ExportScope,
        sink: &mut dyn FnMut(ExportRecord) -> Result<()>,
    ) -> Result<ExportTotals> {
        if let Some(account) = &scope.account {
            validate_account(account)?;
        } else if scope.tenant.is_some() {
            return Err(Error::InvalidArgument(
                "a tenant is exported with its account".into(),
            ));
        }
        if let Some(Some(tenant)) = &scope.tenant {
            validate_tenant(Some(tenant))?;
        }
        let mut totals = ExportTotals::default();
        let global = self.read(None)?;
        sink(ExportRecord::Header(ExportHeader {
            format: EXPORT_FORMAT.to_owned(),
            format_version: EXPORT_FORMAT_VERSION,
            aurra_version: env!("CARGO_PKG_VERSION").to_owned(),
            exported_at: global.now()?,
            account: scope.account.clone(),
            tenant: scope.tenant.clone().flatten(),
            whole_store: scope.account.is_none(),
        }))?;
        let accounts: Vec<String> = match &scope.account {
            Some(account) => vec![account.clone()],
            None => {
                if let Some(operator) = global.operator()? {
                    sink(ExportRecord::Operator(ExportedOperator {
                        hash: hex(&operator.hash),
                        created_at: operator.created_at,
                    }))?;
                }
                let accounts = global.accounts()?;
                for account in &accounts {
                    sink(ExportRecord::Account(ExportedAccount {
                        id: account.id.clone(),
                        org_id: account.org_id,
                        created_at: account.created_at,
                        plan_tier: account.plan.tier.clone(),
                        writes_limit: account.plan.writes_limit,
                        usage: global.usage(&account.id)?.as_ref().map(ExportedUsage::from),
                    }))?;
                    totals.accounts += 1;
                }
                let mut keys = global.api_keys()?;
                keys.sort_by_key(|(_, k)| k.id);
                for (hash, key) in keys {
                    let settings = global.settings(key.id)?;
                    sink(ExportRecord::ApiKey(ExportedKey {
                        hash: hex(&hash),
                        id: key.id,
                        account: key.account,
                        shown_prefix: key.shown_prefix,
                        label: key.label,
                        created_at: key.created_at,
                        revoked_at: key.revoked_at,
                        settings,
                    }))?;
                    totals.api_keys += 1;
                }
                // Memories may belong to accounts without a record (a library store).
                let mut ids: Vec<String> = accounts.into_iter().map(|a| a.id).collect();
                for extra in global.memory_accounts()? {
                    if !ids.contains(&extra) {
                        ids.push(extra);
                    }
                }
                ids.sort();
                ids
            }
        };
        drop(global);
        for account in &accounts {
            let snapshot = self.read(Some(account))?;
            let tenants = match &scope.tenant {
                Some(tenant) => Tenants::One(tenant.as_deref()),
                None => Tenants::All,
            };
            export_account(snapshot.as_ref(), account, tenants, &mut totals, sink)?;
        }
        sink(ExportRecord::End(totals))?;
        Ok(totals)
    }
}

/// Every memory of `account` in `tenants`, tenant by tenant, each tenant's oldest first (the
/// order an import appends them in), a page at a time.
fn export_account(
    snapshot: &dyn Read,
    account: &str,
    tenants: Tenants<'_>,
    totals: &mut ExportTotals,
    sink: &mut dyn FnMut(ExportRecord) -> Result<()>,
) -> Result<()> {
    let tenants: Vec<Option<String>> = match tenants {
        Tenants::One(tenant) => vec![tenant.map(str::to_owned)],
        Tenants::All => snapshot.tenants_of(account)?,
    };
    for tenant in &tenants {
        let mut after: Option<ListCursor> = None;
        loop {
            let page = snapshot.rows_ascending(account, tenant.as_deref(), after, PAGE)?;
            let full = page.len() == PAGE;
            export_rows(snapshot, account, &page, totals, sink, &mut after)?;
            if !full {
                break;
            }
        }
    }
    Ok(())
}

/// The rows `ids` of `account`, in order; `after` ends at the last one.
fn export_rows(
    snapshot: &dyn Read,
    account: &str,
    ids: &[MemoryId],
    totals: &mut ExportTotals,
    sink: &mut dyn FnMut(ExportRecord) -> Result<()>,
    after: &mut Option<ListCursor>,
) -> Result<()> {
    for (history, &id) in snapshot.histories(account, ids)?.into_iter().zip(ids) {
        let Some(history) = history else {
            return Err(Error::Corrupted(format!(
                "indexed memory {id} is not the account's"
            )));
        };
        let memory = exported(history);
        *after = Some(ListCursor {
            created_at: memory.created_at,
            id,
        });
        totals.memories += 1;
        totals.events += memory.events.len() as u64;
        totals.vectors += u64::from(memory.vector.is_some());
        sink(ExportRecord::Memory(Box::new(memory)))?;
    }
    Ok(())
}

/// Everything `snapshot` holds for row `id` of `account`, as exported; `None` when it is not
/// a row of `account`.
pub(super) fn exported_memory(
    snapshot: &dyn Read,
    account: &str,
    id: MemoryId,
) -> Result<Option<ExportedMemory>> {
    Ok(snapshot
        .histories(account, &[id])?
        .pop()
        .flatten()
        .map(exported))
}

/// A row's stored history as exported.
fn exported(history: RowHistory) -> ExportedMemory {
    let RowHistory {
        stored,
        events,
        vector,
    } = history;
    let events: Vec<ExportedEvent> = events
        .into_iter()
        .map(|e| ExportedEvent {
            requested_valid_to: e.details.requested_valid_to(),
            kind: e.kind,
            at: e.at,
            by: e.by,
            details: e.details,
        })
        .collect();
    let vector = vector.map(|(space_tag, values)| ExportedVector { space_tag, values });
    let m = stored.memory;
    ExportedMemory {
        id: m.id,
        account: m.account,
        tenant: m.tenant,
        decision: m.decision,
        summary: m.summary,
        topic: m.topic,
        importance_score: m.importance_score,
        source: m.source,
        channel: m.channel,
        session_id: m.session_id,
        original_message: m.original_message,
        original_input: m.original_input.to_string(),
        external_id: m.external_id,
        captured_at: m.captured_at,
        created_at: m.created_at,
        valid_from: m.valid_from,
        valid_to: m.valid_to,
        valid_to_set_at: stored.valid_to_set_at,
        superseded_by: m.superseded_by,
        transaction_time_end: m.transaction_time_end,
        extraction: m.extraction,
        shape: stored.shape,
        events,
        vector,
    }
}
