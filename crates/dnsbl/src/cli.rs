//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A DNSBL zone server: lists the address ranges and domains of the providers in a
/// register and answers RFC 5782 queries over UDP and TCP.
#[derive(Debug, Parser)]
#[command(name = "dnsbl", version)]
pub struct Cli {
    /// Log format on stderr: text, or json with one object per line. RUST_LOG sets the
    /// level.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        default_value = "text",
        global = true,
        env = "DNSBL_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

// The arguments are parsed once at start, so the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Answer DNSBL queries from the register and the stored routing data. On first start
    /// it creates the database and ingests the routing data bundled in ZONES/data.
    Serve(ServeArgs),
    /// Replace the stored routing data with IP-to-ASN CSV files and expand the register.
    Ingest(IngestArgs),
    /// Create, revoke and list the bearer tokens of the admin API.
    #[command(subcommand)]
    Token(crate::admin::TokenCommand),
    /// Print every listing that covers an IP address or a domain, and why.
    Lookup(crate::admin::LookupArgs),
    /// Write master files and rbldnsd data files of every zone for mirrors, atomically,
    /// with a manifest.
    Export(ExportArgs),
    /// Check zones.toml, register.toml and the database without serving: print a summary,
    /// or the first problem and exit with status 1. The database is only read; without
    /// one, the first start is rehearsed in a temporary database.
    Check(CheckArgs),
}

/// Where the register and the database are.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Directory with zones.toml, register.toml and data/ (the bundled routing data).
    #[arg(long, value_name = "DIR", default_value = "zones", env = "DNSBL_ZONES")]
    pub zones: PathBuf,

    /// SQLite database file. serve, ingest and token create create it and its directory
    /// if missing; check only reads it, and the other commands need it to exist.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "data/dnsbl.sqlite",
        env = "DNSBL_DB"
    )]
    pub db: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// Address for DNS over UDP and TCP. Port 0 picks a free port, printed in the log.
    #[arg(
        long,
        value_name = "ADDR:PORT",
        default_value = "127.0.0.1:5300",
        env = "DNSBL_LISTEN"
    )]
    pub listen: SocketAddr,

    /// How often to check the database for changes written by another process, in seconds
    /// (values below 1 count as 1).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 2,
        env = "DNSBL_POLL_SECONDS"
    )]
    pub poll_seconds: u64,

    /// Address of the admin HTTP API. Port 0 picks a free port, printed in the log.
    #[arg(
        long,
        value_name = "ADDR:PORT",
        default_value = "127.0.0.1:8053",
        env = "DNSBL_ADMIN_LISTEN"
    )]
    pub admin_listen: SocketAddr,

    /// Do not serve the admin HTTP API, which is served by default.
    #[arg(long)]
    pub no_admin: bool,

    /// Log every query to FILE (appended; created if missing), or to standard output with
    /// `-`: one line each with the time (RFC 3339, UTC), client address and port, name,
    /// type, response code and the A records of the response. Off by default.
    #[arg(long, value_name = "FILE", env = "DNSBL_QUERY_LOG")]
    pub query_log: Option<PathBuf>,

    #[command(flatten)]
    pub widths: WidthArgs,
    #[command(flatten)]
    pub mirrors: MirrorArgs,
    #[command(flatten)]
    pub ingest: crate::admin::IngestArgs,
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,
}

/// Export and zone transfer for mirrors.
#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// Write the export files (as `dnsbl export`) into DIR at start and after every change.
    /// Without it nothing is exported.
    #[arg(long, value_name = "DIR", env = "DNSBL_EXPORT_DIR")]
    pub export_dir: Option<PathBuf>,

    /// Allow zone transfers (AXFR over TCP) from this prefix; repeatable. Without it only
    /// loopback clients (127.0.0.0/8, ::1) may transfer.
    #[arg(long = "axfr-allow", value_name = "CIDR")]
    pub axfr_allow: Vec<ipnet::IpNet>,

    /// Send NOTIFY to this secondary (ADDR:PORT) when a zone's serial changes; repeatable.
    /// Without it no NOTIFY is sent.
    #[arg(long = "notify", value_name = "ADDR:PORT")]
    pub notify: Vec<SocketAddr>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// Directory to publish the export set in, as DIR/current; created if missing.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// IP-to-ASN CSV files (`start,end,asn,org`, as in the npm package
    /// @ip-location-db/asn), IPv4 and IPv6, dotted or numeric. Together they replace the
    /// stored routing data.
    #[arg(long = "asn-data", value_name = "FILE", required = true, num_args = 1..)]
    pub asn_data: Vec<PathBuf>,

    #[command(flatten)]
    pub widths: WidthArgs,
}

/// The maximum width of one routing row or register netblock, shared by serve, ingest and
/// check so that all three accept the same register.
#[derive(Debug, Args)]
pub struct WidthArgs {
    /// Reject an IPv4 routing row or netblock with more addresses than a prefix of this
    /// length (0 to 32). The default 6 passes the widest row of real routing data.
    #[arg(long, value_name = "LENGTH", default_value_t = dnsbl_core::RangeLimit::DEFAULT.max_v4_prefix, value_parser = clap::value_parser!(u8).range(0..=32), env = "DNSBL_MAX_PREFIX_V4")]
    pub max_prefix_v4: u8,

    /// Reject an IPv6 routing row or netblock with more addresses than a prefix of this
    /// length (0 to 128). The default 16 passes 2002::/16 (6to4).
    #[arg(long, value_name = "LENGTH", default_value_t = dnsbl_core::RangeLimit::DEFAULT.max_v6_prefix, value_parser = clap::value_parser!(u8).range(0..=128), env = "DNSBL_MAX_PREFIX_V6")]
    pub max_prefix_v6: u8,

    /// Accept routing rows and netblocks of any width, even 0.0.0.0/0. Off by default, so
    /// the limits of --max-prefix-v4 and --max-prefix-v6 apply. The variable takes true,
    /// yes, on, 1, false, no, off or 0 in any letter case; empty is false.
    #[arg(long, env = "DNSBL_ALLOW_WIDE_RANGES", value_parser = EnvSwitch)]
    pub allow_wide_ranges: bool,
}

/// A value parser for a switch that a variable can set. It takes what clap's
/// `BoolishValueParser` takes (true/false, yes/no, on/off, 1/0, y/n, t/f in any letter
/// case). An empty value is false, as an unset variable is, so `VAR=` turns the switch off.
#[derive(Clone, Debug)]
struct EnvSwitch;

impl clap::builder::TypedValueParser for EnvSwitch {
    type Value = bool;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<bool, clap::Error> {
        if value.is_empty() {
            return Ok(false);
        }
        clap::builder::BoolishValueParser::new().parse_ref(command, arg, value)
    }
}

impl WidthArgs {
    pub fn limit(&self) -> dnsbl_core::RangeLimit {
        if self.allow_wide_ranges {
            return dnsbl_core::RangeLimit::NONE;
        }
        dnsbl_core::RangeLimit {
            max_v4_prefix: self.max_prefix_v4,
            max_v6_prefix: self.max_prefix_v6,
        }
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The same range limits as `serve`, applied to the register and the bundled data.
    #[command(flatten)]
    pub widths: WidthArgs,
    /// The same limits as `serve`, checked and summarised.
    #[command(flatten)]
    pub limits: crate::limits::LimitArgs,
}
