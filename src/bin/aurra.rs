//! `aurra`: the self-hosted server and its key management. Parses arguments and calls the
//! library; all behaviour lives in `aurra::server` and `aurra::Store`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use aurra::classify::RulesClassifier;
use aurra::extract::{Extractor, LlmExtractor, RulesExtractor};
use aurra::llm::{BaseUrlPolicy, HttpLlm, LlmConfig, Provider};
use aurra::server::{AppState, Config};
use aurra::{ApiKey, OpenAiEmbedder, Store, StoreOptions};

/// A bitemporal memory store for AI agents, served over the Aurra REST contract.
#[derive(Parser)]
#[command(name = "aurra", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the REST server (creates the data dir, and on first start an account and key).
    Serve(Box<ServeArgs>),
    /// Serve MCP (Model Context Protocol) over stdin/stdout for an agent: on the data dir
    /// (or --database) as --account, or as a client of a running server (--server, the key
    /// from AURRA_API_KEY), which works while that server holds the file.
    Mcp(Box<McpArgs>),
    /// Manage API keys: through a running server's admin API (--server URL, the operator
    /// credential in AURRA_OPERATOR_TOKEN), or on the store itself (on a data dir, stop the
    /// server first: it holds the file open; on a database, while servers run: they see
    /// changes within a second).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The operator credential (the admin API's token), issued on the server's first start.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Embed the memories that have no vector of the configured model yet: those written
    /// before embeddings were configured, or with another model (on a data dir, stop the
    /// server first).
    Embed {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        embed: EmbedArgs,
        /// Memories per embeddings request and per transaction.
        #[arg(long, default_value_t = 128)]
        batch: usize,
    },
    /// Show where the store's bytes are, table by table: entries, pages, stored bytes and
    /// the unused space inside pages (on a data dir, stop the server first).
    Stats {
        #[command(flatten)]
        data: DataDir,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Export memories with all their versions, audit events and vectors as JSON Lines (and,
    /// for a whole store, the accounts, key hashes, settings, usage and the operator
    /// credential's hash): one consistent snapshot per account, streamed in constant memory
    /// (on a data dir, stop the server first).
    Export {
        #[command(flatten)]
        data: DataDir,
        /// Only this account (default: the whole store).
        #[arg(long)]
        account: Option<String>,
        /// With --account: only this tenant.
        #[arg(long, requires = "account", conflicts_with = "default_tenant")]
        tenant: Option<String>,
        /// With --account: only the default tenant.
        #[arg(long, requires = "account")]
        default_tenant: bool,
        /// Write to this file (written beside it and renamed when complete) instead of
        /// stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Load an export (as `aurra export` writes it) into this store, keeping ids, versions,
    /// transaction times, audit events and vectors: idempotent, so a rerun after an
    /// interruption finishes the job. With --facts, load plain facts instead (on a data dir,
    /// stop the server first).
    Import {
        #[command(flatten)]
        data: DataDir,
        /// Read the export from this file instead of stdin (`-`: stdin).
        #[arg(short, long, value_name = "FILE", conflicts_with = "facts")]
        input: Option<PathBuf>,
        /// Load plain facts from this file (`-`: stdin): JSON Lines of content-mode
        /// `POST /agent/memories` bodies, or of memories as Mem0 exports them (`memory`,
        /// `user_id`, ...), through the same validation and duplicate rule as that endpoint.
        #[arg(long, value_name = "FILE")]
        facts: Option<PathBuf>,
        /// With --facts: the account the facts are written to (default: the account of a
        /// server's first key).
        #[arg(long, requires = "facts", default_value = aurra::FIRST_ACCOUNT)]
        account: String,
        /// With --facts: what a bad line does. `abort` checks every line first and writes
        /// nothing if any is bad; `skip` loads the others. Either way each bad line is
        /// reported with its number.
        #[arg(long, requires = "facts", value_enum, default_value_t = OnError::Abort)]
        on_error: OnError,
        /// With --facts: embeddings for the new memories.
        #[command(flatten)]
        embed: EmbedArgs,
    },
    /// Return the free pages inside the store's file to the file system: the space hard
    /// deletes freed and page splits left behind (stop the server first). PostgreSQL
    /// manages its own space: nothing to do there.
    Compact {
        #[command(flatten)]
        data: DataDir,
    },
    /// Prepare a PostgreSQL database: apply the schema migrations, or print the statements
    /// that distribute the schema on Citus.
    Database {
        #[command(subcommand)]
        command: DatabaseCommand,
    },
    /// Measure retrieval quality.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
}

#[derive(Subcommand)]
enum DatabaseCommand {
    /// Create the schema (or migrate it to this build's version) and exit, writing no data:
    /// what the first server start would do, for a deployment that prepares the database
    /// first (on Citus: before distributing the tables).
    Migrate {
        #[command(flatten)]
        data: DataDir,
    },
    /// Print the Citus statements that distribute the schema's tables by account_id
    /// (colocated; the global tables as reference tables). Run them on the coordinator once,
    /// after `aurra database migrate` and before any data is written. Connects nowhere.
    CitusSql {
        /// The schema holding aurra's tables.
        #[arg(long, env = "AURRA_DATABASE_SCHEMA", default_value = "aurra")]
        database_schema: String,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Recall@5/10/20 and query latency on a LoCoMo-format file (one tenant per
    /// conversation, one memory per turn, an in-memory store).
    Locomo {
        /// The LoCoMo JSON file (e.g. ../shared/data/locomo/locomo-dev.json).
        file: PathBuf,
        /// Conversations (`sample_id`s, comma-separated) reported apart from the rest, as
        /// data not tuned on (e.g. conv-42,conv-43).
        #[arg(long, value_delimiter = ',', value_name = "IDS")]
        held_out: Vec<String>,
        #[command(flatten)]
        embed: EmbedArgs,
    },
    /// Precision and recall of the offline Level 2 classifier (builtin-rules-v2) on labelled
    /// pairs (e.g. tests/fixtures/classification/labelled-pairs.json).
    ///
    /// Then Level 2 end to end on the same pairs, each in a tenant holding every old fact of
    /// the set: with keyword candidates, and with hybrid candidates when an embedder is given.
    Classification {
        /// The labelled JSON file.
        file: PathBuf,
        #[command(flatten)]
        embed: EmbedArgs,
    },
    /// Precision and recall of messages-mode extraction on a labelled set (e.g.
    /// tests/fixtures/extraction/conversations-dev.json): the offline rules, or the --llm-*
    /// model.
    ///
    /// With --locomo, FILE is a LoCoMo file instead, measured end to end: each session
    /// extracted from both speakers' sides (names and the session's date given), then whether
    /// the answers of the category 1, 2 and 4 questions are in the top 10 facts as often as
    /// in the top 10 raw turns; how many facts name a speaker; relative time left unresolved;
    /// dates the conversation does not give.
    Extraction {
        /// The labelled JSON file (or the LoCoMo file, with --locomo).
        file: PathBuf,
        /// Read FILE as LoCoMo conversations and measure extraction end to end.
        #[arg(long)]
        locomo: bool,
        /// With --locomo: conversations (`sample_id`s, comma-separated) reported apart from
        /// the rest, as data not tuned on (e.g. conv-42,conv-43).
        #[arg(long, value_delimiter = ',', value_name = "IDS", requires = "locomo")]
        held_out: Vec<String>,
        #[command(flatten)]
        llm: LlmArgs,
        /// With --locomo: embed the turns and the facts, so both are searched hybrid.
        #[command(flatten)]
        embed: EmbedArgs,
    },
}

/// Optional embeddings: with --embed-local DIR (a sentence-transformers model folder, run
/// in-process) or with --embed-base-url and --embed-model (an OpenAI-compatible
/// /v1/embeddings endpoint), every written memory is embedded and queries are hybrid (BM25 +
/// cosine, fused).
#[derive(Args)]
struct EmbedArgs {
    /// A sentence-transformers model folder (config.json, model.safetensors, tokenizer.json,
    /// modules.json and its pooling config; e.g. all-MiniLM-L6-v2) to run in-process on the
    /// CPU: no network, no Python. Needs a build with the `local-embed` feature.
    #[arg(
        long,
        env = "AURRA_EMBED_LOCAL",
        value_name = "DIR",
        conflicts_with = "embed_base_url"
    )]
    embed_local: Option<PathBuf>,
    /// Base URL of an OpenAI-compatible embeddings API, as the OpenAI SDKs take it (e.g.
    /// https://api.openai.com/v1, or http://127.0.0.1:11434/v1 for a local Ollama).
    #[arg(long, env = "AURRA_EMBED_BASE_URL", requires = "embed_model")]
    embed_base_url: Option<String>,
    /// The embedding model (e.g. text-embedding-3-small, nomic-embed-text).
    #[arg(long, env = "AURRA_EMBED_MODEL", requires = "embed_base_url")]
    embed_model: Option<String>,
    /// API key sent as a bearer token (never logged). On the command line it is visible to
    /// every local user (`ps`, /proc): prefer --embed-api-key-file or the environment.
    #[arg(long, env = "AURRA_EMBED_API_KEY", hide_env_values = true)]
    embed_api_key: Option<String>,
    /// A file holding the embeddings API key (surrounding whitespace ignored); keep it
    /// readable by the server's user only.
    #[arg(
        long,
        env = "AURRA_EMBED_API_KEY_FILE",
        conflicts_with = "embed_api_key"
    )]
    embed_api_key_file: Option<PathBuf>,
    /// Vector dimensions to ask for (models that support shortening).
    #[arg(long, env = "AURRA_EMBED_DIMENSIONS")]
    embed_dimensions: Option<u32>,
    /// Seconds before an embeddings request is abandoned (the write or query then fails
    /// with 503).
    #[arg(long, env = "AURRA_EMBED_TIMEOUT_SECS", default_value_t = 30)]
    embed_timeout_secs: u64,
}

