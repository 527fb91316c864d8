//! Every SQL statement of the PostgreSQL backend, and the decoding of its rows.
//!
//! Statements on an account's data take the account as `$1` and filter every table they
//! touch by `account_id` (checked by a test below), so that each is a single-shard statement
//! on a table distributed by `account_id`. The few that are not (the 403-or-404 probe of an
//! id the caller's account does not hold, the embedding backfill, the opening scan of the
//! clocks) are listed in [`CROSS_ACCOUNT`] with their reason.
//!
//! Versions: in aurra a row's `valid_to` and its replacement are each recorded at most once
//! (Level 1's rules), so the row's history is four set-once columns — `valid_to` with the
//! instant it was recorded (`valid_to_set_at`), `superseded_by` with the instant it was
//! recorded (`tx_end`) — and its state at any transaction time `T` follows exactly: a column
//! is visible at `T` iff it was recorded by `T`. No value is ever overwritten.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_postgres::Row;
use uuid::Uuid;

use crate::backend::{Listing, Stored, Tenants};
use crate::error::{Error, Result};
use crate::model::{
    Extraction, Memory, MemoryId, ORIGINAL_MESSAGE_MAX_CHARS, ReadMode, WriteShape, truncate_chars,
};
use crate::time::Timestamp;

/// The column list of [`MEMORY_COLUMNS`], as a literal for `concat!`.
macro_rules! memory_columns {
    () => {
        "id, account_id, tenant, decision, summary, topic, importance, source, channel, \
         session_id, original_message, original_input, external_id, captured_at, created_at, \
         valid_from, valid_to, valid_to_set_at, superseded_by, tx_end, extraction, shape, \
         input_hash"
    };
}

/// The columns of a memory, in the order [`memory`] decodes them.
pub(crate) const MEMORY_COLUMNS: &str = memory_columns!();

/// Takes the shared lock of an account (see `clock.rs`).
pub(crate) const LOCK_SHARED: &str = "SELECT pg_advisory_xact_lock_shared($1)";
/// Takes the exclusive lock of an account (see `clock.rs`).
pub(crate) const LOCK: &str = "SELECT pg_advisory_xact_lock($1)";
/// The database server's clock, in microseconds since the Unix epoch.
pub(crate) const CLOCK: &str = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint";
/// An account's last commit (see `clock.rs`), and the database clock.
pub(crate) const ACCOUNT_CLOCK: &str = "SELECT (SELECT last_tx FROM clocks WHERE account_id = $1), \
     (extract(epoch FROM clock_timestamp()) * 1000000)::bigint";
/// The latest commit of the held accounts.
pub(crate) const LAST_COMMITS: &str =
    "SELECT max(last_tx) FROM clocks WHERE account_id = ANY($1::text[])";
/// Records the stamp of a commit for each held account.
pub(crate) const SET_CLOCKS: &str = "INSERT INTO clocks (account_id, last_tx) \
     SELECT a, $2 FROM unnest($1::text[]) AS a \
     ON CONFLICT (account_id) DO UPDATE SET last_tx = EXCLUDED.last_tx";
/// The latest commit of every account (read once, when a store opens).
pub(crate) const LATEST_COMMIT: &str = "SELECT max(last_tx) FROM clocks";

pub(crate) const FETCH: &str = concat!(
    "SELECT ",
    memory_columns!(),
    " FROM memories WHERE account_id = $1 AND id = $2",
);
/// Whether any account holds the id (the 403-or-404 probe, see [`CROSS_ACCOUNT`]).
pub(crate) const EXISTS_ANYWHERE: &str = "SELECT 1 FROM memories WHERE id = $1 LIMIT 1";
pub(crate) const ROWS_BY_ID: &str = concat!(
    "SELECT ",
    memory_columns!(),
    " FROM memories WHERE account_id = $1 AND id = ANY($2::uuid[])",
);
pub(crate) const EVENTS: &str = "SELECT kind, at, actor, details FROM events \
     WHERE account_id = $1 AND memory_id = $2 ORDER BY n";
/// [`EVENTS`] of several rows (an export's page), each row's in order.
pub(crate) const EVENTS_OF: &str = "SELECT kind, at, actor, details, memory_id FROM events \
     WHERE account_id = $1 AND memory_id = ANY($2::uuid[]) ORDER BY memory_id, n";
