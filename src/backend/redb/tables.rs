//! The redb tables of the format (FORMAT_VERSION 1). Layouts are documented in ARCHITECTURE.md
//! and encoded only by `encoding.rs`.

use redb::TableDefinition;

/// `&str → bytes`: format version, last transaction time, next tree id.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// `u128 id → RowRecord`: the immutable part of every memory.
pub(crate) const ROWS: TableDefinition<u128, &[u8]> = TableDefinition::new("rows");
/// `(id, transaction start) → VersionRecord`: the mutable part, one entry per version.
pub(crate) const VERSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("versions");
/// `(id, n) → AuditEvent`: the append-only audit log.
pub(crate) const EVENTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("events");
/// `(successor id, predecessor id) → ()`: backward supersession links.
pub(crate) const PREDECESSORS: TableDefinition<&[u8], ()> = TableDefinition::new("predecessors");
/// `tree name → tree id`: one ordered index tree per scope and facet.
pub(crate) const TREES: TableDefinition<&[u8], u64> = TableDefinition::new("trees");
/// `(tree, level, index) → summary [++ id]`: the interval-summary trees.
pub(crate) const TREE_NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tree_nodes");
/// `fingerprint ++ id → ()`: duplicate suppression among live rows.
pub(crate) const DEDUP: TableDefinition<&[u8], ()> = TableDefinition::new("dedup");

// Account tables, created on first use (a file without them is a valid FORMAT_VERSION 1 file
// with no accounts yet).

/// `account id → Account`.
pub(crate) const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
/// `SHA-256(secret) → ApiKey`: keys are looked up by the hash of the presented secret.
pub(crate) const API_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("api_keys");
/// `SHA-256(cookie value) → SessionRecord`: the dashboard's sign-ins.
pub(crate) const SESSIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions");
/// `key id → Settings`: per-key settings, absent until first stored.
pub(crate) const KEY_SETTINGS: TableDefinition<u128, &[u8]> = TableDefinition::new("key_settings");
/// `account id → Usage`: write requests in the current period, as files written before usage
/// moved into `meta` (`usage:` ++ account id) kept it; read when `meta` has no record yet.
pub(crate) const USAGE: TableDefinition<&str, &[u8]> = TableDefinition::new("usage");

/// `scope tree id (8) ++ term (u32 len ++ UTF-8) ++ block (u32) → postings`: the lexical
/// index, each term's postings (row id, tf, row length) of a scope (its "all rows" tree) in
/// blocks of about 1 KiB, appended as rows are merged from the delta.
pub(crate) const POSTING_BLOCKS: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("posting_blocks");
/// The index as files written before the blocks hold it: one entry per (term, row),
/// `scope (8) ++ term ++ row id (16) → tf u16 ++ length u16`. Opening such a file rebuilds
/// the index into `posting_blocks` and deletes this table.
pub(crate) const LEGACY_POSTINGS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("postings");
/// `scope tree id (8) ++ row id (16) → DeltaRecord`: rows not yet merged into
/// `posting_blocks` (one append per insert; merged in bulk every `lexical::MERGE_AT` rows);
/// and `scope tree id (8) → rows u64 ++ total terms u64 ++ pending u64`, what BM25 needs of
/// the scope, next to its rows so that an insert updates both in one page.
pub(crate) const LEXICAL_DELTA: TableDefinition<&[u8], &[u8]> =
    TableDefinition::new("lexical_delta");
/// The scopes' statistics as files written before they moved into `lexical_delta` kept them
/// (`scope tree id → stats`); deleted when such a file is re-indexed.
pub(crate) const LEGACY_LEXICAL_STATS: TableDefinition<u64, &[u8]> =
    TableDefinition::new("lexical_stats");

/// `scope tree id (8) ++ row id (16) → version ++ space tag ++ unit f32 vector`: the
/// embedding of each row written while an embedder was configured.
pub(crate) const VECTORS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("vectors");

/// `scope tree id (8) ++ space tag (8) ++ block (u32) → dims u16 ++ entries`: the binary
/// codes of the scope's vectors of one space (one bit a component: its sign), in blocks of
/// up to `vectors::CODES_PER_BLOCK` entries of `row id (16) ++ code (dims / 8, rounded up)`,
/// appended in the row's transaction. Search ranks a scope by these first and re-scores the
/// best with the exact vectors. Created on first use.
pub(crate) const VECTOR_CODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("vector_codes");

/// `scope tree id (8) ++ SHA-256 (32) → version ++ UTF-8 text`: inputs shared by several rows
/// of a scope (a conversation and the facts extracted from it), stored once. Created on first
/// use; a store that has it requires the `shared-inputs` feature.
pub(crate) const INPUTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("inputs");

pub(crate) const META_FORMAT: &str = "format_version";
/// The features the store requires beyond its format version (absent: none).
pub(crate) const META_FEATURES: &str = "required_features";
pub(crate) const META_LAST_TX: &str = "last_transaction_time";
pub(crate) const META_NEXT_TREE: &str = "next_tree_id";
/// Present once every row is in the lexical index (files from before it are indexed on open):
/// `[2]` for the index in `posting_blocks`, `[1]` for the legacy `postings` table (rebuilt).
pub(crate) const META_LEXICAL: &str = "lexical_index";
/// Present once every vector has its code in `vector_codes` (files from before it are coded
/// on open).
pub(crate) const META_VECTOR_CODES: &str = "vector_codes";
/// The operator credential: the SHA-256 of its secret (32 bytes) ++ when it was issued
/// (i64 µs, big-endian). Absent until a server's first start issues it; a build that does
/// not know it ignores it (it guards nothing such a build serves).
pub(crate) const META_OPERATOR: &str = "operator_credential";
/// `usage:` ++ account id → `Usage`: the account's write requests in the current period.
pub(crate) const META_USAGE_PREFIX: &str = "usage:";