impl EmbedArgs {
    /// Whether an embedder is configured.
    fn configured(&self) -> bool {
        self.embed_local.is_some() || self.embed_base_url.is_some()
    }

    fn store_options(&self) -> Result<StoreOptions> {
        let options = StoreOptions::new();
        if let Some(dir) = &self.embed_local {
            return local_embedder(options, dir);
        }
        let (Some(base_url), Some(model)) = (&self.embed_base_url, &self.embed_model) else {
            return Ok(options);
        };
        let mut embedder = OpenAiEmbedder::new(base_url, model)
            .timeout(std::time::Duration::from_secs(self.embed_timeout_secs));
        let key = match &self.embed_api_key_file {
            Some(path) => Some(read_secret_file(path, "--embed-api-key-file")?),
            None => self.embed_api_key.clone(),
        };
        if let Some(key) = key {
            embedder = embedder.api_key(key);
        }
        if let Some(dimensions) = self.embed_dimensions {
            embedder = embedder.dimensions(dimensions);
        }
        Ok(options.embedder(embedder))
    }
}

#[cfg(feature = "local-embed")]
fn local_embedder(options: StoreOptions, dir: &std::path::Path) -> Result<StoreOptions> {
    let embedder = aurra::LocalEmbedder::open(dir)?;
    tracing::info!(model = %dir.display(), space = %aurra::Embedder::space(&embedder), "local embedder loaded");
    Ok(options.embedder(embedder))
}

#[cfg(not(feature = "local-embed"))]
fn local_embedder(_: StoreOptions, _: &std::path::Path) -> Result<StoreOptions> {
    bail!(
        "--embed-local needs a build with in-process embeddings: cargo install aurra --features \
         local-embed (or cargo build --release --features local-embed)"
    )
}

/// Where the store lives: a redb file in a data directory (the default), or a PostgreSQL
/// database shared by any number of servers.
#[derive(Args)]
struct DataDir {
    /// Directory holding the store file `aurra.redb` (unused with --database).
    #[arg(long, env = "AURRA_DATA_DIR", default_value = "./aurra-data")]
    data_dir: PathBuf,
    /// A PostgreSQL connection URL (postgres://user:password@host:5432/db, or the key=value
    /// form): store everything there instead of in the data directory. Several servers may
    /// share one database. Never logged.
    #[arg(long, env = "AURRA_DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// The schema holding aurra's tables in that database.
    #[arg(long, env = "AURRA_DATABASE_SCHEMA", default_value = "aurra")]
    database_schema: String,
    /// The most connections this process opens to the database.
    #[arg(long, env = "AURRA_DATABASE_POOL_SIZE", default_value_t = 16)]
    database_pool_size: usize,
    /// Memory for redb's page cache, in MiB (the server's resident memory is about this plus
    /// ~30 MiB once the store outgrows it; the operating system caches the rest of the file).
    #[arg(long, env = "AURRA_CACHE_SIZE_MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    cache_size_mib: u64,
    /// After a storage failure (a full disk, an I/O error) writes get 503 and `/health`
    /// says why; the server reopens the store file at most this often (in seconds) until a
    /// write can reach the disk again. 0: on every write or health check.
    #[arg(long, env = "AURRA_STORAGE_RECOVERY_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    storage_recovery_secs: u64,
}

impl DataDir {
    /// Where the store is, for logs and messages (never the URL: it may hold a password).
    fn describe(&self) -> String {
        match &self.database {
            Some(_) => format!("PostgreSQL (schema {})", self.database_schema),
            None => self.data_dir.join("aurra.redb").display().to_string(),
        }
    }

    /// Whether several processes may open the store at once (key management while serving).
    fn shared(&self) -> bool {
        self.database.is_some()
    }
}