/// Every row within `$3` hops of `$2` over `superseded_by` links both ways; a link to a row
/// that does not exist (hard-deleted) ends the walk there. Each step extends a path that has
/// not visited the row yet: a row has at most one successor and cycles are refused, so the
/// links form a forest and every row is reached once, by its shortest path (the BFS of
/// `redb/chain.rs`).
pub(crate) const CHAIN: &str = concat!(
    "WITH RECURSIVE walk(id, hops, path) AS ( \
         SELECT m.id, 0, ARRAY[m.id] FROM memories m WHERE m.account_id = $1 AND m.id = $2 \
       UNION ALL \
         SELECT next.id, walk.hops + 1, walk.path || next.id FROM walk, LATERAL ( \
             SELECT s.id FROM memories m \
                 JOIN memories s ON s.account_id = $1 AND s.id = m.superseded_by \
                 WHERE m.account_id = $1 AND m.id = walk.id \
             UNION ALL \
             SELECT p.id FROM memories p WHERE p.account_id = $1 AND p.superseded_by = walk.id \
         ) AS next WHERE walk.hops < $3 AND next.id <> ALL(walk.path)) \
     SELECT ",
    memory_columns!(),
    " FROM memories WHERE account_id = $1 AND id IN (SELECT id FROM walk)",
);
/// The statistics of the tenants of an account (`$2`: one tenant, or null for all).
pub(crate) const LEXICAL_STATS: &str = "SELECT tenant, rows, terms FROM lexical_stats \
     WHERE account_id = $1 AND ($2::text IS NULL OR tenant = $2) ORDER BY tenant";
pub(crate) const POSTINGS: &str = "SELECT tenant, term, memory_id, tf, len FROM postings \
     WHERE account_id = $1 AND ($2::text IS NULL OR tenant = $2) AND term = ANY($3::text[]) \
     ORDER BY tenant, term, memory_id";
/// The turns within `$3` positions of each of `$2` in its session (positions in insertion
/// order: `created_at`, then id, as the redb backend's session tree), in the order of `$2`,
/// then by distance, the earlier turn first. Each side is one scan of `memories_session`
/// that stops after `$3` rows.
pub(crate) const SESSION_NEIGHBOURS: &str = "SELECT q.id, n.id, n.distance \
     FROM unnest($2::uuid[]) WITH ORDINALITY AS q(id, ord) \
     JOIN memories p ON p.account_id = $1 AND p.id = q.id AND p.session_id IS NOT NULL \
     CROSS JOIN LATERAL ( \
         (SELECT b.id, row_number() OVER (ORDER BY b.created_at DESC, b.id DESC) AS distance, \
                 0 AS side \
             FROM memories b WHERE b.account_id = $1 AND b.tenant = p.tenant \
                 AND b.session_id = p.session_id AND (b.created_at, b.id) < (p.created_at, p.id) \
             ORDER BY b.created_at DESC, b.id DESC LIMIT $3) \
         UNION ALL \
         (SELECT a.id, row_number() OVER (ORDER BY a.created_at, a.id), 1 \
             FROM memories a WHERE a.account_id = $1 AND a.tenant = p.tenant \
                 AND a.session_id = p.session_id AND (a.created_at, a.id) > (p.created_at, p.id) \
             ORDER BY a.created_at, a.id LIMIT $3) \
     ) AS n \
     ORDER BY q.ord, n.distance, n.side";
pub(crate) const VECTORS: &str = "SELECT memory_id, vector FROM vectors \
     WHERE account_id = $1 AND ($2::text IS NULL OR tenant = $2) AND space = $3 \
     ORDER BY tenant, memory_id";
pub(crate) const VECTOR: &str = "SELECT v.vector FROM memories m JOIN vectors v \
         ON v.account_id = $1 AND v.tenant = m.tenant AND v.memory_id = m.id \
     WHERE m.account_id = $1 AND m.id = $2 AND v.space = $3";
pub(crate) const ROW_VECTOR: &str = "SELECT v.space, v.vector FROM memories m JOIN vectors v \
         ON v.account_id = $1 AND v.tenant = m.tenant AND v.memory_id = m.id \
     WHERE m.account_id = $1 AND m.id = $2";
/// [`ROW_VECTOR`] of several rows (an export's page).
pub(crate) const ROW_VECTORS: &str = "SELECT v.space, v.vector, m.id FROM memories m \
         JOIN vectors v ON v.account_id = $1 AND v.tenant = m.tenant AND v.memory_id = m.id \
     WHERE m.account_id = $1 AND m.id = ANY($2::uuid[])";
pub(crate) const USAGE: &str = "SELECT period_start, writes_used, grace_started_at, \
         writes_by_day FROM usage WHERE account_id = $1";

pub(crate) const DUPLICATES: &str = "SELECT id, valid_to, superseded_by FROM memories \
     WHERE account_id = $1 AND tenant = $2 AND fingerprint = $3 AND superseded_by IS NULL \
     ORDER BY id";
