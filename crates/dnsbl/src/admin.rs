//! The admin side of the binary: starting the admin HTTP API inside `dnsbl serve`, and the
//! `token` and `lookup` subcommands.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use clap::{Args, Subcommand, ValueEnum};
use dnsbl_config::ZonesDir;
use dnsbl_core::Snapshot;
use dnsbl_store::{Store, TokenRole};
use tokio::sync::Notify;
use tracing::info;

use crate::cli::StoreArgs;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once; only its SHA-256 hash is stored.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// Unique name of the token, recorded in the audit log: 1 to 100 ASCII letters,
        /// digits, `.`, `-` and `_`.
        #[arg(long)]
        name: String,
        /// `admin` may read and write, `read` may only read.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Delete a token; requests with it fail from then on.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// Name of the token to delete, as given to `token create`.
        #[arg(long)]
        name: String,
    },
    /// List the tokens by name, role and creation time.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Read,
}

/// The routing data sources of `POST /v1/ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Routing data for `POST /v1/ingest` of the admin API: an IP-to-ASN CSV file path or
    /// an http:// or https:// URL; repeatable (for example once for IPv4 and once for
    /// IPv6). Together they replace the stored routing data. Without it the endpoint
    /// answers 409.
    #[arg(
        long = "ingest-source",
        value_name = "PATH|URL",
        env = "DNSBL_INGEST_SOURCE"
    )]
    pub sources: Vec<dnsbl_admin::IngestSource>,

    /// Largest routing file downloaded from an --ingest-source URL, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 512 * 1024 * 1024, env = "DNSBL_INGEST_MAX_BYTES")]
    pub ingest_max_bytes: u64,

    /// Time allowed for downloading one --ingest-source URL, in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 600,
        env = "DNSBL_INGEST_TIMEOUT_SECONDS"
    )]
    pub ingest_timeout_seconds: u64,
}

impl IngestArgs {
    /// The ingest settings of the admin API, with the row width `limit` of `dnsbl serve`.
    pub fn settings(&self, limit: dnsbl_core::RangeLimit) -> dnsbl_admin::IngestSettings {
        dnsbl_admin::IngestSettings {
            sources: self.sources.clone(),
            limit,
            download: dnsbl_admin::DownloadLimits {
                max_bytes: self.ingest_max_bytes,
                timeout: std::time::Duration::from_secs(self.ingest_timeout_seconds.max(1)),
            },
        }
    }
}

#[derive(Debug, Args)]
pub struct LookupArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// An IPv4 or IPv6 address, or a domain name.
    pub query: String,
}

/// Starts the admin API next to the DNS server and logs its bound address.
pub async fn spawn_api(
    listen: SocketAddr,
    store: &Store,
    snapshot: &Arc<ArcSwap<Snapshot>>,
    listings_changed: &Arc<Notify>,
    queries: &Arc<dnsbl_core::QueryCounters>,
    ingest: dnsbl_admin::IngestSettings,
) -> anyhow::Result<()> {
    let state = dnsbl_admin::AppState {
        store: store.clone(),
        snapshot: snapshot.clone(),
        listings_changed: listings_changed.clone(),
        metrics: Arc::default(),
        queries: queries.clone(),
        ingests: Arc::new(dnsbl_admin::Ingests::new(ingest)),
    };
    let (bound, _task) = dnsbl_admin::spawn(listen, state)
        .await
        .with_context(|| format!("failed to listen on {listen} for the admin API"))?;
    info!(address = %bound, "admin API listening on HTTP");
    Ok(())
}

/// Opens an existing database: a mistyped `--db` would otherwise create an empty one, and
/// a token stored there is never seen by the server.
pub(crate) async fn open_existing(store: &StoreArgs) -> anyhow::Result<Store> {
    if !store.db.exists() {
        anyhow::bail!(
            "database {} not found; check --db, or start `dnsbl serve` once to create it",
            store.db.display()
        );
    }
    Store::open(&store.db)
        .await
        .with_context(|| format!("failed to open the database {}", store.db.display()))
}

pub async fn run_token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { store, name, role } => {
            let role = match role {
                RoleArg::Admin => TokenRole::Admin,
                RoleArg::Read => TokenRole::Read,
            };
            // An invalid name must not leave a new, empty database behind.
            dnsbl_store::check_token_name(&name)?;
            // A token may be created before the first start, so this creates the database,
            // and says so, because a mistyped --db would hide the token from the server.
            let created = !store.db.exists();
            let opened = Store::open(&store.db)
                .await
                .with_context(|| format!("failed to open the database {}", store.db.display()))?;
            let token = opened.create_token(&name, role).await?;
            if created {
                eprintln!(
                    "Created the database {}; start `dnsbl serve --db` with this path.",
                    store.db.display()
                );
            }
            println!("{token}");
            eprintln!(
                "Token {name:?} ({}) created. It is shown only this once.",
                role.as_str()
            );
        }
        TokenCommand::Revoke { store, name } => {
            if !open_existing(&store).await?.revoke_token(&name).await? {
                anyhow::bail!("token {name:?} not found; `dnsbl token list` shows the tokens");
            }
            eprintln!("Token {name:?} revoked.");
        }
        TokenCommand::List { store } => {
            for token in open_existing(&store).await?.list_tokens().await? {
                println!(
                    "{}\t{}\t{}",
                    token.name,
                    token.role.as_str(),
                    token.created_at
                );
            }
        }
    }
    Ok(())
}

/// Builds the snapshot from the database and prints the listings covering the query, then
/// the allow-list entries that exempt it.
pub async fn run_lookup(args: LookupArgs) -> anyhow::Result<()> {
    let query = dnsbl_admin::LookupQuery::parse(&args.query)?;
    let zones = ZonesDir::load(&args.store.zones)?;
    let store = open_existing(&args.store).await?;
    let snapshot = store.load_snapshot(&zones.zones).await?;
    let entries = store.list_allow_targets().await?;
    let matches = dnsbl_admin::listings_covering(&snapshot, &query);
    if matches.is_empty() {
        println!(
            "{} is not listed in any zone (serial {}).",
            args.query, snapshot.serial
        );
    }
    for m in matches {
        let operator = m
            .operator
            .map(|operator| format!(", run by {operator},"))
            .unwrap_or_default();
        let since = m
            .listed_since
            .map(|date| format!(" since {date}"))
            .unwrap_or_default();
        println!(
            "{} is listed in {} with {} ({}): provider {}{operator} lists {} {}{since}.",
            args.query, m.zone, m.code, m.category, m.provider, m.source_kind, m.source
        );
    }
    for entry in dnsbl_admin::allow_entries_covering(&snapshot, &query, &entries) {
        let origin = match entry.source.as_str() {
            "file" => "register.toml",
            _ => "the admin API",
        };
        println!(
            "{} is exempt in {} by allow-list entry {} ({}, from {origin}): {}",
            args.query, entry.zone, entry.id, entry.value, entry.reason
        );
    }
    Ok(())
}