#[derive(Args)]
struct McpArgs {
    #[command(flatten)]
    data: DataDir,
    /// The account whose memories the tools read and write (embedded store only). Its
    /// oldest live key's settings apply; a key is created for it if it has none.
    #[arg(long, env = "AURRA_ACCOUNT", default_value = "default")]
    account: String,
    /// Talk to the aurra server at this URL (http://host:port) instead of opening the store;
    /// the API key comes from AURRA_API_KEY.
    #[arg(long, env = "AURRA_SERVER")]
    server: Option<String>,
    #[command(flatten)]
    embed: EmbedArgs,
    #[command(flatten)]
    llm: LlmArgs,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    data: DataDir,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "AURRA_BIND", default_value = "127.0.0.1:8787")]
    bind: SocketAddr,
    /// Serve Prometheus metrics (`GET /metrics`, OpenMetrics text, no authentication) on
    /// this address, apart from the API; bind it where only your scraper reaches. Off unless
    /// set.
    #[arg(long, env = "AURRA_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
    /// Refuse writes beyond --writes-limit per month (grace period, then blocked).
    #[arg(long, env = "AURRA_ENFORCE_QUOTA")]
    enforce_quota: bool,
    /// Writes per account per UTC calendar month (reported by /plan/status).
    #[arg(long, env = "AURRA_WRITES_LIMIT", default_value_t = 50_000)]
    writes_limit: u64,
    /// Days of grace after the quota runs out before the account is blocked.
    #[arg(long, env = "AURRA_GRACE_DAYS", default_value_t = 7)]
    grace_days: u32,
    /// Plan tier reported by /plan/status.
    #[arg(long, env = "AURRA_PLAN_TIER", default_value = "starter")]
    plan_tier: String,
    /// Requests per minute per API key (default: no rate limit).
    #[arg(long, env = "AURRA_RATE_LIMIT_PER_MINUTE")]
    rate_limit_per_minute: Option<NonZeroU32>,
    /// Seconds a request's body may take to arrive after its headers (then 408 and the
    /// connection closes).
    #[arg(long, env = "AURRA_BODY_READ_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_read_timeout_secs: u64,
    /// Most connections open at once; at the cap the oldest idle or stalled connection is
    /// closed to make room, and when all are busy a new one gets 503. Keep it below the
    /// file descriptor limit (`ulimit -n`).
    #[arg(long, env = "AURRA_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Seconds a connection may take to send a request's headers, or stay idle between
    /// keep-alive requests, before it is closed.
    #[arg(long, env = "AURRA_IDLE_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    idle_timeout_secs: u64,
    /// Messages-mode requests extracting at once (default: the number of CPUs); more wait
    /// their turn. Bounds the memory a burst of large conversations takes.
    #[arg(long, env = "AURRA_MAX_CONCURRENT_EXTRACTIONS",
          value_parser = clap::value_parser!(u64).range(1..=1024))]
    max_concurrent_extractions: Option<u64>,
    /// Reads without tenant_id see every tenant of the account (default: the default tenant).
    #[arg(long, env = "AURRA_ALL_TENANTS_WHEN_OMITTED")]
    all_tenants_when_omitted: bool,
    #[command(flatten)]
    embed: EmbedArgs,
    #[command(flatten)]
    llm: LlmArgs,
}

/// The server's default language model (query answers). Without one, the built-in offline
/// implementations answer; a request's own `llm` object always takes precedence.
#[derive(Args)]
struct LlmArgs {
    /// anthropic, openai (also any OpenAI-compatible server with --llm-base-url), azure,
    /// gemini or grok.
    #[arg(long, env = "AURRA_LLM_PROVIDER", requires_all = ["llm_model", "llm_key"])]
    llm_provider: Option<String>,
    /// The provider's model id (Azure: the deployment name).
    #[arg(long, env = "AURRA_LLM_MODEL", requires = "llm_provider")]
    llm_model: Option<String>,
    /// The provider key (never logged). On the command line it is visible to every local
    /// user (`ps`, /proc): prefer --llm-api-key-file or the environment.
    #[arg(
        long,
        env = "AURRA_LLM_API_KEY",
        hide_env_values = true,
        requires = "llm_provider",
        group = "llm_key"
    )]
    llm_api_key: Option<String>,
    /// A file holding the provider key (surrounding whitespace ignored); keep it readable by
    /// the server's user only.
    #[arg(
        long,
        env = "AURRA_LLM_API_KEY_FILE",
        requires = "llm_provider",
        group = "llm_key"
    )]
    llm_api_key_file: Option<PathBuf>,
    /// Another endpoint: an OpenAI-compatible server, the Azure resource URL, a proxy.
    #[arg(long, env = "AURRA_LLM_BASE_URL", requires = "llm_provider")]
    llm_base_url: Option<String>,
    /// Azure's api-version.
    #[arg(long, env = "AURRA_LLM_API_VERSION", requires = "llm_provider")]
    llm_api_version: Option<String>,
    /// Seconds one provider call may take.
    #[arg(long, env = "AURRA_LLM_TIMEOUT_SECS", default_value_t = 60)]
    llm_timeout_secs: u64,
    /// Let callers' `llm.base_url` point at loopback, private and link-local addresses (a
    /// local Ollama or vLLM, an internal proxy). Off: only public addresses.
    #[arg(long, env = "AURRA_LLM_ALLOW_PRIVATE_BASE_URL")]
    llm_allow_private_base_url: bool,
}

impl LlmArgs {
    /// `config` with the default model, its timeout and the `base_url` policy of these flags.
    fn configure(&self, config: Config) -> Result<Config> {
        Ok(Config {
            default_llm: self.default_llm()?,
            llm_timeout: std::time::Duration::from_secs(self.llm_timeout_secs),
            base_url_policy: BaseUrlPolicy {
                allow_private: self.llm_allow_private_base_url,
            },
            ..config
        })
    }

    fn default_llm(&self) -> Result<Option<LlmConfig>> {
        let Some(name) = &self.llm_provider else {
            return Ok(None);
        };
        let Some(provider) = Provider::parse(&name.to_ascii_lowercase()) else {
            bail!(
                "unknown --llm-provider {name:?}: expected anthropic, openai, azure, gemini or grok"
            );
        };
        if provider == Provider::Azure && self.llm_base_url.is_none() {
            bail!("--llm-provider azure needs --llm-base-url (the resource endpoint)");
        }
        Ok(Some(LlmConfig {
            provider,
            model: self.llm_model.clone().unwrap_or_default(),
            api_key: match &self.llm_api_key_file {
                Some(path) => read_secret_file(path, "--llm-api-key-file")?,
                None => self.llm_api_key.clone().unwrap_or_default(),
            },
            base_url: self.llm_base_url.clone(),
            api_version: self.llm_api_version.clone(),
        }))
    }
}