pub(crate) const INSERT_MEMORY: &str = "INSERT INTO memories (account_id, id, tenant, \
         decision, summary, topic, importance, source, channel, session_id, \
         original_message, original_input, external_id, captured_at, created_at, valid_from, \
         extraction, shape, fingerprint, input_hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20)";
/// Stores a shared input once per tenant.
pub(crate) const INSERT_INPUT: &str = "INSERT INTO inputs (account_id, tenant, hash, text) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, tenant, hash) DO NOTHING";
/// The shared inputs with these hashes (of any tenant of the account).
pub(crate) const INPUTS: &str =
    "SELECT hash, text FROM inputs WHERE account_id = $1 AND hash = ANY($2::bytea[])";
pub(crate) const INSERT_POSTINGS: &str = "INSERT INTO postings \
         (account_id, tenant, term, memory_id, tf, len) \
     SELECT $1, $2, term, $3, tf, $5 FROM unnest($4::text[], $6::int[]) AS t(term, tf)";
pub(crate) const COUNT_LEXICAL: &str = "INSERT INTO lexical_stats (account_id, tenant, rows, terms) \
     VALUES ($1, $2, 1, $3) ON CONFLICT (account_id, tenant) \
     DO UPDATE SET rows = lexical_stats.rows + 1, terms = lexical_stats.terms + EXCLUDED.terms";
/// An import's rows of account `$1`, in their latest versions, a column an array.
pub(crate) const IMPORT_MEMORIES: &str = "INSERT INTO memories (account_id, id, tenant, \
         decision, summary, topic, importance, source, channel, session_id, \
         original_message, original_input, external_id, captured_at, created_at, valid_from, \
         extraction, shape, fingerprint, input_hash, valid_to, valid_to_set_at, superseded_by, \
         tx_end) \
     SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::smallint[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
         $13::text[], $14::bigint[], $15::bigint[], $16::bigint[], $17::jsonb[], \
         $18::smallint[], $19::bytea[], $20::bytea[], $21::bigint[], $22::bigint[], \
         $23::uuid[], $24::bigint[])";
/// An import's shared inputs of account `$1`.
pub(crate) const IMPORT_INPUTS: &str = "INSERT INTO inputs (account_id, tenant, hash, text) \
     SELECT $1, * FROM unnest($2::text[], $3::bytea[], $4::text[]) \
     ON CONFLICT (account_id, tenant, hash) DO NOTHING";
/// An import's audit events of account `$1`, numbered by the import.
pub(crate) const IMPORT_EVENTS: &str = "INSERT INTO events \
         (account_id, memory_id, n, kind, at, actor, details) \
     SELECT $1, * FROM unnest($2::uuid[], $3::integer[], $4::text[], $5::bigint[], \
         $6::text[], $7::jsonb[])";
/// An import's postings of account `$1`.
pub(crate) const IMPORT_POSTINGS: &str = "INSERT INTO postings \
         (account_id, tenant, term, memory_id, tf, len) \
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::uuid[], $5::integer[], $6::integer[])";
/// An import's rows counted in their tenants' lexical statistics, a tenant at a time.
pub(crate) const IMPORT_LEXICAL: &str = "INSERT INTO lexical_stats (account_id, tenant, rows, \
         terms) \
     SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::bigint[]) \
     ON CONFLICT (account_id, tenant) DO UPDATE SET rows = lexical_stats.rows + EXCLUDED.rows, \
         terms = lexical_stats.terms + EXCLUDED.terms";
/// An import's vectors of account `$1`.
pub(crate) const IMPORT_VECTORS: &str = "INSERT INTO vectors \
         (account_id, tenant, memory_id, space, vector) \
     SELECT $1, * FROM unnest($2::text[], $3::uuid[], $4::bigint[], $5::bytea[])";
pub(crate) const INSERT_VECTOR: &str = "INSERT INTO vectors \
         (account_id, tenant, memory_id, space, vector) \
     SELECT $1, tenant, id, $3, $4 FROM memories WHERE account_id = $1 AND id = $2 \
     ON CONFLICT (account_id, tenant, memory_id) \
     DO UPDATE SET space = EXCLUDED.space, vector = EXCLUDED.vector";
/// Fills in the version columns that were open; the previous values must match (`$7`..`$10`).
pub(crate) const APPEND_VERSION: &str = "UPDATE memories SET valid_to = $3, \
         valid_to_set_at = $4, superseded_by = $5, tx_end = $6 \
     WHERE account_id = $1 AND id = $2 AND valid_to IS NOT DISTINCT FROM $7 \
         AND valid_to_set_at IS NOT DISTINCT FROM $8 AND superseded_by IS NOT DISTINCT FROM $9 \
         AND tx_end IS NOT DISTINCT FROM $10";
