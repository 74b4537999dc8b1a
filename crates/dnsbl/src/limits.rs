//! Command-line options of the client limits: response rate limiting on UDP and the TCP
//! connection limits. Zone access lists are set in zones.toml instead.

use std::time::Duration;

use clap::Args;
use dnsbl_dns::{RateLimitOptions, ServerOptions, TcpLimits};
use ipnet::IpNet;

#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Identical UDP responses per second to one client prefix before responses are
    /// dropped or slipped; 0 turns response rate limiting off.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        env = "DNSBL_RRL_RESPONSES_PER_SECOND"
    )]
    pub rrl_responses_per_second: u32,

    /// Send every Nth rate-limited response truncated (TC set, no answers) instead of
    /// dropping it, so a real resolver retries over TCP; 0 drops all.
    #[arg(long, value_name = "N", default_value_t = 2, env = "DNSBL_RRL_SLIP")]
    pub rrl_slip: u32,

    /// Prefix length (0 to 32) that groups IPv4 clients for rate limiting.
    #[arg(long, value_name = "LEN", default_value_t = 24, value_parser = clap::value_parser!(u8).range(0..=32), env = "DNSBL_RRL_IPV4_PREFIX")]
    pub rrl_ipv4_prefix: u8,

    /// Prefix length (0 to 128) that groups IPv6 clients for rate limiting.
    #[arg(long, value_name = "LEN", default_value_t = 56, value_parser = clap::value_parser!(u8).range(0..=128), env = "DNSBL_RRL_IPV6_PREFIX")]
    pub rrl_ipv6_prefix: u8,

    /// Never rate limit clients in this prefix (an address or CIDR); repeatable. Without it
    /// no client is exempt.
    #[arg(long, value_name = "CIDR", value_parser = parse_prefix)]
    pub rrl_exempt: Vec<IpNet>,

    /// Token buckets kept for rate limiting (about 32 bytes each); when all are in use
    /// the least recently used is reused.
    #[arg(long, value_name = "N", default_value_t = 65_536, value_parser = clap::value_parser!(u64).range(1..=16_777_216), env = "DNSBL_RRL_TABLE_SIZE")]
    pub rrl_table_size: u64,

    /// Open TCP connections over all clients; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..), env = "DNSBL_TCP_MAX_CONNECTIONS")]
    pub tcp_max_connections: u64,

    /// Open TCP connections from one client address; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..), env = "DNSBL_TCP_MAX_CONNECTIONS_PER_CLIENT")]
    pub tcp_max_connections_per_client: u64,

    /// Seconds a TCP connection may take to send a complete request or take a response
    /// before it is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600), env = "DNSBL_TCP_IDLE_SECONDS")]
    pub tcp_idle_seconds: u64,

    /// Largest DNS request accepted over TCP, in bytes (12 to 65535); a connection that
    /// announces a longer one is closed.
    #[arg(long, value_name = "BYTES", default_value_t = 4096, value_parser = clap::value_parser!(u16).range(12..), env = "DNSBL_TCP_MAX_REQUEST_SIZE")]
    pub tcp_max_request_size: u16,
}

impl LimitArgs {
    /// Writes the limits into the listener options.
    pub fn apply(&self, options: &mut ServerOptions) {
        options.rate_limit = RateLimitOptions {
            responses_per_second: self.rrl_responses_per_second,
            slip: self.rrl_slip,
            ipv4_prefix_len: self.rrl_ipv4_prefix,
            ipv6_prefix_len: self.rrl_ipv6_prefix,
            exempt: self.rrl_exempt.clone(),
            table_size: usize::try_from(self.rrl_table_size).unwrap_or(usize::MAX),
        };
        options.tcp = TcpLimits {
            max_connections: usize::try_from(self.tcp_max_connections).unwrap_or(usize::MAX),
            max_connections_per_client: usize::try_from(self.tcp_max_connections_per_client)
                .unwrap_or(usize::MAX),
            idle_timeout: Duration::from_secs(self.tcp_idle_seconds),
            max_request_size: self.tcp_max_request_size,
        };
    }

    /// Returns one line describing the limits, for `dnsbl check`.
    pub fn summary(&self) -> String {
        let rate = if self.rrl_responses_per_second == 0 {
            "response rate limiting off".to_string()
        } else {
            format!(
                "response rate limiting at {} per second per /{} or /{} (slip {}, {} exempt prefixes)",
                self.rrl_responses_per_second,
                self.rrl_ipv4_prefix,
                self.rrl_ipv6_prefix,
                self.rrl_slip,
                self.rrl_exempt.len()
            )
        };
        format!(
            "{rate}; TCP: {} connections, {} per client, {} s idle, requests up to {} bytes",
            self.tcp_max_connections,
            self.tcp_max_connections_per_client,
            self.tcp_idle_seconds,
            self.tcp_max_request_size
        )
    }
}

fn parse_prefix(value: &str) -> Result<IpNet, String> {
    dnsbl_config::parse_prefix(value)
}