/// The secret in the file at `path` (named by `flag` in errors), without surrounding
/// whitespace. Errors name the file, never its contents; a file others can read is warned of.
fn read_secret_file(path: &std::path::Path, flag: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{flag}: cannot read {}", path.display()))?;
    let secret = text.trim();
    if secret.is_empty() {
        bail!("{flag}: {} is empty", path.display());
    }
    if secret.lines().count() > 1 {
        bail!("{flag}: {} holds more than one line", path.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            eprintln!(
                "warning: {flag}: {} is readable by other users (chmod 600 it)",
                path.display()
            );
        }
    }
    Ok(secret.to_owned())
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Issue a key; prints the secret once, alone on the first line of stdout.
    Create {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        server: AdminServer,
        /// Account (company_id) the key belongs to; created if new.
        #[arg(long, default_value = "default")]
        account: String,
        /// A label to recognise the key by.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List keys: id, shown prefix, account, label, dates. Never secrets.
    List {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        server: AdminServer,
    },
    /// Revoke a key by its id (from `aurra keys list`).
    Revoke {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        server: AdminServer,
        /// The key id.
        id: uuid::Uuid,
    },
}

/// A running server to manage keys through (its admin API), instead of the store itself.
#[derive(Args)]
struct AdminServer {
    /// The server's URL (http://127.0.0.1:8000): manage keys through its admin API while it
    /// runs, with the operator credential from AURRA_OPERATOR_TOKEN.
    #[arg(long)]
    server: Option<String>,
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Replace the operator credential (lost or leaked): prints the new one once, alone on
    /// stdout; the old one stops working. On a data dir, stop the server first.
    Reset {
        #[command(flatten)]
        data: DataDir,
    },
}

/// The allocator of the `aurra` binary (and of this benchmark, to measure the same server):
/// glibc's malloc spent a fifth of the server's time consolidating under concurrent load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AURRA_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(*args),
        Command::Mcp(args) => mcp(*args),
        Command::Keys { command } => keys(command),
        Command::Operator { command } => match command {
            OperatorCommand::Reset { data } => {
                let store = open_store(&data, StoreOptions::new())?;
                println!("{}", store.reset_operator_token()?);
                eprintln!(
                    "The operator credential above is shown only once; the old one no longer works."
                );
                Ok(())
            }
        },
        Command::Embed { data, embed, batch } => {
            if !embed.configured() {
                bail!(
                    "aurra embed needs --embed-local DIR, or --embed-base-url and --embed-model \
                     (or their AURRA_EMBED_* variables)"
                );
            }
            let store = open_store(&data, embed.store_options()?)?;
            let total = store.embed_missing(batch, |done| {
                tracing::info!(embedded = done, "embedding memories");
            })?;
            println!("embedded {total} memories");
            Ok(())
        }
        Command::Stats { data, json } => stats(&data, json),
        Command::Compact { data } => compact(&data),
        Command::Export {
            data,
            account,
            tenant,
            default_tenant,
            output,
        } => {
            let tenant = match (tenant, default_tenant) {
                (Some(t), _) => Some(Some(t)),
                (None, true) => Some(None),
                (None, false) => None,
            };
            export(
                &data,
                aurra::ExportScope { account, tenant },
                output.as_deref(),
            )
        }
        Command::Import {
            data,
            facts: Some(facts),
            account,
            on_error,
            embed,
            ..
        } => import_facts(&data, &facts, &account, on_error, embed.store_options()?),
        Command::Import { data, input, .. } => import(&data, input.as_deref()),
        Command::Database { command } => database(command),
        Command::Eval { command } => eval(command),
    }
}

#[cfg(feature = "postgres")]
fn database(command: DatabaseCommand) -> Result<()> {
    match command {
        DatabaseCommand::Migrate { data } => {
            if data.database.is_none() {
                bail!(
                    "aurra database migrate needs --database URL (or AURRA_DATABASE_URL); a data \
                     dir needs no preparation"
                );
            }
            open_store(&data, StoreOptions::new())?;
            println!("{} is ready", data.describe());
        }
        DatabaseCommand::CitusSql { database_schema } => {
            let config = aurra::PostgresConfig::new("").schema(database_schema);
            for statement in config.citus_distribution_sql() {
                println!("{statement}");
            }
        }
    }
    Ok(())
}

#[cfg(not(feature = "postgres"))]
fn database(_: DatabaseCommand) -> Result<()> {
    bail!("this aurra was built without PostgreSQL support: build it with `--features postgres`")
}

/// Runs one quality measurement on its file and prints the report.
fn eval(command: EvalCommand) -> Result<()> {
    let file = match &command {
        EvalCommand::Locomo { file, .. }
        | EvalCommand::Classification { file, .. }
        | EvalCommand::Extraction { file, .. } => file.clone(),
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let report = match command {
        EvalCommand::Locomo {
            embed, held_out, ..
        } => {
            aurra::eval::run_locomo(&text, embed.store_options()?, &held_out).map(|r| r.to_string())
        }
        EvalCommand::Classification { embed, .. } => {
            let classifier = RulesClassifier::default();
            let mut out =
                aurra::eval::run_classification(&text, aurra::MIN_CONFIDENCE_FLOOR, |old, new| {
                    Ok(classifier.judge(old, new))
                })?
                .to_string();
            let keyword = aurra::eval::run_candidates(&text, StoreOptions::new())?;
            out.push_str(&format!("{keyword}\n"));
            if embed.configured() {
                let hybrid = aurra::eval::run_candidates(&text, embed.store_options()?)?;
                out.push_str(&format!("{hybrid}\n"));
            }
            Ok(out)
        }
        EvalCommand::Extraction {
            llm,
            locomo,
            held_out,
            embed,
            ..
        } => {
            if embed.configured() && !locomo {
                bail!(
                    "--embed-local and --embed-base-url apply to --locomo (a labelled set is \
                     measured without a store)"
                );
            }
            let client = match llm.default_llm()? {
                Some(config) => Some(HttpLlm::new(
                    config,
                    std::time::Duration::from_secs(llm.llm_timeout_secs),
                )?),
                None => None,
            };
            let model = client.as_ref().map(|c| LlmExtractor::new(c));
            let extractor: &dyn Extractor = match &model {
                Some(model) => model,
                None => &RulesExtractor,
            };
            if locomo {
                aurra::eval::run_locomo_extraction(
                    &text,
                    extractor,
                    embed.store_options()?,
                    &held_out,
                )
                .map(|reports| {
                    reports
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            } else {
                aurra::eval::run_extraction(&text, extractor).map(|r| r.to_string())
            }
        }
    }
    .with_context(|| format!("evaluating {}", file.display()))?;
    print!("{report}");
    Ok(())
}

/// `aurra export`: the scope's records as JSON Lines to `output` (or stdout), a progress
/// line on a terminal, the totals at the end (on stderr).
fn export(data: &DataDir, scope: aurra::ExportScope, output: Option<&Path>) -> Result<()> {
    use std::io::{IsTerminal, Write};
    if data.database.is_none() && !data.data_dir.join("aurra.redb").exists() {
        bail!("no store at {}", data.describe());
    }
    let store = open_store(data, StoreOptions::default())?;
    let partial = output.map(|path| {
        let mut name = path.as_os_str().to_owned();
        name.push(".partial");
        PathBuf::from(name)
    });
    let sink: Box<dyn Write> = match &partial {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, sink);
    let progress = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos} memories exported ({per_sec}, {elapsed})",
            )
            .expect("a valid template"),
        );
        bar.tick();
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut failure: Option<std::io::Error> = None;
    let result = store.export(&scope, &mut |record| {
        let memory = matches!(record, aurra::export::ExportRecord::Memory(_));
        let written = serde_json::to_writer(&mut out, &record)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"));
        if let Err(e) = written {
            let message = e.to_string();
            failure = Some(e);
            return Err(aurra::Error::InvalidArgument(format!(
                "writing the export: {message}"
            )));
        }
        if memory {
            progress.inc(1);
        }
        Ok(())
    });
    progress.finish_and_clear();
    if let Some(e) = failure {
        return Err(e).context("writing the export");
    }
    let totals = result?;
    out.flush().context("writing the export")?;
    drop(out);
    if let (Some(partial), Some(path)) = (&partial, output) {
        std::fs::rename(partial, path).with_context(|| {
            format!("cannot rename {} to {}", partial.display(), path.display())
        })?;
    }
    eprintln!(
        "exported {} memories ({} audit events, {} vectors), {} accounts, {} API keys{}",
        totals.memories,
        totals.events,
        totals.vectors,
        totals.accounts,
        totals.api_keys,
        output.map_or_else(String::new, |p| format!(" to {}", p.display()))
    );
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum OnError {
    /// Check every line first; write nothing if any is bad.
    Abort,
    /// Report bad lines and load the rest.
    Skip,
}

/// The input of an import: the file, or stdin for none or `-`, and its size when known.
fn open_input(path: Option<&Path>) -> Result<(Box<dyn std::io::Read>, Option<u64>)> {
    match path.filter(|p| p.as_os_str() != "-") {
        Some(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            let size = file.metadata().ok().map(|m| m.len());
            Ok((Box::new(file), size))
        }
        None => Ok((Box::new(std::io::stdin().lock()), None)),
    }
}

/// A progress bar on stderr when it is a terminal (hidden otherwise): bytes read of `size`
/// when the size is known, a spinner when not; the message says what was loaded.
fn import_progress(size: Option<u64>) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let (bar, template) = match size {
        Some(size) => (
            indicatif::ProgressBar::new(size),
            "{bar:30} {bytes}/{total_bytes} ({eta}) {msg}",
        ),
        None => (
            indicatif::ProgressBar::new_spinner(),
            "{spinner} {bytes} read ({elapsed}) {msg}",
        ),
    };
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("a valid template"));
    bar.tick();
    bar
}