pub(crate) const APPEND_EVENT: &str = "INSERT INTO events \
         (account_id, memory_id, n, kind, at, actor, details) \
     SELECT $1, $2, coalesce(max(n) + 1, 0), $3, $4, $5, $6 FROM events \
         WHERE account_id = $1 AND memory_id = $2";
pub(crate) const DELETE_MEMORIES: &str = "DELETE FROM memories \
     WHERE account_id = $1 AND ($2::text IS NULL OR tenant = $2) RETURNING id";
pub(crate) const DELETE_EVENTS: &str =
    "DELETE FROM events WHERE account_id = $1 AND memory_id = ANY($2::uuid[])";
pub(crate) const DELETE_POSTINGS: &str =
    "DELETE FROM postings WHERE account_id = $1 AND ($2::text IS NULL OR tenant = $2)";
pub(crate) const DELETE_LEXICAL_STATS: &str =
    "DELETE FROM lexical_stats WHERE account_id = $1 AND ($2::text IS NULL OR tenant = $2)";
pub(crate) const DELETE_INPUTS: &str =
    "DELETE FROM inputs WHERE account_id = $1 AND ($2::text IS NULL OR tenant = $2)";
pub(crate) const DELETE_VECTORS: &str =
    "DELETE FROM vectors WHERE account_id = $1 AND ($2::text IS NULL OR tenant = $2)";
/// One more write request in the period `$2` (a fresh count when the stored usage is of
/// another period: `account::current_usage`).
/// `writes_by_day` always has the 31 days of a period ($3 is the 1-based day of the write).
pub(crate) const COUNT_WRITE: &str = "INSERT INTO usage \
         (account_id, period_start, writes_used, grace_started_at, writes_by_day) \
     VALUES ($1, $2, 1, NULL, array_fill(0::bigint, ARRAY[$3::int - 1]) || 1::bigint \
         || array_fill(0::bigint, ARRAY[31 - $3::int])) \
     ON CONFLICT (account_id) DO UPDATE SET \
         writes_used = CASE WHEN usage.period_start = EXCLUDED.period_start \
             THEN usage.writes_used + 1 ELSE 1 END, \
         grace_started_at = CASE WHEN usage.period_start = EXCLUDED.period_start \
             THEN usage.grace_started_at END, \
         writes_by_day = CASE WHEN usage.period_start = EXCLUDED.period_start \
             THEN usage.writes_by_day[1:$3::int - 1] || (usage.writes_by_day[$3::int] + 1) \
                 || usage.writes_by_day[$3::int + 1:31] \
             ELSE EXCLUDED.writes_by_day END, \
         period_start = EXCLUDED.period_start";
pub(crate) const PUT_USAGE: &str = "INSERT INTO usage \
         (account_id, period_start, writes_used, grace_started_at, writes_by_day) \
     VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (account_id) DO UPDATE SET period_start = EXCLUDED.period_start, \
         writes_used = EXCLUDED.writes_used, grace_started_at = EXCLUDED.grace_started_at, \
         writes_by_day = EXCLUDED.writes_by_day";

// The global tables: accounts, keys, settings, the accounts generation, the format.

pub(crate) const ACCOUNT: &str = "SELECT id, org_id, created_at, plan_tier, writes_limit \
     FROM accounts WHERE id = $1";
pub(crate) const ACCOUNTS: &str = "SELECT id, org_id, created_at, plan_tier, writes_limit \
     FROM accounts ORDER BY id";
pub(crate) const PUT_ACCOUNT: &str = "INSERT INTO accounts \
         (id, org_id, created_at, plan_tier, writes_limit) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) \
     DO UPDATE SET org_id = EXCLUDED.org_id, created_at = EXCLUDED.created_at, \
         plan_tier = EXCLUDED.plan_tier, writes_limit = EXCLUDED.writes_limit";
pub(crate) const API_KEY: &str = "SELECT hash, id, account_id, shown_prefix, label, created_at, \
     revoked_at FROM api_keys WHERE hash = $1";
pub(crate) const API_KEYS: &str = "SELECT hash, id, account_id, shown_prefix, label, \
     created_at, revoked_at FROM api_keys";
pub(crate) const PUT_API_KEY: &str = "INSERT INTO api_keys \
         (hash, id, account_id, shown_prefix, label, created_at, revoked_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (hash) DO UPDATE SET \
         id = EXCLUDED.id, account_id = EXCLUDED.account_id, \
         shown_prefix = EXCLUDED.shown_prefix, label = EXCLUDED.label, \
         created_at = EXCLUDED.created_at, revoked_at = EXCLUDED.revoked_at";