/// `aurra import`: an export from `input` (or stdin) into the store, a progress bar on a
/// terminal, the totals at the end (on stderr).
fn import(data: &DataDir, input: Option<&Path>) -> Result<()> {
    let (reader, size) = open_input(input)?;
    let store = open_store(data, StoreOptions::default())?;
    let progress = import_progress(size);
    let mut reader = std::io::BufReader::with_capacity(1 << 20, progress.wrap_read(reader));
    let result = store.import(&mut reader, &mut |report| {
        progress.set_message(format!(
            "{} memories ({} here already)",
            report.memories, report.memories_present
        ));
    });
    progress.finish_and_clear();
    let report = result.with_context(|| {
        format!(
            "importing {} into {}",
            input.map_or_else(|| "stdin".to_owned(), |p| p.display().to_string()),
            data.describe()
        )
    })?;
    eprintln!(
        "imported {} memories ({} audit events, {} vectors; {} here already), {} accounts, {} \
         API keys{} ({} here already) into {}",
        report.memories,
        report.events,
        report.vectors,
        report.memories_present,
        report.accounts,
        report.api_keys,
        if report.operator {
            ", the operator credential"
        } else {
            ""
        },
        report.records_present,
        data.describe()
    );
    Ok(())
}

/// Facts written per transaction by `aurra import --facts`.
const FACTS_BATCH: usize = 2048;

/// Bad lines named one by one; past these, only counted.
const BAD_LINES_SHOWN: usize = 20;

/// The bad lines of a facts file: the first [`BAD_LINES_SHOWN`], and how many.
#[derive(Default)]
struct BadLines {
    shown: Vec<(u64, String)>,
    count: u64,
}

impl BadLines {
    fn note(&mut self, number: u64, message: String) {
        self.count += 1;
        if self.shown.len() < BAD_LINES_SHOWN {
            self.shown.push((number, message));
        }
    }
}

/// A line of a facts file: its text, or why it has none (not UTF-8).
type Line<'a> = Result<&'a str, &'static str>;

/// Reads `input` line by line (as bytes: a line that is not UTF-8 is a bad line, not the end
/// of the run), calling `line` with each line's number and text; blank lines are passed over.
fn each_line(
    input: &mut dyn std::io::BufRead,
    line: &mut dyn FnMut(u64, Line<'_>) -> Result<()>,
) -> Result<()> {
    let mut buffer = Vec::new();
    let mut number = 0u64;
    loop {
        buffer.clear();
        if input
            .read_until(b'\n', &mut buffer)
            .context("reading the facts")?
            == 0
        {
            return Ok(());
        }
        number += 1;
        match std::str::from_utf8(&buffer) {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => line(number, Ok(text.trim_end_matches(['\n', '\r'])))?,
            Err(_) => line(number, Err("the line is not UTF-8"))?,
        }
    }
}

/// `aurra import --facts`: plain facts into `account`, in batches of [`FACTS_BATCH`], each
/// through the write body's validation and the store's duplicate rule; not counted as write
/// requests.
fn import_facts(
    data: &DataDir,
    path: &Path,
    account: &str,
    on_error: OnError,
    options: StoreOptions,
) -> Result<()> {
    use std::io::{BufRead, BufReader, Seek, Write};
    let name = if path.as_os_str() == "-" {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    };
    let (reader, mut size) = open_input(Some(path))?;
    let mut reader: Box<dyn BufRead> = Box::new(BufReader::with_capacity(1 << 20, reader));
    let mut bad = BadLines::default();
    if on_error == OnError::Abort {
        // Every line is checked before anything is written; stdin is kept in a temporary
        // file meanwhile, to be read again.
        let mut spool = if size.is_none() {
            Some(tempfile::tempfile().context("cannot create a temporary file for stdin")?)
        } else {
            None
        };
        let mut spooled = match &spool {
            Some(file) => Some(std::io::BufWriter::new(
                file.try_clone()
                    .context("cannot create a temporary file for stdin")?,
            )),
            None => None,
        };
        let mut spool_error = None;
        each_line(&mut reader, &mut |number, line| {
            if let Some(out) = spooled.as_mut() {
                // Line numbers must stay those of the input: every line is kept.
                let text = line.unwrap_or("");
                if let Err(e) = out
                    .write_all(text.as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                {
                    spool_error = Some(e);
                }
            }
            let checked = line
                .map_err(str::to_owned)
                .and_then(|text| aurra::server::facts::parse_fact(text).map(drop));
            if let Err(message) = checked {
                bad.note(number, message);
            }
            Ok(())
        })?;
        if let Some(e) = spool_error {
            return Err(e).context("writing the temporary copy of stdin");
        }
        if bad.count > 0 {
            let bad_count = bad.count;
            for (number, message) in &bad.shown {
                eprintln!("{name}: line {number}: {message}");
            }
            bail!(
                "{bad_count} bad line{} in {name}: nothing was written (fix them, or load the \
                 rest with --on-error skip)",
                if bad_count == 1 { "" } else { "s" }
            );
        }
        reader = match (spooled, spool.take()) {
            (Some(mut out), Some(mut file)) => {
                out.flush().context("writing the temporary copy of stdin")?;
                drop(out);
                file.rewind()
                    .context("reading the temporary copy of stdin")?;
                size = file.metadata().ok().map(|m| m.len());
                Box::new(BufReader::with_capacity(1 << 20, file))
            }
            _ => {
                let (again, _) = open_input(Some(path))?;
                Box::new(BufReader::with_capacity(1 << 20, again))
            }
        };
    }
    let store = open_store(data, options)?;
    // The first key's account has no record until a server's first start creates it.
    let first_start_pending = account == aurra::FIRST_ACCOUNT && store.accounts()?.is_empty();
    if store.account(account)?.is_none() && !first_start_pending {
        bail!(
            "no account {account:?} in {} (aurra keys create --account {account} creates it)",
            data.describe()
        );
    }
    let progress = import_progress(size);
    let mut reader = BufReader::with_capacity(1 << 20, progress.wrap_read(reader));
    let (mut saved, mut duplicates, mut mem0) = (0u64, 0u64, 0u64);
    let mut batch: Vec<aurra::NewMemory> = Vec::with_capacity(FACTS_BATCH);
    let mut flush = |batch: &mut Vec<aurra::NewMemory>| -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        for outcome in store.load_facts(account, std::mem::take(batch))? {
            match outcome {
                aurra::WriteOutcome::Saved(_) => saved += 1,
                aurra::WriteOutcome::Duplicate { .. } => duplicates += 1,
            }
        }
        progress.set_message(format!("{saved} facts loaded ({duplicates} duplicates)"));
        Ok(())
    };
    each_line(&mut reader, &mut |number, line| {
        match line
            .map_err(str::to_owned)
            .and_then(aurra::server::facts::parse_fact)
        {
            Ok(fact) => {
                mem0 += u64::from(fact.mem0);
                batch.push(fact.memory);
                if batch.len() == FACTS_BATCH {
                    flush(&mut batch)?;
                }
            }
            Err(message) => {
                progress.suspend(|| eprintln!("{name}: line {number}: {message} (skipped)"));
                bad.note(number, message);
            }
        }
        Ok(())
    })?;
    flush(&mut batch)?;
    progress.finish_and_clear();
    eprintln!(
        "loaded {saved} facts into account {account:?} of {} ({duplicates} duplicates of \
         memories here, not written{}{})",
        data.describe(),
        if mem0 > 0 {
            format!("; Mem0 memories: {mem0}")
        } else {
            String::new()
        },
        if bad.count > 0 {
            format!("; bad lines skipped: {}", bad.count)
        } else {
            String::new()
        }
    );
    Ok(())
}

/// `aurra stats`: the store's [`aurra::StorageStats`], as a table or JSON.
fn stats(data: &DataDir, json: bool) -> Result<()> {
    if data.database.is_none() && !data.data_dir.join("aurra.redb").exists() {
        bail!("no store at {}", data.describe());
    }
    let stats = open_store(data, StoreOptions::default())?.storage_stats()?;
    if json {
        let tables: Vec<serde_json::Value> = stats
            .tables
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name,
                    "entries": t.entries,
                    "bytes": t.bytes,
                    "stored_bytes": t.stored_bytes,
                    "fragmented_bytes": t.fragmented_bytes,
                })
            })
            .collect();
        let out = serde_json::json!({
            "backend": stats.backend,
            "total_bytes": stats.total_bytes,
            "allocated_bytes": stats.allocated_bytes,
            "free_bytes": stats.free_bytes,
            "tables": tables,
        });
        println!("{out:#}");
        return Ok(());
    }
    let mib = |bytes: u64| format!("{:.1}", bytes as f64 / (1024.0 * 1024.0));
    let or_dash = |bytes: Option<u64>| bytes.map_or_else(|| "-".to_owned(), mib);
    println!(
        "{} ({}): total {} MiB, allocated {} MiB, free pages {} MiB",
        data.describe(),
        stats.backend,
        or_dash(stats.total_bytes),
        mib(stats.allocated_bytes),
        or_dash(stats.free_bytes)
    );
    println!(
        "{:<16} {:>12} {:>12} {:>12} {:>12}",
        "table", "entries", "pages MiB", "stored MiB", "unused MiB"
    );
    for t in &stats.tables {
        println!(
            "{:<16} {:>12} {:>12} {:>12} {:>12}",
            t.name,
            t.entries,
            mib(t.bytes),
            mib(t.stored_bytes),
            or_dash(t.fragmented_bytes)
        );
    }
    Ok(())
}