pub(crate) const SETTINGS: &str = "SELECT settings FROM key_settings WHERE key_id = $1";
pub(crate) const PUT_SETTINGS: &str = "INSERT INTO key_settings (key_id, settings) \
     VALUES ($1, $2) ON CONFLICT (key_id) DO UPDATE SET settings = EXCLUDED.settings";
pub(crate) const SESSION: &str = "SELECT owner_key, operator_issued_at, csrf, created_at, \
         expires_at FROM sessions WHERE hash = $1";
pub(crate) const PUT_SESSION: &str = "INSERT INTO sessions \
         (hash, owner_key, operator_issued_at, csrf, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO UPDATE SET \
         owner_key = EXCLUDED.owner_key, operator_issued_at = EXCLUDED.operator_issued_at, \
         csrf = EXCLUDED.csrf, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at";
pub(crate) const DELETE_SESSION: &str = "DELETE FROM sessions WHERE hash = $1";
/// Expired sessions, then the oldest beyond `$2`.
pub(crate) const PRUNE_SESSIONS: &str = "DELETE FROM sessions WHERE expires_at <= $1 \
     OR hash IN (SELECT hash FROM sessions WHERE expires_at > $1 \
         ORDER BY created_at DESC, hash OFFSET $2)";
pub(crate) const OPERATOR: &str = "SELECT hash, created_at FROM operator_credential WHERE id = 1";
pub(crate) const PUT_OPERATOR: &str = "INSERT INTO operator_credential (id, hash, created_at) \
     VALUES (1, $1, $2) ON CONFLICT (id) DO UPDATE SET hash = EXCLUDED.hash, \
     created_at = EXCLUDED.created_at";
pub(crate) const GENERATION: &str = "SELECT value FROM generation WHERE id = 1";
pub(crate) const BUMP_GENERATION: &str =
    "UPDATE generation SET value = value + 1 WHERE id = 1 RETURNING value";
pub(crate) const SET_LEXICAL_COMPLETE: &str =
    "UPDATE format SET lexical_complete = $1 WHERE id = 1";

/// The backfill of embeddings: rows of every account without a vector of space `$2`, in id
/// order after `$1`.
pub(crate) const UNEMBEDDED: &str = "SELECT m.account_id, m.id, m.decision FROM memories m \
     WHERE ($1::uuid IS NULL OR m.id > $1) AND NOT EXISTS (SELECT 1 FROM vectors v \
         WHERE v.account_id = m.account_id AND v.memory_id = m.id AND v.space = $2) \
     ORDER BY m.id LIMIT $3";
/// Every row with its text, for rebuilding the lexical index (one account at a time).
pub(crate) const INDEX_SOURCE: &str =
    "SELECT id, tenant, decision FROM memories WHERE account_id = $1 ORDER BY created_at, id";
/// The accounts that have memories (for rebuilding the lexical index).
pub(crate) const ACCOUNTS_WITH_MEMORIES: &str = "SELECT DISTINCT account_id FROM memories";
pub(crate) const CLEAR_LEXICAL: &str = "TRUNCATE postings, lexical_stats";

/// Every table of the schema with its size: all partitions counted, indexes and TOAST
/// included in the total (see [`CROSS_ACCOUNT`]).
pub(crate) const TABLE_SIZES: &str = "SELECT c.relname::text, \
         CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0) \
             FROM pg_partition_tree(c.oid) t) ELSE pg_total_relation_size(c.oid) END::bigint AS total, \
         CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_relation_size(t.relid)), 0) \
             FROM pg_partition_tree(c.oid) t) ELSE pg_relation_size(c.oid) END::bigint \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
     ORDER BY total DESC, 1";

/// The tenants of an account (an export), the default one (`''`) first.
pub(crate) const TENANTS_OF: &str =
    "SELECT DISTINCT tenant FROM memories WHERE account_id = $1 ORDER BY tenant";
/// One tenant's rows oldest first after a cursor (an export).
/// The rows with these ids, whatever their account (an import's check that ids are new).
pub(crate) const OWNERS: &str = "SELECT id, account_id FROM memories WHERE id = ANY($1::uuid[])";
pub(crate) const ROWS_ASCENDING: &str = "SELECT id FROM memories \
     WHERE account_id = $1 AND tenant = $2 \
         AND ($3::bigint IS NULL OR (created_at, id) > ($3::bigint, $4::uuid)) \
     ORDER BY created_at, id LIMIT $5";