/// `aurra compact`: [`Store::compact`], with the file's length before and after.
fn compact(data: &DataDir) -> Result<()> {
    if data.database.is_some() {
        println!(
            "{}: PostgreSQL reuses the space of deleted rows itself (autovacuum); \
             nothing to compact",
            data.describe()
        );
        return Ok(());
    }
    let path = data.data_dir.join("aurra.redb");
    if !path.exists() {
        bail!("no store at {}", data.describe());
    }
    let length = || -> Result<u64> {
        Ok(std::fs::metadata(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .len())
    };
    let before = length()?;
    let mut store = open_store(data, StoreOptions::default())?;
    let shrank = store
        .compact()
        .with_context(|| format!("compacting {}", path.display()))?;
    drop(store);
    let after = length()?;
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    if shrank {
        println!(
            "{}: {:.1} MiB -> {:.1} MiB",
            path.display(),
            mib(before),
            mib(after)
        );
    } else {
        println!(
            "{}: {:.1} MiB, nothing to compact",
            path.display(),
            mib(after)
        );
    }
    Ok(())
}

fn open_store(data: &DataDir, options: StoreOptions) -> Result<Store> {
    if let Some(url) = &data.database {
        return open_postgres(data, url, options);
    }
    let dir = &data.data_dir;
    create_private_dir(dir)?;
    let path = dir.join("aurra.redb");
    let options = options
        .cache_size((data.cache_size_mib as usize).saturating_mul(1 << 20))
        .recovery_interval(std::time::Duration::from_secs(data.storage_recovery_secs));
    Store::open_with(&path, options).with_context(|| {
        format!(
            "cannot open {} (if an aurra server is running on this data dir, stop it first)",
            path.display()
        )
    })
}

#[cfg(feature = "postgres")]
fn open_postgres(data: &DataDir, url: &str, options: StoreOptions) -> Result<Store> {
    let config = aurra::PostgresConfig::new(url)
        .schema(data.database_schema.clone())
        .pool_size(data.database_pool_size);
    Store::open_postgres(&config, options)
        .with_context(|| format!("cannot open the store in {}", data.describe()))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_: &DataDir, _: &str, _: StoreOptions) -> Result<Store> {
    bail!("this aurra was built without PostgreSQL support: build it with `--features postgres`")
}

fn serve(args: ServeArgs) -> Result<()> {
    let metrics = args
        .metrics_bind
        .map(|_| Arc::new(aurra::server::metrics::Metrics::new()));
    let mut options = args.embed.store_options()?;
    if let Some(metrics) = &metrics {
        options = options.observe_commits(aurra::server::metrics::commit_observer(metrics));
    }
    let store = open_store(&args.data, options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let config = args.llm.configure(Config {
        enforce_quota: args.enforce_quota,
        writes_limit: args.writes_limit,
        grace_days: args.grace_days,
        plan_tier: args.plan_tier,
        rate_limit_per_minute: args.rate_limit_per_minute,
        body_read_timeout: std::time::Duration::from_secs(args.body_read_timeout_secs),
        max_connections: args.max_connections as usize,
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout_secs),
        max_concurrent_extractions: args
            .max_concurrent_extractions
            .map_or(Config::default().max_concurrent_extractions, |n| n as usize),
        all_tenants_when_omitted: args.all_tenants_when_omitted,
        ..Config::default()
    })?;
    // For the startup log: how queries retrieve, and which model answers (never its key).
    let search = store.search_type().unwrap_or(aurra::SearchType::Keyword);
    let llm = config.default_llm.as_ref().map_or_else(
        || "offline (built-in)".to_owned(),
        |c| format!("{}/{}", c.provider, c.model),
    );
    let first_key = store.ensure_api_key(aurra::FIRST_ACCOUNT, "created on first start")?;
    let operator_token = store.ensure_operator_token()?;
    let shared = args.data.shared();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        let addr = listener.local_addr()?;
        {
            use std::io::IsTerminal;
            let terminal = std::io::stdout().is_terminal();
            if let Some((key, secret)) = &first_key {
                if terminal {
                    print_welcome(key, secret, None, addr, shared);
                } else {
                    let file = write_secret_file(&args.data.data_dir, FIRST_KEY_FILE, secret)?;
                    print_welcome(key, secret, Some(&file), addr, shared);
                }
            }
            if let Some(token) = &operator_token {
                let file = if terminal {
                    None
                } else {
                    Some(write_secret_file(
                        &args.data.data_dir,
                        OPERATOR_TOKEN_FILE,
                        token,
                    )?)
                };
                print_operator_welcome(token, file.as_deref(), addr);
            }
        }
        tracing::info!(
            store = %args.data.describe(),
            %addr,
            search = search.as_str(),
            llm = %llm,
            "aurra serving"
        );
        let shutdown = shutdown_signal()?;
        let mut state = AppState::new(store, config);
        let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
        let mut metrics_listener = None;
        if let (Some(bind), Some(metrics)) = (args.metrics_bind, metrics) {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("cannot listen on {bind} for metrics"))?;
            println!("aurra metrics on http://{}/metrics", listener.local_addr()?);
            state = state.with_metrics(metrics);
            metrics_listener = Some(listener);
        }
        let state = Arc::new(state);
        let metrics_task = metrics_listener.map(|listener| {
            tokio::spawn(aurra::server::run_metrics(listener, state.clone(), async {
                let _ = metrics_stopped.await;
            }))
        });
        println!("aurra listening on http://{addr}");
        aurra::server::run(listener, state, shutdown).await?;
        let _ = stop_metrics.send(());
        if let Some(task) = metrics_task {
            task.await??;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    // Dropping the runtime waits for store calls still on its blocking pool; the last store
    // handle goes with them and redb closes the file cleanly.
    drop(runtime);
    tracing::info!("store closed");
    Ok(())
}

fn mcp(args: McpArgs) -> Result<()> {
    use aurra::server::mcp::{Access, AurraMcp};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let access = match &args.server {
        Some(url) => {
            let key = std::env::var("AURRA_API_KEY")
                .ok()
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty())
                .context("aurra mcp --server needs the API key in AURRA_API_KEY")?;
            Access::remote(url, key)
        }
        None => {
            let store = open_store(&args.data, args.embed.store_options()?)?;
            let key = match store
                .api_keys()?
                .into_iter()
                .find(|k| k.account == args.account && k.revoked_at.is_none())
            {
                Some(key) => key,
                None => store.create_api_key(&args.account, "mcp")?.0,
            };
            let config = args.llm.configure(Config::default())?;
            Access::local(Arc::new(AppState::new(store, config)), key)
        }
    };
    tracing::info!(account = %args.account, server = ?args.server, "aurra mcp on stdio");
    runtime.block_on(AurraMcp::new(access).serve_stdio())?;
    drop(runtime);
    Ok(())
}

/// Installs the SIGINT/SIGTERM handlers now (before the server says it is listening, so a
/// signal sent right after that line is never fatal) and returns the future that completes
/// on the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            tracing::info!("shutdown signal received");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutdown signal received");
        })
    }
}

/// Where the first key goes when stdout is not a terminal (a service manager's or a
/// container's log would keep it): a file inside the data dir, readable by its owner only.
const FIRST_KEY_FILE: &str = "first-api-key";

/// Where the operator credential goes on its first start, likewise.
const OPERATOR_TOKEN_FILE: &str = "operator-token";

/// Writes `secret` to the file `name` in `dir` (0600 on Unix) and returns its path.
fn write_secret_file(dir: &std::path::Path, name: &str, secret: &str) -> Result<PathBuf> {
    use std::io::Write;
    create_private_dir(dir)?;
    let path = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot write a secret to {}", path.display()))?;
    #[cfg(unix)]
    {
        // A file left from an earlier store keeps its mode through `open`: set it.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    writeln!(file, "{secret}")?;
    file.sync_all()?;
    Ok(path)
}

/// The operator credential's banner, on the start that issued it: the secret on a terminal,
/// else the file that holds it.
fn print_operator_welcome(token: &str, file: Option<&std::path::Path>, addr: SocketAddr) {
    let (intro, shell) = match file {
        None => (
            format!("It is shown only this once:\n\n    {token}"),
            token.to_owned(),
        ),
        Some(path) => (
            format!(
                "stdout is not a terminal, so it is not printed: it is in\n\n    {}\n\n\
                 (readable by this user only). Keep it somewhere safe, then delete the file.",
                path.display()
            ),
            format!("$(cat {})", path.display()),
        ),
    };
    println!(
        "\
Created the operator credential (the admin API: accounts and keys while the server runs). {intro}

    AURRA_OPERATOR_TOKEN={shell} aurra keys list --server http://{addr}

Lost it? Stop the server and run `aurra operator reset`.
"
    );
}

/// The first start's banner. On a terminal it shows the secret; otherwise `secret` is
/// already in `key_file` and the banner names the file instead, so that no log keeps it.
fn print_welcome(
    key: &ApiKey,
    secret: &str,
    key_file: Option<&std::path::Path>,
    addr: SocketAddr,
    shared: bool,
) {
    let more_keys = if shared {
        "More keys (while servers run): `aurra keys create --database … --account NAME`."
    } else {
        "More keys while it runs: `aurra keys create --server URL --account NAME`, with the \
         operator credential in AURRA_OPERATOR_TOKEN."
    };
    let (intro, shell, python) = match key_file {
        None => (
            format!("It is shown only this once:\n\n    {secret}"),
            secret.to_owned(),
            format!("\"{secret}\""),
        ),
        Some(path) => {
            let path = path.display();
            (
                format!(
                    "stdout is not a terminal, so it is not printed: it is in\n\n    {path}\n\n\
                     (readable by this user only). Keep it somewhere safe, then delete the file."
                ),
                format!("$(cat {path})"),
                format!("open(\"{path}\").read().strip()"),
            )
        }
    };
    println!(
        "\
Created account {account:?} and its first API key. {intro}

Try it:

    curl -s -X POST http://{addr}/agent/memories \\
      -H \"Authorization: Bearer {shell}\" -H 'Content-Type: application/json' \\
      -d '{{\"content\": \"Alice is a senior engineer at Acme Corp.\"}}'
    curl -s http://{addr}/agent/memories -H \"Authorization: Bearer {shell}\"

From Python (pip install aurra==0.8.1):

    from aurra import Aurra
    client = Aurra(api_key={python}, base_url=\"http://{addr}\")
    client.memories.add(content=\"Alice is a senior engineer at Acme Corp.\")
    print(client.memories.list())

{more_keys}
",
        account = key.account,
    );
}

/// Creates `dir` and its missing parents owner-only (0700 on Unix): the store holds memory
/// text in plain bytes. A directory that already exists keeps its mode.
fn create_private_dir(dir: &std::path::Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create data dir {}", dir.display()))
}

fn keys(command: KeysCommand) -> Result<()> {
    let remote = match &command {
        KeysCommand::Create { server, .. }
        | KeysCommand::List { server, .. }
        | KeysCommand::Revoke { server, .. } => server.server.clone(),
    };
    if let Some(url) = remote {
        return remote_keys(&url, command);
    }
    match command {
        KeysCommand::Create {
            data,
            account,
            label,
            ..
        } => {
            let store = open_store(&data, StoreOptions::new())?;
            let (key, secret) = store.create_api_key(&account, &label)?;
            println!("{secret}");
            eprintln!(
                "Created key {} for account {:?}. The secret above is shown only once.",
                key.id, key.account
            );
        }
        KeysCommand::List { data, .. } => {
            let store = open_store(&data, StoreOptions::new())?;
            print_key_header();
            for key in store.api_keys()? {
                let revoked = key.revoked_at.map(|at| at.to_string());
                print_key_row(
                    &key.id.to_string(),
                    &key.shown_prefix,
                    &key.account,
                    &key.label,
                    &key.created_at.to_string(),
                    revoked.as_deref(),
                );
            }
        }
        KeysCommand::Revoke { data, id, .. } => {
            let store = open_store(&data, StoreOptions::new())?;
            let keys = store.api_keys()?;
            if !keys.iter().any(|k| k.id == id) {
                bail!("no API key with id {id} (see `aurra keys list`)");
            }
            let key = store.revoke_api_key(id)?;
            println!("revoked {} ({}…)", key.id, key.shown_prefix);
        }
    }
    Ok(())
}

fn print_key_header() {
    println!(
        "{:<36}  {:<14}  {:<20}  {:<16}  {:<32}  status",
        "id", "prefix", "account", "label", "created"
    );
}

fn print_key_row(
    id: &str,
    prefix: &str,
    account: &str,
    label: &str,
    created: &str,
    revoked: Option<&str>,
) {
    let status = match revoked {
        Some(at) => format!("revoked {at}"),
        None => "active".into(),
    };
    println!("{id:<36}  {prefix:<14}  {account:<20}  {label:<16}  {created:<32}  {status}");
}

/// `aurra keys … --server URL`: the same commands through the server's admin API, with the
/// operator credential from `AURRA_OPERATOR_TOKEN` (never from an argument: the process list
/// would show it).
fn remote_keys(url: &str, command: KeysCommand) -> Result<()> {
    let token = std::env::var("AURRA_OPERATOR_TOKEN")
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .context("--server needs the operator credential in AURRA_OPERATOR_TOKEN")?;
    let base = url.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let call =
        |method: &str, path: &str, body: Option<serde_json::Value>| -> Result<serde_json::Value> {
            let request = ureq::http::Request::builder()
                .method(method)
                .uri(format!("{base}{path}"))
                .header("Authorization", format!("Bearer {token}"))
                .header("Content-Type", "application/json");
            let sent = match body {
                Some(body) => agent.run(request.body(body.to_string().into_bytes())?),
                None => agent.run(request.body(())?),
            };
            let mut resp =
                sent.with_context(|| format!("cannot reach the aurra server at {base}"))?;
            let status = resp.status();
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let value: serde_json::Value =
                serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
            if !status.is_success() {
                let detail = value
                    .get("detail")
                    .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned))
                    .unwrap_or_else(|| text.chars().take(200).collect());
                bail!("the server answered {status}: {detail}");
            }
            Ok(value)
        };
    let text = |v: &serde_json::Value, name: &str| v[name].as_str().unwrap_or("").to_owned();
    match command {
        KeysCommand::Create { account, label, .. } => {
            let created = call(
                "POST",
                "/admin/keys",
                Some(serde_json::json!({"account": account, "label": label})),
            )?;
            println!("{}", text(&created, "secret"));
            eprintln!(
                "Created key {} for account {:?}. The secret above is shown only once.",
                text(&created, "id"),
                text(&created, "account")
            );
        }
        KeysCommand::List { .. } => {
            let listed = call("GET", "/admin/keys", None)?;
            print_key_header();
            for key in listed["items"].as_array().into_iter().flatten() {
                let revoked = key["revoked_at"].as_str();
                print_key_row(
                    &text(key, "id"),
                    &text(key, "shown_prefix"),
                    &text(key, "account"),
                    &text(key, "label"),
                    &text(key, "created_at"),
                    revoked,
                );
            }
        }
        KeysCommand::Revoke { id, .. } => {
            let key = call("DELETE", &format!("/admin/keys/{id}"), None)?;
            println!(
                "revoked {} ({}…)",
                text(&key, "id"),
                text(&key, "shown_prefix")
            );
        }
    }
    Ok(())
}