/// The statistics of the tables an import fills (the planner's view of them), refreshed.
pub(crate) const ANALYZE_LOADED: &str =
    "ANALYZE memories, events, postings, lexical_stats, vectors, inputs";

/// Every account with memories (a whole-store export).
pub(crate) const MEMORY_ACCOUNTS: &str =
    "SELECT DISTINCT account_id FROM memories ORDER BY account_id";

/// The statements that do not filter by one account, and why each is acceptable: on Citus
/// they are the only multi-shard statements, and none is on a request's path except the
/// error path of a foreign id.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const CROSS_ACCOUNT: &[(&str, &str)] = &[
    (
        MEMORY_ACCOUNTS,
        "aurra export of a whole store: which accounts hold memories, an operator's job",
    ),
    (
        OWNERS,
        "aurra import: whether the ids it brings are new to the store, an operator's job",
    ),
    (
        EXISTS_ANYWHERE,
        "an id the caller's account does not hold: 403 (another account's) or 404 (absent)",
    ),
    (
        UNEMBEDDED,
        "aurra embed: the backfill of vectors, an operator's job",
    ),
    (
        LATEST_COMMIT,
        "once when a store opens: this process's transaction-time floor",
    ),
    (
        ACCOUNTS_WITH_MEMORIES,
        "rebuilding the lexical index after a handle wrote without it",
    ),
    (
        CLEAR_LEXICAL,
        "rebuilding the lexical index after a handle wrote without it",
    ),
    (
        TABLE_SIZES,
        "aurra stats: the sizes of the whole schema, an operator's report",
    ),
];

/// A list read: rows of the scope that the mode may select, newest first, `$n` per the
/// returned parameter order: account, [tenant], [source], [session], [instants...],
/// [cursor created_at, cursor id], limit.
pub(crate) fn list(listing: &Listing<'_>, cursor: bool) -> (String, Vec<ListParam>) {
    let mut params = vec![ListParam::Account];
    let mut filters = vec!["account_id = $1".to_owned()];
    let next = |param: ListParam, params: &mut Vec<ListParam>| {
        params.push(param);
        format!("${}", params.len())
    };
    if let Tenants::One(_) = listing.scope.tenants {
        let p = next(ListParam::Tenant, &mut params);
        filters.push(format!("tenant = {p}"));
    }
    if listing.source.is_some() {
        let p = next(ListParam::Source, &mut params);
        filters.push(format!("source = {p}"));
    }
    if listing.session.is_some() {
        let p = next(ListParam::Session, &mut params);
        filters.push(format!("session_id = {p}"));
    }
    let instant = |t: Timestamp, params: &mut Vec<ListParam>| {
        let p = next(ListParam::Instant(t), params);
        format!("{p}::bigint")
    };
    match listing.mode {
        ReadMode::Current => {
            let now = instant(listing.now, &mut params);
            filters.push(format!(
                "superseded_by IS NULL AND valid_from <= {now} \
                 AND (valid_to IS NULL OR valid_to > {now})"
            ));
        }
        ReadMode::History => {}
        ReadMode::AsOf(t) => {
            let t = instant(t, &mut params);
            filters.push(format!(
                "valid_from <= {t} AND (valid_to IS NULL OR valid_to > {t})"
            ));
        }
        ReadMode::TransactionAsOf {
            at,
            include_superseded: true,
        } => {
            let t = instant(at, &mut params);
            filters.push(format!("created_at <= {t}"));
        }
        ReadMode::TransactionAsOf {
            at,
            include_superseded: false,
        } => {
            // Current at T in the state of T: not superseded by T, valid at T with the
            // valid_to recorded by T.
            let t = instant(at, &mut params);
            filters.push(format!(
                "created_at <= {t} AND (tx_end IS NULL OR tx_end > {t}) AND valid_from <= {t} \
                 AND (valid_to IS NULL OR valid_to_set_at > {t} OR valid_to > {t})"
            ));
        }
        ReadMode::Bitemporal {
            valid_at,
            transaction_at,
        } => {
            let t1 = instant(transaction_at, &mut params);
            let t2 = instant(valid_at, &mut params);
            filters.push(format!(
                "created_at <= {t1} AND valid_from <= {t2} \
                 AND (valid_to IS NULL OR valid_to_set_at > {t1} OR valid_to > {t2})"
            ));
        }
    }
    if cursor {
        let c = next(ListParam::CursorCreated, &mut params);
        let i = next(ListParam::CursorId, &mut params);
        filters.push(format!("(created_at, id) < ({c}::bigint, {i}::uuid)"));
    }
    let limit = next(ListParam::Limit, &mut params);
    (
        format!(
            "SELECT {MEMORY_COLUMNS} FROM memories WHERE {} \
             ORDER BY created_at DESC, id DESC LIMIT {limit}",
            filters.join(" AND ")
        ),
        params,
    )
}

/// What each parameter of a [`list`] statement is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListParam {
    Account,
    Tenant,
    Source,
    Session,
    Instant(Timestamp),
    CursorCreated,
    CursorId,
    Limit,
}

/// The tenant column's value of a tenant (`''` is the default tenant: an empty tenant is
/// refused by the engine, so it cannot collide).
pub(crate) fn tenant_key(tenant: Option<&str>) -> &str {
    tenant.unwrap_or("")
}

pub(crate) fn tenant_of(key: String) -> Option<String> {
    (!key.is_empty()).then_some(key)
}

/// The `$2` of statements that take one tenant or all (null).
pub(crate) fn tenants_param<'a>(tenants: &Tenants<'a>) -> Option<&'a str> {
    match tenants {
        Tenants::One(t) => Some(tenant_key(*t)),
        Tenants::All => None,
    }
}

pub(crate) fn ts(t: Option<i64>) -> Option<Timestamp> {
    t.map(Timestamp::from_micros)
}

pub(crate) fn shape_code(shape: WriteShape) -> i16 {
    match shape {
        WriteShape::Content => 0,
        WriteShape::Messages => 1,
    }
}

fn shape_of(code: i16) -> Result<WriteShape> {
    match code {
        0 => Ok(WriteShape::Content),
        1 => Ok(WriteShape::Messages),
        n => Err(Error::Corrupted(format!("unknown write shape {n}"))),
    }
}

/// The hash of the shared input a row of [`MEMORY_COLUMNS`] refers to, if any.
pub(crate) fn input_hash(row: &Row) -> Result<Option<Vec<u8>>> {
    row.try_get(22).map_err(pg)
}

/// A memory from a row of [`MEMORY_COLUMNS`] in its state at `at` (latest when `None`);
/// `None` when it was written after `at`. `inputs` holds the shared input it refers to.
pub(crate) fn memory(
    row: &Row,
    at: Option<Timestamp>,
    inputs: &HashMap<Vec<u8>, Arc<str>>,
) -> Result<Option<Stored>> {
    let created_at = Timestamp::from_micros(row.try_get(14).map_err(pg)?);
    if at.is_some_and(|t| t < created_at) {
        return Ok(None);
    }
    let recorded_by = |instant: Option<i64>| match (at, instant) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(t), Some(i)) => i <= t.as_micros(),
    };
    let valid_to_set_at: Option<i64> = row.try_get(17).map_err(pg)?;
    let tx_end: Option<i64> = row.try_get(19).map_err(pg)?;
    let valid_to_known = recorded_by(valid_to_set_at);
    let superseded_known = recorded_by(tx_end);
    let extraction: Option<serde_json::Value> = row.try_get(20).map_err(pg)?;
    let extraction: Option<Extraction> = extraction
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| Error::Corrupted(format!("extraction record: {e}")))?;
    let importance: i16 = row.try_get(6).map_err(pg)?;
    let original_input: Arc<str> = match (
        row.try_get::<_, Option<String>>(11).map_err(pg)?,
        input_hash(row)?,
    ) {
        (Some(text), _) => text.into(),
        (None, Some(hash)) => inputs
            .get(&hash)
            .cloned()
            .ok_or_else(|| Error::Corrupted("a row names a missing shared input".into()))?,
        (None, None) => return Err(Error::Corrupted("a row without its input".into())),
    };
    let original_message = match row.try_get::<_, Option<String>>(10).map_err(pg)? {
        Some(message) => message,
        None => truncate_chars(&original_input, ORIGINAL_MESSAGE_MAX_CHARS),
    };
    let memory = Memory {
        id: MemoryId::from_uuid(row.try_get(0).map_err(pg)?),
        account: row.try_get(1).map_err(pg)?,
        tenant: tenant_of(row.try_get(2).map_err(pg)?),
        decision: row.try_get(3).map_err(pg)?,
        summary: row.try_get(4).map_err(pg)?,
        topic: row.try_get(5).map_err(pg)?,
        importance_score: u8::try_from(importance)
            .map_err(|_| Error::Corrupted(format!("importance {importance}")))?,
        source: row.try_get(7).map_err(pg)?,
        channel: row.try_get(8).map_err(pg)?,
        session_id: row.try_get(9).map_err(pg)?,
        original_message,
        original_input,
        external_id: row.try_get(12).map_err(pg)?,
        captured_at: Timestamp::from_micros(row.try_get(13).map_err(pg)?),
        created_at,
        valid_from: Timestamp::from_micros(row.try_get(15).map_err(pg)?),
        valid_to: if valid_to_known {
            ts(row.try_get(16).map_err(pg)?)
        } else {
            None
        },
        superseded_by: if superseded_known {
            row.try_get::<_, Option<Uuid>>(18)
                .map_err(pg)?
                .map(MemoryId::from_uuid)
        } else {
            None
        },
        transaction_time_start: created_at,
        transaction_time_end: if superseded_known { ts(tx_end) } else { None },
        extraction,
    };
    Ok(Some(Stored {
        memory,
        valid_to_set_at: if valid_to_known {
            ts(valid_to_set_at)
        } else {
            None
        },
        shape: shape_of(row.try_get(21).map_err(pg)?)?,
    }))
}

pub(crate) fn pg(e: tokio_postgres::Error) -> Error {
    // Text with U+0000 (the store refuses it before a write; a caller's filter may still
    // hold one): the caller's mistake, not a storage failure.
    if e.code() == Some(&tokio_postgres::error::SqlState::CHARACTER_NOT_IN_REPERTOIRE) {
        return Error::InvalidArgument("text must not contain NUL (\\u0000) characters".into());
    }
    Error::Storage(crate::error::StorageError::postgres(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Scope;

    /// Every statement on an account's data filters by `account_id`: each table it names is
    /// constrained to `$1` (or joined on it).
    #[test]
    fn per_account_statements_filter_every_table_by_account() {
        let per_account = [
            ACCOUNT_CLOCK,
            FETCH,
            ROWS_BY_ID,
            EVENTS,
            CHAIN,
            LEXICAL_STATS,
            POSTINGS,
            SESSION_NEIGHBOURS,
            VECTORS,
            VECTOR,
            USAGE,
            DUPLICATES,
            INSERT_MEMORY,
            INSERT_VECTOR,
            IMPORT_MEMORIES,
            IMPORT_INPUTS,
            IMPORT_EVENTS,
            IMPORT_POSTINGS,
            IMPORT_LEXICAL,
            IMPORT_VECTORS,
            APPEND_VERSION,
            APPEND_EVENT,
            DELETE_MEMORIES,
            DELETE_EVENTS,
            DELETE_POSTINGS,
            DELETE_LEXICAL_STATS,
            DELETE_VECTORS,
            DELETE_INPUTS,
            INPUTS,
            INDEX_SOURCE,
        ];
        for statement in per_account {
            let tables = [
                "memories",
                "events",
                "postings",
                "lexical_stats",
                "vectors",
                "usage",
            ]
            .iter()
            .filter(|t| {
                statement.contains(&format!("FROM {t}")) || statement.contains(&format!("JOIN {t}"))
            })
            .count();
            // A plain insert names its account as the first value (of its rows, or of the
            // rows it selects from its array parameters).
            let inserts_for_one = statement.starts_with("INSERT INTO")
                && statement.contains("(account_id, ")
                && (statement.contains("VALUES ($1, ")
                    || statement.contains("SELECT $1, * FROM unnest("));
            let filtered =
                statement.matches("account_id = $1").count() + usize::from(inserts_for_one);
            assert!(
                filtered >= tables.max(1),
                "{statement}: {tables} tables, {filtered} account filters"
            );
        }
        for (statement, why) in CROSS_ACCOUNT {
            assert!(!statement.contains("account_id = $1"), "{why}");
        }
    }

    #[test]
    fn statements_with_memory_columns_name_them_in_decoding_order() {
        for statement in [FETCH, ROWS_BY_ID, CHAIN] {
            assert!(statement.contains(MEMORY_COLUMNS), "{statement}");
        }
    }

    #[test]
    fn list_statements_number_their_parameters() {
        let listing = Listing {
            scope: Scope {
                account: "a",
                tenants: Tenants::One(None),
            },
            mode: ReadMode::Bitemporal {
                valid_at: Timestamp::from_micros(1),
                transaction_at: Timestamp::from_micros(2),
            },
            now: Timestamp::from_micros(3),
            source: Some("s"),
            session: None,
            before: None,
            limit: 5,
        };
        let (sql, params) = list(&listing, true);
        assert_eq!(
            params,
            [
                ListParam::Account,
                ListParam::Tenant,
                ListParam::Source,
                ListParam::Instant(Timestamp::from_micros(2)),
                ListParam::Instant(Timestamp::from_micros(1)),
                ListParam::CursorCreated,
                ListParam::CursorId,
                ListParam::Limit
            ]
        );
        assert!(
            sql.contains("LIMIT $8") && sql.contains("account_id = $1"),
            "{sql}"
        );
    }
}
